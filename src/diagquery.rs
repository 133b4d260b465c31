//! Reading the diagnostics store back: `diag` queries (row groups skipped by statistics and
//! the address bloom filter), `forget` (every file rewritten without a client's rows) and the
//! listing of files that `audit` and both commands walk. Never reads an expired file (it is
//! deleted instead), never writes except through `store`, and never feeds reports.

use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt16Type, UInt64Type};
use arrow_array::{Array, BooleanArray, RecordBatch};
use ipnet::IpNet;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ParquetRecordBatchReaderBuilder, RowFilter,
};
use parquet::file::metadata::{KeyValue, ParquetMetaData};
use parquet::file::statistics::Statistics;

use crate::diag::{self, ADDR_COLUMN, EXPIRES_AT, addr_key, net_key_range};
use crate::error::{Error, Result};
use crate::store::{self, AtomicFile};

/// Largest number of addresses of a network probed one by one in the bloom filters; wider
/// networks are found by reading the address column.
const MAX_BLOOM_PROBES: u128 = 4096;

/// A set of status codes: `5xx`, `404`, `500-504`, comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(Vec<(u16, u16)>);

impl StatusSet {
    pub fn parse(s: &str) -> std::result::Result<StatusSet, String> {
        let mut ranges = Vec::new();
        for part in s.split([',', '|']).map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || format!("invalid status {part:?}: expected e.g. 5xx, 404, 500-504");
            let lower = part.to_ascii_lowercase();
            let range = if let Some(class) = lower.strip_suffix("xx") {
                let c: u16 = class.parse().map_err(|_| bad())?;
                if !(1..=9).contains(&c) || class.len() != 1 {
                    return Err(bad());
                }
                (c * 100, c * 100 + 99)
            } else if let Some((a, b)) = lower.split_once('-') {
                let a: u16 = a.trim().parse().map_err(|_| bad())?;
                let b: u16 = b.trim().parse().map_err(|_| bad())?;
                if a > b {
                    return Err(bad());
                }
                (a, b)
            } else {
                let n: u16 = lower.parse().map_err(|_| bad())?;
                (n, n)
            };
            ranges.push(range);
        }
        if ranges.is_empty() {
            return Err("empty status filter".into());
        }
        Ok(StatusSet(ranges))
    }

    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|&(a, b)| (a..=b).contains(&status))
    }

    fn overlaps(&self, min: i64, max: i64) -> bool {
        self.0
            .iter()
            .any(|&(a, b)| i64::from(a) <= max && i64::from(b) >= min)
    }
}

/// What `diag` looks for. Every given filter must hold.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Rows whose client is in this network (a single address is a /32 or /128).
    pub net: Option<IpNet>,
    pub status: Option<StatusSet>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    /// Rows whose target (path and query as logged, decoded) starts with this.
    pub path_prefix: Option<String>,
    /// Rows of this virtual host (ASCII case-insensitive).
    pub vhost: Option<String>,
    /// At most this many rows (0: no limit).
    pub limit: usize,
}

/// One diagnostics row as `diag` prints it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiagRow {
    /// RFC 3339 (UTC); `None` for a rejected line.
    pub time: Option<String>,
    pub client_ip: Option<String>,
    pub method: Option<String>,
    pub target: Option<String>,
    pub protocol: Option<String>,
    pub status: Option<u16>,
    pub bytes: Option<u64>,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
    pub forwarded_for: Option<String>,
    pub vhost: Option<String>,
    pub source_file: Option<String>,
    pub line_number: Option<u64>,
    pub reject_reason: Option<String>,
    pub raw_line: Option<String>,
}

/// What a query found, and how much it had to read.
#[derive(Debug, Default)]
pub struct QueryResult {
    pub rows: Vec<DiagRow>,
    /// True when `limit` cut the answer short.
    pub truncated: bool,
    pub files: usize,
    pub row_groups: usize,
    pub row_groups_read: usize,
    /// Expired files found and deleted instead of read.
    pub expired_deleted: Vec<PathBuf>,
}

