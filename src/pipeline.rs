//! The `process` job: sources → chunks → parse → geo → aggregate, in parallel over chunks, then
//! reports, diagnostics and the run manifest. Owns scheduling and the run's life cycle; holds
//! no lock in the per-line loop and writes nothing itself (the store module does).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use crate::agg::Accumulator;
use crate::anon::{self, Masks};
use crate::diag::{self, ChunkMessage, ChunkRows, DiagMode, DiagWriter};
use crate::error::{Error, Result};
use crate::geo::{GeoCache, GeoDb, Place};
use crate::manifest::{self, InputSummary, RunSummary};
use crate::parse::Format;
use crate::source::{self, InputSpec, Source};

/// Everything `process` needs to know.
#[derive(Debug, Clone)]
pub struct Options {
    pub inputs: Vec<InputSpec>,
    pub out: PathBuf,
    pub format: Format,
    pub masks: Masks,
    pub diagnostics: DiagMode,
    pub retention_secs: i64,
    pub max_reject_rate: f64,
    pub threads: usize,
    pub use_mmap: bool,
    pub chunk_size: usize,
    /// The clock: Unix seconds.
    pub now: i64,
}

/// Result of a run: its summary, and whether its reports were published.
pub struct Outcome {
    pub summary: RunSummary,
    pub published: bool,
}

struct Ctx<'a> {
    format: Format,
    diag_mode: DiagMode,
    today: i64,
    geo: &'a GeoDb,
}

/// Runs `process`. Expired diagnostics are purged first.
pub fn process(opts: &Options, geo: &GeoDb) -> Result<Outcome> {
    let started = Instant::now();
    if opts.inputs.is_empty() {
        return Err(Error::Usage("no input files".into()));
    }
    crate::store::ensure_dir(&opts.out, crate::store::PUBLIC_DIR)?;
    let purge = diag::purge(&opts.out, opts.now)?;
    let run_id = manifest::new_run_id(opts.now);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .thread_name(|i| format!("logveil-{i}"))
        .build()
        .map_err(|e| Error::Usage(format!("cannot start {} threads: {e}", opts.threads)))?;
    let ctx = Ctx {
        format: opts.format,
        diag_mode: opts.diagnostics,
        today: opts.now.div_euclid(86_400),
        geo,
    };

    let names: Vec<String> = opts.inputs.iter().map(InputSpec::display_name).collect();
    let writer = DiagWriter::new(&opts.out, &run_id, opts.retention_secs, opts.now, names);
    let mut total = Accumulator::default();
    let mut inputs = Vec::new();

    let (tx, rx) = crossbeam_channel::bounded::<ChunkMessage>(opts.threads.max(1) * 4);
    let writer = std::thread::scope(|scope| -> Result<DiagWriter> {
        let writer_thread = scope.spawn(move || -> Result<DiagWriter> {
            let mut writer = writer;
            let mut err = None;
            for msg in rx {
                if err.is_none()
                    && let Err(e) = writer.accept(msg)
                {
                    err = Some(e);
                }
            }
            match err {
                Some(e) => Err(e),
                None => Ok(writer),
            }
        });
        let mut run = || -> Result<()> {
            for (idx, spec) in opts.inputs.iter().enumerate() {
                let src = Source::open(spec, opts.use_mmap, opts.chunk_size)?;
                let acc = run_source(&pool, &ctx, &src, idx, &tx)?;
                inputs.push(InputSummary {
                    path: src.name().to_string(),
                    size_bytes: src.size().unwrap_or(acc.bytes_read),
                    fingerprint: format!("blake3-head-1MiB:{}", src.head_fingerprint()),
                    read_mode: src.mode(),
                    lines: acc.lines,
                    parsed: acc.parsed,
                    rejected: acc.rejected_total(),
                });
                total.merge(acc);
            }
            Ok(())
        };
        let result = run();
        drop(tx);
        let w = writer_thread
            .join()
            .map_err(|_| Error::Usage("diagnostics writer panicked".into()))?;
        result?;
        w
    })?;

    if total.geo_errors > 0 {
        return Err(Error::GeoDatabase {
            path: geo.info().source.clone(),
            reason: format!(
                "{} lookups failed (first: {})",
                total.geo_errors,
                total.first_geo_error.as_deref().unwrap_or("?")
            ),
        });
    }

    let considered = total.parsed + total.rejected_total();
    let reject_rate = if considered == 0 {
        0.0
    } else {
        total.rejected_total() as f64 / considered as f64
    };
    let published = reject_rate <= opts.max_reject_rate;

    let skipped_expired = writer.skipped_expired;
    let diag_files = writer_finish(writer)?;
    let report_files = if published {
        crate::reports::write_all(&opts.out, &run_id, &total)?
    } else {
        Vec::new()
    };

    let summary = manifest::summarise(manifest::SummaryParts {
        run_id,
        now: opts.now,
        opts,
        geo: geo.info().clone(),
        total: &total,
        inputs,
        reject_rate,
        published,
        purge,
        diag_files: rel(&opts.out, &diag_files.0),
        diag_rows: diag_files.1,
        diag_skipped_expired: skipped_expired,
        report_files: rel(&opts.out, &report_files),
        elapsed: started.elapsed(),
        threads: opts.threads,
    });
    manifest::write(&opts.out, &summary)?;
    Ok(Outcome { summary, published })
}

