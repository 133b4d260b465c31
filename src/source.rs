//! Input sources: memory-mapped plain files and a `read()` path (stdin, `--no-mmap`), both cut
//! into newline-aligned chunks, the C allocator's setting for chunk-sized buffers, and the CPU's
//! prefetch hint. The only module with `unsafe`; it never parses a line.
//!
//! # Mapping policy
//!
//! A plain regular file is memory-mapped unless the caller asks for `read()` (`--no-mmap`).
//! Anything that is not a regular file (stdin, a pipe, a FIFO) and every compressed input is
//! read with `read()`. The mode used is reported in the run summary.
//!
//! A mapping is a snapshot of the file's size at open: bytes appended later are not read. A
//! file that another process truncates while it is mapped would make reads of the lost pages
//! raise SIGBUS and kill the process. logveil does not die of it:
//!
//! - A SIGBUS handler, installed with the first mapping, knows every live mapping. A fault
//!   inside one maps anonymous zero pages over the rest of that mapping (`mmap` with
//!   `MAP_FIXED`, which is safe in a signal handler) and marks the mapping as faulted; the
//!   faulting read then sees zeros and carries on. Faults anywhere else go to the handler that
//!   was installed before (Rust's stack-overflow handler, or the default action).
//! - Before it hands out each chunk, and once more at the end, the source checks the flag and
//!   the file's current size. A faulted or shrunk file fails with an input error naming it
//!   ("changed while it was read"), so its counts are never taken as complete: the run exits 1
//!   and, without `--keep-going`, publishes nothing.
//! - A file rewritten in place to the same size is not detected; logveil is meant for
//!   rotated, closed files, and `--no-mmap` is the choice for a file that is still written.

use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// Bytes of the start of an input that its fingerprint covers.
pub const FINGERPRINT_HEAD: usize = 1 << 20;

/// Default chunk size: large enough to amortise scheduling, small enough to spread work.
pub const DEFAULT_CHUNK: usize = 4 << 20;

/// How an input's bytes were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadMode {
    Mmap,
    Read,
}

/// How an input is stored on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Recognises gzip and zstd by their magic bytes.
    pub fn detect(head: &[u8]) -> Self {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// Where a run's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    Path(PathBuf),
    Stdin,
}

impl InputSpec {
    pub fn parse(arg: &str) -> Self {
        if arg == "-" {
            InputSpec::Stdin
        } else {
            InputSpec::Path(PathBuf::from(arg))
        }
    }
    /// Name used in summaries and diagnostics.
    pub fn display_name(&self) -> String {
        match self {
            InputSpec::Path(p) => p.display().to_string(),
            InputSpec::Stdin => "-".to_string(),
        }
    }
}

/// Which part of an input's content to read, and whether to hash it (for the ledger).
#[derive(Clone, Default)]
pub struct Resume {
    /// Content bytes to skip: already processed (decompressed bytes for a compressed input).
    pub start: u64,
    /// For a plain file: where to stop (just after its last complete line when it was looked
    /// at). A compressed input is always read to its end.
    pub end: Option<u64>,
    /// The BLAKE3 state after the first `start` bytes of content. When given, the source
    /// continues it over every byte it hands out ([`Source::content_digest`]).
    pub prior: Option<blake3::Hasher>,
}

enum Backing {
    /// The mapping, the range of it that is read, the open file (to see whether it shrank)
    /// and the mapping's slot in the SIGBUS guard.
    Mapped(memmap2::Mmap, Range<usize>, File, guard::Slot),
    Empty,
    Stream(Box<Mutex<StreamState>>),
}

struct StreamState {
    reader: Box<dyn Read + Send>,
    carry: Vec<u8>,
    next_index: usize,
    offset: u64,
    eof: bool,
    head: blake3::Hasher,
    head_len: usize,
    last_fields: Option<std::sync::Arc<[u8]>>,
    /// The content hash, continued over every chunk handed out (ledger runs only).
    content: Option<blake3::Hasher>,
    /// A read error held back until the lines before it have been handed out.
    failed: Option<std::io::Error>,
    /// Longest line kept whole; of a longer one only its first `max_line + 1` bytes are kept
    /// (so it still counts as too long), the rest is dropped as it is read.
    max_line: usize,
    /// Inside a line longer than `max_line`, dropping bytes up to its newline.
    skipping: bool,
    /// Bytes dropped so far from over-long lines (chunk offsets stay those of the input).
    dropped: u64,
}

/// An opened input, ready to hand out chunks to several threads.
pub struct Source {
    name: String,
    backing: Backing,
    next: AtomicUsize,
    chunk_size: usize,
    mode: ReadMode,
    size: Option<u64>,
    compression: Compression,
    compressed_size: Option<u64>,
    released: Mutex<Released>,
    /// Content bytes skipped before the first chunk.
    start: u64,
    /// The file it was opened from (to read the skipped content again, see
    /// [`Source::fields_before_start`]).
    path: Option<std::path::PathBuf>,
}

/// Which chunks of a mapped input have been processed: the end of each finished chunk beyond
/// the finished prefix, and where that prefix ends.
#[derive(Default)]
struct Released {
    done: std::collections::BTreeMap<usize, usize>,
    next: usize,
    upto: usize,
    /// The content hash (ledger runs), continued over the finished prefix before its pages
    /// are released, so that hashing never maps them in again.
    hash: Option<blake3::Hasher>,
    /// Where the hash has got to.
    hashed: usize,
}