/// A diagnostics file of the store, with its UTC day.
#[derive(Debug, Clone)]
pub struct DiagFile {
    pub date: String,
    pub path: PathBuf,
}

/// Every published diagnostics file under `OUT/diagnostics`, by day then name. Temporary
/// files of a run in progress are not listed.
pub fn diag_files(out: &Path) -> Vec<DiagFile> {
    let mut files = Vec::new();
    let Ok(days) = std::fs::read_dir(out.join("diagnostics")) else {
        return files;
    };
    for day in days.flatten() {
        let name = day.file_name().to_string_lossy().into_owned();
        let Some(date) = name.strip_prefix("date=") else {
            continue;
        };
        if !day.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(day.path()) else {
            continue;
        };
        for f in entries.flatten() {
            let fname = f.file_name().to_string_lossy().into_owned();
            if fname.starts_with('.') || !fname.ends_with(".parquet") {
                continue;
            }
            files.push(DiagFile {
                date: date.to_string(),
                path: f.path(),
            });
        }
    }
    files.sort_by(|a, b| (&a.date, &a.path).cmp(&(&b.date, &b.path)));
    files
}

fn perr(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The `expires_at` of a file's metadata, in Unix seconds.
pub fn metadata_expiry(meta: &ParquetMetaData) -> Option<i64> {
    meta.file_metadata()
        .key_value_metadata()?
        .iter()
        .find(|k| k.key == EXPIRES_AT)?
        .value
        .as_deref()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// Opens a diagnostics file for reading; `None` (and the file deleted) when it has expired.
fn open_unexpired(path: &Path, now: i64) -> Result<Option<ParquetRecordBatchReaderBuilder<File>>> {
    let file = File::open(path).map_err(|e| Error::input(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| perr(path, e))?;
    match metadata_expiry(builder.metadata()) {
        Some(exp) if exp <= now => {
            drop(builder);
            store::remove_file(path)?;
            if let Some(dir) = path.parent() {
                store::remove_dir_if_empty(dir);
            }
            Ok(None)
        }
        _ => Ok(Some(builder)),
    }
}

/// The day range `[start, end)` in Unix seconds of a `YYYY-MM-DD` partition.
fn day_span(date: &str) -> Option<(i64, i64)> {
    let start = format!("{date}T00:00:00Z")
        .parse::<jiff::Timestamp>()
        .ok()?
        .as_second();
    Some((start, start + 86_400))
}

fn i64_range(stats: Option<&Statistics>) -> Option<(i64, i64)> {
    match stats? {
        Statistics::Int64(s) => Some((*s.min_opt()?, *s.max_opt()?)),
        Statistics::Int32(s) => Some((i64::from(*s.min_opt()?), i64::from(*s.max_opt()?))),
        _ => None,
    }
}

fn key_range(stats: Option<&Statistics>) -> Option<(u128, u128)> {
    match stats? {
        Statistics::FixedLenByteArray(s) => {
            let k = |b: &[u8]| Some(u128::from_be_bytes(b.try_into().ok()?));
            Some((k(s.min_opt()?.data())?, k(s.max_opt()?.data())?))
        }
        _ => None,
    }
}

/// The row groups of a file that may hold rows matching `q`: time and status statistics,
/// the address column's min/max, and its bloom filter for narrow networks.
fn candidate_row_groups(
    builder: &ParquetRecordBatchReaderBuilder<File>,
    q: &Query,
) -> Result<Vec<usize>> {
    let meta = builder.metadata().clone();
    let schema = builder.schema().clone();
    let time_idx = schema.index_of("time").ok();
    let status_idx = schema.index_of("status").ok();
    let addr_idx = schema.index_of(ADDR_COLUMN).ok();
    let range = q.net.as_ref().map(net_key_range);
    let mut keep = Vec::new();
    for (i, rg) in meta.row_groups().iter().enumerate() {
        if (q.since.is_some() || q.until.is_some())
            && let Some((min, max)) = time_idx.and_then(|c| i64_range(rg.column(c).statistics()))
            && (q.since.is_some_and(|s| max < s.saturating_mul(1_000_000))
                || q.until.is_some_and(|u| min >= u.saturating_mul(1_000_000)))
        {
            continue;
        }
        if let Some(st) = &q.status
            && let Some((min, max)) = status_idx.and_then(|c| i64_range(rg.column(c).statistics()))
            && !st.overlaps(min, max)
        {
            continue;
        }
        if let (Some((lo, hi)), Some(c)) = (range, addr_idx) {
            if let Some((min, max)) = key_range(rg.column(c).statistics())
                && (max < lo || min > hi)
            {
                continue;
            }
            if hi - lo < MAX_BLOOM_PROBES {
                let path = Path::new("diagnostics");
                if let Some(bloom) = builder
                    .get_row_group_column_bloom_filter(i, c)
                    .map_err(|e| perr(path, e))?
                    && !(lo..=hi).any(|k| bloom.check(&k.to_be_bytes()[..]))
                {
                    continue;
                }
            }
        }
        keep.push(i);
    }
    Ok(keep)
}

/// The address keys of a batch's rows: from the key column, or parsed from `client_ip` in a
/// file written before the key column existed.
fn row_keys(batch: &RecordBatch) -> Vec<Option<u128>> {
    if let Some(col) = batch.column_by_name(ADDR_COLUMN) {
        let a = col.as_fixed_size_binary();
        return (0..a.len())
            .map(|i| {
                a.is_valid(i)
                    .then(|| a.value(i).try_into().ok().map(u128::from_be_bytes))
                    .flatten()
            })
            .collect();
    }
    match batch.column_by_name("client_ip") {
        Some(col) => {
            let a = col.as_string::<i32>();
            (0..a.len())
                .map(|i| {
                    a.is_valid(i)
                        .then(|| a.value(i).parse::<IpAddr>().ok().map(addr_key))
                        .flatten()
                })
                .collect()
        }
        None => vec![None; batch.num_rows()],
    }
}

/// Which rows of a batch (holding at least the columns the query filters on) match.
fn matches(batch: &RecordBatch, q: &Query) -> BooleanArray {
    let n = batch.num_rows();
    let mut keep = vec![true; n];
    if let Some(net) = &q.net {
        let (lo, hi) = net_key_range(net);
        for (k, key) in keep.iter_mut().zip(row_keys(batch)) {
            *k &= key.is_some_and(|key| (lo..=hi).contains(&key));
        }
    }
    if let Some(st) = &q.status {
        match batch.column_by_name("status") {
            Some(c) => {
                let a = c.as_primitive::<UInt16Type>();
                for (i, k) in keep.iter_mut().enumerate() {
                    *k &= a.is_valid(i) && st.contains(a.value(i));
                }
            }
            None => keep.fill(false),
        }
    }
    if q.since.is_some() || q.until.is_some() {
        let since = q.since.map(|s| s.saturating_mul(1_000_000));
        let until = q.until.map(|u| u.saturating_mul(1_000_000));
        match batch.column_by_name("time") {
            Some(c) => {
                let a = c.as_primitive::<TimestampMicrosecondType>();
                for (i, k) in keep.iter_mut().enumerate() {
                    let t = a.value(i);
                    *k &= a.is_valid(i)
                        && since.is_none_or(|s| t >= s)
                        && until.is_none_or(|u| t < u);
                }
            }
            None => keep.fill(false),
        }
    }
    if let Some(prefix) = &q.path_prefix {
        match batch.column_by_name("target") {
            Some(c) => {
                let a = c.as_string::<i32>();
                for (i, k) in keep.iter_mut().enumerate() {
                    *k &= a.is_valid(i) && a.value(i).starts_with(prefix.as_str());
                }
            }
            None => keep.fill(false),
        }
    }
    if let Some(vhost) = &q.vhost {
        match batch.column_by_name("vhost") {
            Some(c) => {
                let a = c.as_string::<i32>();
                for (i, k) in keep.iter_mut().enumerate() {
                    *k &= a.is_valid(i) && a.value(i).eq_ignore_ascii_case(vhost);
                }
            }
            None => keep.fill(false),
        }
    }
    BooleanArray::from(keep)
}

fn text(batch: &RecordBatch, name: &str, i: usize) -> Option<String> {
    let c = batch.column_by_name(name)?;
    let a = c.as_string_opt::<i32>()?;
    a.is_valid(i).then(|| a.value(i).to_string())
}

fn rows_of(batch: &RecordBatch, out: &mut Vec<DiagRow>, limit: usize) {
    let time = batch
        .column_by_name("time")
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>());
    let status = batch
        .column_by_name("status")
        .and_then(|c| c.as_primitive_opt::<UInt16Type>());
    let bytes = batch
        .column_by_name("bytes")
        .and_then(|c| c.as_primitive_opt::<UInt64Type>());
    let line = batch
        .column_by_name("line_number")
        .and_then(|c| c.as_primitive_opt::<UInt64Type>());
    for i in 0..batch.num_rows() {
        if limit != 0 && out.len() >= limit {
            return;
        }
        out.push(DiagRow {
            time: time.filter(|a| a.is_valid(i)).and_then(|a| {
                jiff::Timestamp::from_microsecond(a.value(i))
                    .ok()
                    .map(|t| t.to_string())
            }),
            client_ip: text(batch, "client_ip", i),
            method: text(batch, "method", i),
            target: text(batch, "target", i),
            protocol: text(batch, "protocol", i),
            status: status.filter(|a| a.is_valid(i)).map(|a| a.value(i)),
            bytes: bytes.filter(|a| a.is_valid(i)).map(|a| a.value(i)),
            referer: text(batch, "referer", i),
            user_agent: text(batch, "user_agent", i),
            forwarded_for: text(batch, "forwarded_for", i),
            vhost: text(batch, "vhost", i),
            source_file: text(batch, "source_file", i),
            line_number: line.filter(|a| a.is_valid(i)).map(|a| a.value(i)),
            reject_reason: text(batch, "reject_reason", i),
            raw_line: text(batch, "raw_line", i),
        });
    }
}

/// Answers a query over the unexpired diagnostics of `out`, in day and line order. Expired
/// files met on the way are deleted, never read.
pub fn query(out: &Path, q: &Query, now: i64) -> Result<QueryResult> {
    let mut res = QueryResult::default();
    for f in diag_files(out) {
        if let Some((start, end)) = day_span(&f.date) {
            // Rejected lines carry no time: a time filter excludes them anyway.
            if q.since.is_some_and(|s| end <= s) || q.until.is_some_and(|u| start >= u) {
                continue;
            }
        }
        let Some(builder) = open_unexpired(&f.path, now)? else {
            res.expired_deleted.push(f.path);
            continue;
        };
        res.files += 1;
        res.row_groups += builder.metadata().num_row_groups();
        let groups = candidate_row_groups(&builder, q)?;
        if groups.is_empty() {
            continue;
        }
        let schema = builder.schema().clone();
        let wanted = [
            ADDR_COLUMN,
            "client_ip",
            "status",
            "time",
            "target",
            "vhost",
        ];
        let filter_cols: Vec<usize> = wanted
            .iter()
            .filter_map(|n| schema.index_of(n).ok())
            .collect();
        let meta = ArrowReaderMetadata::try_new(builder.metadata().clone(), Default::default())
            .map_err(|e| perr(&f.path, e))?;
        drop(builder);
        let file = File::open(&f.path).map_err(|e| Error::input(&f.path, e))?;
        // One reader per row group: the sync reader evaluates a row filter over all of its
        // row groups before it yields a row, so this is what lets `limit` stop early.
        for g in groups {
            res.row_groups_read += 1;
            let handle = file.try_clone().map_err(|e| Error::input(&f.path, e))?;
            let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, meta.clone());
            let mask = ProjectionMask::roots(builder.parquet_schema(), filter_cols.clone());
            let qc = q.clone();
            let pred =
                ArrowPredicateFn::new(mask, move |batch: RecordBatch| Ok(matches(&batch, &qc)));
            let reader = builder
                .with_row_groups(vec![g])
                .with_row_filter(RowFilter::new(vec![Box::new(pred)]))
                .with_batch_size(8192)
                .build()
                .map_err(|e| perr(&f.path, e))?;
            for batch in reader {
                let batch = batch.map_err(|e| perr(&f.path, e))?;
                rows_of(&batch, &mut res.rows, q.limit);
                if q.limit != 0 && res.rows.len() >= q.limit {
                    res.truncated = true;
                    return Ok(res);
                }
            }
        }
    }
    Ok(res)
}

/// Addresses written in free text (X-Forwarded-For lists, raw lines): dotted IPv4 (with or
/// without a port), IPv6 (bracketed or not).
pub fn addresses_in_text(s: &str) -> impl Iterator<Item = IpAddr> + '_ {
    s.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .filter(|t| t.len() >= 2)
        .filter_map(|t| {
            let t = t.trim_matches('.');
            t.parse::<IpAddr>().ok().or_else(|| {
                // `1.2.3.4:8080`
                let (host, port) = t.rsplit_once(':')?;
                if host.contains('.') && port.bytes().all(|b| b.is_ascii_digit()) {
                    host.parse::<IpAddr>().ok()
                } else {
                    None
                }
            })
        })
}

