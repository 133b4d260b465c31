//! The `process` job: sources → chunks → parse → geo → aggregate, in parallel over chunks, then
//! reports, diagnostics and the run manifest. Owns scheduling and the run's life cycle; holds
//! no lock in the per-line loop and writes nothing itself (the store module does).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use crate::agg::{Accumulator, Bounded, Hit, Known, NamedKey, OTHER_ID, ReportSet, status_class};
use crate::anon::{self, Masks};
use crate::anonymise::run::OutCompression;
use crate::anonymise::{Copier, CopyCtx, CopyFiles};
use crate::diag::{self, ChunkMessage, ChunkRows, DiagMode, DiagWriter};
use crate::error::{Error, Result};
use crate::geo::{GeoCache, GeoDb, Place};
use crate::ledger::{Ledger, Verdict};
use crate::manifest::{self, InputSummary, RunSummary};
use crate::parse::escape::decode;
use crate::parse::formats::{self, Detection};
use crate::parse::logformat::LogFormat;
use crate::parse::w3c::{self, W3cFields};
use crate::parse::{Format, Reject, RejectReason};
use crate::publish::Rules;
use crate::scrub::{Memo, MemoKey, ScrubConfig, Scrubber};
use crate::source::{self, InputSpec, Resume, Source};
use crate::txn::{self, Txn};
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
    /// Process content the ledger says this output tree has counted already.
    pub reprocess: bool,
    /// Wait for another run on the same output tree to finish instead of refusing.
    pub wait: bool,
    /// The clock: Unix seconds.
    pub now: i64,
    /// Bytes and lines done so far, bumped once per chunk (for a progress display).
    pub progress: Option<std::sync::Arc<crate::progress::Counters>>,
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
            reprocess: false,
            wait: false,
            now,
            progress: None,
        }
    }
}

/// Result of a run: its summary, and whether its reports were published.
pub struct Outcome {
    pub summary: RunSummary,
    pub published: bool,
    /// Inputs that failed (with `keep_going`); the run's exit code is then 1.
    pub failed_inputs: usize,
    /// Inputs whose whole content is now counted in this output tree (committed), with their
    /// size on disk when they were looked at.
    pub complete_inputs: Vec<(PathBuf, u64)>,
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
    progress: Option<&'a crate::progress::Counters>,
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
    /// Scrubbed pages, referrer hosts and vhosts by raw field (see [`Memo`]), with what the
    /// scrubbed value resolved to in this worker's accumulator.
    memo: Memo<Resolved>,
    /// What [`NO_REFERRER`] resolved to.
    no_referrer: Resolved,
    /// Rewrites the lines this worker parses into the anonymised copy, when one is made.
    copier: Option<Copier<'a>>,
}

/// [`Memo`] tags of the fields the worker scrubs (with the escaping in the low bits).
const TAG_PAGE: u32 = 1 << 4;
const TAG_REFERRER: u32 = 2 << 4;
const TAG_VHOST: u32 = 3 << 4;

/// What a scrubbed page or referrer host resolved to: its id in a bounded table of the
/// worker's accumulator, and its hash (for [`first_sight`]), so that a repeated field is
/// neither interned nor hashed again.
#[derive(Clone, Copy, Default)]
struct Resolved {
    known: Known,
    /// [`hash`] of the scrubbed value; valid when `hashed`.
    hash: u64,
    hashed: bool,
    /// Where the value's last cell was in the table (see [`Bounded::locate`]).
    cell: u32,
}

impl Resolved {
    /// Resolves `value` in `table`, and the place there of the cell of `key` named by it,
    /// each from what this memo entry remembers when it still stands: the value's id (when
    /// the table's numbering is the same), its hash, and the place of its last cell (when
    /// that cell has the same key). Returns the entry and the place.
    #[inline(always)]
    fn cell_in<K: NamedKey>(
        &mut self,
        table: &mut Bounded<K>,
        key: K,
        value: &[u8],
    ) -> (Resolved, u32) {
        table.resolve(value, &mut self.known);
        if !self.hashed {
            self.hash = hash(value);
            self.hashed = true;
        }
        let place = table.locate(key, self.known, &mut self.cell);
        (*self, place)
    }
}

