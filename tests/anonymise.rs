//! End-to-end tests of `logveil anonymise`: files, pipes, appending, compression, the summary,
//! and that no client address of the input survives in the copy.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sample.log");

const LINE_A: &str =
    r#"192.0.2.44 - frank [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "-" "curl/8""#;
const COPY_A: &str =
    r#"192.0.2.0 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "-" "curl/8""#;
const LINE_B: &str =
    r#"2001:db8:aa:bb::5 - - [10/Oct/2000:13:55:37 -0700] "GET /b HTTP/1.1" 404 0 "-" "curl/8""#;
const COPY_B: &str =
    r#"2001:db8:aa:: - - [10/Oct/2000:13:55:37 -0700] "GET /b HTTP/1.1" 404 0 "-" "curl/8""#;
const BAD: &str = r#"198.51.100.23 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.1" 200 1"#;

fn logveil() -> Command {
    Command::cargo_bin("logveil").unwrap()
}

fn client_addresses(log: &[u8]) -> Vec<std::net::IpAddr> {
    log.split(|&b| b == b'\n')
        .filter_map(|l| l.split(|&b| b == b' ').next())
        .filter_map(|c| std::str::from_utf8(c).ok()?.parse().ok())
        .collect()
}

#[test]
fn file_input_to_stdout_in_order_with_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    // Many lines and a small chunk size: the copy must keep the input's order.
    let mut input = String::new();
    let mut expected = String::new();
    for i in 0..3000 {
        let (l, c) = if i % 2 == 0 {
            (LINE_A, COPY_A)
        } else {
            (LINE_B, COPY_B)
        };
        let l = l.replace("GET /", &format!("GET /{i}/"));
        let c = c.replace("GET /", &format!("GET /{i}/"));
        input += &format!("{l}\n");
        expected += &format!("{c}\n");
        if i % 1000 == 7 {
            input += &format!("{BAD}\n");
        }
    }
    std::fs::write(&path, &input).unwrap();
    let out = logveil()
        .args(["anonymise", "--chunk-size", "4096", "--threads", "3"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("anonymise: 3003 lines, 3000 written, 3 rejected (bad_timestamp: 3)"),
        "{err}"
    );
    // -q silences the summary.
    let out = logveil()
        .args(["anonymise", "-q"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rejected_lines_never_reach_the_copy() {
    let input = format!("{LINE_A}\n{BAD}\nGET /secret?token=x\n{{\"json\": 1}}\n{LINE_B}\n");
    let out = logveil()
        .args(["anonymise", "--format", "combined"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success());
    let copy = String::from_utf8(out.stdout).unwrap();
    assert_eq!(copy, format!("{COPY_A}\n{COPY_B}\n"));
    assert!(!copy.contains("198.51.100") && !copy.contains("secret"));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("5 lines, 2 written, 3 rejected"), "{err}");
}

#[test]
fn stdin_pipe_is_copied_line_by_line() {
    let bin = assert_cmd::cargo::cargo_bin("logveil");
    let mut child = StdCommand::new(bin)
        .args(["anonymise", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let timeout = Duration::from_secs(20);
    // Each line comes back while the input is still open.
    writeln!(stdin, "{LINE_A}").unwrap();
    stdin.flush().unwrap();
    assert_eq!(rx.recv_timeout(timeout).expect("first line back"), COPY_A);
    writeln!(stdin, "{BAD}").unwrap();
    writeln!(stdin, "{LINE_B}").unwrap();
    stdin.flush().unwrap();
    assert_eq!(rx.recv_timeout(timeout).expect("second line back"), COPY_B);
    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).is_err(),
        "nothing else"
    );
}

#[test]
fn stdin_skips_overlong_lines_without_holding_them() {
    let long = format!(
        r#"192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /{} HTTP/1.1" 200 1"#,
        "x".repeat(5000)
    );
    let out = logveil()
        .args(["anonymise", "--max-line-bytes", "1000"])
        .write_stdin(format!("{LINE_A}\n{long}\n{LINE_B}"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{COPY_A}\n{COPY_B}\n")
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("3 lines, 2 written, 1 rejected (line_too_long: 1)"),
        "{err}"
    );
}

#[test]
fn output_file_is_appended_and_created_0640() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("anon.log");
    for line in [LINE_A, LINE_B] {
        logveil()
            .args(["anonymise", "-q", "-o"])
            .arg(&log)
            .write_stdin(format!("{line}\n"))
            .assert()
            .success()
            .stdout("");
    }
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("{COPY_A}\n{COPY_B}\n")
    );
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    // A file input appends too.
    let input = dir.path().join("in.log");
    std::fs::write(&input, format!("{LINE_A}\n")).unwrap();
    logveil()
        .args(["anonymise", "-q", "-o"])
        .arg(&log)
        .arg(&input)
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("{COPY_A}\n{COPY_B}\n{COPY_A}\n")
    );
    // Never through a symlink.
    let link = dir.path().join("link.log");
    std::os::unix::fs::symlink(&log, &link).unwrap();
    logveil()
        .args(["anonymise", "-q", "-o"])
        .arg(&link)
        .arg(&input)
        .assert()
        .code(1);
}

fn gunzip(path: &Path) -> String {
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

#[test]
fn gz_and_zst_outputs_are_readable() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.log");
    let mut text = String::new();
    let mut expected = String::new();
    for _ in 0..2000 {
        text += &format!("{LINE_A}\n{LINE_B}\n");
        expected += &format!("{COPY_A}\n{COPY_B}\n");
    }
    std::fs::write(&input, &text).unwrap();
    let gz = dir.path().join("anon.log.gz");
    // A file input (compressed per chunk), then a stream appended to it.
    logveil()
        .args(["anonymise", "-q", "--chunk-size", "8192", "-o"])
        .arg(&gz)
        .arg(&input)
        .assert()
        .success();
    logveil()
        .args(["anonymise", "-q", "-o"])
        .arg(&gz)
        .write_stdin(format!("{LINE_B}\n"))
        .assert()
        .success();
    assert_eq!(gunzip(&gz), format!("{expected}{COPY_B}\n"));
    let zst = dir.path().join("anon.log.zst");
    logveil()
        .args(["anonymise", "-q", "--chunk-size", "8192", "-o"])
        .arg(&zst)
        .arg(&input)
        .assert()
        .success();
    let bytes = zstd::decode_all(std::fs::File::open(&zst).unwrap()).unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap(), expected);
}