/// Rows of a batch that belong to a client of `net`: its client address, or any address of
/// its X-Forwarded-For list or of its raw (rejected) line.
fn forget_mask(batch: &RecordBatch, net: &IpNet) -> Vec<bool> {
    let (lo, hi) = net_key_range(net);
    let inside = |ip: IpAddr| (lo..=hi).contains(&addr_key(ip));
    let mut hit: Vec<bool> = row_keys(batch)
        .into_iter()
        .map(|k| k.is_some_and(|k| (lo..=hi).contains(&k)))
        .collect();
    for name in ["client_ip", "forwarded_for", "raw_line"] {
        let Some(a) = batch
            .column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>())
        else {
            continue;
        };
        for (i, h) in hit.iter_mut().enumerate() {
            if !*h && a.is_valid(i) {
                *h = addresses_in_text(a.value(i)).any(inside);
            }
        }
    }
    hit
}

/// What `forget` did to one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ForgetFile {
    pub file: PathBuf,
    pub rows_before: u64,
    pub rows_removed: u64,
    /// True when no row was left and the file was deleted.
    pub deleted: bool,
}

/// What `forget` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ForgetReport {
    pub network: String,
    pub rows_removed: u64,
    /// Files that held matching rows; files without any are left untouched.
    pub files: Vec<ForgetFile>,
    /// Expired files deleted on the way.
    pub expired_deleted: Vec<PathBuf>,
}

