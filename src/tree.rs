//! Reading report trees back: every `reports/<table>/date=YYYY-MM-DD/*.parquet` of an output
//! tree (of `process` or `merge`) into mergeable raw rows, with the set of runs they hold.
//! Owns the checks of what it reads (schema version, columns, runs counted once); never
//! writes, and never folds or suppresses a row.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{
    Array, BinaryArray, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt64Array,
};
use arrow_schema::SchemaRef;
use datasketches::hll::HllSketch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::agg::{Cell, ReportSet, Totals, Visitors};
use crate::error::{Error, Result};
use crate::parse::time::days_from_civil;
use crate::publish::{RawKey, RawTables};
use crate::reports::{self, SCHEMA_VERSION, SCHEMA_VERSION_KEY};

/// Metadata key listing, comma-separated, every process run whose rows a file holds. Files
/// written by `process` do not carry it: they hold their own `logveil.run_id`.
pub const SOURCE_RUNS_KEY: &str = "logveil.source_runs";
/// Metadata key of the run (or merge) that wrote a file.
pub const RUN_ID_KEY: &str = "logveil.run_id";

/// An output tree read back.
#[derive(Debug, Default)]
pub struct Tree {
    /// Every row of every table, unfolded further.
    pub raw: RawTables,
    /// The process runs whose rows the tree holds.
    pub runs: BTreeSet<String>,
    /// The Parquet files read.
    pub files: Vec<PathBuf>,
}

fn report_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Report {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The schema of a table, by name.
pub fn table_schema(table: &str) -> Option<SchemaRef> {
    Some(match table {
        "geo_daily" => reports::geo_daily_schema(),
        "traffic_hourly" => reports::traffic_hourly_schema(),
        "pages_daily" => reports::pages_daily_schema(),
        "referrers_daily" => reports::referrers_daily_schema(),
        "agents_daily" => reports::agents_daily_schema(),
        _ => return None,
    })
}

/// Days since the epoch of a `date=YYYY-MM-DD` directory name.
pub fn partition_day(name: &str) -> Option<i64> {
    let date: jiff::civil::Date = name.strip_prefix("date=")?.parse().ok()?;
    Some(days_from_civil(
        i64::from(date.year()),
        date.month() as u32,
        date.day() as u32,
    ))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::input(dir, e))? {
        let e = e.map_err(|e| Error::input(dir, e))?;
        v.push(e.path());
    }
    v.sort();
    Ok(v)
}

/// Reads every report table of the output tree `dir`.
///
/// Refuses a file whose schema version is not [`SCHEMA_VERSION`], whose columns are not the
/// table's, or whose runs another file of the same table and day holds already (the same run
/// counted twice).
pub fn read(dir: &Path) -> Result<Tree> {
    let mut tree = Tree::default();
    let root = dir.join("reports");
    if !root.is_dir() {
        return Err(report_err(&root, "not a directory: no reports to read"));
    }
    for table in ReportSet::NAMES {
        let tdir = root.join(table);
        if !tdir.is_dir() {
            continue;
        }
        for part in sorted_entries(&tdir)? {
            let name = part
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') || !part.is_dir() {
                continue;
            }
            let day = partition_day(&name)
                .ok_or_else(|| report_err(&part, "not a date=YYYY-MM-DD partition directory"))?;
            let (runs, files) = read_partition(&part, table, day, &mut tree.raw)?;
            tree.runs.extend(runs);
            tree.files.extend(files);
        }
    }
    Ok(tree)
}

/// Reads every Parquet file of one partition directory (`<table>/date=D/`) into `raw`. Returns
/// the runs its files hold and the files read, and refuses a run held by two of them.
pub fn read_partition(
    part: &Path,
    table: &str,
    day: i64,
    raw: &mut RawTables,
) -> Result<(BTreeSet<String>, Vec<PathBuf>)> {
    let mut held: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut files = Vec::new();
    if !part.is_dir() {
        return Ok((BTreeSet::new(), files));
    }
    for file in sorted_entries(part)? {
        let fname = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if fname.starts_with('.') || !fname.ends_with(".parquet") {
            continue;
        }
        for run in read_file(&file, table, day, raw)? {
            if let Some(first) = held.get(&run) {
                return Err(Error::DuplicateRun {
                    run,
                    first: first.clone(),
                    second: file.clone(),
                });
            }
            held.insert(run, file.clone());
        }
        files.push(file);
    }
    Ok((held.into_keys().collect(), files))
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, i: usize, path: &Path) -> Result<&'a T> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| report_err(path, format!("column {i} has an unexpected type")))
}

