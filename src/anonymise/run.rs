//! The `anonymise` command: inputs in, one anonymised copy out (stdout, or a file opened for
//! appending). Owns reading and ordering; the rewriting of lines is the parent module's.
//!
//! - A regular file (or stdin redirected from one) is cut into chunks that every thread of a
//!   pool rewrites; the outputs are written in chunk order, so the copy keeps the order of
//!   the input. A compressed output is compressed per chunk in the threads: concatenated
//!   gzip members and zstd frames are valid streams.
//! - A pipe or a terminal on stdin is read line by line: each line's copy is written as soon
//!   as it is made and flushed whenever no more input is waiting, so a server piping its log
//!   through `logveil anonymise` sees every line promptly. A line is never held beyond
//!   `max_line_bytes`: a longer one is skipped to its end and counted as `line_too_long`.
//!
//! Format detection (`--format auto`): a file's first 256 KiB are ranked as `process` does.
//! A stream is detected on its first data line (with the directives before it); a line no
//! format parses is rejected and the next one tried. Common, Combined and Combined with
//! X-Forwarded-For are widened to `clf`, which takes each of them line by line, so that a
//! copy does not lose lines to a sample that happened to show only one of them.

use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Copier, CopyCounts, CopyCtx};
use crate::error::{Error, Result};
use crate::parse::formats;
use crate::parse::w3c::{self, W3cFields};
use crate::parse::{Format, RejectReason};
use crate::source::{InputSpec, Source};

/// Options of the `anonymise` command.
#[derive(Debug, Clone)]
pub struct Options {
    /// Inputs in order; empty means stdin.
    pub inputs: Vec<InputSpec>,
    /// Append to this file (created 0640); `None` writes stdout. A name ending in `.gz` or
    /// `.zst` is written compressed.
    pub output: Option<PathBuf>,
    /// The copy context; its format is the one asked for (`Auto` detects per input).
    pub ctx: CopyCtx,
    /// Whether the format was asked for as `auto` (a custom format string is never detected).
    pub detect: bool,
    pub threads: usize,
    pub chunk_size: usize,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub counts: CopyCounts,
    /// Each input with the format it was read with (`None` for a custom format string).
    pub inputs: Vec<(String, Option<Format>)>,
    /// Things worth telling the operator (a format that fits badly).
    pub notes: Vec<String>,
}

/// How the copy is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutCompression {
    None,
    Gzip,
    Zstd,
}

impl OutCompression {
    /// From the output's name: `.gz` or `.zst`.
    pub fn of(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => OutCompression::Gzip,
            Some("zst") => OutCompression::Zstd,
            _ => OutCompression::None,
        }
    }

    /// `data` as one complete gzip member or zstd frame (a copy of it when uncompressed).
    pub fn compress(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            OutCompression::None => Ok(data.to_vec()),
            OutCompression::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 4),
                    flate2::Compression::default(),
                );
                enc.write_all(data)?;
                enc.finish()
            }
            OutCompression::Zstd => zstd::bulk::compress(data, 3),
        }
    }
}

