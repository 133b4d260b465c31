//! The diagnostics store: raw rows for ops (client IP, request, status, source line), written
//! as Parquet under `diagnostics/date=…/` (directories 0700, files 0600) with an `expires_at`
//! in each file's metadata, and deleted once expired. The only output that may hold a raw IP;
//! it never feeds reports. Its writer thread also puts the chunks of anonymised copies back
//! in order (their bytes are already scrubbed when they arrive).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    FixedSizeBinaryBuilder, StringBuilder, TimestampMicrosecondBuilder, UInt16Builder,
    UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::schema::types::ColumnPath;
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::parse::Escaping;
use crate::parse::escape::decode;
use crate::parse::{Record, RejectReason};
use crate::store::{self, AtomicFile};

/// Which lines the diagnostics store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiagMode {
    /// Error responses (status ≥ 400) and rejected lines.
    Errors,
    /// Every line.
    All,
    /// Nothing.
    Off,
}

/// Metadata key holding the RFC 3339 expiry of a diagnostics file.
pub const EXPIRES_AT: &str = "expires_at";
/// Longest raw line kept for a rejected line, in bytes.
pub const MAX_RAW_LINE: usize = 8192;
/// The column holding a row's client as a 16-byte sortable address key (see [`addr_key`]).
pub const ADDR_COLUMN: &str = "client_addr";
/// Rows per row group: the unit that statistics and bloom filters let a query skip.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

/// An address as 16 big-endian bytes that sort as addresses do: IPv6 as is, IPv4 (and
/// IPv4-mapped IPv6) as `::ffff:a.b.c.d`, so both forms of one client share one key.
pub fn addr_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The inclusive range of address keys a network covers (an IPv4 network as its mapped range).
pub fn net_key_range(net: &ipnet::IpNet) -> (u128, u128) {
    match net {
        ipnet::IpNet::V4(n) => (
            addr_key(IpAddr::V4(n.network())),
            addr_key(IpAddr::V4(n.broadcast())),
        ),
        ipnet::IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
    }
}

/// Writer settings of a diagnostics file: row groups of [`ROW_GROUP_ROWS`], statistics, and a
/// bloom filter on the address column, so that a query for one client reads only the row
/// groups that may hold it.
pub fn writer_properties(kv: Vec<parquet::file::metadata::KeyValue>) -> WriterProperties {
    let addr = ColumnPath::from(ADDR_COLUMN);
    let mut props = WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(
            parquet::basic::ZstdLevel::default(),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_column_bloom_filter_enabled(addr.clone(), true)
        .set_column_bloom_filter_fpp(addr.clone(), 0.01)
        .set_column_bloom_filter_max_ndv(addr, ROW_GROUP_ROWS as u64)
        .set_key_value_metadata(Some(kv));
    // Columns whose values rarely repeat in a row group: a dictionary would cost an interning
    // per value and then be dropped for plain encoding when it outgrew its page.
    for c in ["time", "bytes", "line_number", "raw_line"] {
        props = props.set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    props.build()
}

pub fn schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("time", ts, true),
        Field::new("client_ip", DataType::Utf8, true),
        Field::new(ADDR_COLUMN, DataType::FixedSizeBinary(16), true),
        Field::new("method", DataType::Utf8, true),
        Field::new("target", DataType::Utf8, true),
        Field::new("protocol", DataType::Utf8, true),
        Field::new("status", DataType::UInt16, true),
        Field::new("bytes", DataType::UInt64, true),
        Field::new("referer", DataType::Utf8, true),
        Field::new("user_agent", DataType::Utf8, true),
        Field::new("forwarded_for", DataType::Utf8, true),
        Field::new("vhost", DataType::Utf8, true),
        Field::new("source_file", DataType::Utf8, false),
        Field::new("line_number", DataType::UInt64, false),
        Field::new("reject_reason", DataType::Utf8, true),
        Field::new("raw_line", DataType::Utf8, true),
    ]))
}

/// Appends a field, unescaped and as UTF-8 (invalid bytes replaced), without an allocation
/// when there is nothing to decode.
fn push_text(builder: &mut StringBuilder, b: &[u8], escaping: Escaping) {
    match decode(b, escaping) {
        Cow::Borrowed(raw) => match std::str::from_utf8(raw) {
            Ok(s) => builder.append_value(s),
            Err(_) => builder.append_value(String::from_utf8_lossy(raw)),
        },
        Cow::Owned(v) => builder.append_value(String::from_utf8_lossy(&v)),
    }
}

