//! End-to-end tests of `logveil process` on logs made by `scripts/genlog`: report totals equal
//! the generator's truth exactly, every read path gives the same reports, no input address
//! leaks outside `diagnostics/`, diagnostics are private and expire, and a wrong format
//! publishes nothing.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use assert_cmd::Command;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::FileReader;
use serde_json::Value;

const NOW: &str = "2026-10-08T00:00:00Z";

struct Generated {
    _dir: tempfile::TempDir,
    log: PathBuf,
    truth: Value,
}

/// Runs `scripts/genlog` (deterministic) into a temporary directory.
fn genlog(lines: usize, seed: u32, extra: &[&str]) -> Generated {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let truth = dir.path().join("truth.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/genlog");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .args([
            "--lines",
            &lines.to_string(),
            "--seed",
            &seed.to_string(),
            "--start",
            "2026-10-05",
            "--days",
            "3",
        ])
        .args(extra)
        .arg("--out")
        .arg(&log)
        .arg("--truth")
        .arg(&truth)
        .status()
        .expect("python3 runs scripts/genlog");
    assert!(status.success(), "genlog failed");
    let truth = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    Generated {
        _dir: dir,
        log,
        truth,
    }
}

fn logveil() -> Command {
    Command::cargo_bin("logveil").unwrap()
}

/// Runs `process` and returns the JSON summary.
fn process(inputs: &[&Path], out: &Path, args: &[&str]) -> Value {
    let output = logveil()
        .arg("--now")
        .arg(NOW)
        .arg("process")
        .args(inputs)
        .arg("--out")
        .arg(out)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "process failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Every batch of every `part-*.parquet` of a table, with its `date=` partition.
fn read_table(out: &Path, table: &str) -> Vec<(String, RecordBatch)> {
    let mut batches = Vec::new();
    let root = out.join("reports").join(table);
    let mut days: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    days.sort();
    for day in days {
        let date = day
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("date=")
            .to_string();
        for f in std::fs::read_dir(&day).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            assert!(
                name.starts_with("part-") && name.ends_with(".parquet"),
                "unexpected file {name}"
            );
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f.path()).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            for b in reader {
                batches.push((date.clone(), b.unwrap()));
            }
        }
    }
    batches
}

fn u64s<'a>(b: &'a RecordBatch, col: &str) -> impl Iterator<Item = u64> + 'a {
    b.column_by_name(col)
        .unwrap()
        .as_primitive::<UInt64Type>()
        .values()
        .iter()
        .copied()
}

fn strings(b: &RecordBatch, col: &str) -> Vec<String> {
    b.column_by_name(col)
        .unwrap()
        .as_string::<i32>()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect()
}

/// Report totals by date, status class and hour, as the truth file states them.
#[derive(Debug, PartialEq, Default)]
struct Totals {
    by_date: BTreeMap<String, (u64, u64)>,
    by_status_class: BTreeMap<String, u64>,
    by_hour: BTreeMap<String, u64>,
    by_method: BTreeMap<String, u64>,
}

fn report_totals(out: &Path) -> Totals {
    let mut t = Totals::default();
    for (date, b) in read_table(out, "geo_daily") {
        let e = t.by_date.entry(date).or_default();
        e.0 += u64s(&b, "requests").sum::<u64>();
        e.1 += u64s(&b, "bytes").sum::<u64>();
    }
    for (date, b) in read_table(out, "traffic_hourly") {
        let hours = b
            .column_by_name("hour")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let classes = strings(&b, "status_class");
        let methods = strings(&b, "method");
        for (i, req) in u64s(&b, "requests").enumerate() {
            let h = jiff::Timestamp::from_microsecond(hours.value(i)).unwrap();
            let hour = h.strftime("%Y-%m-%dT%H").to_string();
            assert!(
                hour.starts_with(&date),
                "hour {hour} filed under date={date}"
            );
            *t.by_hour.entry(hour).or_default() += req;
            *t.by_status_class.entry(classes[i].clone()).or_default() += req;
            *t.by_method.entry(methods[i].clone()).or_default() += req;
        }
    }
    t
}