/// A newline-aligned piece of an input. Every non-empty chunk but the last ends with `\n`.
pub struct Chunk<'a> {
    pub index: usize,
    /// Byte offset of the chunk in the input.
    pub offset: u64,
    /// For a streamed input: the last `#Fields:` line before the chunk (W3C headers), so
    /// that a chunk can be parsed on its own.
    pub preamble: Option<std::sync::Arc<[u8]>>,
    bytes: ChunkBytes<'a>,
}

enum ChunkBytes<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Chunk<'_> {
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            ChunkBytes::Borrowed(b) => b,
            ChunkBytes::Owned(v) => v,
        }
    }
}

impl Source {
    /// Opens `spec`, mapping it when `use_mmap` and it is a non-empty regular file.
    pub fn open(spec: &InputSpec, use_mmap: bool, chunk_size: usize) -> Result<Self> {
        let chunk_size = chunk_size.max(1);
        match spec {
            InputSpec::Stdin => Ok(Self::from_reader(
                "-".into(),
                Box::new(std::io::stdin()),
                None,
                chunk_size,
            )),
            InputSpec::Path(path) => Self::open_path(path, use_mmap, chunk_size, Resume::default()),
        }
    }

    /// Opens `spec` as [`Source::open`] does, reading only the part of its content that
    /// `resume` gives. Standard input is read whole.
    pub fn open_at(
        spec: &InputSpec,
        use_mmap: bool,
        chunk_size: usize,
        resume: Resume,
    ) -> Result<Self> {
        match spec {
            InputSpec::Path(path) => Self::open_path(path, use_mmap, chunk_size.max(1), resume),
            InputSpec::Stdin => {
                let src = Self::open(spec, use_mmap, chunk_size)?;
                if let (Some(h), Backing::Stream(st)) = (resume.prior, &src.backing) {
                    st.lock().unwrap_or_else(|p| p.into_inner()).content = Some(h);
                }
                Ok(src)
            }
        }
    }

