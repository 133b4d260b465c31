//! The day store (`state/days/<table>/date=D/`): every report row of each day still within the
//! retention, unfolded, with the runs it holds, so that a run republishes each day it touches
//! from everything counted for that day (visitors unioned across runs, suppression and top-N
//! bounds applied to the day's whole). Owns that store, its files' expiry and the choice of
//! what a republication replaces; never writes outside the run's staging tree, and never
//! publishes a row that has not gone through `publish::apply`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::agg::ReportSet;
use crate::error::{Error, Result};
use crate::parse::time::date_string;
use crate::publish::{self, RawKey, RawTables, Rules, Tables};
use crate::reports::{self, Parts};
use crate::store;
use crate::tree::{self, SOURCE_RUNS_KEY};
use crate::txn::Txn;

/// The day store, relative to the output tree.
pub const DIR: &str = "state/days";

/// The name of a day's file, in the store and in `reports/`: fixed, so that the rename that
/// publishes a day replaces its previous file atomically (a reader sees the old day or the
/// new one, never both).
pub const DAY_FILE: &str = "part-00000.parquet";

/// Rows kept per day in the store for the bounded tables (pages, referrers); the rest are
/// folded into their parent's `(other)` row, as the accumulators' own memory bound does.
pub const STORE_BOUND: usize = 16 * 1024;

/// What a run published after republishing the days it touched.
#[derive(Debug, Default)]
pub struct Republished {
    /// The tables of every touched day, as published.
    pub tables: Tables,
    /// The report files written (in the staging tree).
    pub files: Vec<PathBuf>,
    /// Per table and date (`YYYY-MM-DD`), how many earlier runs the day already held.
    pub days: BTreeMap<String, BTreeMap<String, usize>>,
}

/// The days (since the epoch) that `table` of `raw` has rows for.
fn days_of(raw: &RawTables, table: &str) -> BTreeSet<i64> {
    let keys = |m: &BTreeMap<RawKey, _>| m.keys().map(|k| k.0).collect::<BTreeSet<i64>>();
    match table {
        "geo_daily" => keys(&raw.geo_daily),
        "traffic_hourly" => raw
            .traffic_hourly
            .keys()
            .map(|(hour, _)| hour.div_euclid(24))
            .collect(),
        "pages_daily" => keys(&raw.pages_daily),
        "referrers_daily" => keys(&raw.referrers_daily),
        _ => keys(&raw.agents_daily),
    }
}

fn selected(set: ReportSet, table: &str) -> bool {
    match table {
        "geo_daily" => set.geo_daily,
        "traffic_hourly" => set.traffic_hourly,
        "pages_daily" => set.pages_daily,
        "referrers_daily" => set.referrers_daily,
        _ => set.agents_daily,
    }
}

/// Moves the rows of `table` from `from` into `into`.
fn take_table(into: &mut RawTables, from: &mut RawTables, table: &str) {
    let mut part = RawTables::default();
    match table {
        "geo_daily" => part.geo_daily = std::mem::take(&mut from.geo_daily),
        "traffic_hourly" => part.traffic_hourly = std::mem::take(&mut from.traffic_hourly),
        "pages_daily" => part.pages_daily = std::mem::take(&mut from.pages_daily),
        "referrers_daily" => part.referrers_daily = std::mem::take(&mut from.referrers_daily),
        _ => part.agents_daily = std::mem::take(&mut from.agents_daily),
    }
    into.merge(part);
}

fn relative(out: &Path, p: &Path) -> Result<PathBuf> {
    p.strip_prefix(out)
        .map(Path::to_path_buf)
        .map_err(|_| Error::Internal(format!("{} is outside the output tree", p.display())))
}

/// Everything a republication needs besides the run's own rows.
pub struct Context<'a> {
    pub out: &'a Path,
    pub stage: &'a Path,
    pub run_id: &'a str,
    pub set: ReportSet,
    pub rules: Rules,
    pub retention_secs: i64,
    pub now: i64,
}

