//! The diagnostics life cycle from the command line: `diag` finds rows by client, status, time,
//! path and vhost; `forget` removes exactly a client's rows (IPv4, IPv6, IPv4-mapped, CIDR);
//! data of day D is visible until D + retention and gone after `purge` or any `process` past
//! it, salts likewise; `audit` lists what is held; completions and the man page are generated.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// Day D = 2026-10-05; the store is written at D+1 with the default retention (7 days).
const NOW: &str = "2026-10-06T12:00:00Z";

/// (vhost, client, UTC time of day D or D+1, request, status). Line n of the log is row n.
const LINES: &[(&str, &str, &str, &str, u16)] = &[
    (
        "www.example.com",
        "203.0.113.7",
        "05/Oct/2026:08:00:00",
        "GET /a HTTP/1.1",
        200,
    ),
    (
        "www.example.com",
        "203.0.113.7",
        "05/Oct/2026:09:00:00",
        "GET /api/x HTTP/1.1",
        404,
    ),
    (
        "api.example.com",
        "203.0.113.7",
        "06/Oct/2026:10:00:00",
        "GET /api/y HTTP/1.1",
        503,
    ),
    (
        "www.example.com",
        "203.0.113.8",
        "05/Oct/2026:10:00:00",
        "GET /b HTTP/1.1",
        500,
    ),
    (
        "www.example.com",
        "198.51.100.4",
        "05/Oct/2026:11:00:00",
        "POST /api/z HTTP/1.1",
        502,
    ),
    (
        "www.example.com",
        "::ffff:198.51.100.4",
        "05/Oct/2026:12:00:00",
        "GET /c HTTP/1.1",
        200,
    ),
    (
        "www.example.com",
        "2001:db8::1",
        "05/Oct/2026:13:00:00",
        "GET /d HTTP/1.1",
        404,
    ),
    (
        "api.example.com",
        "2001:db8::2",
        "06/Oct/2026:14:00:00",
        "GET /api/e HTTP/1.1",
        200,
    ),
    (
        "www.example.com",
        "2001:db8:1::1",
        "06/Oct/2026:15:00:00",
        "GET /f HTTP/1.1",
        301,
    ),
    (
        "www.example.com",
        "192.0.2.200",
        "06/Oct/2026:16:00:00",
        "GET /g HTTP/1.1",
        403,
    ),
];

struct Store {
    _dir: tempfile::TempDir,
    log: PathBuf,
    out: PathBuf,
}

fn logveil() -> Command {
    Command::cargo_bin("logveil").unwrap()
}

fn log_text() -> String {
    LINES
        .iter()
        .map(|(vhost, ip, t, req, st)| {
            format!("{vhost}:443 {ip} - - [{t} +0000] \"{req}\" {st} 100 \"-\" \"curl/8.0\"\n")
        })
        .collect()
}

/// Processes the test log with every line kept in diagnostics, at `now`.
fn store_at(now: &str, retention: &str) -> Store {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, log_text()).unwrap();
    let out = dir.path().join("out");
    let s = Store {
        log,
        out,
        _dir: dir,
    };
    process(&s, now, retention);
    s
}

fn process(s: &Store, now: &str, retention: &str) {
    logveil()
        .args(["--now", now, "-q", "process", "--format", "vhost-combined"])
        .args([
            "--diagnostics",
            "all",
            "--k-min",
            "0",
            "--retention",
            retention,
        ])
        .arg("--out")
        .arg(&s.out)
        .arg(&s.log)
        .assert()
        .success();
}

fn store() -> Store {
    store_at(NOW, "7d")
}