/// The scrubbed value of `raw` (located in `memo` as `key`, `None` when too long to be
/// memoised) and the memo's [`Resolved`] for it. On a hit the value is the memo's own copy,
/// whose bytes are read only if the caller reads them (to resolve a name not yet resolved, or
/// to hash it): a repeated field costs the read of its memo set and nothing else. On a miss,
/// `scrub` writes the value into `out` (cleared first), and the memo keeps it.
#[inline]
fn memo_value<'m>(
    memo: &'m mut Memo<Resolved>,
    key: Option<MemoKey>,
    raw: &[u8],
    out: &'m mut Vec<u8>,
    scrub: impl FnOnce(&[u8], &mut Vec<u8>),
) -> (&'m [u8], Option<&'m mut Resolved>) {
    out.clear();
    let Some(key) = key else {
        scrub(raw, out);
        return (out, None);
    };
    match memo.find_key(&key) {
        Ok(k) => {
            let (v, aux) = memo.slot_mut(k);
            (v, Some(aux))
        }
        Err(slot) => {
            scrub(raw, out);
            let aux = memo.put_key(slot, &key, out);
            (out, aux)
        }
    }
}

/// Whether `key` is new to the direct-mapped `table`; records it.
#[inline]
fn first_sight(table: &mut [u64], key: u64) -> bool {
    let slot = &mut table[(key as usize) & (table.len() - 1)];
    let fresh = *slot != key;
    *slot = key;
    fresh
}

/// A 64-bit hash of `bytes`.
#[inline]
fn hash(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(bytes)
}

