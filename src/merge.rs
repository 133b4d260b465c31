//! `logveil merge`: report trees of several runs (servers, or earlier merges) read back, summed
//! and unioned row by row, published again under the same rules, and written as a new tree
//! with a merge manifest. Owns the refusal of a run counted twice; never reads diagnostics or
//! state, and never writes but through `reports`, `manifest` and `store`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::manifest;
use crate::publish::{self, Folded, RawTables, Rules};
use crate::reports;
use crate::tree::{self, SOURCE_RUNS_KEY};

/// What to merge, where, under which rules.
#[derive(Debug, Clone)]
pub struct Options {
    /// Output trees of `process` or of `merge`.
    pub inputs: Vec<PathBuf>,
    /// The new tree; it must not hold reports yet.
    pub out: PathBuf,
    /// The rules applied after merging (`k_min` 0 for an intermediate merge).
    pub rules: Rules,
    /// Seconds since the epoch, for the merge id.
    pub now: i64,
}

/// One input of a merge.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MergeInput {
    pub path: String,
    /// The process runs its reports hold.
    pub runs: Vec<String>,
    pub files: usize,
}

/// The visitor-salt mode of each run an input tree's manifests describe: a run's own
/// `publication.visitor_salts`, or what a merge manifest recorded of its source runs.
fn run_salts(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir.join("runs")) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if let (Some(id), Some(mode)) = (
            v["run_id"].as_str(),
            v["publication"]["visitor_salts"].as_str(),
        ) {
            out.insert(id.to_string(), mode.to_string());
        }
        if let Some(m) = v["run_salts"].as_object() {
            for (id, mode) in m {
                if let Some(mode) = mode.as_str() {
                    out.insert(id.clone(), mode.to_string());
                }
            }
        }
    }
    out
}

/// The manifest of a merge, `runs/<merge-id>.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MergeSummary {
    pub run_id: String,
    /// Always `merge`.
    pub kind: &'static str,
    pub tool: &'static str,
    pub tool_version: &'static str,
    pub schema_version: &'static str,
    pub now: String,
    pub inputs: Vec<MergeInput>,
    /// Every process run the merged reports hold, once each (also in each Parquet file's
    /// `logveil.source_runs` metadata).
    pub source_runs: Vec<String>,
    /// The visitor-salt mode of each source run (`shared-secret`, `random-daily`, or
    /// `unknown` when its manifest was not found).
    pub run_salts: BTreeMap<String, String>,
    /// What the reader should know: sketches that cannot match across runs.
    pub warnings: Vec<String>,
    pub reports: Vec<String>,
    pub rules: Rules,
    /// What the rules folded into `(other)` rows after merging, per table.
    pub folded: BTreeMap<&'static str, Folded>,
}

/// Whether `out` holds a Parquet file under `reports/` already.
fn holds_reports(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            holds_reports(&p)
        } else {
            p.extension().is_some_and(|x| x == "parquet")
        }
    })
}

/// Reads every input, refuses a run held twice, merges, applies the rules and writes the
/// merged tree under `opts.out`.
pub fn run(opts: &Options) -> Result<MergeSummary> {
    if opts.inputs.is_empty() {
        return Err(Error::Usage("merge needs at least one input tree".into()));
    }
    if holds_reports(&opts.out.join("reports")) {
        return Err(Error::Usage(format!(
            "{} holds reports already; merge into a new directory",
            opts.out.display()
        )));
    }
    let mut raw = RawTables::default();
    let mut inputs = Vec::new();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut salts = BTreeMap::new();
    for dir in &opts.inputs {
        let t = tree::read(dir)?;
        let known = run_salts(dir);
        for run in &t.runs {
            let mode = known.get(run).map_or("unknown", String::as_str);
            salts.insert(run.clone(), mode.to_string());
        }
        if t.files.is_empty() {
            return Err(Error::Usage(format!(
                "{} holds no report file under reports/",
                dir.display()
            )));
        }
        for run in &t.runs {
            if let Some(first) = seen.get(run) {
                return Err(Error::DuplicateRun {
                    run: run.clone(),
                    first: first.clone(),
                    second: dir.clone(),
                });
            }
            seen.insert(run.clone(), dir.clone());
        }
        inputs.push(MergeInput {
            path: dir.display().to_string(),
            runs: t.runs.iter().cloned().collect(),
            files: t.files.len(),
        });
        raw.merge(t.raw);
    }
    let source_runs: BTreeSet<String> = seen.into_keys().collect();
    let random: Vec<&str> = salts
        .iter()
        .filter(|(_, m)| *m == "random-daily")
        .map(|(r, _)| r.as_str())
        .collect();
    let mut warnings = Vec::new();
    if source_runs.len() > 1 && !random.is_empty() {
        warnings.push(format!(
            "runs {} used random daily salts: their visitor sketches cannot match other runs', \
             so a visitor seen by several runs is counted once per run (run servers with a \
             shared --salt-file)",
            random.join(", ")
        ));
    }
    let tables = publish::apply(raw, opts.rules);
    let run_id = manifest::new_run_id(opts.now);
    let list = source_runs.iter().cloned().collect::<Vec<_>>().join(",");
    let files = reports::write_all_with(
        &opts.out,
        &run_id,
        &tables,
        &[(SOURCE_RUNS_KEY.to_string(), list)],
    )?;
    let summary = MergeSummary {
        run_id,
        kind: "merge",
        tool: "logveil",
        tool_version: env!("CARGO_PKG_VERSION"),
        schema_version: reports::SCHEMA_VERSION,
        now: jiff::Timestamp::from_second(opts.now)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        inputs,
        source_runs: source_runs.into_iter().collect(),
        run_salts: salts,
        warnings,
        reports: files
            .iter()
            .map(|p| p.strip_prefix(&opts.out).unwrap_or(p).display().to_string())
            .collect(),
        rules: opts.rules,
        folded: tables.folded,
    };
    manifest::write_json(&opts.out, &summary.run_id, &summary)?;
    Ok(summary)
}

/// The human summary printed on stderr.
pub fn human(s: &MergeSummary) -> String {
    let mut out = String::new();
    for w in &s.warnings {
        out += &format!("warning: {w}\n");
    }
    for i in &s.inputs {
        out += &format!(
            "input {}: {} runs, {} report files\n",
            i.path,
            i.runs.len(),
            i.files
        );
    }
    let (rows, requests) = s.folded.values().fold((0, 0), |(r, q), f| {
        (r + f.suppressed_rows, q + f.suppressed_requests)
    });
    out += &format!(
        "suppression (k = {}): {rows} small rows with {requests} requests folded into (other) rows\n",
        s.rules.k_min
    );
    out += &format!(
        "merge {}: {} runs, {} report files published\n",
        s.run_id,
        s.source_runs.len(),
        s.reports.len()
    );
    out
}
