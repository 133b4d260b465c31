//! Parser micro-benchmarks (divan): one CLF line, a chunk of the sample log, the timestamp
//! fast path against jiff, and client-address parsing. Run with `cargo bench --bench parse`.

use std::hint::black_box;

use logveil::anon::parse_client;
use logveil::parse::{Format, clf, time};
use logveil::source::lines;

fn main() {
    divan::main();
}

const LINE: &[u8] = br#"203.0.113.195 - - [05/Oct/2026:13:55:36 +0200] "GET /products/1234?ref=mail HTTP/1.1" 200 5123 "https://www.example.com/start" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36""#;

static SAMPLE: &[u8] = include_bytes!("../testdata/sample.log");

#[divan::bench]
fn combined_line() -> usize {
    clf::parse(black_box(LINE))
        .map(|r| r.target.len())
        .unwrap_or(0)
}

#[divan::bench]
fn sample_chunk(bencher: divan::Bencher) {
    bencher
        .counter(divan::counter::BytesCount::new(SAMPLE.len()))
        .bench(|| {
            let mut ok = 0usize;
            for line in lines(black_box(SAMPLE)) {
                ok += Format::Clf.parse(line, None).is_ok() as usize;
            }
            ok
        });
}

#[divan::bench]
fn timestamp_fast_path() -> Option<i64> {
    time::parse_clf(black_box(b"05/Oct/2026:13:55:36 +0200"))
}

#[divan::bench]
fn timestamp_jiff() -> Option<i64> {
    jiff::fmt::strtime::parse(
        "%d/%b/%Y:%H:%M:%S %z",
        black_box("05/Oct/2026:13:55:36 +0200"),
    )
    .ok()
    .and_then(|p| p.to_timestamp().ok())
    .map(|t| t.as_second())
}

#[divan::bench(args = ["203.0.113.195", "2001:db8:85a3::8a2e:370:7334", "[2001:db8::1]:443", "host.example.org"])]
fn client_address(field: &str) -> bool {
    parse_client(black_box(field.as_bytes())).is_some()
}