fn truth_totals(truth: &Value) -> Totals {
    let map = |v: &Value| -> BTreeMap<String, u64> {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    };
    Totals {
        by_date: truth["by_date"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    (
                        v["requests"].as_u64().unwrap(),
                        v["bytes"].as_u64().unwrap(),
                    ),
                )
            })
            .collect(),
        by_status_class: map(&truth["by_status_class"]),
        by_hour: map(&truth["by_hour"]),
        by_method: map(&truth["by_method"]),
    }
}

#[test]
fn report_totals_equal_the_generators_truth() {
    let g = genlog(30_000, 11, &[]);
    let out = tempfile::tempdir().unwrap();
    let s = process(&[&g.log], out.path(), &["--chunk-size", "65536"]);
    assert_eq!(s["lines"], g.truth["lines"]);
    assert_eq!(s["parsed"], g.truth["valid"]);
    assert_eq!(s["rejected"], g.truth["malformed"]);
    assert_eq!(s["published"], true);
    assert_eq!(report_totals(out.path()), truth_totals(&g.truth));
}

#[test]
fn mmap_read_and_stdin_paths_give_the_same_reports() {
    let g = genlog(20_000, 5, &["--xff"]);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let sa = process(&[&g.log], a.path(), &["--chunk-size", "40000"]);
    let sb = process(
        &[&g.log],
        b.path(),
        &["--chunk-size", "50000", "--no-mmap", "--threads", "1"],
    );
    assert_eq!(sa["inputs"][0]["read_mode"], "mmap");
    assert_eq!(sb["inputs"][0]["read_mode"], "read");
    let output = logveil()
        .args(["--now", NOW, "process", "-", "--json", "--out"])
        .arg(c.path())
        .pipe_stdin(&g.log)
        .unwrap()
        .output()
        .unwrap();
    assert!(output.status.success());
    let sc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        sa["inputs"][0]["fingerprint"],
        sb["inputs"][0]["fingerprint"]
    );
    assert_eq!(
        sa["inputs"][0]["fingerprint"],
        sc["inputs"][0]["fingerprint"]
    );
    for s in [&sb, &sc] {
        assert_eq!(s["parsed"], sa["parsed"]);
        assert_eq!(s["rejected_by_reason"], sa["rejected_by_reason"]);
    }
    let ta = report_totals(a.path());
    assert_eq!(ta, report_totals(b.path()));
    assert_eq!(ta, report_totals(c.path()));
    assert_eq!(ta, truth_totals(&g.truth));
    let geo = |o: &Path| {
        let mut rows: Vec<(String, String, String, u64)> = Vec::new();
        for (d, b) in read_table(o, "geo_daily") {
            let (cont, ctry) = (strings(&b, "continent"), strings(&b, "country"));
            for (i, r) in u64s(&b, "requests").enumerate() {
                rows.push((d.clone(), cont[i].clone(), ctry[i].clone(), r));
            }
        }
        rows.sort();
        rows
    };
    assert_eq!(geo(a.path()), geo(b.path()));
    assert_eq!(geo(a.path()), geo(c.path()));
}

#[test]
fn no_input_address_leaks_outside_diagnostics() {
    let g = genlog(20_000, 3, &["--xff", "--malformed-rate", "0.01"]);
    let out = tempfile::tempdir().unwrap();
    process(&[&g.log], out.path(), &["--diagnostics", "all"]);
    let addrs: Vec<IpAddr> = common::addresses_in(&std::fs::read(&g.log).unwrap());
    assert!(
        addrs.len() > 1000,
        "the generated log holds many addresses ({})",
        addrs.len()
    );
    common::assert_no_leak(out.path(), &addrs);
    // ...and the diagnostics store does hold them, so the scan is not vacuous.
    let diag_rows = diagnostics_rows(out.path());
    assert_eq!(diag_rows.len() as u64, g.truth["lines"].as_u64().unwrap());
}