/// Appends an optional field; empty and `-` are null.
fn push_opt(builder: &mut StringBuilder, b: Option<&[u8]>, escaping: Escaping) {
    match b {
        Some(v) if !v.is_empty() && v != b"-" => push_text(builder, v, escaping),
        _ => builder.append_null(),
    }
}

/// Diagnostics rows of one day, built column by column.
pub struct DayRows {
    time: TimestampMicrosecondBuilder,
    client_ip: StringBuilder,
    client_addr: FixedSizeBinaryBuilder,
    method: StringBuilder,
    target: StringBuilder,
    protocol: StringBuilder,
    status: UInt16Builder,
    bytes: UInt64Builder,
    referer: StringBuilder,
    user_agent: StringBuilder,
    forwarded_for: StringBuilder,
    vhost: StringBuilder,
    /// Line numbers relative to the chunk start (1-based), fixed up by the writer.
    line: Vec<u64>,
    reject_reason: StringBuilder,
    raw_line: StringBuilder,
}

impl DayRows {
    fn new() -> Self {
        DayRows {
            time: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            client_ip: StringBuilder::new(),
            client_addr: FixedSizeBinaryBuilder::new(16),
            method: StringBuilder::new(),
            target: StringBuilder::new(),
            protocol: StringBuilder::new(),
            status: UInt16Builder::new(),
            bytes: UInt64Builder::new(),
            referer: StringBuilder::new(),
            user_agent: StringBuilder::new(),
            forwarded_for: StringBuilder::new(),
            vhost: StringBuilder::new(),
            line: Vec::new(),
            reject_reason: StringBuilder::new(),
            raw_line: StringBuilder::new(),
        }
    }

    fn finish(mut self, source: &str, line_base: u64) -> Result<RecordBatch> {
        let n = self.line.len();
        let mut src = StringBuilder::with_capacity(n, n * source.len());
        for _ in 0..n {
            src.append_value(source);
        }
        let lines = UInt64Array::from_iter_values(self.line.iter().map(|l| l + line_base));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.client_ip.finish()),
            Arc::new(self.client_addr.finish()),
            Arc::new(self.method.finish()),
            Arc::new(self.target.finish()),
            Arc::new(self.protocol.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.bytes.finish()),
            Arc::new(self.referer.finish()),
            Arc::new(self.user_agent.finish()),
            Arc::new(self.forwarded_for.finish()),
            Arc::new(self.vhost.finish()),
            Arc::new(src.finish()),
            Arc::new(lines),
            Arc::new(self.reject_reason.finish()),
            Arc::new(self.raw_line.finish()),
        ];
        RecordBatch::try_new(schema(), cols).map_err(|e| Error::Parquet {
            path: PathBuf::from("diagnostics"),
            reason: e.to_string(),
        })
    }
}

/// Diagnostics rows of one chunk, by day. Line numbers are relative to the chunk.
#[derive(Default)]
pub struct ChunkRows {
    pub days: FxHashMap<i64, DayRows>,
    pub rows: u64,
    /// The text of the client address being kept.
    ip_text: Vec<u8>,
}

impl ChunkRows {
    fn day(&mut self, day: i64) -> &mut DayRows {
        self.rows += 1;
        self.days.entry(day).or_insert_with(DayRows::new)
    }

    /// Keeps a parsed record. `client` is the full address when the client field held one;
    /// otherwise the field is kept as written. `line` is 1-based within the chunk.
    pub fn push_record(&mut self, rec: &Record<'_>, client: Option<IpAddr>, line: u64) {
        let mut ip_text = std::mem::take(&mut self.ip_text);
        let d = self.day(rec.time.div_euclid(86_400));
        d.time.append_value(rec.time.saturating_mul(1_000_000));
        match client {
            Some(ip) => {
                // As `Display` writes it, without its formatting machinery.
                ip_text.clear();
                crate::scrub::push_ip(&mut ip_text, ip);
                d.client_ip
                    .append_value(std::str::from_utf8(&ip_text).expect("an address is ASCII"));
                let _ = d.client_addr.append_value(addr_key(ip).to_be_bytes());
            }
            None => {
                push_text(&mut d.client_ip, rec.client, rec.escaping);
                d.client_addr.append_null();
            }
        }
        push_opt(&mut d.method, Some(rec.method), rec.escaping);
        push_text(
            &mut d.target,
            if rec.target.is_empty() {
                rec.request
            } else {
                rec.target
            },
            rec.escaping,
        );
        push_opt(&mut d.protocol, Some(rec.protocol), rec.escaping);
        d.status.append_value(rec.status);
        d.bytes.append_value(rec.bytes);
        push_opt(&mut d.referer, rec.referer, rec.escaping);
        push_opt(&mut d.user_agent, rec.user_agent, rec.escaping);
        push_opt(&mut d.forwarded_for, rec.forwarded_for, rec.escaping);
        push_opt(&mut d.vhost, rec.vhost, rec.escaping);
        d.line.push(line);
        d.reject_reason.append_null();
        d.raw_line.append_null();
        self.ip_text = ip_text;
    }

