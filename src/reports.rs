//! Analyst-facing Parquet reports (`reports/<table>/date=YYYY-MM-DD/part-<run>.parquet`), built
//! from merged accumulators. Owns the report schemas and their version; never sees an address.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};
use crate::parse::time::date_string;
use crate::publish::{Row, Tables, TrafficRow};
use crate::store::{self, AtomicFile};

/// Version of the report and diagnostics schemas. A change is deliberate and documented.
pub const SCHEMA_VERSION: &str = "2";
/// Metadata key of the schema version.
pub const SCHEMA_VERSION_KEY: &str = "logveil.schema_version";

/// Writer settings shared by every Parquet file logveil writes.
pub fn writer_properties(
    table: &str,
    run_id: &str,
    extra: Vec<(String, String)>,
) -> WriterProperties {
    let mut kv = vec![
        KeyValue::new(SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string()),
        KeyValue::new("logveil.table".to_string(), table.to_string()),
        KeyValue::new("logveil.run_id".to_string(), run_id.to_string()),
        KeyValue::new(
            "logveil.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ];
    kv.extend(extra.into_iter().map(|(k, v)| KeyValue::new(k, v)));
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(64 * 1024))
        .set_key_value_metadata(Some(kv))
        .build()
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn visitor_fields() -> [Field; 2] {
    [
        Field::new("visitors", DataType::UInt64, false),
        Field::new("visitors_hll", DataType::Binary, false),
    ]
}

fn schema(dims: &[(&str, DataType)], bytes: bool, visitors: bool) -> SchemaRef {
    let mut fields: Vec<Field> = dims
        .iter()
        .map(|(name, t)| Field::new(*name, t.clone(), false))
        .collect();
    fields.push(Field::new("requests", DataType::UInt64, false));
    if bytes {
        fields.push(Field::new("bytes", DataType::UInt64, false));
    }
    if visitors {
        fields.extend(visitor_fields());
    }
    Arc::new(Schema::new(fields))
}

pub fn geo_daily_schema() -> SchemaRef {
    schema(
        &[("continent", DataType::Utf8), ("country", DataType::Utf8)],
        true,
        true,
    )
}

pub fn traffic_hourly_schema() -> SchemaRef {
    schema(
        &[
            ("hour", utc_micros()),
            ("vhost", DataType::Utf8),
            ("status_class", DataType::Utf8),
            ("method", DataType::Utf8),
        ],
        true,
        false,
    )
}

pub fn pages_daily_schema() -> SchemaRef {
    schema(
        &[
            ("vhost", DataType::Utf8),
            ("path", DataType::Utf8),
            ("status_class", DataType::Utf8),
        ],
        true,
        true,
    )
}

pub fn referrers_daily_schema() -> SchemaRef {
    schema(&[("referrer_host", DataType::Utf8)], false, true)
}

pub fn agents_daily_schema() -> SchemaRef {
    schema(
        &[
            ("browser", DataType::Utf8),
            ("browser_major", DataType::Utf8),
            ("os", DataType::Utf8),
            ("device", DataType::Utf8),
            ("bot", DataType::Boolean),
        ],
        false,
        true,
    )
}

fn batch(schema: SchemaRef, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(schema, cols).map_err(|e| Error::Parquet {
        path: PathBuf::from("reports"),
        reason: e.to_string(),
    })
}

/// Batches by date of a table of [`Row`]s. Dimensions are strings, except those the schema
/// declares Boolean (written from `true`/`false`).
fn row_batches(
    rows: &[Row],
    schema: SchemaRef,
    bytes: bool,
) -> Result<BTreeMap<String, RecordBatch>> {
    let mut by_day: BTreeMap<i64, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by_day.entry(r.day).or_default().push(r);
    }
    let mut out = BTreeMap::new();
    for (day, rows) in by_day {
        let mut cols: Vec<ArrayRef> = Vec::new();
        let ndims = rows.first().map_or(0, |r| r.dims.len());
        for d in 0..ndims {
            let col: ArrayRef = match schema.field(d).data_type() {
                DataType::Boolean => Arc::new(BooleanArray::from(
                    rows.iter().map(|r| r.dims[d] == "true").collect::<Vec<_>>(),
                )),
                _ => Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| r.dims[d].as_str()),
                )),
            };
            cols.push(col);
        }
        cols.push(Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|r| r.cell.totals.requests),
        )));
        if bytes {
            cols.push(Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.cell.totals.bytes),
            )));
        }
        cols.push(Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|r| r.cell.visitors.estimate()),
        )));
        let sketches: Vec<Vec<u8>> = rows.iter().map(|r| r.cell.visitors.serialize()).collect();
        cols.push(Arc::new(BinaryArray::from_iter_values(sketches.iter())));
        out.insert(date_string(day * 86_400), batch(schema.clone(), cols)?);
    }
    Ok(out)
}

/// `traffic_hourly` batches by date, rows ordered by hour, vhost, status class, method.
pub fn traffic_hourly(rows: &[TrafficRow]) -> Result<BTreeMap<String, RecordBatch>> {
    let mut by_day: BTreeMap<i64, Vec<&TrafficRow>> = BTreeMap::new();
    for r in rows {
        by_day.entry(r.0.div_euclid(24)).or_default().push(r);
    }
    let mut out = BTreeMap::new();
    for (day, rows) in by_day {
        let hours =
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.0 * 3_600_000_000))
                .with_timezone("UTC");
        let cols: Vec<ArrayRef> = vec![
            Arc::new(hours),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.1.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.2.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.3.as_str()),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.4.requests),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.4.bytes),
            )),
        ];
        out.insert(
            date_string(day * 86_400),
            batch(traffic_hourly_schema(), cols)?,
        );
    }
    Ok(out)
}