    fn open_path(path: &Path, use_mmap: bool, chunk_size: usize, resume: Resume) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::input(path, e))?;
        let meta = file.metadata().map_err(|e| Error::input(path, e))?;
        if meta.is_dir() {
            return Err(Error::input(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "is a directory"),
            ));
        }
        let name = path.display().to_string();
        // Compressed inputs are recognised by their magic bytes, not their names, and are
        // always streamed through a decoder.
        let (compression, head, mut file) = sniff(file, path)?;
        if compression != Compression::None {
            let mut reader = decoder(head.chain(file), compression, path)?;
            skip(&mut reader, resume.start).map_err(|e| Error::input(path, e))?;
            let mut src = Self::from_reader(name, reader, None, chunk_size);
            src.compression = compression;
            src.compressed_size = meta.is_file().then_some(meta.len());
            src.start = resume.start;
            src.path = Some(path.to_path_buf());
            if let Backing::Stream(st) = &src.backing {
                st.lock().unwrap_or_else(|p| p.into_inner()).content = resume.prior;
            }
            return Ok(src);
        }
        let len = meta.len();
        let hi = resume.end.unwrap_or(len).min(len);
        let lo = resume.start.min(hi);
        if use_mmap && meta.is_file() {
            if hi == lo {
                return Ok(Source {
                    name,
                    backing: Backing::Empty,
                    next: AtomicUsize::new(0),
                    chunk_size,
                    mode: ReadMode::Mmap,
                    size: Some(0),
                    compression: Compression::None,
                    compressed_size: None,
                    released: Mutex::new(Released {
                        hash: resume.prior,
                        ..Released::default()
                    }),
                    start: lo,
                    path: Some(path.to_path_buf()),
                });
            }
            // SAFETY: the mapping is read-only and private to this process, and nothing writes
            // through it, so no `&mut` aliasing is possible. The remaining hazard is another
            // process truncating the file while it is mapped: reads of the lost pages then raise
            // SIGBUS. The guard below turns such a fault into zero pages and a flag that
            // `next_chunk` reports as an input error (see the module docs).
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::input(path, e))?;
            // The file may have shrunk since its size was read: never read past the mapping.
            let hi = (hi as usize).min(map.len());
            let lo = (lo as usize).min(hi);
            match guard::Slot::register(map.as_ptr() as usize, map.len()) {
                Some(slot) => {
                    // No MADV_SEQUENTIAL: with it the kernel maps read-ahead pages into the
                    // process, and resident memory grows with the file despite the pages
                    // released below.
                    return Ok(Source {
                        name,
                        backing: Backing::Mapped(map, lo..hi, file, slot),
                        next: AtomicUsize::new(0),
                        chunk_size,
                        mode: ReadMode::Mmap,
                        size: Some((hi - lo) as u64),
                        compression: Compression::None,
                        compressed_size: None,
                        released: Mutex::new(Released {
                            hash: resume.prior,
                            ..Released::default()
                        }),
                        start: lo as u64,
                        path: Some(path.to_path_buf()),
                    });
                }
                // Every guard slot is taken (many inputs open at once): read this one instead,
                // rather than map it unguarded.
                None => drop(map),
            }
        }
        let size = meta.is_file().then_some(hi - lo);
        let reader: Box<dyn Read + Send> = if lo == 0 && resume.end.is_none() {
            Box::new(head.chain(file))
        } else {
            use std::io::{Seek, SeekFrom};
            file.seek(SeekFrom::Start(lo))
                .map_err(|e| Error::input(path, e))?;
            Box::new(file.take(hi - lo))
        };
        let mut src = Self::from_reader(name, reader, size, chunk_size);
        src.start = lo;
        src.path = Some(path.to_path_buf());
        if let Backing::Stream(st) = &src.backing {
            st.lock().unwrap_or_else(|p| p.into_inner()).content = resume.prior;
        }
        Ok(src)
    }

    /// A source over any reader, fed through the `read()` path.
    pub fn from_reader(
        name: String,
        reader: Box<dyn Read + Send>,
        size: Option<u64>,
        chunk_size: usize,
    ) -> Self {
        Source {
            name,
            backing: Backing::Stream(Box::new(Mutex::new(StreamState {
                reader,
                carry: Vec::new(),
                next_index: 0,
                offset: 0,
                eof: false,
                head: blake3::Hasher::new(),
                head_len: 0,
                last_fields: None,
                content: None,
                failed: None,
                max_line: usize::MAX,
                skipping: false,
                dropped: 0,
            }))),
            next: AtomicUsize::new(0),
            chunk_size: chunk_size.max(1),
            mode: ReadMode::Read,
            size,
            compression: Compression::None,
            compressed_size: None,
            released: Mutex::default(),
            start: 0,
            path: None,
        }
    }

    /// The last W3C `#Fields:` line of the content skipped before [`Source::start`]: the header
    /// in effect where a W3C log read from an offset resumes. Reads the skipped content again
    /// (decompressing it for a compressed file), with `read()`, whatever the input's mode.
    pub fn fields_before_start(&self) -> Result<Option<std::sync::Arc<[u8]>>> {
        let Some(path) = self.path.as_deref().filter(|_| self.start > 0) else {
            return Ok(None);
        };
        let file = File::open(path).map_err(|e| Error::input(path, e))?;
        let (compression, head, file) = sniff(file, path)?;
        let reader: Box<dyn Read + Send> = match compression {
            Compression::None => Box::new(head.chain(file)),
            c => decoder(head.chain(file), c, path)?,
        };
        let line = last_fields_line(reader, self.start).map_err(|e| Error::input(path, e))?;
        Ok(line.map(Into::into))
    }

    /// Content bytes skipped before the first chunk.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// With a [`Resume::prior`]: the length of the content read up to now, skipped bytes
    /// included, and the BLAKE3 of those bytes. For a streamed input it is complete once
    /// every chunk has been taken.
    pub fn content_digest(&self) -> Option<(u64, blake3::Hash)> {
        match &self.backing {
            Backing::Empty => {
                let rel = self.released.lock().unwrap_or_else(|p| p.into_inner());
                rel.hash.as_ref().map(|h| (self.start, h.finalize()))
            }
            Backing::Mapped(map, r, ..) => {
                let rel = self.released.lock().unwrap_or_else(|p| p.into_inner());
                rel.hash.as_ref().map(|h| {
                    // Whatever was not released (a chunk left unfinished) is hashed here.
                    let mut h = h.clone();
                    h.update(&map[r.clone()][rel.hashed..]);
                    (self.start + r.len() as u64, h.finalize())
                })
            }
            Backing::Stream(state) => {
                let st = state.lock().unwrap_or_else(|p| p.into_inner());
                st.content
                    .as_ref()
                    .map(|h| (self.start + st.offset, h.finalize()))
            }
        }
    }

    /// Bounds the memory a streamed input can take with one line: a line longer than
    /// `max_line` bytes is handed out as its first `max_line + 1` bytes (the caller rejects it
    /// as too long) and the rest of it is dropped while it is read. A mapped input needs no
    /// bound: its lines are slices of the page cache, released as they are processed.
    pub fn with_max_line(self, max_line: usize) -> Self {
        if let Backing::Stream(state) = &self.backing {
            state.lock().unwrap_or_else(|p| p.into_inner()).max_line = max_line;
        }
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn mode(&self) -> ReadMode {
        self.mode
    }
    /// The compression the input was stored with.
    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// Size on disk of a compressed input.
    pub fn compressed_size(&self) -> Option<u64> {
        self.compressed_size
    }
    /// Size in bytes when known before reading (regular files).
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The next chunk in input order, or `None` at the end. Safe to call from many threads;
    /// chunk indices are handed out in increasing order.
    pub fn next_chunk(&self) -> Result<Option<Chunk<'_>>> {
        match &self.backing {
            Backing::Empty => Ok(None),
            Backing::Mapped(full, r, file, slot) => {
                // Checked before each chunk and at the end, so that a file truncated at any
                // time before its last chunk was finished fails instead of counting short.
                if let Some(why) = changed(full, file, slot) {
                    return Err(Error::input(
                        &self.name,
                        std::io::Error::other(format!("the file changed while it was read: {why}")),
                    ));
                }
                let map = &full[r.clone()];
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                // Boundaries are found when a chunk is handed out, so the pages around them
                // are touched just before they are processed, not all at open.
                if i >= map.len().div_ceil(self.chunk_size) {
                    return Ok(None);
                }
                let r = chunk_range(map, self.chunk_size, i);
                Ok(Some(Chunk {
                    index: i,
                    offset: r.start as u64,
                    preamble: None,
                    bytes: ChunkBytes::Borrowed(&map[r]),
                }))
            }
            Backing::Stream(state) => {
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                st.next_chunk(self.chunk_size)
                    .map_err(|e| Error::input(&self.name, e))
            }
        }
    }

    /// The first bytes of the input (up to `want`), for format detection, without consuming
    /// them; `true` when that is the whole input.
    pub fn sample(&self, want: usize) -> Result<(Vec<u8>, bool)> {
        match &self.backing {
            Backing::Empty => Ok((Vec::new(), true)),
            Backing::Mapped(map, r, ..) => {
                let map = &map[r.clone()];
                Ok((map[..map.len().min(want)].to_vec(), map.len() <= want))
            }
            Backing::Stream(state) => {
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                st.peek(want).map_err(|e| Error::input(&self.name, e))
            }
        }
    }

    /// The whole content of a memory-mapped input.
    pub fn mapped(&self) -> Option<&[u8]> {
        match &self.backing {
            Backing::Mapped(map, r, ..) => Some(&map[r.clone()]),
            _ => None,
        }
    }

    /// Tells the kernel that a processed chunk's pages are no longer needed, so that resident
    /// memory stays flat however large the input is.
    pub fn release(&self, chunk: &Chunk<'_>) {
        let (Backing::Mapped(map, range, ..), ChunkBytes::Borrowed(b)) =
            (&self.backing, &chunk.bytes)
        else {
            return;
        };
        // Chunks finish out of order; only the prefix of the file whose chunks are all finished
        // is released, so that no thread loses pages it is still reading.
        let upto = {
            let mut r = self.released.lock().unwrap_or_else(|p| p.into_inner());
            r.done.insert(chunk.index, chunk.offset as usize + b.len());
            loop {
                let next = r.next;
                let Some(end) = r.done.remove(&next) else {
                    break;
                };
                r.next += 1;
                r.upto = end;
            }
            let (from, to) = (r.hashed, r.upto);
            if let Some(h) = &mut r.hash
                && to > from
            {
                h.update(&map[range.clone()][from..to]);
                r.hashed = to;
            }
            r.upto
        };
        // The finished prefix's last few chunks are released again each time: the kernel maps
        // pages of a finished chunk back in when a neighbouring page faults (fault-around, large
        // folios), and releasing each chunk once let resident memory creep up with the file.
        // Chunk offsets count from the start of the range read; pages before it are never
        // read through the mapping, so releasing them too is harmless.
        let page = page_size();
        let from = (range.start + upto.saturating_sub(3 * self.chunk_size)) / page * page;
        let end = (range.start + upto) / page * page;
        if end > from {
            // SAFETY: MADV_DONTNEED on a read-only, file-backed mapping only drops page-table
            // entries of clean pages, and every byte of [from, end) lies in chunks that all
            // threads have finished: nothing reads them again.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, end - from)
            };
        }
    }

    /// Fingerprint of the input: BLAKE3 of its first [`FINGERPRINT_HEAD`] bytes. For a streamed
    /// input it is complete once every chunk has been taken.
    pub fn head_fingerprint(&self) -> String {
        match &self.backing {
            Backing::Empty => blake3::hash(b"").to_hex().to_string(),
            Backing::Mapped(map, r, ..) => {
                blake3::hash(&map[r.clone()][..r.len().min(FINGERPRINT_HEAD)])
                    .to_hex()
                    .to_string()
            }
            Backing::Stream(state) => {
                let st = state.lock().unwrap_or_else(|p| p.into_inner());
                st.head.finalize().to_hex().to_string()
            }
        }
    }
}

