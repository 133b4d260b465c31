//! End-to-end tests of `logveil rotate` and the ledger: a log that grows, is renamed, is
//! compressed and is copied-and-truncated is counted exactly once (the report totals equal one
//! `process` over its unique lines); a second run on the same output tree refuses to start;
//! the example configuration parses.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt64Type};
use arrow_schema::DataType;
use assert_cmd::Command;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const NOW: &str = "2026-10-08T00:00:00Z";
const TABLES: &[&str] = &[
    "geo_daily",
    "traffic_hourly",
    "pages_daily",
    "referrers_daily",
    "agents_daily",
];
/// Suppression and top-N bounds off, so that totals per key do not depend on how the lines
/// were split between runs.
const EXACT: &[&str] = &[
    "--k-min",
    "0",
    "--top-pages",
    "1000000",
    "--top-referrers",
    "1000000",
];

fn logveil() -> Command {
    Command::cargo_bin("logveil").unwrap()
}

/// `scripts/genlog` lines (deterministic), each ending in `\n`.
fn genlog_lines(n: usize) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("g.log");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/genlog");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .args([
            "--lines",
            &n.to_string(),
            "--seed",
            "3",
            "--start",
            "2026-10-05",
        ])
        .args(["--days", "3", "--out"])
        .arg(&log)
        .status()
        .expect("python3 runs scripts/genlog");
    assert!(status.success());
    let data = std::fs::read(&log).unwrap();
    data.split_inclusive(|&b| b == b'\n')
        .map(|l| l.to_vec())
        .collect()
}

/// Runs `rotate` on `args` into `out`; returns the JSON summary (`None` when no input
/// matched and nothing ran).
fn rotate(out: &Path, args: &[&str]) -> serde_json::Value {
    let output = logveil()
        .args(["--now", NOW, "rotate", "--json", "--out"])
        .arg(out)
        .args(EXACT)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "rotate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null)
}

/// Per table, per key (every column but the counts and sketches, with the date partition):
/// the sums of requests and bytes over every part file.
type Sums = BTreeMap<(String, String), (u64, u64)>;

fn table_sums(out: &Path) -> Sums {
    let mut sums = Sums::new();
    for table in TABLES {
        let root = out.join("reports").join(table);
        for day in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let date = day.file_name().to_string_lossy().into_owned();
            for f in std::fs::read_dir(day.path()).unwrap().flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                assert!(
                    name.starts_with("part-") && name.ends_with(".parquet"),
                    "{name}"
                );
                let reader = ParquetRecordBatchReaderBuilder::try_new(
                    std::fs::File::open(f.path()).unwrap(),
                )
                .unwrap()
                .build()
                .unwrap();
                for b in reader {
                    add_batch(&mut sums, table, &date, &b.unwrap());
                }
            }
        }
    }
    sums
}

fn add_batch(sums: &mut Sums, table: &str, date: &str, b: &RecordBatch) {
    let schema = b.schema();
    for row in 0..b.num_rows() {
        let mut key = vec![date.to_string()];
        let (mut requests, mut bytes) = (0, 0);
        for (i, field) in schema.fields().iter().enumerate() {
            let col = b.column(i);
            match field.name().as_str() {
                "requests" => requests = col.as_primitive::<UInt64Type>().value(row),
                "bytes" => bytes = col.as_primitive::<UInt64Type>().value(row),
                n if n.contains("visitor") => {}
                _ => key.push(match field.data_type() {
                    DataType::Utf8 => col.as_string::<i32>().value(row).to_string(),
                    DataType::Boolean => col.as_boolean().value(row).to_string(),
                    DataType::Timestamp(..) => col
                        .as_primitive::<TimestampMicrosecondType>()
                        .value(row)
                        .to_string(),
                    DataType::UInt64 => col.as_primitive::<UInt64Type>().value(row).to_string(),
                    other => format!("{other:?}"),
                }),
            }
        }
        let e = sums.entry((table.to_string(), key.join("|"))).or_default();
        e.0 += requests;
        e.1 += bytes;
    }
}

