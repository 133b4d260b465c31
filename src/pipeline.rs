//! The `process` job: sources → chunks → parse → geo → aggregate, in parallel over chunks, then
//! reports, diagnostics and the run manifest. Owns scheduling and the run's life cycle; holds
//! no lock in the per-line loop and writes nothing itself (the store module does).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use crate::agg::{Accumulator, Hit, ReportSet, status_class};
use crate::anon::{self, Masks};
use crate::anonymise::run::OutCompression;
use crate::anonymise::{CopyCtx, CopyFiles, anonymise_chunk_at};
use crate::diag::{self, ChunkMessage, ChunkRows, DiagMode, DiagWriter};
use crate::error::{Error, Result};
use crate::geo::{GeoCache, GeoDb, Place};
use crate::manifest::{self, InputSummary, RunSummary};
use crate::parse::escape::decode;
use crate::parse::formats::{self, Detection};
use crate::parse::logformat::LogFormat;
use crate::parse::w3c::{self, W3cFields};
use crate::parse::{Format, Reject, RejectReason};
use crate::publish::Rules;
use crate::scrub::{ScrubConfig, Scrubber};
use crate::source::{self, InputSpec, Source};
use crate::ua::AgentCache;
use crate::visitors::{Client, SaltBook, VisitorKeys};
use ipnet::IpNet;

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
    /// A parser compiled from `--log-format` or `--nginx-format`; replaces `format`.
    pub custom_format: Option<std::sync::Arc<LogFormat>>,
    /// Proxies whose X-Forwarded-For entries are believed (nginx realip semantics).
    pub trusted_proxies: Vec<IpNet>,
    /// Lines longer than this are rejected as `line_too_long` without being parsed.
    pub max_line_bytes: usize,
    /// Keep the results of the other inputs when one fails (the run still exits 1).
    pub keep_going: bool,
    pub chunk_size: usize,
    /// What reaches analysts of request targets, referrers and agents.
    pub scrub: ScrubConfig,
    /// Top-N bounds and small-cell suppression.
    pub rules: Rules,
    /// The report tables computed and written.
    pub reports: ReportSet,
    /// Where to write an anonymised copy of each input (same format and compression).
    pub anonymised_log: Option<PathBuf>,
    /// A shared secret from which every day's visitor salt is derived (fleets that merge).
    pub salt_file: Option<PathBuf>,
    /// The clock: Unix seconds.
    pub now: i64,
}

impl Options {
    /// The defaults of the command line for `inputs` into `out`, with the clock at `now`.
    pub fn new(inputs: Vec<InputSpec>, out: PathBuf, now: i64) -> Options {
        let masks = Masks::default();
        Options {
            inputs,
            out,
            format: Format::Auto,
            masks,
            diagnostics: DiagMode::Errors,
            retention_secs: 7 * 86_400,
            max_reject_rate: 0.05,
            threads: 2,
            use_mmap: true,
            custom_format: None,
            trusted_proxies: Vec::new(),
            max_line_bytes: 64 * 1024,
            keep_going: false,
            chunk_size: source::DEFAULT_CHUNK,
            scrub: ScrubConfig {
                masks,
                ..ScrubConfig::default()
            },
            rules: Rules::default(),
            reports: ReportSet::ALL,
            anonymised_log: None,
            salt_file: None,
            now,
        }
    }
}

/// Result of a run: its summary, and whether its reports were published.
pub struct Outcome {
    pub summary: RunSummary,
    pub published: bool,
    /// Inputs that failed (with `keep_going`); the run's exit code is then 1.
    pub failed_inputs: usize,
}

struct Ctx<'a> {
    format: Format,
    diag_mode: DiagMode,
    today: i64,
    geo: &'a GeoDb,
    trusted: &'a [IpNet],
    /// A parser compiled from a server's format string; it replaces `format` when given.
    custom: Option<&'a LogFormat>,
    max_line_bytes: usize,
    scrubber: &'a Scrubber,
    salts: &'a SaltBook,
    reports: ReportSet,
    /// The anonymised copy of the current input, when one is made.
    copy: Option<&'a CopyCtx>,
    copy_compression: OutCompression,
}