impl StreamState {
    /// Reads into `carry` until it holds `want` bytes or the input ends; returns a copy.
    fn peek(&mut self, want: usize) -> std::io::Result<(Vec<u8>, bool)> {
        while self.carry.len() < want && !self.eof {
            let start = self.carry.len();
            self.carry.resize(want, 0);
            let n = loop {
                match self.reader.read(&mut self.carry[start..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.carry.truncate(start);
                        return Err(e);
                    }
                }
            };
            self.carry.truncate(start + n);
            if self.head_len < FINGERPRINT_HEAD {
                let take = n.min(FINGERPRINT_HEAD - self.head_len);
                self.head.update(&self.carry[start..start + take]);
                self.head_len += take;
            }
            if n == 0 {
                self.eof = true;
            }
        }
        Ok((self.carry.clone(), self.eof))
    }

    fn next_chunk(&mut self, chunk_size: usize) -> std::io::Result<Option<Chunk<'static>>> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let mut buf = std::mem::take(&mut self.carry);
        'fill: loop {
            if self.eof {
                break;
            }
            if buf.len() >= chunk_size && memchr::memrchr(b'\n', &buf).is_some() {
                break;
            }
            let want = chunk_size.max(buf.len() / 2).max(64 * 1024);
            let start = buf.len();
            buf.resize(start + want, 0);
            let n = loop {
                match self.reader.read(&mut buf[start..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        buf.truncate(start);
                        // The complete lines read before the error are still handed out; the
                        // error comes with the next call. A partial last line is dropped.
                        let cut = memchr::memrchr(b'\n', &buf).map_or(0, |p| p + 1);
                        if cut == 0 {
                            return Err(e);
                        }
                        buf.truncate(cut);
                        self.failed = Some(e);
                        self.eof = true;
                        continue 'fill;
                    }
                }
            };
            buf.truncate(start + n);
            if self.head_len < FINGERPRINT_HEAD {
                let take = n.min(FINGERPRINT_HEAD - self.head_len);
                self.head.update(&buf[start..start + take]);
                self.head_len += take;
            }
            if n == 0 {
                self.eof = true;
            }
            self.bound_last_line(&mut buf, start);
        }
        if buf.is_empty() {
            return Ok(None);
        }
        if !self.eof {
            // Cut after the last newline; the tail starts the next chunk.
            let cut = memchr::memrchr(b'\n', &buf)
                .map(|p| p + 1)
                .unwrap_or(buf.len());
            self.carry = buf[cut..].to_vec();
            buf.truncate(cut);
        }
        if let Some(h) = &mut self.content {
            h.update(&buf);
        }
        let index = self.next_index;
        self.next_index += 1;
        let offset = self.offset;
        self.offset += buf.len() as u64 + std::mem::take(&mut self.dropped);
        let preamble = self.last_fields.clone();
        if let Some(line) = last_line_starting(&buf, b"#Fields:") {
            self.last_fields = Some(line.into());
        }
        Ok(Some(Chunk {
            index,
            offset,
            preamble,
            bytes: ChunkBytes::Owned(buf),
        }))
    }
}

