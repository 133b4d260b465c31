//! End-to-end tests of `logveil merge` through the binary, on a log made by `scripts/genlog`
//! and split in three parts processed as three servers sharing a salt file: merging is
//! associative and commutative in content, equals one run over the whole log, refuses a run
//! held twice and a foreign schema version, and suppresses small cells after merging.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use assert_cmd::Command;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::Value;

use logveil::agg::OTHER;
use logveil::tree;

const NOW: &str = "2026-10-08T00:00:00Z";

fn logveil() -> Command {
    Command::cargo_bin("logveil").unwrap()
}

/// Three parts of one generated log, processed with `--k-min 0` under a shared salt file, and
/// the whole log processed the same way.
struct Servers {
    dir: tempfile::TempDir,
    parts: Vec<PathBuf>,
    whole: PathBuf,
    log: PathBuf,
    salt: PathBuf,
}

fn process(log: &Path, out: &Path, salt: &Path, k_min: &str) -> Value {
    let o = logveil()
        .args(["--now", NOW, "-q", "process"])
        .arg(log)
        .arg("--out")
        .arg(out)
        .arg("--salt-file")
        .arg(salt)
        .args(["--k-min", k_min, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn servers() -> Servers {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/genlog");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .args(["--lines", "9000", "--seed", "11", "--days", "2"])
        .args(["--clients", "1500", "--out"])
        .arg(&log)
        .status()
        .expect("python3 runs scripts/genlog");
    assert!(status.success());
    let salt = dir.path().join("salt");
    std::fs::write(&salt, b"a shared secret of the three servers").unwrap();
    let text = std::fs::read(&log).unwrap();
    let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    let mut parts = Vec::new();
    for (i, chunk) in lines.chunks(lines.len().div_ceil(3)).enumerate() {
        let p = dir.path().join(format!("part{i}.log"));
        std::fs::write(&p, chunk.concat()).unwrap();
        let out = dir.path().join(format!("server{i}"));
        process(&p, &out, &salt, "0");
        parts.push(out);
    }
    let whole = dir.path().join("whole");
    process(&log, &whole, &salt, "0");
    Servers {
        dir,
        parts,
        whole,
        log,
        salt,
    }
}

/// Runs `logveil merge`; returns its exit code, JSON manifest (on success) and stderr.
fn merge(inputs: &[&Path], out: &Path, k_min: &str) -> (i32, Value, String) {
    let o = logveil()
        .args(["--now", NOW, "-q", "merge"])
        .args(inputs)
        .arg("--out")
        .arg(out)
        .args(["--k-min", k_min, "--json"])
        .output()
        .unwrap();
    let json = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (
        o.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A merge plan: a server's tree, or a merge of plans under a `--k-min`.
enum Plan {
    S(usize),
    M(&'static str, Vec<Plan>),
}
use Plan::{M, S};

/// Carries out a plan; returns its tree.
fn build(s: &Servers, plan: &Plan, n: &mut usize) -> PathBuf {
    match plan {
        S(i) => s.parts[*i].clone(),
        M(k, plans) => {
            let dirs: Vec<PathBuf> = plans.iter().map(|p| build(s, p, n)).collect();
            *n += 1;
            let out = s.dir.path().join(format!("merge{n}"));
            let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
            let (code, _, err) = merge(&refs, &out, k);
            assert_eq!(code, 0, "{err}");
            out
        }
    }
}

/// A tree's content: (table, day or hour, dims) → (requests, bytes, estimated visitors). The
/// estimate is the sketch's composite one, a function of the sketch's content only (as the
/// published one is).
type Content = BTreeMap<(String, i64, Vec<String>), (u64, u64, u64)>;

fn content(dir: &Path) -> Content {
    let t = tree::read(dir).unwrap();
    let mut c = Content::new();
    let tables = [
        ("geo_daily", &t.raw.geo_daily),
        ("pages_daily", &t.raw.pages_daily),
        ("referrers_daily", &t.raw.referrers_daily),
        ("agents_daily", &t.raw.agents_daily),
    ];
    for (name, rows) in tables {
        for ((day, dims), cell) in rows {
            c.insert(
                (name.to_string(), *day, dims.clone()),
                (
                    cell.totals.requests,
                    cell.totals.bytes,
                    cell.visitors.sketch().composite_estimate().round() as u64,
                ),
            );
        }
    }
    for ((hour, dims), tot) in &t.raw.traffic_hourly {
        c.insert(
            ("traffic_hourly".to_string(), *hour, dims.clone()),
            (tot.requests, tot.bytes, 0),
        );
    }
    c
}

/// Same rows, same requests and bytes; visitors within `tolerance` (relative).
fn check_same(a: &Content, b: &Content, tolerance: f64, what: &str) {
    let ka: Vec<_> = a.keys().collect();
    let kb: Vec<_> = b.keys().collect();
    assert_eq!(ka, kb, "{what}: not the same rows");
    for (k, x) in a {
        let y = &b[k];
        assert_eq!((x.0, x.1), (y.0, y.1), "{what}: totals of {k:?}");
        let diff = x.2.abs_diff(y.2) as f64;
        assert!(
            diff <= tolerance * y.2 as f64,
            "{what}: visitors of {k:?}: {} against {}",
            x.2,
            y.2
        );
    }
}

#[test]
fn merging_is_associative_commutative_and_equals_one_run() {
    let s = servers();
    let whole = content(&s.whole);
    // (plan, plan it must equal exactly, or None for "equals the whole log's run")
    let cases: Vec<(&str, Plan, Option<Plan>)> = vec![
        (
            "flat merge = whole run",
            M("0", vec![S(0), S(1), S(2)]),
            None,
        ),
        (
            "(A+B)+C = A+(B+C)",
            M("0", vec![M("0", vec![S(0), S(1)]), S(2)]),
            Some(M("0", vec![S(0), M("0", vec![S(1), S(2)])])),
        ),
        (
            "C+B+A = A+B+C",
            M("0", vec![S(2), S(1), S(0)]),
            Some(M("0", vec![S(0), S(1), S(2)])),
        ),
        (
            "(A+B)+C = A+B+C",
            M("0", vec![M("0", vec![S(0), S(1)]), S(2)]),
            Some(M("0", vec![S(0), S(1), S(2)])),
        ),
        (
            "merge of one tree = the tree",
            M("0", vec![S(1)]),
            Some(S(1)),
        ),
    ];
    let mut n = 0;
    for (what, plan, expected) in &cases {
        let got = content(&build(&s, plan, &mut n));
        match expected {
            Some(e) => check_same(&got, &content(&build(&s, e, &mut n)), 0.0, what),
            None => check_same(&got, &whole, 0.03, what),
        }
    }
}

/// Published rows with fewer than `k` visitors that are not top-level other-rows.
fn small_rows(c: &Content, k: u64) -> Vec<String> {
    let top = |t: &str, d: &[String]| match t {
        "geo_daily" => d[0] == OTHER && d[1] == OTHER,
        "pages_daily" => d[0] == OTHER && d[1] == OTHER,
        "referrers_daily" => d[0] == OTHER,
        _ => d[0] == OTHER && d[1].is_empty() && d[2] == OTHER,
    };
    c.iter()
        .filter(|((t, _, d), v)| t != "traffic_hourly" && v.2 > 0 && v.2 < k && !top(t, d))
        .map(|(k, v)| format!("{k:?} {v:?}"))
        .collect()
}

#[test]
fn suppression_applies_after_merging() {
    let s = servers();
    let out = s.dir.path().join("merged");
    let refs: Vec<&Path> = s.parts.iter().map(PathBuf::as_path).collect();
    let (code, manifest, err) = merge(&refs, &out, "10");
    assert_eq!(code, 0, "{err}");
    // Every part published small rows (k-min 0); the merge folded some.
    let folded = &manifest["folded"]["geo_daily"];
    assert!(
        folded["suppressed_rows"].as_u64().unwrap() > 0,
        "{manifest}"
    );
    let merged = content(&out);
    let small = small_rows(&merged, 10);
    assert!(small.is_empty(), "small rows published: {small:?}");
    // No request lost: per table and day, the sums equal the whole log's.
    let sums = |c: &Content| {
        let mut m: BTreeMap<(String, i64), (u64, u64)> = BTreeMap::new();
        for ((t, d, _), v) in c {
            let day = if t == "traffic_hourly" {
                d.div_euclid(24)
            } else {
                *d
            };
            let e = m.entry((t.clone(), day)).or_default();
            e.0 += v.0;
            e.1 += v.1;
        }
        m
    };
    assert_eq!(sums(&merged), sums(&content(&s.whole)));
    // The same tree as suppressing one run over the whole log.
    let whole10 = s.dir.path().join("whole10");
    process(&s.log, &whole10, &s.salt, "10");
    let w = content(&whole10);
    let geo = |c: &Content| -> Vec<(i64, Vec<String>, u64)> {
        c.iter()
            .filter(|((t, _, _), _)| t == "geo_daily")
            .map(|((_, d, dims), v)| (*d, dims.clone(), v.0))
            .collect()
    };
    assert_eq!(geo(&merged), geo(&w));
}

#[test]
fn a_run_held_twice_is_refused() {
    let s = servers();
    let d = s.dir.path();
    let ab = d.join("ab");
    let (code, manifest, err) = merge(&[&s.parts[0], &s.parts[1]], &ab, "0");
    assert_eq!(code, 0, "{err}");
    let mut runs: Vec<String> = manifest["source_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    runs.sort();
    let mut expected: Vec<String> = s
        .parts
        .iter()
        .take(2)
        .map(|p| tree::read(p).unwrap().runs.into_iter().next().unwrap())
        .collect();
    expected.sort();
    assert_eq!(runs, expected);
    assert_eq!(tree::read(&ab).unwrap().runs.len(), 2);
    // Both runs shared a salt file: nothing to warn of, and a merge of the merge knows it.
    assert_eq!(manifest["warnings"], serde_json::json!([]));
    let (code, abc, err) = merge(&[&ab, &s.parts[2]], &d.join("abc"), "0");
    assert_eq!(code, 0, "{err}");
    let salts: Vec<&str> = abc["run_salts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(salts, ["shared-secret"; 3]);
    // (inputs, what the error must say)
    let cases: Vec<(Vec<&Path>, &str)> = vec![
        (vec![&s.parts[0], &s.parts[0]], "counted twice"),
        (vec![&ab, &s.parts[1]], "counted twice"),
        (vec![&s.parts[2], &ab, &s.parts[0]], "counted twice"),
        (vec![&s.whole, &s.parts[0], &s.whole], "counted twice"),
    ];
    for (i, (inputs, msg)) in cases.iter().enumerate() {
        let out = d.join(format!("refused{i}"));
        let (code, _, err) = merge(inputs, &out, "0");
        assert_eq!(code, 2, "case {i}: {err}");
        assert!(err.contains(msg), "case {i}: {err}");
        assert!(!out.join("reports").exists(), "case {i} wrote reports");
    }
    // Into a tree that holds reports already.
    let (code, _, err) = merge(&[&s.parts[2]], &ab, "0");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("holds reports already"), "{err}");
}

/// Rewrites a report file with another schema version in its metadata.
fn restamp(file: &Path, version: &str) {
    let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap()).unwrap();
    let kv: Vec<KeyValue> = r
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|k| {
            if k.key == "logveil.schema_version" {
                KeyValue::new(k.key.clone(), version.to_string())
            } else {
                k.clone()
            }
        })
        .collect();
    let schema = r.schema().clone();
    let batches: Vec<_> = r.build().unwrap().map(Result::unwrap).collect();
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(kv))
        .build();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(file).unwrap(),
        Arc::clone(&schema),
        Some(props),
    )
    .unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

#[test]
fn an_unknown_schema_version_is_refused() {
    let s = servers();
    let part = tree::read(&s.parts[1]).unwrap();
    let file = part
        .files
        .iter()
        .find(|f| f.to_string_lossy().contains("pages_daily"))
        .unwrap()
        .clone();
    restamp(&file, "99");
    let out = s.dir.path().join("refused");
    let (code, _, err) = merge(&[&s.parts[0], &s.parts[1]], &out, "0");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("schema version 99"), "{err}");
    assert!(!out.join("reports").exists());
}
