//! Analyst-facing Parquet reports (`reports/<table>/date=YYYY-MM-DD/part-<run>.parquet`), built
//! from merged accumulators. Owns the report schemas and their version; never sees an address.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::agg::{Accumulator, METHODS, status_class_name};
use crate::error::{Error, Result};
use crate::parse::time::date_string;
use crate::store::{self, AtomicFile};

/// Version of the report and diagnostics schemas. A change is deliberate and documented.
pub const SCHEMA_VERSION: &str = "1";
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

pub fn geo_daily_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("continent", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("requests", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
    ]))
}

pub fn traffic_hourly_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("hour", utc_micros(), false),
        Field::new("status_class", DataType::Utf8, false),
        Field::new("method", DataType::Utf8, false),
        Field::new("requests", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
    ]))
}

fn batch(schema: SchemaRef, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(schema, cols).map_err(|e| Error::Parquet {
        path: PathBuf::from("reports"),
        reason: e.to_string(),
    })
}

/// `geo_daily` batches by date, rows ordered by requests (descending), then place.
pub fn geo_daily(acc: &Accumulator) -> Result<BTreeMap<String, RecordBatch>> {
    let mut by_day: BTreeMap<i64, Vec<_>> = BTreeMap::new();
    for ((day, place), t) in &acc.geo {
        by_day.entry(*day).or_default().push((*place, *t));
    }
    let mut out = BTreeMap::new();
    for (day, mut rows) in by_day {
        rows.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then(a.0.cmp(&b.0)));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.0.continent_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.0.country_str()),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.1.requests),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.1.bytes),
            )),
        ];
        out.insert(date_string(day * 86_400), batch(geo_daily_schema(), cols)?);
    }
    Ok(out)
}

/// `traffic_hourly` batches by date, rows ordered by hour, status class, method.
pub fn traffic_hourly(acc: &Accumulator) -> Result<BTreeMap<String, RecordBatch>> {
    let mut by_day: BTreeMap<i64, Vec<_>> = BTreeMap::new();
    for (key, t) in &acc.hourly {
        by_day
            .entry(key.0.div_euclid(24))
            .or_default()
            .push((*key, *t));
    }
    let mut out = BTreeMap::new();
    for (day, mut rows) in by_day {
        rows.sort_by_key(|r| r.0);
        let hours =
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.0.0 * 3_600_000_000))
                .with_timezone("UTC");
        let cols: Vec<ArrayRef> = vec![
            Arc::new(hours),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| status_class_name(r.0.1)),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| METHODS[r.0.2 as usize]),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.1.requests),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.1.bytes),
            )),
        ];
        out.insert(
            date_string(day * 86_400),
            batch(traffic_hourly_schema(), cols)?,
        );
    }
    Ok(out)
}

/// Writes one table's batches as `reports/<table>/date=<d>/part-<run>.parquet`, under
/// temporary names: nothing is visible until the caller commits the returned files.
fn write_table(
    out: &Path,
    table: &str,
    run_id: &str,
    batches: &BTreeMap<String, RecordBatch>,
) -> Result<Vec<AtomicFile>> {
    let mut files = Vec::new();
    for (date, batch) in batches {
        let dir = out.join("reports").join(table).join(format!("date={date}"));
        store::ensure_dir(&dir, store::PUBLIC_DIR)?;
        let file = AtomicFile::create(
            &dir.join(format!("part-{run_id}.parquet")),
            store::PUBLIC_FILE,
        )?;
        let perr = |e: parquet::errors::ParquetError| Error::Parquet {
            path: dir.clone(),
            reason: e.to_string(),
        };
        let mut w = ArrowWriter::try_new(
            file,
            batch.schema(),
            Some(writer_properties(table, run_id, Vec::new())),
        )
        .map_err(perr)?;
        w.write(batch).map_err(perr)?;
        files.push(w.into_inner().map_err(perr)?);
    }
    Ok(files)
}

/// Writes every report of a run. All files are written and flushed before the first one is
/// renamed into place, so a failure (a full disk, say) publishes none of them.
pub fn write_all(out: &Path, run_id: &str, acc: &Accumulator) -> Result<Vec<PathBuf>> {
    let mut files = write_table(out, "geo_daily", run_id, &geo_daily(acc)?)?;
    files.extend(write_table(
        out,
        "traffic_hourly",
        run_id,
        &traffic_hourly(acc)?,
    )?);
    files.into_iter().map(AtomicFile::commit).collect()
}