/// Reads and drops the first `n` bytes of `reader`; fails if it ends before.
fn skip(reader: &mut Box<dyn Read + Send>, n: u64) -> std::io::Result<()> {
    if n == 0 {
        return Ok(());
    }
    let copied = std::io::copy(&mut reader.by_ref().take(n), &mut std::io::sink())?;
    if copied < n {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("content ends at byte {copied}, before the {n} bytes already processed"),
        ));
    }
    Ok(())
}

/// Opens a file's content for reading: decompressed when it is `.gz` or `.zst` (recognised
/// by magic bytes). Returns the reader and the compression.
pub fn content_reader(path: &Path) -> Result<(Box<dyn Read + Send>, Compression)> {
    let file = File::open(path).map_err(|e| Error::input(path, e))?;
    let (compression, head, file) = sniff(file, path)?;
    Ok((decoder(head.chain(file), compression, path)?, compression))
}

/// The compression of `file` by its first bytes, which are read off it and handed back to be
/// chained before the rest.
fn sniff(mut file: File, path: &Path) -> Result<(Compression, std::io::Cursor<Vec<u8>>, File)> {
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::input(path, e)),
        }
    }
    let compression = Compression::detect(&magic[..got]);
    Ok((
        compression,
        std::io::Cursor::new(magic[..got].to_vec()),
        file,
    ))
}

/// `raw` decompressed as `compression` says (as it is when it is not compressed).
fn decoder(
    raw: impl Read + Send + 'static,
    compression: Compression,
    path: &Path,
) -> Result<Box<dyn Read + Send>> {
    Ok(match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            std::io::BufReader::with_capacity(1 << 20, raw),
        )),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(raw).map_err(|e| Error::input(path, e))?)
        }
    })
}

/// Where the last complete line of a plain file ends (0 when it has none), read backwards
/// from `len`.
pub fn last_line_end(path: &Path, len: u64) -> Result<u64> {
    use std::os::unix::fs::FileExt;
    let file = File::open(path).map_err(|e| Error::input(path, e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = len;
    while end > 0 {
        let from = end.saturating_sub(buf.len() as u64);
        let part = &mut buf[..(end - from) as usize];
        file.read_exact_at(part, from)
            .map_err(|e| Error::input(path, e))?;
        if let Some(p) = memchr::memrchr(b'\n', part) {
            return Ok(from + p as u64 + 1);
        }
        end = from;
    }
    Ok(0)
}

/// Why a mapped file can no longer be trusted, if it cannot: a read of it faulted, or it is
/// now shorter than its mapping.
fn changed(map: &memmap2::Mmap, file: &File, slot: &guard::Slot) -> Option<String> {
    if slot.faulted() {
        return Some("it was truncated (a read past its new end was caught)".into());
    }
    match file.metadata() {
        Ok(m) if m.len() < map.len() as u64 => {
            Some(format!("it shrank from {} to {} bytes", map.len(), m.len()))
        }
        Ok(_) => None,
        Err(e) => Some(format!("cannot check its size: {e}")),
    }
}

/// The SIGBUS guard of mapped inputs (see the module docs): a fixed table of live mappings
/// that the signal handler reads with atomics only.
mod guard {
    use std::sync::Once;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const SLOTS: usize = 64;
    static START: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
    static LEN: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
    static FAULTED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
    static PAGE: AtomicUsize = AtomicUsize::new(4096);
    static INSTALL: Once = Once::new();
    /// The SIGBUS action in place before ours, to which faults outside a mapping go.
    static PREVIOUS: OnceLock<Previous> = OnceLock::new();

    struct Previous(libc::sigaction);
    // SAFETY: a `sigaction` is plain data (a handler address, a mask and flags), only read.
    unsafe impl Sync for Previous {}
    unsafe impl Send for Previous {}

    /// A mapping's place in the table; freed when dropped.
    pub struct Slot(usize);

    impl Slot {
        /// Registers the mapping `[start, start + len)`; `None` when every slot is taken.
        pub fn register(start: usize, len: usize) -> Option<Slot> {
            install();
            let page = PAGE.load(Ordering::Relaxed);
            let len = len.div_ceil(page) * page;
            for i in 0..SLOTS {
                if START[i]
                    .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    FAULTED[i].store(false, Ordering::Release);
                    LEN[i].store(len, Ordering::Release);
                    return Some(Slot(i));
                }
            }
            None
        }

        /// Whether a read of the mapping faulted (its file was truncated).
        pub fn faulted(&self) -> bool {
            FAULTED[self.0].load(Ordering::Acquire)
        }
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            LEN[self.0].store(0, Ordering::Release);
            START[self.0].store(0, Ordering::Release);
        }
    }

    fn install() {
        INSTALL.call_once(|| {
            super::page_size_into(&PAGE);
            // SAFETY: `sigaction` is called with valid, initialised structures; the handler
            // only uses atomics, `mmap` and `sigaction`, which are safe in a signal handler.
            unsafe {
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
                new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut new.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGBUS, &new, &mut old) == 0 {
                    let _ = PREVIOUS.set(Previous(old));
                }
            }
        });
    }

    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid `siginfo_t` to an SA_SIGINFO handler.
        let addr = unsafe { (*info).si_addr() } as usize;
        let page = PAGE.load(Ordering::Relaxed);
        for i in 0..SLOTS {
            let start = START[i].load(Ordering::Acquire);
            let len = LEN[i].load(Ordering::Acquire);
            if start == 0 || len == 0 || addr < start || addr >= start + len {
                continue;
            }
            let from = addr / page * page;
            // SAFETY: `[from, start + len)` lies inside a live read-only mapping of ours;
            // replacing its pages by private zero pages changes no memory that Rust code
            // holds as mutable, and keeps every address readable.
            let p = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    start + len - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                FAULTED[i].store(true, Ordering::Release);
                return;
            }
        }
        // Not a fault of ours: hand it to the previous action.
        let Some(Previous(prev)) = PREVIOUS.get() else {
            return reset_default();
        };
        let h = prev.sa_sigaction;
        if h == libc::SIG_DFL || h == libc::SIG_IGN {
            // Returning re-runs the faulting access, which now takes the default action.
            return reset_default();
        }
        if prev.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the previous handler was installed with SA_SIGINFO, so this is its type.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(h) };
            f(sig, info, ctx);
        } else {
            // SAFETY: without SA_SIGINFO the previous handler takes only the signal number.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
            f(sig);
        }
    }

    fn reset_default() {
        // SAFETY: restoring the default action with a zeroed, valid structure.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut dfl.sa_mask);
            libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut());
        }
    }
}

