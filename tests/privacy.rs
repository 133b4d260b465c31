//! The privacy promise end to end: a hostile log (testdata/hostile/privacy.log) processed with
//! every output on leaves no address, e-mail, token, credential, user name or id outside
//! `diagnostics/` and `state/`, in any form an analyst could read.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn secrets() -> Vec<String> {
    std::fs::read_to_string(root().join("testdata/hostile/privacy.secrets"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs `process` with every output on; returns the output tree.
fn process_all(log: &Path, out: &Path, extra: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_logveil"))
        .args(["--now", "2026-10-06T00:00:00Z", "-q", "process"])
        .arg(log)
        .arg("--out")
        .arg(out)
        .args([
            "--diagnostics",
            "all",
            "--max-reject-rate",
            "1",
            "--k-min",
            "0",
        ])
        .arg("--anonymised-log")
        .arg(out.join("anonymised"))
        .args(extra)
        .status()
        .unwrap();
    assert!(status.success(), "process failed on {}", log.display());
    assert!(out.join("anonymised").read_dir().unwrap().next().is_some());
}

/// Asserts the three leak checks on `out` for an input log.
fn assert_private(out: &Path, input: &[u8], secrets: &[String]) {
    let mut addrs = common::addresses_in(input);
    addrs.extend(common::addresses_in(&common::percent_decode(input)));
    // An address that is its own truncation (`Chrome/120.0.0.0`) may appear.
    addrs.retain(|ip| common::truncate(*ip) != *ip);
    addrs.sort();
    addrs.dedup();
    common::assert_no_leak(out, &addrs);
    let s: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let leaks = common::scan_for_secrets(out, &s);
    assert!(
        leaks.is_empty(),
        "secrets leaked:\n  {}",
        leaks.join("\n  ")
    );
    let raw = common::untruncated_addresses(out);
    assert!(
        raw.is_empty(),
        "untruncated addresses:\n  {}",
        raw.join("\n  ")
    );
}

#[test]
fn hostile_log_leaks_nothing() {
    let log = root().join("testdata/hostile/privacy.log");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    process_all(&log, &out, &[]);
    // The reports exist and count every parsed line.
    assert!(out.join("reports/pages_daily").is_dir());
    assert_private(&out, &std::fs::read(&log).unwrap(), &secrets());
}

#[test]
fn hostile_log_leaks_nothing_with_suppression_and_kept_params() {
    let log = root().join("testdata/hostile/privacy.log");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Keeping `email`, `token` and `ip` must still scrub their values.
    process_all(
        &log,
        &out,
        &["--keep-query-params", "email,token,ip,addr,x"],
    );
    assert_private(&out, &std::fs::read(&log).unwrap(), &secrets());
}

#[test]
fn real_logs_leak_no_address() {
    let corpus = root().join("../shared/corpus/logs");
    if !corpus.is_dir() {
        eprintln!("SKIPPED: {} not found", corpus.display());
        return;
    }
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, files);
            } else {
                files.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&corpus, &mut files);
    files.sort();
    let mut n = 0;
    for p in files {
        let name = p.strip_prefix(&corpus).unwrap().display().to_string();
        if name.ends_with(".md") {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let status = Command::new(env!("CARGO_BIN_EXE_logveil"))
            .args(["--now", "2026-10-06T00:00:00Z", "-q", "process"])
            .arg(&p)
            .arg("--out")
            .arg(&out)
            .args([
                "--max-reject-rate",
                "1",
                "--k-min",
                "0",
                "--diagnostics",
                "all",
            ])
            .status()
            .unwrap();
        if !status.success() {
            // Not a log of a format logveil knows (exit 3): nothing is published, nothing leaks.
            eprintln!("{name}: exit {status}, nothing published");
            continue;
        }
        let input = common::read_maybe_gz(&p);
        let mut addrs = common::addresses_in(&input);
        addrs.retain(|ip| common::truncate(*ip) != *ip);
        common::assert_no_leak(&out, &addrs);
        let raw = common::untruncated_addresses(&out);
        assert!(
            raw.is_empty(),
            "{name}: untruncated addresses:\n  {}",
            raw.join("\n  ")
        );
        n += 1;
    }
    assert!(n > 0, "no corpus log was processed");
    eprintln!("real logs: {n} checked, no leak");
}