fn writer_finish(writer: DiagWriter) -> Result<(Vec<PathBuf>, u64)> {
    let published = writer.finish()?;
    let rows = published.iter().map(|(_, n)| n).sum();
    Ok((published.into_iter().map(|(p, _)| p).collect(), rows))
}

fn rel(out: &Path, files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| f.strip_prefix(out).unwrap_or(f).display().to_string())
        .collect()
}

/// Processes one source on every thread of `pool`; returns the merged accumulator.
fn run_source(
    pool: &rayon::ThreadPool,
    ctx: &Ctx<'_>,
    src: &Source,
    input: usize,
    tx: &crossbeam_channel::Sender<ChunkMessage>,
) -> Result<Accumulator> {
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let accs = pool.broadcast(|_| {
        let mut acc = Accumulator::default();
        let mut cache = GeoCache::new(ctx.geo);
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
            let mut rows = ChunkRows::default();
            let lines = process_chunk(ctx, &mut cache, &mut acc, chunk.bytes(), &mut rows);
            src.release(&chunk);
            acc.diagnostics_rows += rows.rows;
            let msg = ChunkMessage {
                input,
                chunk: chunk.index,
                lines,
                rows,
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
        acc
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut total = Accumulator::default();
    for a in accs {
        total.merge(a);
    }
    Ok(total)
}

/// The per-line loop. Returns the number of lines in the chunk.
#[inline(never)]
fn process_chunk(
    ctx: &Ctx<'_>,
    cache: &mut GeoCache<'_>,
    acc: &mut Accumulator,
    chunk: &[u8],
    rows: &mut ChunkRows,
) -> u64 {
    let mut n = 0u64;
    acc.bytes_read += chunk.len() as u64;
    for line in source::lines(chunk) {
        n += 1;
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            acc.blank += 1;
            continue;
        }
        match ctx.format.parse(line) {
            Err(rej) => {
                acc.reject(rej.reason);
                if ctx.diag_mode != DiagMode::Off {
                    rows.push_reject(line, rej.reason, n, ctx.today);
                }
            }
            Ok(rec) => {
                let ip = anon::parse_client(rec.client).map(anon::unwrap_embedded);
                let place = match ip {
                    Some(ip) => {
                        acc.ipv6_clients += ip.is_ipv6() as u64;
                        match cache.lookup(ip) {
                            Ok(p) => p,
                            Err(e) => {
                                acc.geo_errors += 1;
                                acc.first_geo_error.get_or_insert(e);
                                Place::UNKNOWN
                            }
                        }
                    }
                    None => {
                        acc.non_ip_clients += 1;
                        Place::UNKNOWN
                    }
                };
                acc.record(rec.time, place, rec.status, rec.method, rec.bytes);
                let keep = match ctx.diag_mode {
                    DiagMode::All => true,
                    DiagMode::Errors => rec.status >= 400,
                    DiagMode::Off => false,
                };
                if keep {
                    rows.push_record(&rec, ip, n);
                }
            }
        }
    }
    acc.lines += n;
    n
}
