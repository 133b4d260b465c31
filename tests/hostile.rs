//! Hostile inputs through the binary: each case is processed to records and counted rejects,
//! with no panic, no signal death and bounded memory (peak RSS of the child, from `wait4`),
//! and the valid lines around the hostile ones are all kept. Small inputs live in
//! `testdata/hostile/`; large ones are generated here at run time.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// A valid Combined line; every generated input starts and ends with one.
const VALID: &[u8] =
    b"192.0.2.10 - - [05/Oct/2026:10:00:00 +0000] \"GET /ok HTTP/1.1\" 200 5 \"-\" \"ua\"\n";

/// Peak resident memory allowed to any case (debug build). A mapped 100 MiB line is resident
/// while it is scanned, so the bound is above that; what it excludes is memory growing with
/// a streamed input (the gzip bomb inflates to 256 MiB, 10 GiB in the full-size test).
const PEAK_RSS_LIMIT_KIB: i64 = 320 * 1024;

fn hostile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/hostile")
        .join(name)
}

struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    peak_rss_kib: i64,
    _dir: tempfile::TempDir,
}

/// Runs `logveil process INPUT --out <tmp> --json --max-reject-rate 1 ARGS` and waits for it
/// with `wait4`, which also gives the child's peak resident memory.
#[allow(clippy::zombie_processes)] // reaped by `wait4`
fn run(input: &Path, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let stdout = std::fs::File::create(dir.path().join("stdout")).unwrap();
    let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_logveil"))
        .arg("process")
        .arg(input)
        .arg("--out")
        .arg(dir.path().join("out"))
        .args([
            "--now",
            "2026-10-06T00:00:00Z",
            "--json",
            "--max-reject-rate",
            "1",
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let (status, peak_rss_kib) = wait4(child.id() as i32);
    let read =
        |n: &str| String::from_utf8_lossy(&std::fs::read(dir.path().join(n)).unwrap()).into_owned();
    Run {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        stdout: read("stdout"),
        stderr: read("stderr"),
        peak_rss_kib,
        _dir: dir,
    }
}

/// Waits for `pid`; its wait status and peak RSS in KiB.
fn wait4(pid: i32) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: `rusage` is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to a status word and an rusage structure.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return (status, usage.ru_maxrss);
        }
        assert_eq!(
            std::io::Error::last_os_error().kind(),
            std::io::ErrorKind::Interrupted,
            "wait4 failed"
        );
    }
}

/// What a case must produce: summary counts (exit 0, published).
struct Expect<'a> {
    lines: u64,
    parsed: u64,
    blank: u64,
    by_reason: &'a [(&'a str, u64)],
}

/// The check of one case: no signal, no panic, exit 0, the expected counts, bounded memory.
fn check(case: &str, input: &Path, args: &[&str], expected: &Expect<'_>) -> Result<(), String> {
    let r = run(input, args);
    eprintln!("{case}: peak RSS {} MiB", r.peak_rss_kib / 1024);
    if let Some(sig) = r.signal {
        return Err(format!("killed by signal {sig}; stderr: {}", r.stderr));
    }
    if r.stderr.contains("panicked") {
        return Err(format!("panic: {}", r.stderr));
    }
    if r.code != Some(0) {
        return Err(format!("exit {:?}: {}", r.code, r.stderr));
    }
    let s: Value = serde_json::from_str(r.stdout.trim())
        .map_err(|e| format!("stdout is not JSON ({e}): {}", r.stdout))?;
    let want_reasons: BTreeMap<String, u64> = expected
        .by_reason
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let got = (
        s["lines"].as_u64(),
        s["parsed"].as_u64(),
        s["blank"].as_u64(),
        serde_json::from_value::<BTreeMap<String, u64>>(s["rejected_by_reason"].clone()).ok(),
        s["published"].as_bool(),
    );
    let want = (
        Some(expected.lines),
        Some(expected.parsed),
        Some(expected.blank),
        Some(want_reasons),
        Some(true),
    );
    if got != want {
        return Err(format!(
            "(lines, parsed, blank, by_reason, published) = {got:?}, want {want:?}"
        ));
    }
    if r.peak_rss_kib > PEAK_RSS_LIMIT_KIB {
        return Err(format!(
            "peak RSS {} KiB over {} KiB",
            r.peak_rss_kib, PEAK_RSS_LIMIT_KIB
        ));
    }
    Ok(())
}