/// Reads one Parquet file of `table` for `day` into `raw`; returns the runs it holds.
fn read_file(path: &Path, table: &str, day: i64, raw: &mut RawTables) -> Result<Vec<String>> {
    let f = File::open(path).map_err(|e| Error::input(path, e))?;
    let perr = |e: parquet::errors::ParquetError| Error::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(perr)?;
    let kv: BTreeMap<String, String> = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    match kv.get(SCHEMA_VERSION_KEY) {
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v) => {
            return Err(report_err(
                path,
                format!("schema version {v} is not the one this logveil reads ({SCHEMA_VERSION})"),
            ));
        }
        None => {
            return Err(report_err(
                path,
                format!("no {SCHEMA_VERSION_KEY} metadata: not a logveil report"),
            ));
        }
    }
    if let Some(t) = kv.get("logveil.table")
        && t != table
    {
        return Err(report_err(
            path,
            format!("holds table {t}, found under {table}"),
        ));
    }
    let runs: Vec<String> = match (kv.get(SOURCE_RUNS_KEY), kv.get(RUN_ID_KEY)) {
        (Some(list), _) => list
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
        (None, Some(run)) => vec![run.clone()],
        (None, None) => return Err(report_err(path, "no run id in its metadata")),
    };
    let want = table_schema(table).expect("a known table");
    let got = builder.schema();
    let same = got.fields().len() == want.fields().len()
        && got
            .fields()
            .iter()
            .zip(want.fields())
            .all(|(g, w)| g.name() == w.name() && g.data_type() == w.data_type());
    if !same {
        return Err(report_err(
            path,
            format!("its columns are not those of {table} (schema {SCHEMA_VERSION})"),
        ));
    }
    let reader = builder.build().map_err(perr)?;
    for batch in reader {
        let batch = batch.map_err(|e| Error::Parquet {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if table == "traffic_hourly" {
            read_traffic(&batch, path, raw)?;
        } else {
            read_rows(&batch, path, table, day, raw)?;
        }
    }
    Ok(runs)
}

fn read_traffic(batch: &RecordBatch, path: &Path, raw: &mut RawTables) -> Result<()> {
    let hours = column::<TimestampMicrosecondArray>(batch, 0, path)?;
    let strs: Vec<&StringArray> = (1..4)
        .map(|i| column::<StringArray>(batch, i, path))
        .collect::<Result<_>>()?;
    let requests = column::<UInt64Array>(batch, 4, path)?;
    let bytes = column::<UInt64Array>(batch, 5, path)?;
    for r in 0..batch.num_rows() {
        let hour = hours.value(r).div_euclid(3_600_000_000);
        let dims = strs.iter().map(|a| a.value(r).to_string()).collect();
        raw.traffic_hourly
            .entry((hour, dims))
            .or_default()
            .merge(Totals {
                requests: requests.value(r),
                bytes: bytes.value(r),
            });
    }
    Ok(())
}

/// Reads a table of dimensions, totals and a visitor sketch.
fn read_rows(
    batch: &RecordBatch,
    path: &Path,
    table: &str,
    day: i64,
    raw: &mut RawTables,
) -> Result<()> {
    let schema = batch.schema();
    let has_bytes = schema.index_of("bytes").is_ok();
    let ndims = schema.fields().len() - if has_bytes { 4 } else { 3 };
    let mut dims: Vec<Box<dyn Fn(usize) -> String + '_>> = Vec::new();
    for i in 0..ndims {
        if let Some(s) = batch.column(i).as_any().downcast_ref::<StringArray>() {
            dims.push(Box::new(move |r| s.value(r).to_string()));
        } else {
            let b = column::<BooleanArray>(batch, i, path)?;
            dims.push(Box::new(move |r| b.value(r).to_string()));
        }
    }
    let requests = column::<UInt64Array>(batch, ndims, path)?;
    let bytes = if has_bytes {
        Some(column::<UInt64Array>(batch, ndims + 1, path)?)
    } else {
        None
    };
    let hll = column::<BinaryArray>(batch, schema.fields().len() - 1, path)?;
    let map: &mut BTreeMap<RawKey, Cell> = match table {
        "geo_daily" => &mut raw.geo_daily,
        "pages_daily" => &mut raw.pages_daily,
        "referrers_daily" => &mut raw.referrers_daily,
        _ => &mut raw.agents_daily,
    };
    for r in 0..batch.num_rows() {
        if hll.is_null(r) {
            return Err(report_err(path, format!("row {r} has no visitor sketch")));
        }
        let sketch = HllSketch::deserialize(hll.value(r))
            .map_err(|e| report_err(path, format!("row {r}: bad visitor sketch: {e}")))?;
        let cell = Cell {
            totals: Totals {
                requests: requests.value(r),
                bytes: bytes.map_or(0, |b| b.value(r)),
            },
            visitors: Visitors::from_sketch(sketch),
        };
        let key = (day, dims.iter().map(|d| d(r)).collect());
        map.entry(key).or_default().merge(cell);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_days() {
        assert_eq!(partition_day("date=1970-01-01"), Some(0));
        assert_eq!(partition_day("date=2026-10-08"), Some(20_734));
        assert_eq!(partition_day("date=1969-12-31"), Some(-1));
        assert_eq!(partition_day("2026-10-08"), None);
        assert_eq!(partition_day("date=2026-13-01"), None);
    }
}
