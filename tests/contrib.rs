//! The files of `contrib/`: the systemd service and timer parse as unit files with known keys
//! (and pass `systemd-analyze verify` when it is installed), the logrotate stanza passes
//! `logrotate -d` (when installed) and its postrotate script is valid shell; all of them run
//! `logveil rotate --config /etc/logveil/logveil.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const INVOCATION: &str = "/usr/local/bin/logveil rotate --config /etc/logveil/logveil.toml";

fn contrib(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib")
        .join(rel)
}

/// An INI-style unit file as section → [(key, value)]; panics on a line that is neither.
fn parse_unit(text: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut sections: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.to_string());
            sections.entry(name.to_string()).or_default();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not `key=value`: {line}", n + 1));
        let section = current
            .as_ref()
            .unwrap_or_else(|| panic!("line {}: key before any section", n + 1));
        sections
            .get_mut(section)
            .unwrap()
            .push((k.trim().to_string(), v.trim().to_string()));
    }
    sections
}

/// Keys these units may use, by section (a typo would otherwise be silently ignored).
fn known_keys(section: &str) -> &'static [&'static str] {
    match section {
        "Unit" => &["Description", "Documentation", "After", "Wants", "Requires"],
        "Service" => &[
            "Type",
            "ExecStart",
            "User",
            "Group",
            "SupplementaryGroups",
            "StateDirectory",
            "StateDirectoryMode",
            "UMask",
            "Nice",
            "IOSchedulingClass",
            "NoNewPrivileges",
            "PrivateNetwork",
            "PrivateTmp",
            "ProtectSystem",
            "ProtectHome",
            "ProtectKernelTunables",
            "ProtectControlGroups",
            "RestrictSUIDSGID",
        ],
        "Timer" => &["OnCalendar", "RandomizedDelaySec", "Persistent", "Unit"],
        "Install" => &["WantedBy"],
        _ => &[],
    }
}

fn check_unit(name: &str, sections: &[&str]) -> BTreeMap<String, Vec<(String, String)>> {
    let text = std::fs::read_to_string(contrib(&format!("systemd/{name}"))).unwrap();
    let unit = parse_unit(&text);
    assert_eq!(
        unit.keys().map(String::as_str).collect::<Vec<_>>(),
        sections,
        "{name}"
    );
    for (section, keys) in &unit {
        for (k, _) in keys {
            assert!(
                known_keys(section).contains(&k.as_str()),
                "{name}: [{section}] {k}"
            );
        }
    }
    unit
}

#[test]
fn systemd_units_parse() {
    let service = check_unit("logveil-rotate.service", &["Service", "Unit"]);
    let exec: Vec<&str> = service["Service"]
        .iter()
        .filter(|(k, _)| k == "ExecStart")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(exec, [INVOCATION]);
    assert!(service["Service"].contains(&("Type".into(), "oneshot".into())));
    let timer = check_unit("logveil-rotate.timer", &["Install", "Timer", "Unit"]);
    assert!(timer["Timer"].iter().any(|(k, _)| k == "OnCalendar"));
    assert!(timer["Install"].contains(&("WantedBy".into(), "timers.target".into())));
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn systemd_analyze_verify() {
    if !have("systemd-analyze") {
        println!("SKIPPED: systemd-analyze is not installed");
        return;
    }
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_logveil");
    for name in ["logveil-rotate.service", "logveil-rotate.timer"] {
        let text = std::fs::read_to_string(contrib(&format!("systemd/{name}"))).unwrap();
        std::fs::write(
            dir.path().join(name),
            text.replace("/usr/local/bin/logveil", bin),
        )
        .unwrap();
    }
    let o = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("logveil-rotate.service"))
        .arg(dir.path().join("logveil-rotate.timer"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "systemd-analyze verify: {err}");
    assert!(!err.contains("Unknown key"), "{err}");
}

/// The lines between `postrotate` and `endscript`.
fn postrotate(text: &str) -> String {
    let mut inside = false;
    let mut script = String::new();
    for line in text.lines() {
        match line.trim() {
            "postrotate" => inside = true,
            "endscript" => inside = false,
            _ if inside => {
                script.push_str(line);
                script.push('\n');
            }
            _ => {}
        }
    }
    script
}

#[test]
fn logrotate_snippet() {
    let text = std::fs::read_to_string(contrib("logrotate/logveil")).unwrap();
    let script = postrotate(&text);
    assert!(script.contains(INVOCATION), "{script}");
    let o = Command::new("sh")
        .args(["-n", "-c", &script])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "postrotate is not valid sh: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    if !have("logrotate") {
        println!("SKIPPED: logrotate is not installed (only the postrotate script was checked)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("access.log"), "x\n").unwrap();
    let conf = dir.path().join("logrotate.conf");
    std::fs::write(
        &conf,
        text.replace("/var/log/apache2", &logs.display().to_string()),
    )
    .unwrap();
    let o = Command::new("logrotate")
        .arg("-d")
        .arg("-s")
        .arg(dir.path().join("state"))
        .arg(&conf)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "logrotate -d: {err}");
    assert!(!err.contains("error:"), "{err}");
}