/// Runs every case and reports all failures at once.
fn check_all(cases: &[(&str, PathBuf, Vec<&str>, Expect<'_>)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, input, args, expected)| {
            check(name, input, args, expected)
                .err()
                .map(|e| format!("{name}: {e}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn e<'a>(lines: u64, parsed: u64, blank: u64, by_reason: &'a [(&'a str, u64)]) -> Expect<'a> {
    Expect {
        lines,
        parsed,
        blank,
        by_reason,
    }
}

/// The committed cases of `testdata/hostile/` (each one but `newlines` and `empty` starts and
/// ends with a valid line).
#[test]
fn small_hostile_files() {
    let clf = vec!["--format", "clf"];
    check_all(&[
        (
            "NUL bytes in every field",
            hostile("nul.log"),
            clf.clone(),
            e(
                12,
                7,
                0,
                &[
                    ("bad_client", 2),
                    ("bad_status", 1),
                    ("bad_timestamp", 1),
                    ("bad_user_agent", 1),
                ],
            ),
        ),
        (
            "only newlines",
            hostile("newlines.log"),
            clf.clone(),
            e(1000, 0, 1000, &[]),
        ),
        (
            "empty file",
            hostile("empty.log"),
            clf.clone(),
            e(0, 0, 0, &[]),
        ),
        (
            "\\r without \\n",
            hostile("cr.log"),
            clf.clone(),
            e(3, 2, 0, &[("trailing_data", 1)]),
        ),
        (
            "invalid UTF-8 in every field",
            hostile("utf8.log"),
            clf.clone(),
            e(
                14,
                10,
                0,
                &[("bad_bytes", 1), ("bad_status", 1), ("bad_timestamp", 2)],
            ),
        ),
        (
            "years 0 and 9999, offsets past them, impossible dates",
            hostile("years.log"),
            clf.clone(),
            e(13, 7, 0, &[("bad_timestamp", 6)]),
        ),
        (
            "months in other languages",
            hostile("months.log"),
            clf.clone(),
            e(12, 2, 0, &[("bad_timestamp", 10)]),
        ),
        (
            "status 0, 999 and worse",
            hostile("status.log"),
            clf.clone(),
            e(12, 4, 0, &[("bad_status", 8)]),
        ),
        (
            "bytes - and 2^64",
            hostile("bytes.log"),
            clf.clone(),
            e(11, 5, 0, &[("bad_bytes", 6)]),
        ),
        (
            "nested and unbalanced quotes",
            hostile("quotes.log"),
            clf.clone(),
            e(
                13,
                7,
                0,
                &[
                    ("bad_request", 1),
                    ("bad_status", 2),
                    ("bad_timestamp", 1),
                    ("bad_user_agent", 2),
                ],
            ),
        ),
        (
            "JSON with duplicate keys and deep nesting",
            hostile("json.log"),
            vec!["--format", "caddy-json"],
            e(
                14,
                4,
                0,
                &[
                    ("bad_request", 8),
                    ("bad_timestamp", 1),
                    ("line_too_long", 1),
                ],
            ),
        ),
    ]);
}

fn write_file(dir: &Path, name: &str, parts: &[&[u8]]) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for p in parts {
        f.write_all(p).unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();
    path
}

/// A 100 MiB line between two valid ones, mapped and read: one `line_too_long`, both valid
/// lines kept.
#[test]
fn a_100_mib_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut long = vec![b'a'; 100 << 20];
    long.push(b'\n');
    let path = write_file(dir.path(), "long.log", &[VALID, &long, VALID]);
    drop(long);
    let expect = || e(3, 2, 0, &[("line_too_long", 1)]);
    check_all(&[
        (
            "100 MiB line, mapped",
            path.clone(),
            vec!["--format", "clf"],
            expect(),
        ),
        (
            "100 MiB line, read()",
            path,
            vec!["--format", "clf", "--no-mmap"],
            expect(),
        ),
    ]);
}

/// Ten thousand X-Forwarded-For entries behind a trusted proxy, and a W3C header of ten
/// thousand fields with a line under it.
#[test]
fn ten_thousand_fields() {
    let dir = tempfile::tempdir().unwrap();
    let mut xff = b"198.51.100.7 - - [05/Oct/2026:10:00:00 +0000] \"GET /xff HTTP/1.1\" 200 5 \"-\" \"ua\" \"203.0.113.5".to_vec();
    for i in 0..10_000u32 {
        write!(xff, ", 10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255).unwrap();
    }
    xff.extend_from_slice(b"\"\n");
    let xff_path = write_file(dir.path(), "xff.log", &[VALID, &xff, VALID]);

    let mut header = b"#Fields: date time c-ip cs-method cs-uri-stem sc-status".to_vec();
    let mut wide = b"2026-10-05 10:00:00 198.51.100.7 GET /wide 200".to_vec();
    for i in 6..10_000 {
        write!(header, " x-f{i}").unwrap();
        write!(wide, " v{i}").unwrap();
    }
    header.push(b'\n');
    wide.push(b'\n');
    let normal = b"#Fields: date time c-ip cs-method cs-uri-stem sc-status\n2026-10-05 10:00:00 192.0.2.10 GET /ok 200\n";
    let w3c = write_file(dir.path(), "wide.log", &[normal, &header, &wide, normal]);
    check_all(&[
        (
            "10,000 X-Forwarded-For entries, trusted proxy",
            xff_path.clone(),
            vec![
                "--format",
                "clf",
                "--trusted-proxy",
                "10.0.0.0/8",
                "--max-line-bytes",
                "1000000",
            ],
            e(3, 3, 0, &[]),
        ),
        (
            "10,000 X-Forwarded-For entries over --max-line-bytes",
            xff_path,
            vec!["--format", "clf", "--trusted-proxy", "10.0.0.0/8"],
            e(3, 2, 0, &[("line_too_long", 1)]),
        ),
        (
            "W3C header of 10,000 fields",
            w3c,
            vec!["--format", "w3c", "--max-line-bytes", "1000000"],
            e(6, 3, 0, &[]),
        ),
    ]);
}

/// A gzip bomb: `inflated` bytes of zeros without a newline between two valid lines, as
/// repeated gzip members of 64 MiB each (written without ever holding the inflated data).
fn gzip_bomb(dir: &Path, inflated: u64) -> PathBuf {
    let block = 64u64 << 20;
    let member = |data: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    };
    let zeros = member(&vec![0u8; block as usize]);
    let path = dir.join("bomb.log.gz");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(&member(VALID)).unwrap();
    for _ in 0..inflated / block {
        f.write_all(&zeros).unwrap();
    }
    f.write_all(&member(&[b"\n", VALID].concat())).unwrap();
    f.into_inner().unwrap().sync_all().unwrap();
    path
}

fn check_bomb(inflated: u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = gzip_bomb(dir.path(), inflated);
    eprintln!(
        "gzip bomb: {} bytes on disk, {} inflated",
        std::fs::metadata(&path).unwrap().len(),
        inflated
    );
    check_all(&[(
        "gzip bomb",
        path,
        vec!["--format", "clf"],
        e(3, 2, 0, &[("line_too_long", 1)]),
    )]);
}

/// 256 MiB of zeros in one line (from 250 KB), streamed in bounded memory.
#[test]
fn gzip_bomb_256_mib() {
    check_bomb(256 << 20);
}

/// The full-size bomb (about 10 MB inflating to 10 GiB): `scripts/gzip-bomb.sh`.
#[test]
#[ignore = "takes minutes; run by scripts/gzip-bomb.sh"]
fn gzip_bomb_10_gib() {
    check_bomb(10 << 30);
}

/// A log truncated by another process while logveil has it mapped: the run never dies of a
/// signal. It either finished before the truncation (exit 0), or fails with exit 1 and one
/// error line naming the file.
#[test]
#[allow(clippy::zombie_processes)] // reaped by `wait4`
fn a_log_truncated_while_mapped_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.log");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..600_000u32 {
            writeln!(
                f,
                "192.0.2.{} - - [05/Oct/2026:10:00:00 +0000] \"GET /page/{i} HTTP/1.1\" 200 {i} \"-\" \"ua\"",
                i % 250
            )
            .unwrap();
        }
    }
    let out = dir.path().join("out");
    let child = Command::new(env!("CARGO_BIN_EXE_logveil"))
        .arg("process")
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .args([
            "--now",
            "2026-10-06T00:00:00Z",
            "--format",
            "clf",
            "--threads",
            "1",
            "--chunk-size",
            "1048576",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    // Truncate once the file is mapped (seen in the child's maps), so the run has started.
    let maps = format!("/proc/{pid}/maps");
    let name = path.display().to_string();
    let mut truncated = false;
    for _ in 0..20_000 {
        match std::fs::read_to_string(&maps) {
            Ok(m) if m.contains(&name) => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(4096)
                    .unwrap();
                truncated = true;
                break;
            }
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
            Err(_) => break, // the child has exited already
        }
    }
    let mut stderr = child.stderr.unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut err).unwrap();
    let (status, _) = wait4(pid);
    assert!(
        !libc::WIFSIGNALED(status),
        "killed by signal {} (truncated: {truncated}); stderr: {err}",
        libc::WTERMSIG(status)
    );
    let code = libc::WEXITSTATUS(status);
    eprintln!("truncated mid-run: {truncated}; exit {code}; stderr: {err}");
    match code {
        0 => {}
        1 => {
            let err = err.trim_end();
            assert_eq!(err.lines().count(), 1, "one error line: {err}");
            assert!(err.contains(&name), "the error names the file: {err}");
            assert!(err.contains("changed while it was read"), "{err}");
            assert_eq!(err.matches("changed").count(), 1, "said once: {err}");
            assert!(
                !out.join("reports").exists()
                    || std::fs::read_dir(out.join("reports"))
                        .unwrap()
                        .next()
                        .is_none(),
                "nothing is published from a file that changed"
            );
        }
        other => panic!("exit {other}; stderr: {err}"),
    }
}