/// `diag --json` with `args`: the line numbers found, in output order.
fn diag_lines(out: &Path, now: &str, args: &[&str]) -> Vec<u64> {
    let o = logveil()
        .args(["--now", now, "-q", "diag", "--json", "--limit", "0"])
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["line_number"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

fn check(out: &Path, args: &[&str], expected: &[u64]) {
    let mut got = diag_lines(out, NOW, args);
    got.sort();
    assert_eq!(got, expected, "diag {args:?}");
}

#[test]
fn diag_filters() {
    let s = store();
    let out = &s.out;
    check(out, &[], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    check(out, &["--ip", "203.0.113.7"], &[1, 2, 3]);
    check(out, &["--ip", "203.0.113.0/24"], &[1, 2, 3, 4]);
    // An IPv4 client and its IPv4-mapped form are one client, whichever form is asked.
    check(out, &["--ip", "198.51.100.4"], &[5, 6]);
    check(out, &["--ip", "::ffff:198.51.100.4"], &[5, 6]);
    check(out, &["--ip", "::ffff:198.51.100.0/120"], &[5, 6]);
    check(out, &["--ip", "2001:db8::1"], &[7]);
    check(out, &["--ip", "2001:db8::/48"], &[7, 8]);
    check(out, &["--ip", "2001:db8::/32"], &[7, 8, 9]);
    check(out, &["--ip", "10.0.0.0/8"], &[]);
    check(out, &["--status", "5xx"], &[3, 4, 5]);
    check(out, &["--status", "404,403"], &[2, 7, 10]);
    check(out, &["--status", "4xx,500-502"], &[2, 4, 5, 7, 10]);
    check(out, &["--ip", "203.0.113.7", "--status", "4xx"], &[2]);
    check(out, &["--path-prefix", "/api/"], &[2, 3, 5, 8]);
    check(out, &["--vhost", "API.example.com"], &[3, 8]);
    check(out, &["--since", "2026-10-06T00:00:00Z"], &[3, 8, 9, 10]);
    check(
        out,
        &[
            "--since",
            "2026-10-05T09:00:00Z",
            "--until",
            "2026-10-05T12:00:00Z",
        ],
        &[2, 4, 5],
    );
    // Relative to --now (2026-10-06T12:00): the last 3 hours.
    check(out, &["--since", "1h"], &[8, 9, 10]);
    check(out, &["--until", "1d"], &[1, 2, 4, 5]);
}

#[test]
fn diag_limit_and_table() {
    let s = store();
    let o = logveil()
        .args(["--now", NOW, "diag", "--limit", "2", "--ip", "203.0.113.7"])
        .arg("--out")
        .arg(&s.out)
        .output()
        .unwrap();
    assert!(o.status.success());
    let table = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("time") && lines[0].contains("client"));
    assert!(lines[1].contains("203.0.113.7") && lines[1].contains("access.log:1"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--limit reached"));
    logveil().args(["diag", "--status", "6x"]).assert().code(2);
}

/// Every (client, line) of the store.
fn all_rows(out: &Path) -> BTreeSet<(String, u64)> {
    let o = logveil()
        .args(["--now", NOW, "-q", "diag", "--json", "--limit", "0"])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["client_ip"].as_str().unwrap().to_string(),
                v["line_number"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn diag_modes(out: &Path) -> Vec<u32> {
    let mut modes = Vec::new();
    for day in std::fs::read_dir(out.join("diagnostics"))
        .unwrap()
        .flatten()
    {
        for f in std::fs::read_dir(day.path()).unwrap().flatten() {
            modes.push(f.metadata().unwrap().permissions().mode() & 0o777);
        }
    }
    modes
}

#[test]
fn forget_removes_exactly_a_clients_rows() {
    // (what is forgotten, the lines that go)
    let cases: &[(&str, &[u64])] = &[
        ("203.0.113.7", &[1, 2, 3]),
        ("203.0.113.0/24", &[1, 2, 3, 4]),
        ("198.51.100.4", &[5, 6]),
        ("::ffff:198.51.100.4", &[5, 6]),
        ("2001:db8::1", &[7]),
        ("2001:db8::/32", &[7, 8, 9]),
        ("192.0.2.200", &[10]),
        ("10.0.0.0/8", &[]),
    ];
    for (client, gone) in cases {
        let s = store();
        let before = all_rows(&s.out);
        let o = logveil()
            .args(["--now", NOW, "forget", client, "--json"])
            .arg("--out")
            .arg(&s.out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let report: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["rows_removed"], gone.len() as u64, "{client}");
        let per_file: u64 = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rows_removed"].as_u64().unwrap())
            .sum();
        assert_eq!(per_file, gone.len() as u64, "{client}");
        let after = all_rows(&s.out);
        let expected: BTreeSet<(String, u64)> = before
            .iter()
            .filter(|(_, line)| !gone.contains(line))
            .cloned()
            .collect();
        assert_eq!(after, expected, "forget {client}");
        assert!(diag_modes(&s.out).iter().all(|m| *m == 0o600));
        assert!(diag_lines(&s.out, NOW, &["--ip", client]).is_empty());
        // No temporary file is left behind.
        for day in std::fs::read_dir(s.out.join("diagnostics"))
            .unwrap()
            .flatten()
        {
            for f in std::fs::read_dir(day.path()).unwrap().flatten() {
                assert!(!f.file_name().to_string_lossy().starts_with('.'));
            }
        }
    }
}

#[test]
fn forget_prints_a_table() {
    let s = store();
    let o = logveil()
        .args(["--now", NOW, "forget", "203.0.113.7"])
        .arg("--out")
        .arg(&s.out)
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("3 rows of 203.0.113.7/32 removed from 2 files"),
        "{text}"
    );
}

fn salts(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(out.join("state/salts"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn days(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(out.join("diagnostics"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn retention_purge_and_process_expire_days_and_salts() {
    // Retention 2 days: day D (10-05) lives until 10-07T00:00, day D+1 until 10-08T00:00.
    let s = store_at("2026-10-06T12:00:00Z", "2d");
    assert_eq!(days(&s.out), ["date=2026-10-05", "date=2026-10-06"]);
    assert_eq!(salts(&s.out), ["2026-10-05.salt", "2026-10-06.salt"]);
    let just_before = "2026-10-06T23:59:59Z";
    assert_eq!(diag_lines(&s.out, just_before, &[]).len(), 10);
    // Nothing to purge yet.
    logveil()
        .args(["--now", just_before, "purge"])
        .arg("--out")
        .arg(&s.out)
        .assert()
        .success();
    assert_eq!(days(&s.out).len(), 2);
    // At expiry, purge deletes day D and its salt, and says so.
    let at = "2026-10-07T00:00:00Z";
    let o = logveil()
        .args(["--now", at, "purge"])
        .arg("--out")
        .arg(&s.out)
        .output()
        .unwrap();
    assert!(o.status.success());
    let printed = String::from_utf8(o.stdout).unwrap();
    assert!(
        printed.contains("date=2026-10-05") && printed.contains("2026-10-05.salt"),
        "{printed}"
    );
    assert_eq!(days(&s.out), ["date=2026-10-06"]);
    assert_eq!(salts(&s.out), ["2026-10-06.salt"]);
    let mut left = diag_lines(&s.out, at, &[]);
    left.sort();
    assert_eq!(left, [3, 8, 9, 10]);

    // `diag` past expiry does not read day D+1: it deletes it.
    let past = "2026-10-08T00:00:00Z";
    let o = logveil()
        .args(["--now", past, "diag", "--json"])
        .arg("--out")
        .arg(&s.out)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("deleted expired"));
    assert!(days(&s.out).is_empty());

    // Any `process` run past a day's expiry deletes it and its salt too.
    let s = store_at("2026-10-06T12:00:00Z", "2d");
    logveil()
        .args([
            "--now",
            "2026-10-07T00:00:01Z",
            "-q",
            "process",
            "--format",
            "vhost-combined",
        ])
        .args(["--diagnostics", "off", "--retention", "2d"])
        .arg("--out")
        .arg(&s.out)
        .arg(&s.log)
        .assert()
        .success();
    assert_eq!(days(&s.out), ["date=2026-10-06"]);
    assert_eq!(salts(&s.out), ["2026-10-06.salt"]);
}

#[test]
fn audit_lists_what_is_held() {
    let s = store();
    let o = logveil()
        .args(["--now", NOW, "audit", "--json"])
        .arg("--out")
        .arg(&s.out)
        .output()
        .unwrap();
    assert!(o.status.success());
    let a: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(a["total_rows"], 10);
    assert_eq!(a["total_ip_rows"], 10);
    let files = a["diagnostics"].as_array().unwrap();
    let summary: Vec<(String, u64, i64, i64, i64)> = files
        .iter()
        .map(|f| {
            (
                f["date"].as_str().unwrap().to_string(),
                f["rows"].as_u64().unwrap(),
                f["oldest"].as_i64().unwrap(),
                f["newest"].as_i64().unwrap(),
                f["expires_at"].as_i64().unwrap(),
            )
        })
        .collect();
    let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_second();
    assert_eq!(
        summary,
        [
            (
                "2026-10-05".to_string(),
                6,
                t("2026-10-05T08:00:00Z"),
                t("2026-10-05T13:00:00Z"),
                t("2026-10-12T00:00:00Z")
            ),
            (
                "2026-10-06".to_string(),
                4,
                t("2026-10-06T10:00:00Z"),
                t("2026-10-06T16:00:00Z"),
                t("2026-10-13T00:00:00Z")
            ),
        ]
    );
    let salts: Vec<(&str, i64)> = a["salts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["date"].as_str().unwrap(),
                s["expires_at"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        salts,
        [
            ("2026-10-05", t("2026-10-12T00:00:00Z")),
            ("2026-10-06", t("2026-10-13T00:00:00Z"))
        ]
    );
    let text = logveil()
        .args(["--now", NOW, "audit"])
        .arg("--out")
        .arg(&s.out)
        .output()
        .unwrap()
        .stdout;
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("10 diagnostics rows (10 with a raw address) in 2 files, 2 salts"),
        "{text}"
    );
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let o = logveil().args(["completions", shell]).output().unwrap();
        assert!(o.status.success(), "{shell}");
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(
            text.contains("logveil") && text.contains("forget"),
            "{shell}"
        );
    }
    let o = logveil().arg("man").output().unwrap();
    assert!(o.status.success());
    let man = String::from_utf8(o.stdout).unwrap();
    assert!(
        man.starts_with(".ie") || man.starts_with(".TH"),
        "{}",
        &man[..80.min(man.len())]
    );
    assert!(man.lines().any(|l| l.starts_with(".TH logveil")), "{man}");
    assert!(man.contains(".SH NAME") && man.contains("diag"));
}