impl StreamState {
    /// Keeps the unfinished last line of `buf` within `max_line + 1` bytes; `fresh` is where
    /// the bytes just read start.
    fn bound_last_line(&mut self, buf: &mut Vec<u8>, fresh: usize) {
        if self.max_line == usize::MAX {
            return;
        }
        if self.skipping {
            match memchr::memchr(b'\n', &buf[fresh..]) {
                None => {
                    self.dropped += (buf.len() - fresh) as u64;
                    buf.truncate(fresh);
                    return;
                }
                Some(p) => {
                    self.dropped += p as u64;
                    buf.drain(fresh..fresh + p);
                    self.skipping = false;
                }
            }
        }
        let line_start = memchr::memrchr(b'\n', buf).map_or(0, |p| p + 1);
        let keep = self.max_line.saturating_add(1);
        if buf.len() - line_start > keep {
            self.dropped += (buf.len() - line_start - keep) as u64;
            buf.truncate(line_start + keep);
            self.skipping = true;
        }
    }
}

fn page_size_into(cell: &AtomicUsize) {
    cell.store(page_size(), Ordering::Relaxed);
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

/// Where chunk `k` of `data` starts: just after the first `\n` at or after `k * target - 1`
/// (0 for the first chunk, the end of the data when there is no such newline).
fn cut(data: &[u8], target: usize, k: usize) -> usize {
    let pos = k.saturating_mul(target);
    if k == 0 {
        0
    } else if pos >= data.len() {
        data.len()
    } else {
        match memchr::memchr(b'\n', &data[pos - 1..]) {
            Some(p) => pos + p,
            None => data.len(),
        }
    }
}

/// Chunk `k` of `data` cut at about `target` bytes: it starts and ends just after a `\n`
/// (the last ends where the data does). Each chunk is found on its own, without the ones
/// before it; a line longer than `target` leaves some chunks empty.
pub fn chunk_range(data: &[u8], target: usize, k: usize) -> Range<usize> {
    let target = target.max(1);
    cut(data, target, k)..cut(data, target, k + 1)
}

/// All chunks of `data`: contiguous, covering it exactly.
pub fn split_chunks(data: &[u8], target: usize) -> Vec<Range<usize>> {
    let target = target.max(1);
    (0..data.len().div_ceil(target))
        .map(|k| chunk_range(data, target, k))
        .collect()
}

/// The last line of `buf` that starts with `prefix` (without its line ending).
/// The last line starting with `#Fields:` in the first `n` bytes of `reader`, read in blocks.
/// A line longer than the chunk bound is only looked at in its first part.
fn last_fields_line(reader: impl Read, n: u64) -> std::io::Result<Option<Vec<u8>>> {
    const BLOCK: usize = 1 << 20;
    let mut reader = reader.take(n);
    let mut buf = vec![0u8; BLOCK];
    // Complete lines are looked at; the unfinished tail waits for the next block.
    let mut lines: Vec<u8> = Vec::new();
    let mut last = None;
    loop {
        let k = reader.read(&mut buf)?;
        if k == 0 {
            break;
        }
        let data = &buf[..k];
        match memchr::memrchr(b'\n', data) {
            Some(p) => {
                lines.extend_from_slice(&data[..=p]);
                if let Some(l) = last_line_starting(&lines, b"#Fields:") {
                    last = Some(l.to_vec());
                }
                lines.clear();
                lines.extend_from_slice(&data[p + 1..]);
            }
            None if lines.len() < BLOCK => lines.extend_from_slice(data),
            None => {}
        }
    }
    if let Some(l) = last_line_starting(&lines, b"#Fields:") {
        last = Some(l.to_vec());
    }
    Ok(last)
}

fn last_line_starting<'b>(buf: &'b [u8], prefix: &[u8]) -> Option<&'b [u8]> {
    let finder = memchr::memmem::FinderRev::new(prefix);
    let mut end = buf.len();
    while let Some(p) = finder.rfind(&buf[..end]) {
        if p == 0 || buf[p - 1] == b'\n' {
            let stop = memchr::memchr(b'\n', &buf[p..]).map_or(buf.len(), |e| p + e);
            let line = &buf[p..stop];
            return Some(line.strip_suffix(b"\r").unwrap_or(line));
        }
        end = p;
    }
    None
}