/// Runs the command. Lines that do not parse are counted, never written. I/O errors end the
/// run (what was written stays written: the output is an append-only log).
pub fn run(opts: &Options) -> Result<Summary> {
    let (sink, name, compression): (Box<dyn Write + Send>, PathBuf, OutCompression) =
        match &opts.output {
            Some(p) => (
                Box::new(crate::store::open_append(p, crate::store::LOG_FILE)?),
                p.clone(),
                OutCompression::of(p),
            ),
            None => (
                Box::new(io::stdout()),
                PathBuf::from("-"),
                OutCompression::None,
            ),
        };
    let mut out = Output {
        sink: io::BufWriter::with_capacity(256 * 1024, sink),
        name,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .thread_name(|i| format!("logveil-{i}"))
        .build()
        .map_err(|e| Error::Usage(format!("cannot start {} threads: {e}", opts.threads)))?;
    let inputs = if opts.inputs.is_empty() {
        vec![InputSpec::Stdin]
    } else {
        opts.inputs.clone()
    };
    let mut summary = Summary::default();
    for spec in &inputs {
        if *spec == InputSpec::Stdin && !stdin_is_file() {
            let format = stream(opts, compression, &mut out, &mut summary.counts)?;
            summary.inputs.push(("-".into(), format));
            continue;
        }
        let src = Source::open(spec, true, opts.chunk_size)?.with_max_line(opts.ctx.max_line_bytes);
        let ctx = if opts.detect && opts.ctx.custom.is_none() {
            let (sample, complete) = src.sample(crate::pipeline::DETECT_SAMPLE)?;
            let d = formats::detect(&sample, complete);
            if d.sampled > 0 && (d.fit as f64) < crate::pipeline::DETECT_MIN_FIT * d.sampled as f64
            {
                summary.notes.push(format!(
                    "{}: no known format fits well (best: {} parses {} of {} sample lines); lines that do not parse are left out of the copy",
                    src.name(),
                    d.format.name(),
                    d.fit,
                    d.sampled
                ));
            }
            opts.ctx.with_format(widen(d.format))
        } else {
            opts.ctx.clone()
        };
        let counts = copy_source(&pool, &ctx, &src, compression, &mut out)?;
        summary.counts.merge(&counts);
        summary.inputs.push((
            src.name().to_string(),
            ctx.custom.is_none().then_some(ctx.format),
        ));
    }
    out.flush()?;
    Ok(summary)
}

/// The CLF shapes are read with `clf`, which takes each of them line by line.
fn widen(f: Format) -> Format {
    match f {
        Format::Common | Format::Combined | Format::CombinedXff => Format::Clf,
        f => f,
    }
}

fn stdin_is_file() -> bool {
    use std::os::fd::AsFd;
    let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(fd)
        .metadata()
        .map(|m| m.is_file())
        .unwrap_or(false)
}

struct Output {
    sink: io::BufWriter<Box<dyn Write + Send>>,
    name: PathBuf,
}

impl Output {
    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.sink
            .write_all(b)
            .map_err(|e| Error::output(&self.name, e))
    }
    fn flush(&mut self) -> Result<()> {
        self.sink.flush().map_err(|e| Error::output(&self.name, e))
    }
}

/// Rewrites a chunked source on every thread of `pool`, writing chunk outputs in order.
fn copy_source(
    pool: &rayon::ThreadPool,
    ctx: &CopyCtx,
    src: &Source,
    compression: OutCompression,
    out: &mut Output,
) -> Result<CopyCounts> {
    let headers: Vec<(usize, W3cFields)> = match (
        ctx.custom.is_none() && ctx.format == Format::W3c,
        src.mapped(),
    ) {
        (true, Some(data)) => w3c::header_offsets(data),
        _ => Vec::new(),
    };
    let header_at = |offset: u64| {
        let i = headers.partition_point(|(o, _)| (*o as u64) < offset);
        i.checked_sub(1).map(|i| headers[i].1.clone())
    };
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let (tx, rx) =
        crossbeam_channel::bounded::<(usize, Vec<u8>, CopyCounts)>(pool.current_num_threads() * 2);
    // Written buffers go back to the workers, which fill them again: their pages stay
    // allocated instead of being faulted in and given back for every chunk.
    let (spare_tx, spare_rx) =
        crossbeam_channel::bounded::<Vec<u8>>(pool.current_num_threads() * 4);
    std::thread::scope(|scope| -> Result<CopyCounts> {
        let writer = scope.spawn(move || -> Result<CopyCounts> {
            let mut pending = std::collections::BTreeMap::new();
            let mut next = 0usize;
            let mut total = CopyCounts::default();
            for (index, bytes, counts) in rx {
                pending.insert(index, (bytes, counts));
                while let Some((mut bytes, counts)) = pending.remove(&next) {
                    out.write(&bytes)?;
                    total.merge(&counts);
                    next += 1;
                    bytes.clear();
                    let _ = spare_tx.try_send(bytes);
                }
            }
            Ok(total)
        });
        pool.broadcast(|_| {
            let mut plain = Vec::new();
            let mut copier = Copier::new(ctx);
            loop {
                let chunk = match src.next_chunk() {
                    Ok(Some(c)) => c,
                    Ok(None) => break,
                    Err(e) => {
                        failure
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                        break;
                    }
                };
                let header = match &chunk.preamble {
                    Some(line) => W3cFields::from_header(line),
                    None => header_at(chunk.offset),
                };
                plain.clear();
                plain.reserve(chunk.bytes().len() + 4096);
                let counts = copier.chunk(chunk.bytes(), header, &mut plain);
                src.release(&chunk);
                let bytes = match compression {
                    OutCompression::None => std::mem::replace(
                        &mut plain,
                        // `reserve` above sizes it for the next chunk.
                        spare_rx.try_recv().unwrap_or_default(),
                    ),
                    c => match c.compress(&plain) {
                        Ok(b) => b,
                        Err(e) => {
                            failure
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(Error::output("(compression)", e));
                            break;
                        }
                    },
                };
                if tx.send((chunk.index, bytes, counts)).is_err() {
                    break;
                }
            }
        });
        drop(tx);
        let total = writer
            .join()
            .map_err(|_| Error::Internal("the output writer panicked".into()))??;
        if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        Ok(total)
    })
}