/// A small tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` bytes on `dir`, or `None` where mounting is not permitted.
    fn mount(dir: &Path, size: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn resize(&self, size: u64) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success(), "remount to {size} bytes");
    }

    /// Bytes in use (whole pages, as tmpfs counts them).
    fn used(&self) -> u64 {
        let c = std::ffi::CString::new(self.0.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `statvfs` is plain data, filled by the call for a valid path.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
        (st.f_blocks - st.f_bfree) * st.f_frsize
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A full disk: the output tree lives on a tmpfs too small for the run, at several sizes so
/// that the space runs out while diagnostics, reports or the manifest are written. Each run
/// exits 1 with one error line saying so, and leaves no report, no manifest and no temporary
/// file; the next run with space succeeds. Skipped where a tmpfs cannot be mounted.
#[test]
fn a_full_disk_fails_cleanly_and_the_next_run_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("disk");
    let Some(disk) = Tmpfs::mount(&mnt, 64 << 20) else {
        eprintln!(
            "SKIPPED a_full_disk_fails_cleanly_and_the_next_run_succeeds: cannot mount a tmpfs here (needs root)"
        );
        return;
    };
    let out = mnt.join("out");
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample.log");
    let process = || {
        let o = Command::new(env!("CARGO_BIN_EXE_logveil"))
            .arg("process")
            .arg(&log)
            .arg("--out")
            .arg(&out)
            .args(["--now", "2026-10-06T00:00:00Z", "--diagnostics", "all"])
            .output()
            .unwrap();
        (o.status, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (status, err) = process();
    assert!(status.success(), "with space: {err}");
    let full = disk.used();
    let complete = files_under(&out);
    assert!(complete.iter().any(|f| f.starts_with("runs/")));
    std::fs::remove_dir_all(&out).unwrap();

    let page = 4096;
    let mut failures = Vec::new();
    for share in [5, 30, 60, 80, 90, 95, 99] {
        let size = (full * share / 100).div_ceil(page) * page;
        if size >= full {
            continue;
        }
        disk.resize(size);
        let (status, err) = process();
        let err = err.trim_end().to_string();
        let left = files_under(&out);
        let published: Vec<&String> = left
            .iter()
            .filter(|f| f.starts_with("reports/") || f.starts_with("runs/"))
            .collect();
        let temps: Vec<&String> = left.iter().filter(|f| f.contains(".tmp-")).collect();
        let ok = status.code() == Some(1)
            && err.lines().count() == 1
            && err.contains("No space left on device")
            && !err.contains("panicked")
            && published.is_empty()
            && temps.is_empty();
        eprintln!("disk of {size} bytes ({share}% of {full}): {status}: {err}");
        if !ok {
            failures.push(format!(
                "{size} bytes: {status}, stderr {err:?}, published {published:?}, temporaries {temps:?}"
            ));
        }
        std::fs::remove_dir_all(&out).ok();
    }
    disk.resize(64 << 20);
    let (status, err) = process();
    assert!(status.success(), "the next run with space: {err}");
    assert_eq!(
        files_under(&out).len(),
        complete.len(),
        "the next run writes a complete tree"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