/// Rewrites every diagnostics file of `out` without the rows of clients in `net` (see
/// [`forget_mask`]). Each file is replaced atomically, 0600, keeping its metadata (expiry
/// included); a file left empty is deleted.
pub fn forget(out: &Path, net: &IpNet, now: i64) -> Result<ForgetReport> {
    let mut report = ForgetReport {
        network: net.to_string(),
        ..ForgetReport::default()
    };
    for f in diag_files(out) {
        let Some(builder) = open_unexpired(&f.path, now)? else {
            report.expired_deleted.push(f.path);
            continue;
        };
        let rows_before = builder.metadata().file_metadata().num_rows().max(0) as u64;
        let kv: Vec<KeyValue> = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .map(|kv| {
                kv.iter()
                    .filter(|k| k.key != "ARROW:schema")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let schema = builder.schema().clone();
        let reader = builder
            .with_batch_size(8192)
            .build()
            .map_err(|e| perr(&f.path, e))?;
        let tmp = AtomicFile::create(&f.path, store::PRIVATE_FILE)?;
        let mut writer = ArrowWriter::try_new(tmp, schema, Some(diag::writer_properties(kv)))
            .map_err(|e| perr(&f.path, e))?;
        let mut removed = 0u64;
        for batch in reader {
            let batch = batch.map_err(|e| perr(&f.path, e))?;
            let hit = forget_mask(&batch, net);
            let n_hit = hit.iter().filter(|h| **h).count() as u64;
            removed += n_hit;
            if n_hit == batch.num_rows() as u64 {
                continue;
            }
            let batch = if n_hit == 0 {
                batch
            } else {
                let keep = BooleanArray::from(hit.iter().map(|h| !h).collect::<Vec<_>>());
                arrow_select::filter::filter_record_batch(&batch, &keep)
                    .map_err(|e| perr(&f.path, e))?
            };
            writer.write(&batch).map_err(|e| perr(&f.path, e))?;
        }
        let tmp = writer.into_inner().map_err(|e| perr(&f.path, e))?;
        if removed == 0 {
            // Dropped uncommitted: the temporary goes, the file stays as it was.
            drop(tmp);
            continue;
        }
        let deleted = removed == rows_before;
        if deleted {
            drop(tmp);
            store::remove_file(&f.path)?;
            if let Some(dir) = f.path.parent() {
                store::remove_dir_if_empty(dir);
            }
        } else {
            tmp.commit()?;
        }
        report.rows_removed += removed;
        report.files.push(ForgetFile {
            file: f.path,
            rows_before,
            rows_removed: removed,
            deleted,
        });
    }
    Ok(report)
}

/// The rows of a query as a table (columns without any value left out).
pub fn render_rows(rows: &[DiagRow], width: Option<usize>) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let has_vhost = rows.iter().any(|r| r.vhost.is_some());
    let has_reject = rows.iter().any(|r| r.reject_reason.is_some());
    let mut header = vec!["time", "client", "status", "method", "target"];
    if has_vhost {
        header.insert(4, "vhost");
    }
    header.push("source");
    if has_reject {
        header.extend(["reject", "raw_line"]);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut c = vec![
                dash(&r.time),
                dash(&r.client_ip),
                r.status.map_or_else(|| "-".into(), |s| s.to_string()),
                dash(&r.method),
                dash(&r.target),
            ];
            if has_vhost {
                c.insert(4, dash(&r.vhost));
            }
            c.push(format!(
                "{}:{}",
                r.source_file.as_deref().unwrap_or("-"),
                r.line_number.unwrap_or(0)
            ));
            if has_reject {
                c.push(dash(&r.reject_reason));
                c.push(dash(&r.raw_line));
            }
            c
        })
        .collect();
    crate::table::render(&header, &cells, width)
}