/// A streamed output: plain, or through an encoder flushed with the output.
enum StreamOut<'o> {
    Plain(&'o mut Output),
    Gzip(
        flate2::write::GzEncoder<&'o mut io::BufWriter<Box<dyn Write + Send>>>,
        PathBuf,
    ),
    Zstd(
        zstd::stream::write::Encoder<'static, &'o mut io::BufWriter<Box<dyn Write + Send>>>,
        PathBuf,
    ),
}

impl StreamOut<'_> {
    fn write(&mut self, b: &[u8]) -> Result<()> {
        match self {
            StreamOut::Plain(o) => o.write(b),
            StreamOut::Gzip(e, n) => e.write_all(b).map_err(|e| Error::output(&*n, e)),
            StreamOut::Zstd(e, n) => e.write_all(b).map_err(|e| Error::output(&*n, e)),
        }
    }
    fn flush(&mut self) -> Result<()> {
        match self {
            StreamOut::Plain(o) => o.flush(),
            StreamOut::Gzip(e, n) => e.flush().map_err(|e| Error::output(&*n, e)),
            StreamOut::Zstd(e, n) => e.flush().map_err(|e| Error::output(&*n, e)),
        }
    }
    fn finish(self) -> Result<()> {
        match self {
            StreamOut::Plain(o) => o.flush(),
            StreamOut::Gzip(e, n) => e
                .finish()
                .and_then(|w| w.flush())
                .map_err(|e| Error::output(&n, e)),
            StreamOut::Zstd(e, n) => e
                .finish()
                .and_then(|w| w.flush())
                .map_err(|e| Error::output(&n, e)),
        }
    }
}

/// Directive lines held while the format of a stream is not known yet.
const MAX_PENDING: usize = 64;