/// Every table's batches by date, in the order they are written; the tables are built in
/// parallel on the current rayon pool.
pub fn batches(t: &Tables) -> Result<Vec<(&'static str, BTreeMap<String, RecordBatch>)>> {
    let ((geo, hourly), (pages, (referrers, agents))) = rayon::join(
        || {
            rayon::join(
                || row_batches(&t.geo_daily, geo_daily_schema(), true),
                || traffic_hourly(&t.traffic_hourly),
            )
        },
        || {
            rayon::join(
                || row_batches(&t.pages_daily, pages_daily_schema(), true),
                || {
                    rayon::join(
                        || row_batches(&t.referrers_daily, referrers_daily_schema(), false),
                        || row_batches(&t.agents_daily, agents_daily_schema(), false),
                    )
                },
            )
        },
    );
    Ok(vec![
        ("geo_daily", geo?),
        ("traffic_hourly", hourly?),
        ("pages_daily", pages?),
        ("referrers_daily", referrers?),
        ("agents_daily", agents?),
    ])
}

/// The extra key-value metadata of the file of one `(table, date)` partition.
pub type ExtraMetadata<'a> = &'a (dyn Fn(&str, &str) -> Vec<(String, String)> + Sync);

/// Where and how report-shaped files are written: the directory holding `<table>/`, the
/// modes, and the extra metadata of each `(table, date)` partition's file.
pub struct Parts<'a> {
    pub root: &'a Path,
    pub dir_mode: u32,
    pub file_mode: u32,
    pub extra: ExtraMetadata<'a>,
    /// The file name of every partition; `None` for `part-<run>.parquet`. A fixed name makes
    /// the rename that publishes a partition replace its previous file atomically.
    pub name: Option<&'a str>,
}

/// Writes the batch of one `(table, date)` partition as `<root>/<table>/date=<d>/<name>`,
/// under a temporary name: nothing is visible until the caller commits the returned file.
fn write_partition(
    to: &Parts<'_>,
    table: &str,
    run_id: &str,
    date: &str,
    batch: &RecordBatch,
) -> Result<AtomicFile> {
    let dir = to.root.join(table).join(format!("date={date}"));
    store::ensure_dir(&dir, to.dir_mode)?;
    let name = match to.name {
        Some(n) => n.to_string(),
        None => format!("part-{run_id}.parquet"),
    };
    let file = AtomicFile::create(&dir.join(name), to.file_mode)?;
    let perr = |e: parquet::errors::ParquetError| Error::Parquet {
        path: dir.clone(),
        reason: e.to_string(),
    };
    let mut w = ArrowWriter::try_new(
        file,
        batch.schema(),
        Some(writer_properties(table, run_id, (to.extra)(table, date))),
    )
    .map_err(perr)?;
    w.write(batch).map_err(perr)?;
    w.into_inner().map_err(perr)
}

/// Writes every report of a run. All files are written and flushed before the first one is
/// renamed into place, so a failure (a full disk, say) publishes none of them.
pub fn write_all(out: &Path, run_id: &str, tables: &Tables) -> Result<Vec<PathBuf>> {
    write_all_with(out, run_id, tables, &[])
}

/// [`write_all`], with more key-value metadata in every file (a merge's source runs).
pub fn write_all_with(
    out: &Path,
    run_id: &str,
    tables: &Tables,
    extra: &[(String, String)],
) -> Result<Vec<PathBuf>> {
    let root = out.join("reports");
    let extra = |_: &str, _: &str| extra.to_vec();
    write_parts(
        &Parts {
            root: &root,
            dir_mode: store::PUBLIC_DIR,
            file_mode: store::PUBLIC_FILE,
            extra: &extra,
            name: None,
        },
        run_id,
        tables,
    )
}

/// Writes every table of `tables` as partition files under `to.root`: all are written and
/// flushed before the first is renamed into place, and a failed rename withdraws the others.
///
/// Partitions are encoded in parallel on the current rayon pool (a run's own pool, so that
/// `--threads` bounds this too); they are committed in order, one by one.
pub fn write_parts(to: &Parts<'_>, run_id: &str, tables: &Tables) -> Result<Vec<PathBuf>> {
    use rayon::prelude::*;
    let made = batches(tables)?;
    let jobs: Vec<(&str, &String, &RecordBatch)> = made
        .iter()
        .flat_map(|(name, b)| b.iter().map(move |(date, batch)| (*name, date, batch)))
        .collect();
    // An error drops every file written, and with it its temporary.
    let files = jobs
        .par_iter()
        .map(|(table, date, batch)| write_partition(to, table, run_id, date, batch))
        .collect::<Result<Vec<_>>>()?;
    // All or nothing: a commit that fails (a full disk) withdraws the ones before it.
    let mut done = Vec::with_capacity(files.len());
    for f in files {
        match f.commit() {
            Ok(p) => done.push(p),
            Err(e) => {
                crate::store::withdraw(&done);
                return Err(e);
            }
        }
    }
    Ok(done)
}