/// One thread's caches and scratch buffers.
struct Worker<'a> {
    geo: GeoCache<'a>,
    agents: AgentCache,
    keys: VisitorKeys<'a>,
    page: Vec<u8>,
    referrer: Vec<u8>,
    vhost: Vec<u8>,
    /// Visitors seen lately (direct-mapped by identity; a collision only costs a redundant
    /// sketch update).
    seen: Vec<u64>,
    /// The same for (visitor, page) and (visitor, referrer) pairs.
    seen_pages: Vec<u64>,
    seen_referrers: Vec<u64>,
}

/// Whether `key` is new to the direct-mapped `table`; records it.
#[inline]
fn first_sight(table: &mut [u64], key: u64) -> bool {
    let slot = &mut table[(key as usize) & (table.len() - 1)];
    let fresh = *slot != key;
    *slot = key;
    fresh
}

/// A 64-bit hash of `bytes` mixed with `seed`.
#[inline]
fn mix(seed: u64, bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    (rustc_hash::FxBuildHasher.hash_one(bytes) ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Slots of [`Worker::seen`].
const SEEN_SLOTS: usize = 1 << 14;

impl<'a> Worker<'a> {
    fn new(ctx: &Ctx<'a>) -> Self {
        Worker {
            geo: GeoCache::new(ctx.geo),
            agents: AgentCache::new(),
            keys: VisitorKeys::new(ctx.salts),
            page: Vec::with_capacity(256),
            referrer: Vec::with_capacity(256),
            vhost: Vec::with_capacity(64),
            seen: vec![0; SEEN_SLOTS],
            seen_pages: vec![0; SEEN_SLOTS],
            seen_referrers: vec![0; SEEN_SLOTS],
        }
    }
}

/// The W3C `#Fields:` headers of a mapped input, by offset, so that a chunk can find the one
/// in effect at its start.
struct Headers(Vec<(usize, W3cFields)>);

impl Headers {
    fn at(&self, offset: u64) -> Option<&W3cFields> {
        let i = self.0.partition_point(|(o, _)| (*o as u64) < offset);
        i.checked_sub(1).map(|i| &self.0[i].1)
    }
}

/// Runs `process`. Expired diagnostics are purged first.
pub fn process(opts: &Options, geo: &GeoDb) -> Result<Outcome> {
    let started = Instant::now();
    if opts.inputs.is_empty() {
        return Err(Error::Usage("no input files".into()));
    }
    crate::store::ensure_dir(&opts.out, crate::store::PUBLIC_DIR)?;
    let mut purge = diag::purge(&opts.out, opts.now)?;
    purge.salts_deleted = crate::visitors::purge_salts(&opts.out, opts.now)?;
    let salts = SaltBook::open(
        &opts.out,
        opts.salt_file.as_deref(),
        opts.retention_secs,
        opts.now,
    )?;
    let scrubber = Scrubber::new(opts.scrub.clone());
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
        trusted: &opts.trusted_proxies,
        custom: opts.custom_format.as_deref(),
        max_line_bytes: opts.max_line_bytes,
        scrubber: &scrubber,
        salts: &salts,
        reports: opts.reports,
        copy: None,
        copy_compression: OutCompression::None,
    };
    let copy_base = match &opts.anonymised_log {
        Some(dir) => {
            crate::store::ensure_dir(dir, crate::store::PUBLIC_DIR)?;
            Some(CopyCtx::new(
                opts.format,
                opts.custom_format.clone(),
                opts.masks,
                scrubber.clone(),
                opts.max_line_bytes,
            )?)
        }
        None => None,
    };

    let names: Vec<String> = opts.inputs.iter().map(InputSpec::display_name).collect();
    let mut writer = DiagWriter::new(&opts.out, &run_id, opts.retention_secs, opts.now, names);
    if let Some(dir) = &opts.anonymised_log {
        writer.copies = Some(CopyFiles::new(copy_destinations(dir, &opts.inputs)?));
    }
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
                let opened = Source::open(spec, opts.use_mmap, opts.chunk_size);
                let src = match opened.map(|s| s.with_max_line(opts.max_line_bytes)) {
                    Ok(src) => src,
                    Err(e) if opts.keep_going => {
                        inputs.push(InputSummary::failed(spec.display_name(), &e));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let wanted = if opts.custom_format.is_some() {
                    Format::Clf
                } else {
                    opts.format
                };
                let (format, detection) = match resolve_format(&src, wanted) {
                    Ok(r) => r,
                    Err(e) if opts.keep_going => {
                        inputs.push(InputSummary::failed(spec.display_name(), &e));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let copy_ctx = copy_base.as_ref().map(|c| c.with_format(format));
                let ctx = Ctx {
                    format,
                    copy: copy_ctx.as_ref(),
                    copy_compression: match src.compression() {
                        source::Compression::None => OutCompression::None,
                        source::Compression::Gzip => OutCompression::Gzip,
                        source::Compression::Zstd => OutCompression::Zstd,
                    },
                    ..ctx
                };
                let (acc, error) = run_source(&pool, &ctx, &src, idx, &tx);
                let error = match error {
                    Some(e) if !opts.keep_going => return Err(e),
                    other => other,
                };
                inputs.push(InputSummary {
                    path: src.name().to_string(),
                    size_bytes: src.size().unwrap_or(acc.bytes_read),
                    compression: src.compression(),
                    compressed_size_bytes: src.compressed_size(),
                    fingerprint: format!("blake3-head-1MiB:{}", src.head_fingerprint()),
                    read_mode: src.mode(),
                    lines: acc.lines,
                    parsed: acc.parsed,
                    rejected: acc.rejected_total(),
                    format,
                    detection,
                    error: error.map(|e| e.to_string()),
                });
                total.merge(acc);
            }
            Ok(())
        };
        let result = run();
        drop(tx);
        let w = writer_thread
            .join()
            .map_err(|_| Error::Internal("the diagnostics writer panicked".into()))?;
        result?;
        w
    })?;

    if let Some(e) = salts.error() {
        return Err(Error::Internal(format!("cannot store a visitor salt: {e}")));
    }
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

    let mut writer = writer;
    let skipped_expired = writer.skipped_expired;
    let copies = writer.copies.take();
    let diag_files = writer_finish(writer)?;
    let tables = crate::publish::tables(&total, opts.rules);
    let report_files = if published {
        if let Some(c) = copies {
            c.commit()?;
        }
        crate::reports::write_all(&opts.out, &run_id, &tables)?
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
        publication: manifest::Publication {
            rules: opts.rules,
            visitor_salts: if salts.is_shared() {
                "shared-secret"
            } else {
                "random-daily"
            },
            folded: tables.folded.clone(),
        },
        elapsed: started.elapsed(),
        threads: opts.threads,
    });
    if let Err(e) = manifest::write(&opts.out, &summary) {
        // Reports without their run's manifest would be counted again by the next run.
        crate::store::withdraw(&report_files);
        return Err(e);
    }
    let failed_inputs = summary.inputs.iter().filter(|i| i.error.is_some()).count();
    Ok(Outcome {
        summary,
        published,
        failed_inputs,
    })
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
) -> (Accumulator, Option<Error>) {
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let headers = match (ctx.format, src.mapped()) {
        (Format::W3c, Some(data)) => Headers(w3c::header_offsets(data)),
        _ => Headers(Vec::new()),
    };
    let accs = pool.broadcast(|_| {
        let mut acc = Accumulator::default();
        let mut worker = Worker::new(ctx);
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
            let header = match &chunk.preamble {
                Some(line) => W3cFields::from_header(line),
                None => headers.at(chunk.offset).cloned(),
            };
            let mut copy = Vec::new();
            if let Some(cc) = ctx.copy {
                anonymise_chunk_at(cc, chunk.bytes(), header.clone(), &mut copy);
                if ctx.copy_compression != OutCompression::None {
                    match ctx.copy_compression.compress(&copy) {
                        Ok(c) => copy = c,
                        Err(e) => {
                            failure
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(Error::Internal(format!("compressing a copy: {e}")));
                            break;
                        }
                    }
                }
            }
            let lines = process_chunk(ctx, &mut worker, &mut acc, chunk.bytes(), header, &mut rows);
            src.release(&chunk);
            acc.diagnostics_rows += rows.rows;
            let msg = ChunkMessage {
                input,
                chunk: chunk.index,
                lines,
                rows,
                copy,
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
        // Some families are taken from the agent string itself: scrub them like free text.
        acc.agent_classes = worker
            .agents
            .classes()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                for s in [&mut c.browser, &mut c.os, &mut c.major] {
                    let mut out = Vec::with_capacity(s.len());
                    ctx.scrubber.text(s.as_bytes(), &mut out);
                    *s = String::from_utf8_lossy(&out).into_owned();
                }
                c
            })
            .collect();
        acc
    });
    let mut total = Accumulator::default();
    for a in accs {
        total.merge(a);
    }
    // Lines read before an error (a corrupt compressed stream) are counted and kept.
    (
        total,
        failure.into_inner().unwrap_or_else(|p| p.into_inner()),
    )
}

