//! Run summaries: what a run read, counted, rejected and wrote, as printed on stderr, as
//! `--json` on stdout and as `runs/<run-id>.json`. Holds counts and paths, never an address.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::agg::Accumulator;
use crate::anon::Masks;
use crate::diag::{DiagMode, PurgeReport};
use crate::error::Result;
use crate::geo::GeoInfo;
use crate::parse::{Format, RejectReason};
use crate::pipeline::Options;
use crate::publish::{Folded, Rules};
use crate::source::{Compression, ReadMode};
use crate::store;

/// A new run id: UTC time of the run and a random suffix, sortable by time.
pub fn new_run_id(now: i64) -> String {
    let t = jiff::Timestamp::from_second(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{}-{}", t.strftime("%Y%m%dT%H%M%SZ"), store::random_hex(4))
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct InputSummary {
    pub path: String,
    /// Bytes of content (decompressed).
    pub size_bytes: u64,
    pub compression: Compression,
    pub compressed_size_bytes: Option<u64>,
    /// `blake3-head-1MiB:<hex>`: BLAKE3 of the first MiB of the content read.
    pub fingerprint: String,
    /// Content bytes skipped because an earlier run counted them (see the ledger).
    pub content_from: u64,
    /// Content bytes counted once this run is committed, and their BLAKE3 (the ledger's
    /// identity of the input); absent for standard input.
    pub content_to: Option<u64>,
    pub content_blake3: Option<String>,
    /// Bytes after the last newline of a plain file, left for a later run (an unterminated
    /// line may still be being written).
    pub pending_bytes: u64,
    pub read_mode: ReadMode,
    pub lines: u64,
    pub parsed: u64,
    pub rejected: u64,
    /// The format the input was read with.
    pub format: Format,
    /// How `auto` chose it, when it did.
    pub detection: Option<crate::parse::formats::Detection>,
    /// Why the input could not be read to its end; its lines before the error are counted.
    pub error: Option<String>,
}

impl InputSummary {
    /// An input that could not be opened at all.
    pub fn failed(path: String, e: &crate::Error) -> Self {
        InputSummary {
            path,
            size_bytes: 0,
            compression: Compression::None,
            compressed_size_bytes: None,
            fingerprint: String::new(),
            content_from: 0,
            content_to: None,
            content_blake3: None,
            pending_bytes: 0,
            read_mode: ReadMode::Read,
            lines: 0,
            parsed: 0,
            rejected: 0,
            format: Format::Auto,
            detection: None,
            error: Some(e.to_string()),
        }
    }
}

/// An input skipped because this output tree has counted its content already.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SkippedInput {
    pub path: String,
    pub processed_bytes: u64,
    pub content_blake3: String,
    /// The name it was counted under.
    pub processed_as: String,
    /// The run that counted it (last).
    pub run_id: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DiagSummary {
    pub mode: DiagMode,
    pub retention_secs: i64,
    pub rows_written: u64,
    pub rows_skipped_expired: u64,
    pub files: Vec<String>,
    pub purged: PurgeReport,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub tool: &'static str,
    pub tool_version: &'static str,
    pub schema_version: &'static str,
    pub now: String,
    pub published: bool,
    pub format: Format,
    pub inputs: Vec<InputSummary>,
    /// Inputs whose content was counted by an earlier run (not read again).
    pub skipped: Vec<SkippedInput>,
    /// Interrupted runs this run finished or undid first.
    pub recovery: crate::txn::Recovery,
    pub lines: u64,
    pub blank: u64,
    pub directives: u64,
    pub parsed: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<&'static str, u64>,
    pub reject_rate: f64,
    pub max_reject_rate: f64,
    pub non_ip_clients: u64,
    pub ipv6_clients: u64,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    pub masks: Masks,
    pub geo: GeoInfo,
    pub diagnostics: DiagSummary,
    pub reports: Vec<String>,
    /// The publication rules and what they folded into `(other)` rows, per table.
    pub publication: Publication,
    pub threads: usize,
    pub bytes_read: u64,
    pub elapsed_secs: f64,
    pub lines_per_sec: f64,
    pub mb_per_sec: f64,
}

/// How a run's reports were shaped for publication.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Publication {
    pub rules: Rules,
    /// `random-daily` (salts under state/salts/) or `shared-secret` (`--salt-file`).
    pub visitor_salts: &'static str,
    pub folded: BTreeMap<&'static str, Folded>,
    /// Per table, the days this run republished and how many earlier runs each already held
    /// (the published files of those days now hold them all, and `folded` counts the days
    /// whole).
    pub days: BTreeMap<String, BTreeMap<String, usize>>,
}

pub(crate) struct SummaryParts<'a> {
    pub run_id: String,
    pub now: i64,
    pub opts: &'a Options,
    pub geo: GeoInfo,
    pub total: &'a Accumulator,
    pub inputs: Vec<InputSummary>,
    pub reject_rate: f64,
    pub published: bool,
    pub purge: PurgeReport,
    pub diag_files: Vec<String>,
    pub diag_rows: u64,
    pub diag_skipped_expired: u64,
    pub report_files: Vec<String>,
    pub skipped: Vec<SkippedInput>,
    pub recovery: crate::txn::Recovery,
    pub publication: Publication,
    pub elapsed: Duration,
    pub threads: usize,
}