/// What `forget` did, as a table.
pub fn render_forget(r: &ForgetReport) -> String {
    let rows: Vec<Vec<String>> = r
        .files
        .iter()
        .map(|f| {
            vec![
                f.file.display().to_string(),
                f.rows_removed.to_string(),
                (f.rows_before - f.rows_removed).to_string(),
                if f.deleted { "deleted" } else { "rewritten" }.to_string(),
            ]
        })
        .collect();
    let mut s = crate::table::render(&["file", "removed", "kept", "file is"], &rows, None);
    s.push_str(&format!(
        "{} rows of {} removed from {} files\n",
        r.rows_removed,
        r.network,
        r.files.len()
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn status_sets() {
        let s = StatusSet::parse("5xx,404").unwrap();
        assert!(s.contains(503) && s.contains(404) && !s.contains(403));
        let s = StatusSet::parse("4xx|500-504").unwrap();
        assert!(s.contains(418) && s.contains(502) && !s.contains(505));
        for bad in ["", "6x", "x5xx", "504-500", "10xx"] {
            assert!(StatusSet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_in_free_text() {
        let found: Vec<IpAddr> = addresses_in_text(
            "203.0.113.9:8080, [2001:db8::7]:443 garbage 10:00:00 ::ffff:198.51.100.4",
        )
        .collect();
        let want: Vec<IpAddr> = ["203.0.113.9", "2001:db8::7", "::ffff:198.51.100.4"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(found, want);
    }

    /// A store of one day with `n` rows, row i from client 10.0.0.0 + i.
    fn store_of(n: usize) -> tempfile::TempDir {
        use arrow_array::builder::FixedSizeBinaryBuilder;
        use arrow_array::{ArrayRef, StringArray, TimestampMicrosecondArray, UInt64Array};
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("diagnostics/date=2026-10-05");
        store::ensure_dir(&day, store::PRIVATE_DIR).unwrap();
        let schema = diag::schema();
        let ip = |i: usize| IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32));
        let mut keys = FixedSizeBinaryBuilder::new(16);
        for i in 0..n {
            keys.append_value(addr_key(ip(i)).to_be_bytes()).unwrap();
        }
        let t0 = 1_791_158_400_000_000i64;
        let cols: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                match f.name().as_str() {
                    "time" => Arc::new(
                        TimestampMicrosecondArray::from_iter_values(
                            (0..n).map(|i| t0 + i as i64 * 1_000_000),
                        )
                        .with_timezone("UTC"),
                    ),
                    "client_ip" => Arc::new(StringArray::from_iter_values(
                        (0..n).map(|i| ip(i).to_string()),
                    )),
                    ADDR_COLUMN => Arc::new(keys.finish()),
                    "source_file" => {
                        Arc::new(StringArray::from_iter_values((0..n).map(|_| "t.log")))
                    }
                    "line_number" => Arc::new(UInt64Array::from_iter_values(1..=n as u64)),
                    _ => arrow_array::new_null_array(f.data_type(), n),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
        let kv = vec![KeyValue::new(
            EXPIRES_AT.to_string(),
            "2026-10-12T00:00:00Z".to_string(),
        )];
        let file = AtomicFile::create(&day.join("part-x.parquet"), store::PRIVATE_FILE).unwrap();
        let mut w = ArrowWriter::try_new(file, schema, Some(diag::writer_properties(kv))).unwrap();
        w.write(&batch).unwrap();
        w.into_inner().unwrap().commit().unwrap();
        dir
    }

    #[test]
    fn bloom_filters_and_statistics_skip_row_groups() {
        let n = 3 * diag::ROW_GROUP_ROWS;
        let dir = store_of(n);
        let now = 1_791_200_000;
        // (network, since, rows found, row groups read)
        let cases: &[(&str, Option<i64>, usize, usize)] = &[
            ("10.1.17.112/32", None, 1, 1),
            ("10.1.17.0/24", None, 256, 1),
            ("::ffff:10.1.17.112/128", None, 1, 1),
            ("10.9.0.0/16", None, 0, 0),
            ("10.0.0.0/8", None, n, 3),
            // The first row group ends before `since`: its time statistics skip it.
            (
                "10.0.0.0/8",
                Some(1_791_158_400 + diag::ROW_GROUP_ROWS as i64),
                n - diag::ROW_GROUP_ROWS,
                2,
            ),
        ];
        for &(net, since, rows, read) in cases {
            let q = Query {
                net: Some(net.parse().unwrap()),
                since,
                ..Query::default()
            };
            let r = query(dir.path(), &q, now).unwrap();
            assert_eq!(r.row_groups, 3, "{net}");
            assert_eq!(
                (r.rows.len(), r.row_groups_read),
                (rows, read),
                "{net} {since:?}"
            );
        }
    }

    #[test]
    fn keys_unify_ipv4_and_mapped_forms() {
        let v4: IpAddr = "198.51.100.4".parse().unwrap();
        let mapped: IpAddr = "::ffff:198.51.100.4".parse().unwrap();
        assert_eq!(addr_key(v4), addr_key(mapped));
        let (lo, hi) = net_key_range(&"198.51.100.0/24".parse().unwrap());
        assert!((lo..=hi).contains(&addr_key(mapped)));
        let (lo, hi) = net_key_range(&"::ffff:198.51.100.0/120".parse().unwrap());
        assert!((lo..=hi).contains(&addr_key(v4)));
    }
}