    /// Keeps a rejected line under the day `day` (the run's day: the line has no usable time).
    pub fn push_reject(&mut self, raw: &[u8], reason: RejectReason, line: u64, day: i64) {
        let d = self.day(day);
        d.time.append_null();
        d.client_ip.append_null();
        d.client_addr.append_null();
        d.method.append_null();
        d.target.append_null();
        d.protocol.append_null();
        d.status.append_null();
        d.bytes.append_null();
        d.referer.append_null();
        d.user_agent.append_null();
        d.forwarded_for.append_null();
        d.vhost.append_null();
        d.line.push(line);
        d.reject_reason.append_value(reason.as_str());
        let cut = &raw[..raw.len().min(MAX_RAW_LINE)];
        d.raw_line.append_value(String::from_utf8_lossy(cut));
    }
}

/// What the writer is told: a chunk's rows, or the end of one input.
pub struct ChunkMessage {
    pub input: usize,
    pub chunk: usize,
    pub lines: u64,
    pub rows: ChunkRows,
    /// The chunk's anonymised copy, ready to append (compressed when the copy is).
    pub copy: Vec<u8>,
}

/// Writes diagnostics as chunks arrive, in line order per input, one file per day.
pub struct DiagWriter {
    root: PathBuf,
    run_id: String,
    retention_secs: i64,
    now: i64,
    writers: BTreeMap<i64, ArrowWriter<AtomicFile>>,
    pending: BTreeMap<usize, ChunkMessage>,
    input: usize,
    next_chunk: usize,
    line_base: u64,
    sources: Vec<String>,
    /// Rows not written because their day had already expired.
    pub skipped_expired: u64,
    rows: BTreeMap<i64, u64>,
    /// Where the anonymised copies go, in chunk order, when they are made.
    pub copies: Option<crate::anonymise::CopyFiles>,
    /// Where a chunk's copy buffer goes once appended, for a worker to fill again, so that
    /// the buffers (megabytes each) are not mapped, zeroed and unmapped chunk after chunk.
    pub recycle: Option<crossbeam_channel::Sender<Vec<u8>>>,
}

impl DiagWriter {
    pub fn new(
        out: &Path,
        run_id: &str,
        retention_secs: i64,
        now: i64,
        sources: Vec<String>,
    ) -> Self {
        DiagWriter {
            root: out.join("diagnostics"),
            run_id: run_id.to_string(),
            retention_secs,
            now,
            writers: BTreeMap::new(),
            pending: BTreeMap::new(),
            input: 0,
            next_chunk: 0,
            line_base: 0,
            sources,
            skipped_expired: 0,
            rows: BTreeMap::new(),
            copies: None,
            recycle: None,
        }
    }

    /// Accepts one chunk's rows; writes every chunk that is now in order.
    pub fn accept(&mut self, msg: ChunkMessage) -> Result<()> {
        if msg.input != self.input {
            debug_assert!(msg.input > self.input && self.pending.is_empty());
            self.input = msg.input;
            self.next_chunk = 0;
            self.line_base = 0;
        }
        self.pending.insert(msg.chunk, msg);
        while let Some(msg) = self.pending.remove(&self.next_chunk) {
            self.next_chunk += 1;
            let base = self.line_base;
            self.line_base += msg.lines;
            if let Some(copies) = &mut self.copies {
                copies.append(msg.input, &msg.copy)?;
            }
            if let Some(r) = &self.recycle
                && msg.copy.capacity() > 0
            {
                let mut buf = msg.copy;
                buf.clear();
                let _ = r.try_send(buf);
            }
            let source = self.sources.get(msg.input).cloned().unwrap_or_default();
            for (day, rows) in msg.rows.days {
                let expires = day * 86_400 + self.retention_secs;
                if expires <= self.now {
                    self.skipped_expired += rows.line.len() as u64;
                    continue;
                }
                *self.rows.entry(day).or_default() += rows.line.len() as u64;
                let batch = rows.finish(&source, base)?;
                self.writer(day, expires)?
                    .write(&batch)
                    .map_err(|e| parquet_err(&self.root, e))?;
            }
        }
        Ok(())
    }