fn write(path: &Path, parts: &[&[Vec<u8>]]) {
    let mut f = std::fs::File::create(path).unwrap();
    for p in parts {
        for l in *p {
            f.write_all(l).unwrap();
        }
    }
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

fn gzip(from: &Path, to: &Path) {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&std::fs::read(from).unwrap()).unwrap();
    std::fs::write(to, enc.finish().unwrap()).unwrap();
    std::fs::remove_file(from).unwrap();
}

fn lines_read(s: &serde_json::Value) -> u64 {
    s["lines"].as_u64().unwrap_or(0)
}

#[test]
fn a_rotated_log_is_counted_exactly_once() {
    let lines = genlog_lines(6000);
    let cut = |a: usize, b: usize| &lines[a..b];
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let out = dir.path().join("out");
    let log = logs.join("access.log");
    let glob = logs.join("access.log*").display().to_string();
    let run = |expect_lines: u64| {
        let s = rotate(&out, &[&glob]);
        assert_eq!(lines_read(&s), expect_lines, "{s:#}");
        s
    };

    // 1. A new log.
    write(&log, &[cut(0, 1000)]);
    run(1000);
    // 2. It grew, and its last line is still being written.
    let half = lines[1500].len() / 2;
    append(&log, &cut(1000, 1500).concat());
    append(&log, &lines[1500][..half]);
    run(500);
    run(0);
    // 3. The line is finished, more lines come, then the log is rotated by renaming and a
    //    new one starts.
    append(&log, &lines[1500][half..]);
    append(&log, &cut(1501, 2000).concat());
    std::fs::rename(&log, logs.join("access.log.1")).unwrap();
    write(&log, &[cut(2000, 2600)]);
    run(500 + 600);
    // 4. The rotated log is compressed, the new one grew.
    gzip(&logs.join("access.log.1"), &logs.join("access.log.2.gz"));
    append(&log, &cut(2600, 3000).concat());
    let s = run(400);
    assert_eq!(s["skipped"].as_array().unwrap().len(), 1, "{s:#}");
    // 5. copytruncate: lines written since the last run, then the log is copied and truncated,
    //    and new lines come.
    append(&log, &cut(3000, 3300).concat());
    std::fs::copy(&log, logs.join("access.log.1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &cut(3300, 4000).concat());
    run(300 + 700);
    // 6. Another round of copytruncate with compression of the copy.
    append(&log, &cut(4000, 5000).concat());
    gzip(&logs.join("access.log.1"), &logs.join("access.log.2.gz"));
    std::fs::copy(&log, logs.join("access.log.1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &cut(5000, 6000).concat());
    run(1000 + 1000);
    run(0);

    // One `process` over the unique lines.
    let whole = dir.path().join("whole.log");
    write(&whole, &[cut(0, 6000)]);
    let reference = dir.path().join("ref");
    let output = logveil()
        .args(["--now", NOW, "process"])
        .arg(&whole)
        .arg("--out")
        .arg(&reference)
        .args(EXACT)
        .output()
        .unwrap();
    assert!(output.status.success());
    let (got, want) = (table_sums(&out), table_sums(&reference));
    assert!(!want.is_empty());
    for table in TABLES {
        assert!(want.keys().any(|(t, _)| t == table), "{table} is empty");
    }
    assert_eq!(got, want);
    // `process` uses the same ledger. The concatenation is not a file it has seen, but it
    // starts with the first log, whose bytes are not counted again; the rest is read. (The
    // ledger knows prefixes of content, not lines.)
    let output = logveil()
        .args(["--now", NOW, "process", "--json"])
        .arg(&whole)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(s["lines"], 4000, "{s:#}");
    assert_eq!(s["inputs"][0]["content_from"], cut(0, 2000).concat().len());
}

#[test]
fn process_skips_what_was_counted_unless_reprocess() {
    let lines = genlog_lines(300);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    write(&log, &[&lines]);
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        let output = logveil()
            .args(["--now", NOW, "process", "--json"])
            .arg(&log)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert!(output.status.success());
        let s: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (s, String::from_utf8_lossy(&output.stderr).into_owned())
    };
    assert_eq!(run(&[]).0["lines"], 300);
    let (s, err) = run(&[]);
    assert_eq!(s["lines"], 0);
    assert_eq!(s["skipped"][0]["processed_bytes"], lines.concat().len());
    assert!(err.contains("was processed already"), "{err}");
    assert_eq!(run(&["--reprocess"]).0["lines"], 300);
    // Only one ledger entry for it, whatever the number of runs.
    let ledger: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("state/ledger.json")).unwrap()).unwrap();
    assert_eq!(ledger["entries"].as_array().unwrap().len(), 1);
}

#[test]
fn a_second_run_on_the_same_output_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("state")).unwrap();
    let mut perm = std::fs::metadata(out.join("state")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o700);
    std::fs::set_permissions(out.join("state"), perm).unwrap();
    // A process that holds the lock as a run does (flock on OUT/state/lock) until killed.
    let lock = out.join("state/lock");
    std::fs::write(&lock, b"").unwrap();
    let mut holder = std::process::Command::new("sh")
        .args(["-c", r#"exec 9<>"$0" && flock 9 && exec sleep 600"#])
        .arg(&lock)
        .spawn()
        .expect("sh and flock(1) run");
    // Wait until it holds it (flock -n fails while it does).
    loop {
        let free = std::process::Command::new("flock")
            .args(["-n"])
            .arg(&lock)
            .arg("true")
            .status()
            .unwrap()
            .success();
        if !free {
            break;
        }
        std::thread::yield_now();
    }
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample.log");
    let output = logveil()
        .args(["--now", NOW, "process"])
        .arg(&sample)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("state/lock is locked"), "{err}");
    assert!(err.contains("--wait"), "{err}");
    assert!(!out.join("runs").exists(), "nothing was written");
    // Once it is free, the run goes.
    logveil()
        .args(["--now", NOW, "process"])
        .arg(&sample)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
}