/// Line-by-line copy of stdin. Returns the format it settled on.
fn stream(
    opts: &Options,
    compression: OutCompression,
    out: &mut Output,
    counts: &mut CopyCounts,
) -> Result<Option<Format>> {
    let name = out.name.clone();
    let mut sink = match compression {
        OutCompression::None => StreamOut::Plain(out),
        OutCompression::Gzip => StreamOut::Gzip(
            flate2::write::GzEncoder::new(&mut out.sink, flate2::Compression::default()),
            name,
        ),
        OutCompression::Zstd => StreamOut::Zstd(
            zstd::stream::write::Encoder::new(&mut out.sink, 3)
                .map_err(|e| Error::output(&name, e))?,
            name,
        ),
    };
    let stdin = io::stdin();
    let mut reader = io::BufReader::with_capacity(64 * 1024, stdin.lock());
    // Room for the line and its `\r`.
    let limit = opts.ctx.max_line_bytes.saturating_add(1);
    let read_err = |e| Error::input("-", e);

    let detect = opts.detect && opts.ctx.custom.is_none();
    let (format, held, mut eof) = if detect {
        detect_stream(&mut reader, limit, counts).map_err(read_err)?
    } else {
        (None, Vec::new(), false)
    };
    let ctx = match format {
        Some(f) => opts.ctx.with_format(f),
        None if detect => opts.ctx.with_format(Format::Clf),
        None => opts.ctx.clone(),
    };
    let mut copier = Copier::new(&ctx);
    let mut copy: Vec<u8> = Vec::with_capacity(1024);
    for h in &held {
        copy.clear();
        if copier.line(h, &mut copy, counts) {
            sink.write(&copy)?;
        }
    }
    sink.flush()?;
    let mut line: Vec<u8> = Vec::with_capacity(1024);
    let mut too_long = false;
    while !eof {
        let got;
        (got, eof) = fill_line(&mut reader, &mut line, &mut too_long, limit).map_err(read_err)?;
        if got {
            if too_long {
                copier.too_long(counts);
            } else {
                copy.clear();
                if copier.line(&line, &mut copy, counts) {
                    sink.write(&copy)?;
                }
            }
            line.clear();
            too_long = false;
        }
        if reader.buffer().is_empty() {
            sink.flush()?;
        }
    }
    sink.finish()?;
    Ok(ctx.custom.is_none().then_some(ctx.format))
}

/// Reads a stream until a line some format parses, holding the directives before it.
/// Returns the format (widened), the held lines (that line last), and whether the input
/// ended. Blank lines and lines no format parses are counted here.
fn detect_stream<R: Read>(
    reader: &mut io::BufReader<R>,
    limit: usize,
    counts: &mut CopyCounts,
) -> io::Result<(Option<Format>, Vec<Vec<u8>>, bool)> {
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let (got, eof) = fill_line(reader, &mut line, &mut too_long, limit)?;
        if got {
            let body = line.strip_suffix(b"\r").unwrap_or(&line);
            counts.lines += 1;
            if too_long {
                counts.rejected[RejectReason::LineTooLong.index()] += 1;
            } else if body.iter().all(u8::is_ascii_whitespace) {
                counts.blank += 1;
            } else if w3c::is_directive(body) {
                if held.len() < MAX_PENDING {
                    // Counted again when it is copied.
                    counts.lines -= 1;
                    held.push(line.clone());
                } else {
                    counts.rejected[RejectReason::BadRequest.index()] += 1;
                }
            } else {
                let mut sample = Vec::new();
                for h in &held {
                    sample.extend_from_slice(h);
                    sample.push(b'\n');
                }
                sample.extend_from_slice(body);
                sample.push(b'\n');
                let d = formats::detect(&sample, true);
                if d.fit > 0 {
                    counts.lines -= 1;
                    held.push(line.clone());
                    return Ok((Some(widen(d.format)), held, eof));
                }
                let reason = Format::Clf
                    .parse(body, None)
                    .err()
                    .map_or(RejectReason::BadRequest, |r| r.reason);
                counts.rejected[reason.index()] += 1;
            }
            line.clear();
            too_long = false;
        }
        if eof {
            return Ok((None, held, true));
        }
    }
}

/// Reads the next line into `line` (without its `\n`), keeping at most `limit` bytes; past
/// that, the rest of the line is skipped and `too_long` set. Returns (a line was read, the
/// input has ended).
fn fill_line<R: Read>(
    reader: &mut io::BufReader<R>,
    line: &mut Vec<u8>,
    too_long: &mut bool,
    limit: usize,
) -> io::Result<(bool, bool)> {
    let mut got = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok((got, true));
        }
        got = true;
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(p) => (p, true),
            None => (buf.len(), false),
        };
        if !*too_long {
            if line.len() + take > limit {
                *too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(&buf[..take]);
            }
        }
        reader.consume(if done { take + 1 } else { take });
        if done {
            return Ok((true, false));
        }
    }
}
