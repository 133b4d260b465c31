//! Formats end to end: every real log of the corpus by its named format and by `auto`, with
//! exact counts; compressed inputs; a corrupt compressed input with and without
//! `--keep-going`; X-Forwarded-For with trusted proxies; `check-format`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const NOW: &str = "2026-10-08T00:00:00Z";
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(CORPUS);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIPPED: ../shared/corpus not found; corpus format tests skipped");
        None
    }
}

fn logveil() -> Command {
    Command::cargo_bin("logveil").unwrap()
}

/// Runs `process` and returns (exit code, JSON summary if any, stderr).
fn run(inputs: &[&Path], out: &Path, args: &[&str]) -> (i32, Option<Value>, String) {
    let o = logveil()
        .args([
            "--now",
            NOW,
            "process",
            "--json",
            "--max-reject-rate",
            "0.5",
            "--out",
        ])
        .arg(out)
        .args(inputs)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        serde_json::from_slice(&o.stdout).ok(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// (format, lines, parsed, rejected, directives) of a real log, for `--format NAME` and `auto`.
fn check(rel: &str, format: &str, expected: (u64, u64, u64, u64)) {
    let Some(c) = corpus() else { return };
    let path = c.join(rel);
    for f in [format, "auto"] {
        let out = tempfile::tempdir().unwrap();
        let (code, s, err) = run(&[&path], out.path(), &["--format", f]);
        assert_eq!(code, 0, "{rel} as {f}: {err}");
        let s = s.unwrap();
        let got = (
            s["lines"].as_u64().unwrap(),
            s["parsed"].as_u64().unwrap(),
            s["rejected"].as_u64().unwrap(),
            s["directives"].as_u64().unwrap(),
        );
        assert_eq!(got, expected, "{rel} as {f}: {}", s["rejected_by_reason"]);
        assert_eq!(
            s["inputs"][0]["format"],
            format.replace('-', "_"),
            "{rel} as {f}"
        );
        if f == "auto" {
            assert!(
                err.contains(&format!("format: {format} (detected")),
                "{err}"
            );
        }
        let addrs = common::addresses_in(&std::fs::read(&path).unwrap());
        common::assert_no_leak(out.path(), &addrs);
    }
}

#[test]
fn apache_combined() {
    check(
        "logs/elastic-examples/apache_logs.log",
        "combined",
        (10_000, 9_999, 1, 0),
    );
}

#[test]
fn nginx_combined_with_forwarded_for() {
    check(
        "logs/lnav/logfile_shop_access_log.0",
        "combined-xff",
        (1_000, 1_000, 0, 0),
    );
}

#[test]
fn debian_vhost_combined_with_its_bad_line() {
    check(
        "logs/apachelogs/vhost_combined.log",
        "vhost-combined",
        (7, 6, 1, 0),
    );
}

#[test]
fn iis_w3c_with_repeated_headers() {
    check("logs/iis-brianary/u_ex160110.log", "w3c", (128, 28, 0, 100));
}

#[test]
fn iis_w3c_with_crlf() {
    check("logs/iis-brianary/u_ex100815.log", "w3c", (56, 16, 0, 40));
}

#[test]
fn w3c_big() {
    check("logs/lnav/logfile_w3c_big.0", "w3c", (254, 210, 0, 44));
}

#[test]
fn caddy_json() {
    check("logs/lnav/logfile_caddy_log.1", "caddy-json", (4, 4, 0, 0));
}

#[test]
fn gzip_equals_plain() {
    let Some(c) = corpus() else { return };
    let plain = c.join("logs/logparser/access_log");
    let gz = c.join("logs/logparser/access_log.gz");
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (ca, sa, _) = run(&[&plain], a.path(), &[]);
    let (cb, sb, _) = run(&[&gz], b.path(), &[]);
    assert_eq!((ca, cb), (0, 0));
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    assert_eq!(sb["inputs"][0]["compression"], "gzip");
    for k in ["lines", "parsed", "rejected"] {
        assert_eq!(sa[k], sb[k], "{k}");
    }
    assert_eq!(
        sa["inputs"][0]["fingerprint"], sb["inputs"][0]["fingerprint"],
        "fingerprints are of the content"
    );
}

fn sample_lines(n: usize, first: u8) -> String {
    (0..n)
        .map(|i| format!("198.51.{first}.{} - - [05/Oct/2026:10:00:{:02} +0000] \"GET /p/{i} HTTP/1.1\" 200 {i} \"-\" \"curl/8\"\n", i % 250, i % 60))
        .collect()
}

#[test]
fn zstd_and_a_truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let text = sample_lines(50_000, 100);
    let zst = dir.path().join("a.log.zst");
    std::fs::write(&zst, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(sample_lines(50_000, 101).as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let cut = dir.path().join("b.log.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();

    let out = tempfile::tempdir().unwrap();
    let (code, s, _) = run(&[&zst], out.path(), &[]);
    assert_eq!(code, 0);
    let s = s.unwrap();
    assert_eq!(
        (s["parsed"].as_u64(), s["inputs"][0]["compression"].as_str()),
        (Some(50_000), Some("zstd"))
    );

    // Without --keep-going, the corrupt file fails the run and nothing is published.
    let out = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&[&zst, &cut], out.path(), &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("b.log.gz"), "{err}");
    assert!(!out.path().join("reports").exists());

    // With it, the good file and the good lines of the corrupt one are kept; still exit 1.
    let out = tempfile::tempdir().unwrap();
    let (code, s, err) = run(&[&zst, &cut], out.path(), &["--keep-going"]);
    assert_eq!(code, 1, "{err}");
    let s = s.unwrap();
    assert!(
        s["inputs"][1]["error"]
            .as_str()
            .unwrap()
            .contains("b.log.gz")
    );
    let good_of_cut = s["inputs"][1]["parsed"].as_u64().unwrap();
    assert!(good_of_cut > 1000 && good_of_cut < 50_000, "{good_of_cut}");
    assert_eq!(s["parsed"].as_u64().unwrap(), 50_000 + good_of_cut);
    assert!(out.path().join("reports/geo_daily").exists());
}

#[test]
fn trusted_proxies_pick_the_client_from_forwarded_for() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    // The proxy is 10.0.0.1 (no country); the client behind it, 8.8.8.8, is in the US.
    let line = r#"10.0.0.1 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8" "8.8.8.8, 10.0.0.2""#;
    std::fs::write(&log, format!("{line}\n")).unwrap();
    let countries = |args: &[&str]| {
        let out = tempfile::tempdir().unwrap();
        let mut args = args.to_vec();
        args.extend(["--k-min", "0"]);
        let (code, _, err) = run(&[&log], out.path(), &args);
        assert_eq!(code, 0, "{err}");
        let day = out.path().join("reports/geo_daily/date=2026-10-05");
        let f = std::fs::read_dir(day)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(f).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        let mut c = Vec::new();
        for b in reader {
            let b = b.unwrap();
            let col =
                arrow_array::cast::AsArray::as_string::<i32>(b.column_by_name("country").unwrap());
            c.extend(col.iter().map(|s| s.unwrap().to_string()));
        }
        common::assert_no_leak(out.path(), &common::addresses_in(line.as_bytes()));
        c
    };
    assert_eq!(countries(&[]), vec!["unknown"]);
    assert_eq!(countries(&["--trusted-proxy", "10.0.0.0/8"]), vec!["US"]);
    logveil()
        .args(["process", "--trusted-proxy", "not-a-net", "x.log"])
        .assert()
        .code(2);
}

#[test]
fn check_format_explains_and_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    let good =
        r#"203.0.113.9 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8""#;
    std::fs::write(
        &log,
        format!("{good}\n203.0.113.9 - - [05/Oct/2026:10:00:00 +0000] GET / 200 1\n"),
    )
    .unwrap();
    let o = logveil().arg("check-format").arg(&log).output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("line 2: byte 45: bad_request: expected '\"' to open the request"),
        "{text}"
    );
    assert!(text.contains("1 of 2 lines fail as combined"), "{text}");
    assert!(text.contains("formats ranked"), "{text}");
    assert!(
        !text.contains("GET / 200"),
        "no excerpt when stdout is not a terminal: {text}"
    );
    let o = logveil()
        .arg("check-format")
        .arg(&log)
        .args(["--format", "w3c"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 of 2 lines fail as w3c"));
}

#[test]
fn auto_detection_failing_names_check_format_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("error.log");
    std::fs::write(
        &log,
        "[Sun Oct 05 10:00:01 2026] [error] [client 198.51.100.1] File does not exist\n".repeat(20),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&[&log], out.path(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("check-format"), "{err}");
    assert!(!out.path().join("reports").exists());
}

#[test]
fn server_format_strings_read_like_the_named_formats() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample.log");
    let summary = |args: &[&str]| {
        let out = tempfile::tempdir().unwrap();
        let (code, s, err) = run(&[&sample], out.path(), args);
        assert_eq!(code, 0, "{args:?}: {err}");
        let s = s.unwrap();
        // Reasons may differ for a broken line (which field the parser blames), counts may not.
        (
            s["lines"].clone(),
            s["parsed"].clone(),
            s["rejected"].clone(),
        )
    };
    let named = summary(&["--format", "combined-xff"]);
    let nginx = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#;
    let apache = r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" "%{X-Forwarded-For}i""#;
    assert_eq!(summary(&["--nginx-format", nginx]), named);
    assert_eq!(summary(&["--log-format", apache]), named);
    let o = logveil()
        .args(["process", "--log-format", "%h %Z %t", "x.log"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("%Z"),
        "the unknown directive is named"
    );
}

/// Every log of the corpus under `--format auto`: the format chosen and the exact counts
/// (lines, parsed, rejected, directives), or exit 3 when no supported format fits.
#[test]
fn every_corpus_log_under_auto() {
    let Some(c) = corpus() else { return };
    type Expect = Option<(&'static str, u64, u64, u64, u64)>;
    let table: &[(&str, Expect)] = &[
        (
            "logs/apachelogs/vhost_combined.log",
            Some(("vhost_combined", 7, 6, 1, 0)),
        ),
        (
            "logs/elastic-examples/apache_logs.log",
            Some(("combined", 10_000, 9_999, 1, 0)),
        ),
        // IIS's native comma-separated format (not W3C): not supported.
        ("logs/iis-brianary/ex010320.log", None),
        // W3C without a `time` field (the time would come from `#Date:`): not supported yet.
        ("logs/iis-brianary/ex031118.log", None),
        ("logs/iis-brianary/ex960101.log", Some(("w3c", 6, 5, 0, 1))),
        (
            "logs/iis-brianary/u_ex100815.log",
            Some(("w3c", 56, 16, 0, 40)),
        ),
        (
            "logs/iis-brianary/u_ex160110.log",
            Some(("w3c", 128, 28, 0, 100)),
        ),
        (
            "logs/lnav/logfile_access_log.0",
            Some(("combined", 3, 3, 0, 0)),
        ),
        (
            "logs/lnav/logfile_access_log.1",
            Some(("combined", 1, 1, 0, 0)),
        ),
        (
            "logs/lnav/logfile_bad_access_log.0",
            Some(("combined", 3, 2, 1, 0)),
        ),
        // Zeek/Bro HTTP logs, HAProxy, syslog-wrapped and regexp-sample lines are not access
        // logs of a supported server format.
        ("logs/lnav/logfile_bro_http.log.0", None),
        // Caddy JSON behind a `caddy  | ` container prefix.
        ("logs/lnav/logfile_caddy_log.0", None),
        (
            "logs/lnav/logfile_caddy_log.1",
            Some(("caddy_json", 4, 4, 0, 0)),
        ),
        ("logs/lnav/logfile_haproxy.0", None),
        ("logs/lnav/logfile_regexp_access_log.0", None),
        (
            "logs/lnav/logfile_shop_access_log.0",
            Some(("combined_xff", 1_000, 1_000, 0, 0)),
        ),
        ("logs/lnav/logfile_syslog_with_access_log.0", None),
        ("logs/lnav/logfile_w3c.0", Some(("w3c", 5, 1, 0, 4))),
        ("logs/lnav/logfile_w3c.1", Some(("w3c", 7, 1, 0, 6))),
        // An FTP service log without a `date` field (the date is in `#Date:`): not supported yet.
        ("logs/lnav/logfile_w3c.2", None),
        ("logs/lnav/logfile_w3c.3", Some(("w3c", 10, 3, 0, 4))),
        // The Incapsula line with an empty status is rejected.
        ("logs/lnav/logfile_w3c.4", Some(("w3c", 6, 1, 1, 4))),
        // Its header declares 6 fields and its one line has 17.
        ("logs/lnav/logfile_w3c.5", None),
        ("logs/lnav/logfile_w3c.6", Some(("w3c", 5, 1, 0, 4))),
        (
            "logs/lnav/logfile_w3c_big.0",
            Some(("w3c", 254, 210, 0, 44)),
        ),
        (
            "logs/logparser/access_log",
            Some(("combined", 17, 16, 1, 0)),
        ),
        (
            "logs/logparser/access_log.gz",
            Some(("combined", 17, 16, 1, 0)),
        ),
        (
            "logs/logparser/inputformat-access.log",
            Some(("combined", 1, 1, 0, 0)),
        ),
    ];
    let mut failures = Vec::new();
    for (rel, expected) in table {
        let path = c.join(rel);
        let out = tempfile::tempdir().unwrap();
        let (code, s, err) = run(&[&path], out.path(), &[]);
        let got: Expect = match (code, s) {
            (0, Some(s)) => Some((
                match s["inputs"][0]["format"].as_str().unwrap() {
                    "vhost_combined" => "vhost_combined",
                    "combined" => "combined",
                    "combined_xff" => "combined_xff",
                    "w3c" => "w3c",
                    "caddy_json" => "caddy_json",
                    other => panic!("unexpected format {other}"),
                },
                s["lines"].as_u64().unwrap(),
                s["parsed"].as_u64().unwrap(),
                s["rejected"].as_u64().unwrap(),
                s["directives"].as_u64().unwrap(),
            )),
            (3, _) if err.contains("check-format") => None,
            (code, _) => {
                failures.push(format!("{rel}: exit {code}: {err}"));
                continue;
            }
        };
        if got != *expected {
            failures.push(format!("{rel}: expected {expected:?}, got {got:?}"));
        }
        if got.is_some() {
            common::assert_no_leak(
                out.path(),
                &common::addresses_in(&std::fs::read(&path).unwrap()),
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every file of the corpus's logs/ is in the table.
    let mut files = Vec::new();
    for dir in std::fs::read_dir(c.join("logs")).unwrap().flatten() {
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let name = f.path().strip_prefix(&c).unwrap().display().to_string();
            if !name.ends_with(".md") {
                files.push(name);
            }
        }
    }
    for f in files {
        assert!(
            table.iter().any(|(rel, _)| *rel == f),
            "{f} is not in the table"
        );
    }
}

/// `process --anonymised-log` rewrites each line from the record it parsed for the reports;
/// `anonymise` parses on its own. Both must write the same copy, byte for byte: every named
/// format of the corpus (when present), the hostile test logs, CRLF endings, a W3C log whose
/// header changes, and lines longer than the bound.
#[test]
fn the_copy_made_by_process_equals_the_anonymise_command() {
    let dir = tempfile::tempdir().unwrap();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let w3c = dir.path().join("w3c-crlf.log");
    std::fs::write(
        &w3c,
        "#Version: 1.0\r\n#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status cs(User-Agent)\r\n\
         2026-10-05 10:00:00 192.0.2.10 GET /a/12345 token=abc 200 Mozilla/5.0+(X11)\r\n\
         #Fields: date time cs-method c-ip sc-status cs-uri-stem\r\n\
         2026-10-05 10:00:01 GET 2001:db8::7 404 /mail/jane@example.org\r\n\
         \r\n\
         2026-10-05 10:00:02 POST 198.51.100.9 500 /x\n",
    )
    .unwrap();
    let long = dir.path().join("long.log");
    let mut text = sample_lines(5, 1);
    text.push_str(&format!(
        "192.0.2.99 - - [05/Oct/2026:10:00:00 +0000] \"GET /{} HTTP/1.1\" 200 1 \"-\" \"x\"\n",
        "a".repeat(70_000)
    ));
    text.push_str(&sample_lines(5, 2));
    std::fs::write(&long, text).unwrap();
    let mut cases: Vec<(PathBuf, &str)> = vec![
        (here.join("testdata/sample.log"), "clf"),
        (here.join("testdata/hostile/privacy.log"), "clf"),
        (here.join("testdata/hostile/cr.log"), "clf"),
        (here.join("testdata/hostile/quotes.log"), "clf"),
        (here.join("testdata/hostile/utf8.log"), "clf"),
        (here.join("testdata/hostile/json.log"), "caddy-json"),
        (w3c, "w3c"),
        (long, "clf"),
    ];
    if let Some(c) = corpus() {
        for (rel, f) in [
            ("logs/elastic-examples/apache_logs.log", "combined"),
            ("logs/lnav/logfile_shop_access_log.0", "combined-xff"),
            ("logs/apachelogs/vhost_combined.log", "vhost-combined"),
            ("logs/iis-brianary/u_ex160110.log", "w3c"),
            ("logs/iis-brianary/u_ex100815.log", "w3c"),
            ("logs/lnav/logfile_w3c_big.0", "w3c"),
            ("logs/lnav/logfile_caddy_log.1", "caddy-json"),
        ] {
            cases.push((c.join(rel), f));
        }
    }
    for (i, (log, format)) in cases.iter().enumerate() {
        let copy = dir.path().join(format!("anonymise-{i}.log"));
        let o = logveil()
            .args(["--now", NOW, "anonymise", "-q", "--format", format])
            .arg(log)
            .arg("-o")
            .arg(&copy)
            .output()
            .unwrap();
        assert!(o.status.code().unwrap_or(-1) <= 1, "{}", log.display());
        let copies = dir.path().join(format!("copies-{i}"));
        std::fs::create_dir(&copies).unwrap();
        let out = dir.path().join(format!("out-{i}"));
        // Every line rejected or not, the copy is published with the reports.
        let o = logveil()
            .args(["--now", NOW, "process", "-q", "--max-reject-rate", "1"])
            .args(["--format", format, "--anonymised-log"])
            .arg(&copies)
            .arg("--out")
            .arg(&out)
            .arg(log)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            log.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        let made = std::fs::read(copies.join(log.file_name().unwrap())).unwrap();
        let want = std::fs::read(&copy).unwrap_or_default();
        assert!(
            made == want,
            "{} ({format}): the copies differ\nprocess:\n{}\nanonymise:\n{}",
            log.display(),
            String::from_utf8_lossy(&made),
            String::from_utf8_lossy(&want)
        );
    }
}

/// Over many small chunks, the copy buffers that go back from the writer to the workers (and,
/// for a compressed copy, the buffer a worker keeps) are refilled from empty: the copy made by
/// `process` equals the `anonymise` command's, plain and gzip-compressed, with 1 and 3 threads.
#[test]
fn a_copy_over_many_chunks_reuses_its_buffers_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..4u8).map(|k| sample_lines(3_000, 10 + k)).collect();
    let plain = dir.path().join("many.log");
    std::fs::write(&plain, &text).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(text.as_bytes()).unwrap();
    let gz = dir.path().join("many.log.gz");
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let want = dir.path().join("want.log");
    let o = logveil()
        .args(["--now", NOW, "anonymise", "-q", "--format", "clf"])
        .arg(&plain)
        .arg("-o")
        .arg(&want)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = std::fs::read(&want).unwrap();
    assert_eq!(want.iter().filter(|&&b| b == b'\n').count(), 12_000);
    for (input, threads) in [(&plain, "1"), (&plain, "3"), (&gz, "1"), (&gz, "3")] {
        let copies = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let o = logveil()
            .args(["--now", NOW, "process", "-q", "--format", "clf"])
            .args(["--chunk-size", "4096", "--threads", threads])
            .arg("--anonymised-log")
            .arg(copies.path())
            .arg("--out")
            .arg(out.path())
            .arg(input)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let made = common::read_maybe_gz(&copies.path().join(input.file_name().unwrap()));
        assert!(
            made == want,
            "{} with {threads} threads: the copies differ",
            input.display()
        );
    }
}