#[test]
fn gz_input_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("in.log.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(format!("{LINE_A}\n{LINE_B}\n").as_bytes())
        .unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    logveil()
        .args(["anonymise", "-q"])
        .arg(&gz)
        .assert()
        .success()
        .stdout(format!("{COPY_A}\n{COPY_B}\n"));
}

#[test]
fn usage_errors_exit_2() {
    logveil()
        .args(["anonymise", "--ipv4-prefix", "40"])
        .assert()
        .code(2);
    logveil()
        .args(["anonymise", "--log-format", "%h %Z"])
        .assert()
        .code(2);
    logveil()
        .args(["anonymise", "/nonexistent/logveil/input.log"])
        .assert()
        .code(1);
}

#[test]
fn custom_format_blanks_cookies() {
    let line = r#"192.0.2.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "sid=1234""#;
    logveil()
        .args([
            "anonymise",
            "-q",
            "--log-format",
            r#"%h %l %u %t "%r" %>s %b "%{Cookie}i""#,
        ])
        .write_stdin(format!("{line}\n"))
        .assert()
        .success()
        .stdout(
            r#"192.0.2.0 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-"
"#,
        );
}

#[test]
fn w3c_stream_keeps_its_directives() {
    let input = "#Version: 1.0\n#Fields: date time c-ip cs-method cs-uri-stem sc-status\n2016-01-10 00:00:05 203.0.113.9 GET /a 200\n";
    logveil()
        .args(["anonymise", "-q"])
        .write_stdin(input)
        .assert()
        .success()
        .stdout("#Version: 1.0\n#Fields: date time c-ip cs-method cs-uri-stem sc-status\n2016-01-10 00:00:05 203.0.113.0 GET /a 200\n");
}

/// No client address of the sample log, in any textual form, survives in its copy; X-Forwarded-For
/// entries are truncated too.
#[test]
fn sample_log_copy_leaks_no_client_address() {
    let input = std::fs::read(SAMPLE).unwrap();
    let out = logveil().args(["anonymise"]).arg(SAMPLE).output().unwrap();
    assert!(out.status.success());
    let copy = out.stdout;
    let clients = client_addresses(&input);
    assert!(clients.len() > 1000, "{} clients", clients.len());
    // Every address written in the copy, in whatever textual form, parsed back.
    let found: std::collections::BTreeSet<_> = common::addresses_in(&copy).into_iter().collect();
    let mut leaks = Vec::new();
    for (k, ip) in clients.iter().enumerate() {
        // An address that is its own truncation (`a.b.c.0`) identifies no more than the copy's.
        if logveil::anon::truncate(*ip, logveil::anon::Masks::default()) == *ip {
            continue;
        }
        if found.contains(ip) {
            leaks.push(ip.to_string());
        }
        // The textual forms too, for a sample of them (the scan is quadratic).
        if k % 40 == 0 {
            for form in common::leak_forms(ip) {
                if common::contains_address(&copy, form.as_bytes(), ip.is_ipv6()) {
                    leaks.push(form);
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks, e.g. {:?}",
        leaks.len(),
        &leaks[..leaks.len().min(5)]
    );
    // Every address left in the copy is a truncated one.
    for &ip in &found {
        let masked = logveil::anon::truncate(ip, logveil::anon::Masks::default());
        assert_eq!(masked, ip, "{ip} is not truncated");
    }
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("2000 lines"), "{err}");
}

/// With real scrubbing, no address at all from the input survives (user agents, referrers
/// and targets included).
#[test]
fn sample_log_copy_leaks_no_address_anywhere() {
    let input = std::fs::read(SAMPLE).unwrap();
    let out = logveil().args(["anonymise"]).arg(SAMPLE).output().unwrap();
    assert!(out.status.success());
    let found: std::collections::BTreeSet<_> =
        common::addresses_in(&out.stdout).into_iter().collect();
    for ip in common::addresses_in(&input) {
        let masked = logveil::anon::truncate(ip, logveil::anon::Masks::default());
        assert!(masked == ip || !found.contains(&ip), "{ip} leaks");
    }
}