#[test]
fn the_example_config_parses_and_the_command_line_wins() {
    let config: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/logveil.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample.log");
    let log = dir.path().join("access.log");
    std::fs::copy(&sample, &log).unwrap();
    let output = logveil()
        .args(["--now", NOW, "rotate", "--json", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .args(["--k-min", "0"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(s["lines"].as_u64().unwrap() > 0);
    assert_eq!(
        s["publication"]["rules"]["k_min"], 0,
        "the command line wins"
    );
    assert!(log.exists(), "delete_raw_after is false in the example");
}

#[test]
fn a_wrong_config_key_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    for (text, expected) in [
        ("out = \"x\"\nkmin = 3\n", "line 2: kmin: unknown key"),
        ("k_min = \"many\"\n", "line 1: k_min: invalid value 'many'"),
        ("retention = \"7x\"\n", "line 1: retention:"),
        (
            "delete_raw_after = 1\n",
            "line 1: delete_raw_after: expected true or false",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let output = logveil()
            .args(["rotate", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[test]
fn delete_raw_after_removes_only_committed_whole_inputs() {
    let lines = genlog_lines(200);
    let dir = tempfile::tempdir().unwrap();
    let rotated = dir.path().join("access.log.1");
    write(&rotated, &[&lines[..100]]);
    let active = dir.path().join("access.log");
    write(&active, &[&lines[100..]]);
    append(&active, b"203.0.113.7 - - [05/Oct/2026:1"); // a line still being written
    let out = dir.path().join("out");
    let glob = dir.path().join("access.log*").display().to_string();
    let s = rotate(&out, &["--delete-raw-after", &glob]);
    assert_eq!(lines_read(&s), 200);
    assert!(!rotated.exists(), "the rotated log is deleted");
    assert!(active.exists(), "a log with an unfinished line is kept");
}

/// Per table, per key (as in [`table_sums`]): the published visitors estimate.
fn table_visitors(out: &Path) -> BTreeMap<(String, String), u64> {
    let mut v = BTreeMap::new();
    for table in TABLES {
        let root = out.join("reports").join(table);
        for day in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let date = day.file_name().to_string_lossy().into_owned();
            for f in std::fs::read_dir(day.path()).unwrap().flatten() {
                let reader = ParquetRecordBatchReaderBuilder::try_new(
                    std::fs::File::open(f.path()).unwrap(),
                )
                .unwrap()
                .build()
                .unwrap();
                for b in reader {
                    let b = b.unwrap();
                    let Ok(i) = b.schema().index_of("visitors") else {
                        continue;
                    };
                    // The key of each row, as `add_batch` makes it.
                    for row in 0..b.num_rows() {
                        let mut one = Sums::new();
                        add_batch(&mut one, table, &date, &b.slice(row, 1));
                        let key = one.into_keys().next().unwrap();
                        let n = b.column(i).as_primitive::<UInt64Type>().value(row);
                        *v.entry(key).or_default() += n;
                    }
                }
            }
        }
    }
    v
}

/// Number of report files per (table, date partition).
fn parts_per_day(out: &Path) -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for table in TABLES {
        let root = out.join("reports").join(table);
        for day in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let n = std::fs::read_dir(day.path())
                .unwrap()
                .flatten()
                .filter(|f| f.file_name().to_string_lossy().ends_with(".parquet"))
                .count();
            m.insert(
                (
                    table.to_string(),
                    day.file_name().to_string_lossy().into_owned(),
                ),
                n,
            );
        }
    }
    m
}

fn process_with(out: &Path, logs: &[&Path], extra: &[&str]) -> serde_json::Value {
    let output = logveil()
        .args(["--now", NOW, "process", "--json", "--out"])
        .arg(out)
        .args(extra)
        .args(logs)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "process failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Three runs over three pieces of a log publish exactly what one run over the whole log does,
/// under the default rules, visitors included: each day is republished from everything
/// counted for it, so small cells are judged on the day's union of visitors, not per run, and
/// a day has one file.
#[test]
fn a_day_counted_by_several_runs_is_published_whole() {
    let lines = genlog_lines(6000);
    let dir = tempfile::tempdir().unwrap();
    let salt = dir.path().join("salt");
    std::fs::write(&salt, b"a shared secret of at least sixteen bytes").unwrap();
    let salt_arg = ["--salt-file", salt.to_str().unwrap()];
    // Cut inside days (the log covers three days of 2000 lines each).
    let cuts = [0, 1500, 3500, 6000];
    let pieces: Vec<PathBuf> = (0..3)
        .map(|i| {
            let p = dir.path().join(format!("piece-{i}.log"));
            write(&p, &[&lines[cuts[i]..cuts[i + 1]]]);
            p
        })
        .collect();
    let whole = dir.path().join("whole.log");
    write(&whole, &[&lines]);

    let split = dir.path().join("split");
    let mut earlier = Vec::new();
    for p in &pieces {
        let s = process_with(&split, &[p], &salt_arg);
        earlier.push(s["publication"]["days"]["geo_daily"].clone());
    }
    // The second piece starts inside the first day: that day already held the first run.
    assert!(
        earlier[1].as_object().unwrap().values().any(|n| n == 1),
        "{earlier:?}"
    );
    let reference = dir.path().join("ref");
    process_with(&reference, &[&whole], &salt_arg);

    assert_eq!(table_sums(&split), table_sums(&reference));
    // The sketches hold the same registers, and the published estimate is a function of
    // the registers alone: equal, not merely close.
    assert_eq!(table_visitors(&split), table_visitors(&reference));
    let parts = parts_per_day(&split);
    assert!(parts.values().all(|&n| n == 1), "{parts:?}");
    assert_eq!(
        parts.keys().collect::<Vec<_>>(),
        parts_per_day(&reference).keys().collect::<Vec<_>>()
    );
    // The unfolded day store is private, as salts and diagnostics are.
    use std::os::unix::fs::PermissionsExt;
    for e in walk(&split.join("state/days")) {
        let mode = std::fs::metadata(&e).unwrap().permissions().mode() & 0o777;
        let want = if e.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{}", e.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            v.extend(walk(&e.path()));
        } else {
            v.push(e.path());
        }
    }
    v
}

/// When the day store no longer holds a day (purged, or a tree written before it existed), a
/// run that touches the day merges with the day's published files instead: nothing is lost
/// and nothing is counted twice.
#[test]
fn a_day_without_state_is_merged_with_its_published_files() {
    let lines = genlog_lines(3000);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.log");
    write(&a, &[&lines[..1500]]);
    write(&b, &[&lines[1500..]]);
    let whole = dir.path().join("whole.log");
    write(&whole, &[&lines]);
    let split = dir.path().join("split");
    process_with(&split, &[&a], EXACT);
    std::fs::remove_dir_all(split.join("state/days")).unwrap();
    process_with(&split, &[&b], EXACT);
    let reference = dir.path().join("ref");
    process_with(&reference, &[&whole], EXACT);
    assert_eq!(table_sums(&split), table_sums(&reference));
    assert!(parts_per_day(&split).values().all(|&n| n == 1));
    // The published files name every run they hold, so a merge still refuses duplicates.
    let merged = dir.path().join("merged");
    let output = logveil()
        .args(["--now", NOW, "merge"])
        .arg(&split)
        .arg(&split)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "a tree merged with itself");
}

/// The day store expires with the day's diagnostics: `purge` deletes it, `audit` lists it
/// until then.
#[test]
fn the_day_store_expires_with_the_diagnostics() {
    let lines = genlog_lines(600);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    write(&log, &[&lines]);
    let out = dir.path().join("out");
    process_with(&out, &[&log], &[]);
    let audit = |now: &str| -> serde_json::Value {
        let o = logveil()
            .args(["--now", now, "audit", "--json", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success());
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let a = audit(NOW);
    let days: Vec<&str> = a["day_state"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(days, ["2026-10-05", "2026-10-06", "2026-10-07"], "{a:#}");
    assert_eq!(a["day_state"][0]["tables"], 5);
    // Seven days of retention: the first day expires at 2026-10-12T00:00:00Z.
    let later = "2026-10-12T00:00:00Z";
    let o = logveil()
        .args(["--now", later, "purge", "--json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(p["summary"]["day_state_deleted"], 5, "{p:#}");
    let a = audit(later);
    assert_eq!(a["day_state"].as_array().unwrap().len(), 2, "{a:#}");
    assert!(!out.join("state/days/geo_daily/date=2026-10-05").exists());
}

/// A W3C log that grew is read from where the last run stopped, under the `#Fields:` header
/// in effect there (read again from the part already counted), named or detected, mapped or
/// read.
#[test]
fn a_grown_w3c_log_resumes_under_its_header() {
    let header = "#Software: Microsoft Internet Information Services 10.0\n#Fields: date time c-ip cs-method cs-uri-stem sc-status cs(User-Agent)\n";
    let line = |i: usize| {
        format!(
            "2026-10-05 10:{:02}:{:02} 192.0.2.{} GET /p/{} 200 Mozilla/5.0\n",
            i / 60 % 60,
            i % 60,
            i % 200,
            i % 7
        )
    };
    // The header changes once: the resumed part must use the second one.
    let header2 = "#Fields: date time cs-method c-ip sc-status cs-uri-stem\n";
    let line2 = |i: usize| {
        format!(
            "2026-10-05 11:{:02}:{:02} GET 192.0.2.{} 404 /q\n",
            i / 60 % 60,
            i % 60,
            i % 200
        )
    };
    for (format, extra) in [("w3c", None), ("auto", None), ("w3c", Some("--no-mmap"))] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("u_ex261005.log");
        let mut text = String::from(header);
        (0..300).for_each(|i| text.push_str(&line(i)));
        text.push_str(header2);
        (0..100).for_each(|i| text.push_str(&line2(i)));
        std::fs::write(&log, &text).unwrap();
        let out = dir.path().join("out");
        let mut args = vec!["--format", format];
        args.extend(extra);
        let s = process_with(&out, &[&log], &args);
        assert_eq!(s["parsed"], 400, "{s:#}");
        let more: String = (100..250).map(line2).collect();
        append(&log, more.as_bytes());
        let s = process_with(&out, &[&log], &args);
        assert_eq!(s["lines"], 150, "{format}: {s:#}");
        assert_eq!(s["parsed"], 150, "{format} {extra:?}: {s:#}");
        assert_eq!(s["inputs"][0]["format"], "w3c");
        let reference = dir.path().join("ref");
        process_with(&reference, &[&log], &["--format", "w3c"]);
        assert_eq!(
            table_sums(&out),
            table_sums(&reference),
            "{format} {extra:?}"
        );
    }
}