/// The lines of a chunk, without their `\n` or a trailing `\r`.
pub fn lines(chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = chunk;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(p) => (&rest[..p], &rest[p + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    })
}

/// Has the C library's allocator give buffers of a mebibyte or more back to the system when
/// they are freed. The buffers of a chunk (its anonymised copy, its diagnostics rows), megabytes
/// each, are made by a worker and freed by the writer thread. By default glibc raises its mmap
/// threshold at the first such free and from then on serves them from its arenas, which kept
/// ever more of them: peak RSS grew by a third from 10M to 50M lines. Called once, at start.
pub fn return_large_frees() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning parameter of the allocator, under its own lock; the
    // parameter and value are valid (M_MMAP_THRESHOLD, 1 MiB, below its 32 MiB maximum).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Asks the CPU to start bringing the cache line of `value` in, without waiting for it: a
/// hot-loop lookup made later then finds it there. Does nothing off x86_64.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it changes no memory, cannot fault (even on an invalid
    // address, and this one comes from a reference), and SSE is part of every x86_64 CPU.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn collect_stream(data: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let src = Source::from_reader(
            "t".into(),
            Box::new(std::io::Cursor::new(data.to_vec())),
            None,
            chunk,
        );
        let mut out = Vec::new();
        while let Some(c) = src.next_chunk().unwrap() {
            assert_eq!(c.index, out.len());
            out.push(c.bytes().to_vec());
        }
        out
    }

    fn check_chunks(chunks: &[Vec<u8>], data: &[u8]) {
        assert_eq!(chunks.concat(), data, "chunks must reassemble to the input");
        // Empty chunks are allowed (a line longer than the chunk size spans several).
        let full: Vec<&Vec<u8>> = chunks.iter().filter(|c| !c.is_empty()).collect();
        for c in &full[..full.len().saturating_sub(1)] {
            assert_eq!(
                c.last(),
                Some(&b'\n'),
                "every chunk but the last ends a line"
            );
        }
    }

    proptest! {
        #[test]
        fn split_loses_and_duplicates_nothing(data in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..2000), target in 1usize..300) {
            let ranges = split_chunks(&data, target);
            let chunks: Vec<Vec<u8>> = ranges.iter().map(|r| data[r.clone()].to_vec()).collect();
            check_chunks(&chunks, &data);
        }

        #[test]
        fn read_path_loses_and_duplicates_nothing(data in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..2000), target in 1usize..300) {
            let chunks = collect_stream(&data, target);
            check_chunks(&chunks, &data);
        }
    }

    proptest! {
        /// With a line bound, the read path hands out every line: a short one whole, a long one
        /// as a prefix that is still too long (cut to `max_line + 1` bytes when it spans reads).
        #[test]
        fn read_path_cuts_long_lines_only(data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\n'), any::<u8>()], 0..3000), target in 1usize..300, max_line in 0usize..40) {
            let src = Source::from_reader("t".into(), Box::new(std::io::Cursor::new(data.clone())), None, target).with_max_line(max_line);
            let mut got = Vec::new();
            while let Some(c) = src.next_chunk().unwrap() {
                got.extend_from_slice(c.bytes());
            }
            let split = |d: &[u8]| -> Vec<Vec<u8>> {
                if d.is_empty() {
                    return Vec::new();
                }
                let d = d.strip_suffix(b"\n").unwrap_or(d);
                d.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
            };
            let (got, want) = (split(&got), split(&data));
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                if w.len() <= max_line {
                    prop_assert_eq!(g, w);
                } else {
                    prop_assert!(g.len() > max_line && w.starts_with(g));
                }
            }
        }
    }

    /// A line of 64 MiB read with a bound of 1 KiB never makes a chunk larger than a few
    /// chunk sizes.
    #[test]
    fn a_huge_streamed_line_takes_bounded_memory() {
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = (buf.len() as u64).min(self.0) as usize;
                buf[..n].fill(b'x');
                self.0 -= n as u64;
                Ok(n)
            }
        }
        let reader = std::io::Cursor::new(b"first\n".to_vec())
            .chain(Endless(64 << 20))
            .chain(std::io::Cursor::new(b"\nlast\n".to_vec()));
        let src = Source::from_reader("t".into(), Box::new(reader), None, 4096).with_max_line(1024);
        let mut all = Vec::new();
        while let Some(c) = src.next_chunk().unwrap() {
            assert!(
                c.bytes().len() < 1 << 20,
                "chunk of {} bytes",
                c.bytes().len()
            );
            all.extend_from_slice(c.bytes());
        }
        let ls: Vec<&[u8]> = lines(&all).collect();
        assert_eq!(ls.len(), 3);
        assert_eq!(ls[0], b"first");
        assert_eq!(ls[1].len(), 1025);
        assert_eq!(ls[2], b"last");
    }

    #[test]
    fn mmap_and_read_paths_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.log");
        let data: Vec<u8> = (0..5000)
            .flat_map(|i| format!("line {i}\r\n").into_bytes())
            .chain(*b"last")
            .collect();
        std::fs::write(&path, &data).unwrap();
        for use_mmap in [true, false] {
            let src = Source::open(&InputSpec::Path(path.clone()), use_mmap, 1000).unwrap();
            assert_eq!(
                src.mode(),
                if use_mmap {
                    ReadMode::Mmap
                } else {
                    ReadMode::Read
                }
            );
            let mut chunks = Vec::new();
            while let Some(c) = src.next_chunk().unwrap() {
                chunks.push(c.bytes().to_vec());
                src.release(&c);
            }
            check_chunks(&chunks, &data);
            let all = chunks.concat();
            let ls: Vec<&[u8]> = lines(&all).collect();
            assert_eq!(ls.len(), 5001);
            assert_eq!(ls[4999], b"line 4999");
            assert_eq!(ls[5000], b"last");
        }
        let a = Source::open(&InputSpec::Path(path.clone()), true, 1000)
            .unwrap()
            .head_fingerprint();
        let b = Source::open(&InputSpec::Path(path.clone()), false, 1000).unwrap();
        while b.next_chunk().unwrap().is_some() {}
        assert_eq!(a, b.head_fingerprint());
    }

    #[test]
    fn compressed_inputs_stream_the_same_bytes() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let gz = dir.path().join("a.log.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&data).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let zst = dir.path().join("a.log.zst");
        std::fs::write(&zst, zstd::encode_all(&data[..], 3).unwrap()).unwrap();
        let plain = dir.path().join("a.log");
        std::fs::write(&plain, &data).unwrap();
        let expected = Source::open(&InputSpec::Path(plain), true, 4096)
            .unwrap()
            .head_fingerprint();
        for (path, kind) in [(gz, Compression::Gzip), (zst, Compression::Zstd)] {
            let src = Source::open(&InputSpec::Path(path.clone()), true, 4096).unwrap();
            assert_eq!(src.compression(), kind);
            assert_eq!(src.mode(), ReadMode::Read);
            let mut chunks = Vec::new();
            while let Some(c) = src.next_chunk().unwrap() {
                chunks.push(c.bytes().to_vec());
            }
            check_chunks(&chunks, &data);
            assert_eq!(
                src.head_fingerprint(),
                expected,
                "fingerprint is of the content"
            );
        }
    }

    #[test]
    fn a_truncated_gzip_is_an_error_after_its_good_bytes() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..50_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&data).unwrap();
        let gz = enc.finish().unwrap();
        let path = dir.path().join("cut.log.gz");
        std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
        let src = Source::open(&InputSpec::Path(path), true, 4096).unwrap();
        let mut good = 0;
        let err = loop {
            match src.next_chunk() {
                Ok(Some(c)) => good += c.bytes().len(),
                Ok(None) => panic!("a truncated gzip must not end cleanly"),
                Err(e) => break e,
            }
        };
        assert!(good > 0, "good bytes before the cut are delivered");
        assert!(err.to_string().contains("cut.log.gz"), "{err}");
    }

    /// A mapped file truncated by another writer while it is read: reads of the lost pages see
    /// zeros instead of killing the process with SIGBUS, and the source reports an error.
    #[test]
    fn a_mapped_file_truncated_while_read_fails_instead_of_crashing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("growing.log");
        let data: Vec<u8> = (0..100_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        std::fs::write(&path, &data).unwrap();
        let src = Source::open(&InputSpec::Path(path.clone()), true, 64 * 1024).unwrap();
        assert_eq!(src.mode(), ReadMode::Mmap);
        let first = src.next_chunk().unwrap().unwrap();
        assert!(first.bytes().starts_with(b"line 0\n"));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(100)
            .unwrap();
        let map = src.mapped().unwrap();
        // SAFETY: an in-bounds read of the mapping; volatile so that it really happens.
        let last = unsafe { std::ptr::read_volatile(&map[map.len() - 1]) };
        assert_eq!(last, 0, "a lost page reads as zeros");
        let err = match src.next_chunk() {
            Err(e) => e.to_string(),
            Ok(c) => panic!("a truncated file must fail, got a chunk: {}", c.is_some()),
        };
        assert!(err.contains("growing.log"), "{err}");
        assert!(err.contains("changed while it was read"), "{err}");
        assert!(err.contains("truncated"), "the fault is reported: {err}");
    }

    /// Shrinking is seen even when no lost page was read.
    #[test]
    fn a_mapped_file_that_shrank_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shrunk.log");
        std::fs::write(&path, b"a\nb\nc\n".repeat(10_000)).unwrap();
        let src = Source::open(&InputSpec::Path(path.clone()), true, 4096).unwrap();
        assert!(src.next_chunk().unwrap().is_some());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(10)
            .unwrap();
        let err = src.next_chunk().err().expect("an error").to_string();
        assert!(
            err.contains("shrunk.log") && err.contains("shrank"),
            "{err}"
        );
    }

    #[test]
    fn content_digest_covers_the_range_read_on_every_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.log");
        let data: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .chain(*b"partial")
            .collect();
        std::fs::write(&path, &data).unwrap();
        let start = 1000 * 9;
        let end = data.len() as u64 - 7;
        for (use_mmap, release) in [(true, true), (true, false), (false, false)] {
            let mut prior = blake3::Hasher::new();
            prior.update(&data[..start]);
            let resume = Resume {
                start: start as u64,
                end: Some(end),
                prior: Some(prior),
            };
            let src =
                Source::open_at(&InputSpec::Path(path.clone()), use_mmap, 1000, resume).unwrap();
            let mut got = Vec::new();
            while let Some(c) = src.next_chunk().unwrap() {
                got.extend_from_slice(c.bytes());
                if release {
                    src.release(&c);
                }
            }
            assert_eq!(got, &data[start..end as usize]);
            let (len, hash) = src.content_digest().unwrap();
            assert_eq!(len, end);
            assert_eq!(hash, blake3::hash(&data[..end as usize]), "mmap {use_mmap}");
        }
    }

    #[test]
    fn empty_file_has_no_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.log");
        std::fs::write(&path, b"").unwrap();
        for use_mmap in [true, false] {
            let src = Source::open(&InputSpec::Path(path.clone()), use_mmap, 1000).unwrap();
            assert!(src.next_chunk().unwrap().is_none());
        }
    }
}
