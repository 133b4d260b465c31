//! `logveil report` end to end: a small fixed reports tree (made by `process` from
//! `testdata/report/access.log` under a fixed `--now`, salt file and `--k-min 0`), its terminal
//! output at width 80 against a golden file, the width bound and the absence of control
//! characters at other widths, and the HTML page's structure (CSP, no script, every hostile
//! string escaped).
//!
//! `UPDATE_GOLDEN=1 cargo nextest run --test report` rewrites the golden files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use unicode_width::UnicodeWidthStr;

const NOW: &str = "2026-10-08T00:00:00Z";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/report")
        .join(name)
}

fn logveil() -> Command {
    let mut c = Command::cargo_bin("logveil").unwrap();
    c.env_remove("NO_COLOR").env_remove("COLUMNS");
    c
}

/// The reports tree of the fixed log, in a temporary directory.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = logveil()
        .args(["--now", NOW, "--quiet", "process"])
        .arg(data("access.log"))
        .arg("--out")
        .arg(&out)
        .arg("--salt-file")
        .arg(data("salt"))
        .args(["--k-min", "0"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "process failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    dir
}

fn report(out: &Path, columns: &str, extra: &[&str]) -> String {
    let o = logveil()
        .env("COLUMNS", columns)
        .arg("report")
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("report prints UTF-8")
}

/// Compares `got` with the golden file `name`, or rewrites it under `UPDATE_GOLDEN=1`.
fn check_golden(name: &str, got: &str) {
    let path = data(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        got,
        want,
        "{} differs (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

fn controls(s: &str) -> Vec<char> {
    s.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn terminal_output_matches_golden_at_80_columns() {
    let dir = tree();
    let text = report(&dir.path().join("out"), "80", &[]);
    check_golden("terminal-80.txt", &text);
    let narrow = report(
        &dir.path().join("out"),
        "80",
        &["--top", "3", "--since", "2026-10-06"],
    );
    check_golden("terminal-80-top3-since.txt", &narrow);
}

#[test]
fn terminal_output_fits_the_width_and_has_no_controls() {
    let dir = tree();
    for (cols, limit) in [("20", 40), ("40", 40), ("57", 57), ("80", 80), ("200", 200)] {
        let text = report(&dir.path().join("out"), cols, &[]);
        assert!(
            controls(&text).is_empty(),
            "control characters at {cols}: {:?}",
            controls(&text)
        );
        for line in text.lines() {
            assert!(
                line.width() <= limit,
                "line wider than {limit} at COLUMNS={cols}: {line:?} ({})",
                line.width()
            );
        }
    }
}

const HOSTILE: &[&str] = &[
    "<script>",
    "<img src=x",
    "onerror=alert(1)>",
    "\u{202e}",
    "\u{1b}",
];

#[test]
fn html_page_is_self_contained_and_escaped() {
    let dir = tree();
    let page = dir.path().join("report.html");
    let o = logveil()
        .arg("report")
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
    ));
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "a script element");
    for attr in [
        " onerror=",
        " onload=",
        "javascript:",
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
    ] {
        assert!(!lower.contains(attr), "{attr} in the page");
    }
    for h in HOSTILE {
        assert!(!html.contains(h), "{h:?} unescaped in the page");
    }
    // The hostile target is shown, escaped.
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped script target missing"
    );
    assert!(html.contains("東京"), "CJK text missing");
    for chart in ["requests per hour", "requests by country"] {
        assert!(
            html.contains(&format!("aria-label=\"{chart}\"")),
            "{chart} chart missing"
        );
    }
    assert_eq!(controls(&html).len(), 0, "control characters in the page");
    // Every element opened is closed (a rough structure check of the page's own markup).
    for tag in ["section", "table", "svg", "div", "main", "ul"] {
        let open = html.matches(&format!("<{tag}")).count();
        let close = html.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}> opened {open} times, closed {close}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&page).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
}

/// The first number after `label` on the line starting with `  label`.
fn figures(text: &str, label: &str) -> Vec<String> {
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("  {label} ")))
        .unwrap_or_else(|| panic!("no {label} line in\n{text}"));
    line.split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect()
}

#[test]
fn part_files_of_a_day_are_summed_and_sketches_unioned() {
    let dir = tree();
    let out = dir.path().join("out");
    let once = report(&out, "80", &[]);
    // The same log again, under the same salt: a second part file per day and table
    // (`--reprocess`, since the ledger would skip content it has counted).
    logveil()
        .args(["--now", NOW, "--quiet", "process", "--reprocess"])
        .arg(data("access.log"))
        .arg("--out")
        .arg(&out)
        .arg("--salt-file")
        .arg(data("salt"))
        .args(["--k-min", "0"])
        .assert()
        .success();
    let twice = report(&out, "80", &[]);
    for label in ["2026-10-05", "total"] {
        let (a, b) = (figures(&once, label), figures(&twice, label));
        let n = |s: &str| s.replace(',', "").parse::<u64>().unwrap();
        assert_eq!(n(&b[0]), 2 * n(&a[0]), "{label} requests: {a:?} then {b:?}");
        // The same visitors on the same day, unioned: the estimate stays.
        assert_eq!(b[3], a[3], "{label} visitors: {a:?} then {b:?}");
    }
    assert!(twice.contains("2 runs, k-min 0"), "{twice}");
}

#[test]
fn missing_tree_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    logveil()
        .arg("report")
        .arg("--out")
        .arg(dir.path().join("nothing"))
        .assert()
        .code(2);
    logveil()
        .args(["report", "--since", "2026-13-01"])
        .assert()
        .code(2);
}