/// (client_ip, line_number, reject_reason) of every diagnostics row.
fn diagnostics_rows(out: &Path) -> Vec<(Option<String>, u64, Option<String>)> {
    let mut rows = Vec::new();
    for day in std::fs::read_dir(out.join("diagnostics"))
        .unwrap()
        .flatten()
    {
        for f in std::fs::read_dir(day.path()).unwrap().flatten() {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f.path()).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            for b in reader {
                let b = b.unwrap();
                let ip = b.column_by_name("client_ip").unwrap().as_string::<i32>();
                let reason = b
                    .column_by_name("reject_reason")
                    .unwrap()
                    .as_string::<i32>();
                for (i, line) in u64s(&b, "line_number").enumerate() {
                    rows.push((
                        ip.is_valid(i).then(|| ip.value(i).to_string()),
                        line,
                        reason.is_valid(i).then(|| reason.value(i).to_string()),
                    ));
                }
            }
        }
    }
    rows.sort_by_key(|r| r.1);
    rows
}

#[test]
fn diagnostics_are_private_numbered_and_expire() {
    let g = genlog(20_000, 9, &["--malformed-rate", "0.01"]);
    let out = tempfile::tempdir().unwrap();
    // Small chunks on two threads, so line numbering crosses many chunk boundaries.
    let s = process(
        &[&g.log],
        out.path(),
        &["--chunk-size", "30000", "--threads", "2"],
    );
    let diag = out.path().join("diagnostics");
    assert_eq!(
        std::fs::metadata(&diag).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let mut files = 0;
    for day in std::fs::read_dir(&diag).unwrap().flatten() {
        assert_eq!(day.metadata().unwrap().permissions().mode() & 0o777, 0o700);
        for f in std::fs::read_dir(day.path()).unwrap().flatten() {
            files += 1;
            assert_eq!(
                f.metadata().unwrap().permissions().mode() & 0o777,
                0o600,
                "{:?}",
                f.path()
            );
            let r = parquet::file::serialized_reader::SerializedFileReader::new(
                std::fs::File::open(f.path()).unwrap(),
            )
            .unwrap();
            let kv = r.metadata().file_metadata().key_value_metadata().unwrap();
            assert!(
                kv.iter().any(|k| k.key == "expires_at"),
                "expires_at in metadata"
            );
            assert!(
                kv.iter().any(|k| k.key == "logveil.schema_version"),
                "schema version in metadata"
            );
        }
    }
    assert!(files >= 3);
    // Rejected lines carry their real line numbers.
    let rows = diagnostics_rows(out.path());
    let rejected: Vec<u64> = rows.iter().filter(|r| r.2.is_some()).map(|r| r.1).collect();
    let expected: Vec<u64> = g.truth["malformed_line_numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(rejected, expected);
    assert_eq!(
        s["diagnostics"]["rows_written"].as_u64().unwrap(),
        rows.len() as u64
    );
    // Every error response is kept, and only those (plus rejects).
    let errors: u64 = ["4xx", "5xx"]
        .iter()
        .map(|c| g.truth["by_status_class"][c].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(rows.iter().filter(|r| r.2.is_none()).count() as u64, errors);

    // Data of 2026-10-05 expires at 2026-10-12T00:00Z with the default 7 days.
    let purge = |now: &str| {
        logveil()
            .args(["--now", now, "purge", "--out"])
            .arg(out.path())
            .assert()
            .success()
    };
    purge("2026-10-11T23:59:59Z");
    assert!(diag.join("date=2026-10-05").exists());
    purge("2026-10-12T00:00:00Z");
    assert!(!diag.join("date=2026-10-05").exists(), "expired day purged");
    assert!(diag.join("date=2026-10-06").exists());
    // A later run purges too, before it writes.
    let other = genlog(100, 2, &["--start", "2026-10-20", "--days", "1"]);
    logveil()
        .args(["--now", "2026-10-21T00:00:00Z", "process", "-q", "--out"])
        .arg(out.path())
        .arg(&other.log)
        .assert()
        .success();
    assert!(
        !diag.join("date=2026-10-07").exists(),
        "expired days purged by the next run"
    );
    assert!(diag.join("date=2026-10-20").exists());
}

#[test]
fn a_wrong_format_publishes_nothing_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("error.log");
    let mut text = String::new();
    for i in 0..100 {
        text += &format!(
            "[Sun Oct 05 10:00:{:02} 2026] [error] [client 198.51.100.{i}] File does not exist\n",
            i % 60
        );
    }
    std::fs::write(&log, text).unwrap();
    let out = dir.path().join("out");
    // With the format given (no detection), the reject-rate gate stops the run.
    let output = logveil()
        .args(["--now", NOW, "process", "--format", "combined"])
        .arg(&log)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("check-format") && stderr.contains("no report was published"),
        "{stderr}"
    );
    assert!(!out.join("reports").exists());
    common::assert_no_leak(&out, &common::addresses_in(&std::fs::read(&log).unwrap()));
}

#[test]
fn usage_and_runtime_errors_have_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    logveil()
        .args(["process", "--ipv4-prefix", "40", "x.log"])
        .assert()
        .code(2);
    logveil()
        .args(["--now", "yesterday", "process", "x.log"])
        .assert()
        .code(2);
    logveil()
        .args(["process", "--retention", "7x", "x.log"])
        .assert()
        .code(2);
    logveil()
        .arg("process")
        .arg(dir.path().join("missing.log"))
        .arg("--out")
        .arg(dir.path().join("o"))
        .assert()
        .code(1);
}