/// The per-line loop. Returns the number of lines in the chunk.
#[inline(never)]
fn process_chunk(
    ctx: &Ctx<'_>,
    w: &mut Worker<'_>,
    acc: &mut Accumulator,
    chunk: &[u8],
    mut header: Option<W3cFields>,
    rows: &mut ChunkRows,
) -> u64 {
    let mut n = 0u64;
    acc.bytes_read += chunk.len() as u64;
    let directives = ctx.format.has_directives();
    for line in source::lines(chunk) {
        n += 1;
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            acc.blank += 1;
            continue;
        }
        if directives && w3c::is_directive(line) {
            acc.directives += 1;
            if ctx.format == Format::W3c
                && let Some(h) = W3cFields::from_header(line)
            {
                header = Some(h);
            }
            continue;
        }
        let parsed = if line.len() > ctx.max_line_bytes {
            Err(Reject {
                reason: RejectReason::LineTooLong,
                offset: ctx.max_line_bytes,
            })
        } else {
            match ctx.custom {
                Some(custom) => custom.parse(line),
                None => ctx.format.parse(line, header.as_ref()),
            }
        };
        match parsed {
            Err(rej) => {
                acc.reject(rej.reason);
                if ctx.diag_mode != DiagMode::Off {
                    rows.push_reject(line, rej.reason, n, ctx.today);
                }
            }
            Ok(rec) => {
                let remote = anon::parse_client(rec.client);
                let ip = anon::client_address(remote, rec.forwarded_for, ctx.trusted)
                    .map(anon::unwrap_embedded);
                let place = match ip {
                    Some(ip) => {
                        acc.ipv6_clients += ip.is_ipv6() as u64;
                        match w.geo.lookup(ip) {
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
                let set = ctx.reports;
                let day = rec.time.div_euclid(86_400);
                let (agent, visitor, fresh, visitor_id) = if set.visitors() {
                    let agent = w
                        .agents
                        .lookup(&decode(rec.user_agent.unwrap_or(b""), rec.escaping));
                    let client = match ip {
                        Some(ip) => Client::Ip(ip),
                        None => Client::Name(rec.client),
                    };
                    let (coupon, id) = w.keys.coupon(day, client, &agent.digest);
                    (agent.class, coupon, first_sight(&mut w.seen, id), id)
                } else {
                    // Only traffic_hourly is on, and it counts no visitors.
                    (0, datasketches::hll::Coupon::from_value(0u8), false, 0)
                };
                w.page.clear();
                if set.pages_daily {
                    match rec.query {
                        // W3C and CloudFront log the query apart: put it back for the scrubber,
                        // which keeps only the parameters asked for.
                        Some(q) if !q.is_empty() && q != b"-" => {
                            let mut full = decode(rec.target, rec.escaping).into_owned();
                            full.push(b'?');
                            full.extend_from_slice(&decode(q, rec.escaping));
                            ctx.scrubber.target(&full, &mut w.page);
                        }
                        _ => ctx
                            .scrubber
                            .target(&decode(rec.target, rec.escaping), &mut w.page),
                    }
                }
                w.referrer.clear();
                let has_referrer = set.referrers_daily
                    && rec.referer.is_some_and(|r| {
                        ctx.scrubber
                            .referrer_host(&decode(r, rec.escaping), &mut w.referrer)
                    });
                if !has_referrer {
                    w.referrer.clear();
                    w.referrer.extend_from_slice(NO_REFERRER);
                }
                let vhost = match rec.vhost {
                    Some(v)
                        if !v.is_empty()
                            && v != b"-"
                            && (set.traffic_hourly || set.pages_daily) =>
                    {
                        w.vhost.clear();
                        ctx.scrubber.text(&decode(v, rec.escaping), &mut w.vhost);
                        acc.vhosts.id(&w.vhost)
                    }
                    _ => acc.vhosts.id(b"-"),
                };
                acc.record(
                    &Hit {
                        time: rec.time,
                        place,
                        status: rec.status,
                        method: rec.method,
                        bytes: rec.bytes,
                        vhost,
                        page: &w.page,
                        referrer: &w.referrer,
                        agent,
                        visitor,
                        fresh,
                        fresh_page: set.pages_daily
                            && first_sight(
                                &mut w.seen_pages,
                                mix(
                                    visitor_id
                                        ^ ((vhost as u64) << 8 | status_class(rec.status) as u64),
                                    &w.page,
                                ),
                            ),
                        fresh_referrer: set.referrers_daily
                            && first_sight(&mut w.seen_referrers, mix(visitor_id, &w.referrer)),
                    },
                    set,
                );
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

/// Where each input's anonymised copy goes: `DIR/<input's file name>` (`stdin` for standard
/// input); two inputs with the same name are refused.
fn copy_destinations(dir: &Path, inputs: &[InputSpec]) -> Result<Vec<Option<PathBuf>>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut dests = Vec::new();
    for spec in inputs {
        let name = match spec {
            InputSpec::Path(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "input".into()),
            _ => "stdin".to_string(),
        };
        if !seen.insert(name.clone()) {
            return Err(Error::Usage(format!(
                "--anonymised-log: two inputs are named {name}; their copies would collide"
            )));
        }
        dests.push(Some(dir.join(name)));
    }
    Ok(dests)
}

/// The referrer host of requests without one.
pub const NO_REFERRER: &[u8] = b"(none)";

/// Bytes of each input that format detection looks at.
pub const DETECT_SAMPLE: usize = 256 * 1024;
/// Share of sample lines the detected format must parse.
pub const DETECT_MIN_FIT: f64 = 0.5;

/// The format to read `src` with: the one given, or the one that fits its first lines best.
fn resolve_format(src: &Source, format: Format) -> Result<(Format, Option<Detection>)> {
    if format != Format::Auto {
        return Ok((format, None));
    }
    let (sample, complete) = src.sample(DETECT_SAMPLE)?;
    let d = formats::detect(&sample, complete);
    if d.sampled > 0 && (d.fit as f64) < DETECT_MIN_FIT * d.sampled as f64 {
        return Err(Error::FormatMismatch(format!(
            "{}: no known format fits (best: {} parses {} of {} sample lines); run `logveil check-format {}` to see why, or pass --format",
            src.name(),
            d.format.name(),
            d.fit,
            d.sampled,
            src.name()
        )));
    }
    Ok((d.format, Some(d)))
}