/// `hash` (of some bytes, from [`hash`]) mixed with `seed`.
#[inline]
fn mix(seed: u64, hash: u64) -> u64 {
    (hash ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Slots of [`Worker::seen`] and the pair tables: 32 KiB each, so that they stay in the
/// core's cache. Larger tables skip more sketch updates but miss the cache more: with sketch
/// updates batched, 2^12 slots took 3% less CPU than 2^14 on the 10M-line benchmark log (6
/// alternating runs), and 2^18 had taken more before.
const SEEN_SLOTS: usize = 1 << 12;

impl<'a> Worker<'a> {
    fn new(ctx: &Ctx<'a>) -> Self {
        Worker {
            geo: GeoCache::new(ctx.geo),
            agents: if ctx.reports.agents_daily {
                AgentCache::new()
            } else {
                AgentCache::digests_only()
            },
            keys: VisitorKeys::new(ctx.salts),
            page: Vec::with_capacity(256),
            referrer: Vec::with_capacity(256),
            vhost: Vec::with_capacity(64),
            seen: vec![0; SEEN_SLOTS],
            seen_pages: vec![0; SEEN_SLOTS],
            seen_referrers: vec![0; SEEN_SLOTS],
            memo: Memo::new(14),
            no_referrer: Resolved::default(),
            copier: ctx.copy.map(Copier::new),
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
    let _lock = txn::lock(&opts.out, opts.wait)?;
    let recovery = txn::recover(&opts.out)?;
    let mut purge = diag::purge(&opts.out, opts.now)?;
    purge.salts_deleted = crate::visitors::purge_salts(&opts.out, opts.now)?;
    purge.day_state_files = crate::days::purge(&opts.out, opts.now)?;
    purge.day_state_deleted = purge.day_state_files.len() as u64;
    let salts = SaltBook::open(
        &opts.out,
        opts.salt_file.as_deref(),
        opts.retention_secs,
        opts.now,
    )?;
    let scrubber = Scrubber::new(opts.scrub.clone());
    let run_id = manifest::new_run_id(opts.now);
    let mut ledger = Ledger::load(&opts.out)?;
    let mut ledger_changed = false;
    let mut txn = Txn::begin(&opts.out, &run_id)?;
    let stage = txn.root();

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
        progress: opts.progress.as_deref(),
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
    let mut writer = DiagWriter::new(&stage, &run_id, opts.retention_secs, opts.now, names);
    if let Some(dir) = &opts.anonymised_log {
        let mut staged = Vec::new();
        for dest in copy_destinations(dir, &opts.inputs)? {
            staged.push(match dest {
                Some(d) => Some(txn.stage_external(&d)?),
                None => None,
            });
        }
        writer.copies = Some(CopyFiles::new(staged));
    }
    let mut total = Accumulator::default();
    let mut inputs = Vec::new();
    let mut skipped = Vec::new();
    let mut complete_inputs = Vec::new();

    // One chunk in flight per thread (each with its copy, megabytes long) keeps the writer fed;
    // more only held memory while a throttled disk slowed the copy's writes.
    let (tx, rx) = crossbeam_channel::bounded::<ChunkMessage>(opts.threads.max(1));
    // Copy buffers go back from the writer to the workers: one per thread is enough.
    let (recycle_tx, recycled) = crossbeam_channel::bounded::<Vec<u8>>(opts.threads.max(1));
    if writer.copies.is_some() {
        writer.recycle = Some(recycle_tx);
    }
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
                // Inputs are known by content: what this tree has counted is skipped, what
                // grew is read from where the last run stopped.
                let ident = match spec {
                    InputSpec::Path(p) => match ledger.identify(p) {
                        Ok(id) => Some(id),
                        Err(e) if opts.keep_going => {
                            inputs.push(InputSummary::failed(spec.display_name(), &e));
                            continue;
                        }
                        Err(e) => return Err(e),
                    },
                    InputSpec::Stdin => None,
                };
                let resume = match &ident {
                    Some(id) if opts.reprocess => Resume {
                        start: 0,
                        end: id.resume.end,
                        prior: Some(blake3::Hasher::new()),
                    },
                    Some(id) => {
                        if let Verdict::Seen(i) = id.verdict {
                            let e = &ledger.entries[i];
                            if id.compression != source::Compression::None || id.file_len == e.len {
                                complete_inputs
                                    .push((PathBuf::from(spec.display_name()), id.file_len));
                            }
                            skipped.push(manifest::SkippedInput {
                                path: spec.display_name(),
                                processed_bytes: e.len,
                                content_blake3: e.hash.clone(),
                                processed_as: e.name.clone(),
                                run_id: e.run.clone(),
                            });
                            continue;
                        }
                        id.resume.clone()
                    }
                    None => Resume::default(),
                };
                let opened = Source::open_at(spec, opts.use_mmap, opts.chunk_size, resume);
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
                // A W3C log read from an offset resumes under the header in effect there.
                let carried = if src.start() > 0 && matches!(wanted, Format::W3c | Format::Auto) {
                    match src.fields_before_start() {
                        Ok(h) => h,
                        Err(e) if opts.keep_going => {
                            inputs.push(InputSummary::failed(spec.display_name(), &e));
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                } else {
                    None
                };
                let (format, detection) = match resolve_format(&src, wanted, carried.as_deref()) {
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
                let carried = carried.filter(|_| format == Format::W3c);
                let (acc, error) =
                    run_source(&pool, &ctx, &src, idx, &tx, &recycled, carried.as_deref());
                let error = match error {
                    Some(e) if !opts.keep_going => return Err(e),
                    other => other,
                };
                let digest = src.content_digest();
                if let (Some(id), Some((len, hash))) = (&ident, digest) {
                    ledger_changed |= ledger.record(id, len, hash, src.name(), &run_id);
                    let whole = match id.compression {
                        source::Compression::None => id.resume.end == Some(id.file_len),
                        _ => true,
                    };
                    if whole && error.is_none() {
                        complete_inputs.push((PathBuf::from(spec.display_name()), id.file_len));
                    }
                }
                inputs.push(InputSummary {
                    path: src.name().to_string(),
                    size_bytes: src.size().unwrap_or(acc.bytes_read),
                    compression: src.compression(),
                    compressed_size_bytes: src.compressed_size(),
                    fingerprint: format!("blake3-head-1MiB:{}", src.head_fingerprint()),
                    content_from: src.start(),
                    content_to: digest.map(|d| d.0),
                    content_blake3: digest.map(|d| d.1.to_hex().to_string()),
                    pending_bytes: ident
                        .as_ref()
                        .and_then(|id| id.resume.end.map(|e| id.file_len.saturating_sub(e)))
                        .unwrap_or(0),
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
    let (tables, report_files, days) = if published {
        if let Some(c) = copies {
            c.commit()?;
        }
        if ledger_changed {
            ledger.save(&stage)?;
        }
        // Each day the run touched is published again from everything counted for it.
        let ctx = crate::days::Context {
            out: &opts.out,
            stage: &stage,
            run_id: &run_id,
            set: opts.reports,
            rules: opts.rules,
            retention_secs: opts.retention_secs,
            now: opts.now,
        };
        // On the run's pool: the report files are encoded in parallel within `--threads`.
        let r =
            pool.install(|| crate::days::republish(&ctx, &mut txn, crate::publish::raw(&total)))?;
        (r.tables, r.files, r.days)
    } else {
        (
            crate::publish::tables(&total, opts.rules),
            Vec::new(),
            Default::default(),
        )
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
        diag_files: rel(&stage, &diag_files.0),
        diag_rows: diag_files.1,
        diag_skipped_expired: skipped_expired,
        report_files: rel(&stage, &report_files),
        skipped,
        recovery,
        publication: manifest::Publication {
            rules: opts.rules,
            visitor_salts: if salts.is_shared() {
                "shared-secret"
            } else {
                "random-daily"
            },
            folded: tables.folded.clone(),
            days,
        },
        elapsed: started.elapsed(),
        threads: opts.threads,
    });
    manifest::write(&stage, &summary)?;
    // Everything of the run becomes visible here, or (after a crash) at the next run.
    txn.commit()?;
    let failed_inputs = summary.inputs.iter().filter(|i| i.error.is_some()).count();
    if !published {
        complete_inputs.clear();
    }
    Ok(Outcome {
        summary,
        published,
        failed_inputs,
        complete_inputs,
    })
}

/// The `purge` command: under the output tree's lock, finishes or undoes an interrupted run,
/// then deletes expired diagnostics and visitor salts.
pub fn purge(out: &Path, now: i64, wait: bool) -> Result<diag::PurgeReport> {
    if !out.is_dir() {
        return Ok(diag::PurgeReport::default());
    }
    let _lock = txn::lock(out, wait)?;
    txn::recover(out)?;
    let mut r = diag::purge(out, now)?;
    r.salt_files = crate::visitors::purge_salt_files(out, now)?;
    r.day_state_files = crate::days::purge(out, now)?;
    r.day_state_deleted = r.day_state_files.len() as u64;
    r.salts_deleted = r.salt_files.len() as u64;
    Ok(r)
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
    recycled: &crossbeam_channel::Receiver<Vec<u8>>,
    carried: Option<&[u8]>,
) -> (Accumulator, Option<Error>) {
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let headers = match (ctx.format, src.mapped()) {
        (Format::W3c, Some(data)) => Headers(w3c::header_offsets(data)),
        _ => Headers(Vec::new()),
    };
    // The header in effect before the first byte read (a log read from an offset).
    let carried = carried.and_then(W3cFields::from_header);
    let accs = pool.broadcast(|_| {
        let mut acc = Accumulator::default();
        let mut worker = Worker::new(ctx);
        let mut spare = Vec::new();
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
            }
            .or_else(|| carried.clone());
            // The copy of a chunk is about as long as the chunk: one allocation, not a dozen,
            // and mostly a buffer that the writer has handed back (or this thread kept, when
            // the copy is compressed).
            let mut copy = match ctx.copy {
                Some(_) => {
                    let mut buf = match ctx.copy_compression {
                        OutCompression::None => recycled.try_recv().unwrap_or_default(),
                        _ => std::mem::take(&mut spare),
                    };
                    buf.reserve(chunk.bytes().len() + chunk.bytes().len() / 8);
                    buf
                }
                None => Vec::new(),
            };
            let lines = process_chunk(
                ctx,
                &mut worker,
                &mut acc,
                chunk.bytes(),
                header,
                &mut rows,
                &mut copy,
            );
            src.release(&chunk);
            if ctx.copy.is_some() && ctx.copy_compression != OutCompression::None {
                match ctx.copy_compression.compress(&copy) {
                    Ok(c) => {
                        copy.clear();
                        spare = std::mem::replace(&mut copy, c);
                    }
                    Err(e) => {
                        failure
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(Error::Internal(format!("compressing a copy: {e}")));
                        break;
                    }
                }
            }
            if let Some(p) = ctx.progress {
                p.add(chunk.bytes().len() as u64, lines);
            }
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

/// The line ending of `line`, a line of `chunk` given by [`source::lines`] (which drops a
/// `\r` before the `\n`).
fn ending_of(chunk: &[u8], line: &[u8]) -> &'static [u8] {
    let end = line.as_ptr() as usize - chunk.as_ptr() as usize + line.len();
    if chunk.get(end) == Some(&b'\r') {
        b"\r\n"
    } else {
        b"\n"
    }
}

/// The per-line loop. Returns the number of lines in the chunk. With an anonymised copy, each
/// line parsed is also rewritten into `copy` from the same record.
#[inline(never)]
fn process_chunk(
    ctx: &Ctx<'_>,
    w: &mut Worker<'_>,
    acc: &mut Accumulator,
    chunk: &[u8],
    mut header: Option<W3cFields>,
    rows: &mut ChunkRows,
    copy: &mut Vec<u8>,
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
            if let Some(c) = &w.copier
                && line.len() <= ctx.max_line_bytes
            {
                c.directive(line, ending_of(chunk, line), copy);
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
                // Memory reads started here, for the page's memo set and the client's geo
                // cache slot, come in while the agent and the visitor are worked out.
                let page_key = if ctx.reports.pages_daily {
                    let key = w.memo.locate(rec.target, TAG_PAGE | rec.escaping as u32);
                    if let Some(key) = &key {
                        w.memo.warm(key);
                    }
                    key
                } else {
                    None
                };
                let remote = anon::parse_client(rec.client);
                if let Some(c) = &mut w.copier {
                    c.parsed(line, &rec, Some(remote), ending_of(chunk, line), copy);
                }
                let ip = anon::client_address(remote, rec.forwarded_for, ctx.trusted)
                    .map(anon::unwrap_embedded);
                if let Some(ip) = ip {
                    w.geo.warm(ip);
                }
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
                let vhost = match rec.vhost {
                    Some(v)
                        if !v.is_empty()
                            && v != b"-"
                            && (set.traffic_hourly || set.pages_daily) =>
                    {
                        let key = w.memo.locate(v, TAG_VHOST | rec.escaping as u32);
                        let (value, _) =
                            memo_value(&mut w.memo, key, v, &mut w.vhost, |raw, out| {
                                ctx.scrubber.text(&decode(raw, rec.escaping), out)
                            });
                        acc.vhosts.id(value)
                    }
                    _ => acc.vhosts.id(b"-"),
                };
                // Ids resolved below must still stand when the line is recorded.
                if set.pages_daily {
                    acc.pages.make_room();
                }
                if set.referrers_daily {
                    acc.referrers.make_room();
                }
                // A value found in the memo is resolved from the memo's copy; `w.page` and
                // `w.referrer` hold a value only when it was scrubbed for this line. The cells
                // are located here, so the accumulator reads neither name.
                let class = status_class(rec.status);
                let page_cell_key = (day, vhost, OTHER_ID, class);
                let mut page = (Resolved::default(), 0);
                w.page.clear();
                if set.pages_daily {
                    page = match rec.query {
                        // W3C and CloudFront log the query apart: put it back for the scrubber,
                        // which keeps only the parameters asked for.
                        Some(q) if !q.is_empty() && q != b"-" => {
                            let mut full = decode(rec.target, rec.escaping).into_owned();
                            full.push(b'?');
                            full.extend_from_slice(&decode(q, rec.escaping));
                            ctx.scrubber.target(&full, &mut w.page);
                            let mut own = Resolved::default();
                            own.cell_in(&mut acc.pages, page_cell_key, &w.page)
                        }
                        _ => {
                            let (value, memo) = memo_value(
                                &mut w.memo,
                                page_key,
                                rec.target,
                                &mut w.page,
                                |raw, out| ctx.scrubber.target(&decode(raw, rec.escaping), out),
                            );
                            let mut own = Resolved::default();
                            memo.unwrap_or(&mut own)
                                .cell_in(&mut acc.pages, page_cell_key, value)
                        }
                    };
                }
                // A referrer without a host scrubs to nothing.
                let mut referrer = None;
                w.referrer.clear();
                if set.referrers_daily
                    && let Some(r) = rec.referer
                {
                    // Keyed by the part of the field the host depends on: one entry a site.
                    let raw = Scrubber::referrer_key(r);
                    let key = w.memo.locate(raw, TAG_REFERRER | rec.escaping as u32);
                    let (value, memo) =
                        memo_value(&mut w.memo, key, raw, &mut w.referrer, |raw, out| {
                            if !ctx.scrubber.referrer_host(&decode(raw, rec.escaping), out) {
                                out.clear();
                            }
                        });
                    if !value.is_empty() {
                        let mut own = Resolved::default();
                        referrer = Some(memo.unwrap_or(&mut own).cell_in(
                            &mut acc.referrers,
                            (day, OTHER_ID),
                            value,
                        ));
                    }
                }
                let referrer = match referrer {
                    Some(r) => r,
                    None => {
                        if set.referrers_daily {
                            w.no_referrer
                                .cell_in(&mut acc.referrers, (day, OTHER_ID), NO_REFERRER)
                        } else {
                            (Resolved::default(), 0)
                        }
                    }
                };
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
                acc.record(
                    &Hit {
                        time: rec.time,
                        place,
                        status: rec.status,
                        method: rec.method,
                        bytes: rec.bytes,
                        vhost,
                        page: &w.page,
                        page_known: page.0.known,
                        page_cell: set.pages_daily.then_some(page.1),
                        referrer: &w.referrer,
                        referrer_known: referrer.0.known,
                        referrer_cell: set.referrers_daily.then_some(referrer.1),
                        agent,
                        visitor,
                        fresh,
                        fresh_page: set.pages_daily
                            && first_sight(
                                &mut w.seen_pages,
                                mix(
                                    visitor_id ^ ((vhost as u64) << 8 | class as u64),
                                    page.0.hash,
                                ),
                            ),
                        fresh_referrer: set.referrers_daily
                            && first_sight(&mut w.seen_referrers, mix(visitor_id, referrer.0.hash)),
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
fn resolve_format(
    src: &Source,
    format: Format,
    carried: Option<&[u8]>,
) -> Result<(Format, Option<Detection>)> {
    if format != Format::Auto {
        return Ok((format, None));
    }
    let (mut sample, complete) = src.sample(DETECT_SAMPLE)?;
    if let Some(h) = carried {
        // The header in effect where the input resumes, as if the sample began with it.
        sample.splice(0..0, h.iter().copied().chain([b'\n']));
    }
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