#[test]
fn blank_and_crlf_lines_and_a_missing_final_newline() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    let line =
        r#"203.0.113.9 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8.0""#;
    std::fs::write(&log, format!("{line}\r\n\r\n\n{line}\r\n{line}")).unwrap();
    let out = dir.path().join("out");
    let s = process(&[&log], &out, &[]);
    // The unterminated last line may still be being written: it is left for a later run.
    assert_eq!(s["lines"], 4);
    assert_eq!(s["blank"], 2);
    assert_eq!(s["parsed"], 2);
    assert_eq!(s["rejected"], 0);
    assert_eq!(s["inputs"][0]["pending_bytes"], line.len());
    // Once it is complete, the next run counts it, and only it.
    std::fs::write(&log, format!("{line}\r\n\r\n\n{line}\r\n{line}\n")).unwrap();
    let s = process(&[&log], &out, &[]);
    assert_eq!(s["lines"], 1);
    assert_eq!(s["parsed"], 1);
    assert_eq!(s["inputs"][0]["pending_bytes"], 0);
}

#[test]
fn a_failed_run_publishes_no_partial_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // The second table cannot be written: its directory is taken by a file.
    std::fs::create_dir_all(out.join("reports")).unwrap();
    std::fs::write(out.join("reports/traffic_hourly"), b"in the way").unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample.log");
    let output = logveil()
        .args(["--now", NOW, "process"])
        .arg(&sample)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut visible = Vec::new();
    let geo = out.join("reports/geo_daily");
    for day in std::fs::read_dir(&geo).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(day.path()).unwrap().flatten() {
            visible.push(f.path());
        }
    }
    assert!(
        visible.is_empty(),
        "files left visible or behind: {visible:?}"
    );
}

#[test]
fn long_lines_are_rejected_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    let line =
        r#"203.0.113.9 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8""#;
    let long = format!(
        r#"198.51.100.7 - - [05/Oct/2026:10:00:00 +0000] "GET /{} HTTP/1.1" 200 10 "-" "curl/8""#,
        "a".repeat(200_000)
    );
    std::fs::write(&log, format!("{line}\n{long}\n{line}\n")).unwrap();
    let out = dir.path().join("out");
    let s = process(
        &[&log],
        &out,
        &["--max-reject-rate", "0.5", "--diagnostics", "all"],
    );
    assert_eq!(
        (
            s["parsed"].as_u64(),
            s["rejected_by_reason"]["line_too_long"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let s = process(
        &[&log],
        &dir.path().join("out2"),
        &["--max-line-bytes", "300000"],
    );
    assert_eq!(s["parsed"].as_u64(), Some(3));
    common::assert_no_leak(&out, &common::addresses_in(&std::fs::read(&log).unwrap()));
}