/// Republishes every day that `run` has rows for: the day's stored rows (or, when the store no
/// longer holds the day, the rows of its published files) merged with the run's, published
/// through [`publish::apply`] into one file per table and day, and stored again while the day
/// is within the retention. The files they replace are deleted when `txn` commits.
pub fn republish(ctx: &Context<'_>, txn: &mut Txn, mut run: RawTables) -> Result<Republished> {
    let mut merged = RawTables::default();
    let mut runs: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut result = Republished::default();
    let bounded = std::mem::take(&mut run.bounded);
    for table in ReportSet::NAMES {
        if !selected(ctx.set, table) {
            continue;
        }
        for day in days_of(&run, table) {
            let date = date_string(day * 86_400);
            let part = format!("date={date}");
            let stored = ctx.out.join(DIR).join(table).join(&part);
            let published = ctx.out.join("reports").join(table).join(&part);
            let mut base = RawTables::default();
            let (mut held, stored_files) = tree::read_partition(&stored, table, day, &mut base)?;
            let mut published_base = RawTables::default();
            let (published_runs, published_files) =
                tree::read_partition(&published, table, day, &mut published_base)?;
            if stored_files.is_empty() {
                // The store no longer holds the day (expired, or written before it existed):
                // start from what was published, already folded.
                base = published_base;
                held = published_runs;
            } else if !published_runs.is_subset(&held) {
                return Err(Error::Report {
                    path: published,
                    reason: format!(
                        "holds runs that {} does not; remove the stray file or the day's state",
                        stored.display()
                    ),
                });
            }
            if held.contains(ctx.run_id) {
                return Err(Error::Internal(format!(
                    "run {} is already in {date}",
                    ctx.run_id
                )));
            }
            for f in stored_files.iter().chain(&published_files) {
                txn.delete_on_commit(&relative(ctx.out, f)?)?;
            }
            result
                .days
                .entry(table.to_string())
                .or_default()
                .insert(date.clone(), held.len());
            held.insert(ctx.run_id.to_string());
            runs.insert((table.to_string(), date), held);
            take_table(&mut merged, &mut base, table);
        }
    }
    merged.merge(run);
    merged.bounded = bounded;

    let runs_of = |table: &str, date: &str| -> Vec<(String, String)> {
        let list = runs
            .get(&(table.to_string(), date.to_string()))
            .map(|r| r.iter().cloned().collect::<Vec<_>>().join(","))
            .unwrap_or_else(|| ctx.run_id.to_string());
        vec![(SOURCE_RUNS_KEY.to_string(), list)]
    };

    // The store keeps the unfolded rows of days within the retention, bounded in size.
    let mut keep = merged.clone();
    let expiry = |day: i64| day * 86_400 + ctx.retention_secs;
    let live = |k: &RawKey| expiry(k.0) > ctx.now;
    keep.geo_daily.retain(|k, _| live(k));
    keep.pages_daily.retain(|k, _| live(k));
    keep.referrers_daily.retain(|k, _| live(k));
    keep.agents_daily.retain(|k, _| live(k));
    keep.traffic_hourly
        .retain(|(hour, _), _| expiry(hour.div_euclid(24)) > ctx.now);
    keep.bounded.clear();
    let store_rules = Rules {
        k_min: 0,
        top_pages: STORE_BOUND,
        top_referrers: STORE_BOUND,
    };
    let stored = publish::apply(keep, store_rules);
    let root = ctx.stage.join(DIR);
    let store_extra = |table: &str, date: &str| {
        let mut kv = runs_of(table, date);
        let day = tree::partition_day(&format!("date={date}")).unwrap_or(0);
        let expires = expiry(day);
        kv.push((
            crate::diag::EXPIRES_AT.to_string(),
            jiff::Timestamp::from_second(expires)
                .map(|t| t.to_string())
                .unwrap_or_default(),
        ));
        kv
    };
    store::ensure_dir(&ctx.stage.join("state"), store::PRIVATE_DIR)?;
    store::ensure_dir(&root, store::PRIVATE_DIR)?;
    reports::write_parts(
        &Parts {
            root: &root,
            dir_mode: store::PRIVATE_DIR,
            file_mode: store::PRIVATE_FILE,
            extra: &store_extra,
            name: Some(DAY_FILE),
        },
        ctx.run_id,
        &stored,
    )?;

    result.tables = publish::apply(merged, ctx.rules);
    let reports_root = ctx.stage.join("reports");
    result.files = reports::write_parts(
        &Parts {
            root: &reports_root,
            dir_mode: store::PUBLIC_DIR,
            file_mode: store::PUBLIC_FILE,
            extra: &runs_of,
            name: Some(DAY_FILE),
        },
        ctx.run_id,
        &result.tables,
    )?;
    Ok(result)
}

/// One file of the day store, as listed by `audit`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredDay {
    pub table: String,
    pub date: String,
    pub path: PathBuf,
    /// Unix seconds; `None` when the file has no readable expiry.
    pub expires_at: Option<i64>,
    pub bytes: u64,
}

/// Every file of the day store under `out`, by table and date.
pub fn stored(out: &Path) -> Result<Vec<StoredDay>> {
    let mut v = Vec::new();
    let root = out.join(DIR);
    for table in ReportSet::NAMES {
        let Ok(parts) = std::fs::read_dir(root.join(table)) else {
            continue;
        };
        let mut parts: Vec<PathBuf> = parts.flatten().map(|e| e.path()).collect();
        parts.sort();
        for part in parts {
            let Some(date) = part
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("date="))
                .map(str::to_string)
            else {
                continue;
            };
            let Ok(files) = std::fs::read_dir(&part) else {
                continue;
            };
            let mut files: Vec<PathBuf> = files.flatten().map(|e| e.path()).collect();
            files.sort();
            for path in files {
                if path.extension().and_then(|e| e.to_str()) != Some("parquet") {
                    continue;
                }
                let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                v.push(StoredDay {
                    table: table.to_string(),
                    date: date.clone(),
                    expires_at: crate::diag::expires_at(&path).ok().flatten(),
                    path,
                    bytes,
                });
            }
        }
    }
    Ok(v)
}

/// Deletes every file of the day store whose expiry is at or before `now` (with the day's
/// diagnostics and salt), and temporaries left by a crash. Returns the files deleted.
pub fn purge(out: &Path, now: i64) -> Result<Vec<PathBuf>> {
    let mut deleted = Vec::new();
    for s in stored(out)? {
        match s.expires_at {
            Some(exp) if exp <= now => {
                if store::remove_file(&s.path)? {
                    deleted.push(s.path.clone());
                }
                if let Some(dir) = s.path.parent() {
                    store::remove_dir_if_empty(dir);
                }
            }
            Some(_) => {}
            None => eprintln!("warning: cannot read expiry of {}", s.path.display()),
        }
    }
    let root = out.join(DIR);
    for table in ReportSet::NAMES {
        if let Ok(parts) = std::fs::read_dir(root.join(table)) {
            for p in parts.flatten() {
                if p.path().is_dir() {
                    store::remove_stale_temps(&p.path())?;
                }
            }
        }
    }
    Ok(deleted)
}