fn rfc3339(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

pub(crate) fn summarise(p: SummaryParts<'_>) -> RunSummary {
    let t = p.total;
    let secs = p.elapsed.as_secs_f64().max(1e-9);
    RunSummary {
        run_id: p.run_id,
        tool: "logveil",
        tool_version: env!("CARGO_PKG_VERSION"),
        schema_version: crate::reports::SCHEMA_VERSION,
        now: rfc3339(p.now),
        published: p.published,
        format: p.opts.format,
        inputs: p.inputs,
        skipped: p.skipped,
        recovery: p.recovery,
        lines: t.lines,
        blank: t.blank,
        directives: t.directives,
        parsed: t.parsed,
        rejected: t.rejected_total(),
        rejected_by_reason: RejectReason::ALL
            .iter()
            .filter(|r| t.rejected[r.index()] > 0)
            .map(|r| (r.as_str(), t.rejected[r.index()]))
            .collect(),
        reject_rate: p.reject_rate,
        max_reject_rate: p.opts.max_reject_rate,
        non_ip_clients: t.non_ip_clients,
        ipv6_clients: t.ipv6_clients,
        first_time: t.min_time.map(rfc3339),
        last_time: t.max_time.map(rfc3339),
        masks: p.opts.masks,
        geo: p.geo,
        diagnostics: DiagSummary {
            mode: p.opts.diagnostics,
            retention_secs: p.opts.retention_secs,
            rows_written: p.diag_rows,
            rows_skipped_expired: p.diag_skipped_expired,
            files: p.diag_files,
            purged: p.purge,
        },
        reports: p.report_files,
        publication: p.publication,
        threads: p.threads,
        bytes_read: t.bytes_read,
        elapsed_secs: secs,
        lines_per_sec: t.lines as f64 / secs,
        mb_per_sec: t.bytes_read as f64 / 1e6 / secs,
    }
}

/// Writes `runs/<run-id>.json`.
pub fn write(out: &Path, summary: &RunSummary) -> Result<()> {
    write_json(out, &summary.run_id, summary)
}

/// Writes any manifest (a run's, a merge's) as `runs/<id>.json`.
pub fn write_json<T: serde::Serialize>(out: &Path, id: &str, manifest: &T) -> Result<()> {
    let dir = out.join("runs");
    store::ensure_dir(&dir, store::PUBLIC_DIR)?;
    let json = serde_json::to_vec_pretty(manifest).expect("manifest serialises");
    store::write_file(&dir.join(format!("{id}.json")), store::PUBLIC_FILE, &json)?;
    Ok(())
}

/// The human summary printed on stderr.
pub fn human(s: &RunSummary) -> String {
    let mut out = String::new();
    for r in &s.recovery.rolled_forward {
        out += &format!("finished run {r}, interrupted after it had committed\n");
    }
    for r in &s.recovery.rolled_back {
        out += &format!("undid run {r}, interrupted before it had committed\n");
    }
    for k in &s.skipped {
        out += &format!(
            "skipped {}: its content ({} bytes) was processed already, as {} in run {} (--reprocess to count it again)\n",
            k.path, k.processed_bytes, k.processed_as, k.run_id
        );
    }
    for i in &s.inputs {
        let how = match i.compression {
            Compression::None => format!("read by {:?}", i.read_mode).to_lowercase(),
            c => format!("{c:?} stream").to_lowercase(),
        };
        out += &format!(
            "input {} ({} bytes, {how}): {} lines, {} parsed, {} rejected\n",
            i.path, i.size_bytes, i.lines, i.parsed, i.rejected
        );
        if i.pending_bytes > 0 {
            out += &format!(
                "  {} bytes after its last newline are left for a later run (an unterminated line)\n",
                i.pending_bytes
            );
        }
        if i.content_from > 0 {
            out += &format!(
                "  read from byte {}: the bytes before it were processed by an earlier run\n",
                i.content_from
            );
        }
        if let Some(d) = &i.detection {
            out += &format!(
                "  format: {} (detected: {} of {} sample lines fit)\n",
                i.format.name(),
                d.fit,
                d.sampled
            );
        }
        if let Some(e) = &i.error {
            out += &format!("  error: {e}\n");
        }
    }
    out += &format!(
        "lines read: {}  parsed: {}  rejected: {}  blank: {}\n",
        s.lines, s.parsed, s.rejected, s.blank
    );
    for (reason, n) in &s.rejected_by_reason {
        out += &format!("  rejected {reason}: {n}\n");
    }
    if s.non_ip_clients > 0 {
        out += &format!(
            "client fields that are not addresses (geography unknown): {}\n",
            s.non_ip_clients
        );
    }
    out += &format!(
        "geo: {} ({}, built {})\n",
        s.geo.source, s.geo.database_type, s.geo.build_date
    );
    out += &format!(
        "diagnostics: {} rows in {} files ({:?}, retention {}s); purged {} expired files\n",
        s.diagnostics.rows_written,
        s.diagnostics.files.len(),
        s.diagnostics.mode,
        s.diagnostics.retention_secs,
        s.diagnostics.purged.files_deleted
    );
    if s.diagnostics.rows_skipped_expired > 0 {
        out += &format!(
            "  {} rows not kept: their days are past the retention already\n",
            s.diagnostics.rows_skipped_expired
        );
    }
    out += &format!(
        "elapsed {:.3}s: {:.0} lines/s, {:.1} MB/s on {} threads\n",
        s.elapsed_secs, s.lines_per_sec, s.mb_per_sec, s.threads
    );
    let (rows, requests) = s.publication.folded.values().fold((0, 0), |(r, q), f| {
        (r + f.suppressed_rows, q + f.suppressed_requests)
    });
    out += &format!(
        "suppression (k = {}): {rows} small rows with {requests} requests folded into (other) rows\n",
        s.publication.rules.k_min
    );
    if s.published {
        out += &format!(
            "run {}: {} report files published\n",
            s.run_id,
            s.reports.len()
        );
    }
    out
}
