//! The chunker: for any data and target size, the chunks are contiguous, reassemble exactly
//! to the input, every non-empty chunk but the last ends a line, and `chunk_range` agrees
//! with `split_chunks`. The `read()` path must hand out the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logveil::source::{Source, chunk_range, split_chunks};

fuzz_target!(|input: &[u8]| {
    let (target, data) = match input {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])) % 512 + 1, rest),
        _ => (1, input),
    };
    let ranges = split_chunks(data, target);
    let mut at = 0;
    for (k, r) in ranges.iter().enumerate() {
        assert_eq!(r.start, at, "chunks are contiguous");
        assert!(r.end >= r.start);
        assert_eq!(chunk_range(data, target, k), *r);
        at = r.end;
    }
    assert_eq!(at, data.len(), "chunks cover the input");
    let full: Vec<_> = ranges.iter().filter(|r| !r.is_empty()).collect();
    for r in full.iter().rev().skip(1) {
        assert_eq!(data[r.end - 1], b'\n', "a chunk but the last ends a line");
    }

    let src = Source::from_reader(
        "fuzz".into(),
        Box::new(std::io::Cursor::new(data.to_vec())),
        None,
        target,
    );
    let mut streamed = Vec::new();
    while let Some(c) = src.next_chunk().expect("an in-memory reader never fails") {
        streamed.extend_from_slice(c.bytes());
    }
    assert_eq!(streamed, data, "the read() path reassembles to the input");
});