    fn writer(&mut self, day: i64, expires: i64) -> Result<&mut ArrowWriter<AtomicFile>> {
        if !self.writers.contains_key(&day) {
            let date = crate::parse::time::date_string(day * 86_400);
            store::ensure_dir(&self.root, store::PRIVATE_DIR)?;
            let dir = self.root.join(format!("date={date}"));
            store::ensure_dir(&dir, store::PRIVATE_DIR)?;
            let file = AtomicFile::create(
                &dir.join(format!("part-{}.parquet", self.run_id)),
                store::PRIVATE_FILE,
            )?;
            let expires_at = jiff::Timestamp::from_second(expires)
                .map(|t| t.to_string())
                .unwrap_or_default();
            let kv = crate::reports::writer_properties(
                "diagnostics",
                &self.run_id,
                vec![(EXPIRES_AT.to_string(), expires_at)],
            )
            .key_value_metadata()
            .cloned()
            .unwrap_or_default();
            let props = writer_properties(kv);
            let w = ArrowWriter::try_new(file, schema(), Some(props))
                .map_err(|e| parquet_err(&dir, e))?;
            self.writers.insert(day, w);
        }
        Ok(self.writers.get_mut(&day).expect("inserted above"))
    }

    /// Finishes and publishes every file. Returns each file written with its row count.
    pub fn finish(mut self) -> Result<Vec<(PathBuf, u64)>> {
        let mut finished = Vec::new();
        for (day, w) in std::mem::take(&mut self.writers) {
            let file = w.into_inner().map_err(|e| parquet_err(&self.root, e))?;
            finished.push((file, self.rows.get(&day).copied().unwrap_or(0)));
        }
        finished
            .into_iter()
            .map(|(file, rows)| Ok((file.commit()?, rows)))
            .collect()
    }
}

fn parquet_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Reads `expires_at` (Unix seconds) from a diagnostics file's metadata.
pub fn expires_at(path: &Path) -> Result<Option<i64>> {
    let file = std::fs::File::open(path).map_err(|e| Error::input(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| parquet_err(path, e))?;
    let kv = reader.metadata().file_metadata().key_value_metadata();
    Ok(kv
        .and_then(|kv| kv.iter().find(|k| k.key == EXPIRES_AT))
        .and_then(|k| k.value.as_deref())
        .and_then(|v| v.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second()))
}

/// Outcome of a purge.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PurgeReport {
    pub files_deleted: u64,
    pub bytes_deleted: u64,
    pub stale_temps_removed: u64,
    /// Visitor salts deleted with their day's diagnostics.
    pub salts_deleted: u64,
    /// The diagnostics files deleted (not in the manifest: the count says enough).
    #[serde(skip)]
    pub files: Vec<PathBuf>,
    /// The salt files deleted.
    #[serde(skip)]
    pub salt_files: Vec<PathBuf>,
    /// Files of the day store (`state/days/`) deleted with their day's diagnostics.
    pub day_state_deleted: u64,
    #[serde(skip)]
    pub day_state_files: Vec<PathBuf>,
}

/// Deletes every diagnostics file whose `expires_at` is at or before `now`, and temporary files
/// a crashed run left behind. A file without a readable expiry is kept and reported.
pub fn purge(out: &Path, now: i64) -> Result<PurgeReport> {
    let root = out.join("diagnostics");
    let mut report = PurgeReport::default();
    let Ok(days) = std::fs::read_dir(&root) else {
        return Ok(report);
    };
    for day in days.flatten() {
        let dir = day.path();
        if !dir.is_dir() {
            continue;
        }
        report.stale_temps_removed += store::remove_stale_temps(&dir)? as u64;
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        for f in files.flatten() {
            let path = f.path();
            if path.extension().and_then(|e| e.to_str()) != Some("parquet") {
                continue;
            }
            match expires_at(&path) {
                Ok(Some(exp)) if exp <= now => {
                    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                    if store::remove_file(&path)? {
                        report.files_deleted += 1;
                        report.bytes_deleted += size;
                        report.files.push(path);
                    }
                }
                Ok(_) => {}
                Err(e) => eprintln!("warning: cannot read expiry of {}: {e}", path.display()),
            }
        }
        store::remove_dir_if_empty(&dir);
    }
    Ok(report)
}
