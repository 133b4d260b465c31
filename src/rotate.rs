//! The `rotate` command's own parts: its TOML configuration (turned into the options of
//! `process`, each checked with its line), input globs, and deleting raw inputs once their
//! outputs are committed. Never deletes an input whose whole content is not in the ledger.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One option of the command line, as the configuration file may set it.
#[derive(Debug, Clone)]
pub struct OptionSpec {
    /// The key in the file: the long name with `_` for `-` (`k_min`).
    pub key: String,
    /// The long option (`k-min`).
    pub long: String,
    /// A switch (`true` sets it).
    pub flag: bool,
    /// May be given several times (a list in the file).
    pub many: bool,
    /// Given on the command line (or by the environment): the file's value is ignored.
    pub given: bool,
}

/// What a configuration file adds to the command line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ConfigArgs {
    /// Command-line arguments for every key not given on the command line.
    pub args: Vec<String>,
    /// `inputs`: globs of the logs to process.
    pub inputs: Vec<String>,
}

/// Reads the configuration `path`. Every key must be an option of `options`, or `inputs`,
/// with a value of its kind (switch: boolean; repeatable: a list or one value; other: a
/// string or number). `check` parses one key's arguments as the command line would, and
/// says what is wrong; errors name the key and its line.
pub fn config_args(
    path: &Path,
    text: &str,
    options: &[OptionSpec],
    check: &dyn Fn(&[String]) -> std::result::Result<(), String>,
) -> Result<ConfigArgs> {
    let err = |line: usize, key: &str, reason: String| Error::Config {
        path: path.to_path_buf(),
        line,
        key: key.to_string(),
        reason,
    };
    let table: BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>> = toml::from_str(text)
        .map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        let key = e
            .span()
            .and_then(|s| key_at(text, s.start))
            .unwrap_or_default();
        err(line, &key, e.message().to_string())
    })?;
    let mut entries: Vec<_> = table.into_iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut out = ConfigArgs::default();
    for (key, value) in entries {
        let line = line_of(text, key.span().start);
        let name = key.get_ref().as_str();
        let value = value.into_inner();
        if name == "inputs" {
            let names = match &value {
                toml::Value::String(s) => Some(vec![s.clone()]),
                toml::Value::Array(a) => a.iter().map(|v| v.as_str().map(String::from)).collect(),
                _ => None,
            };
            out.inputs = names
                .ok_or_else(|| err(line, name, "expected a list of file names or globs".into()))?;
            continue;
        }
        let Some(spec) = options.iter().find(|o| o.key == name) else {
            let known: Vec<&str> = options.iter().map(|o| o.key.as_str()).collect();
            return Err(err(
                line,
                name,
                format!("unknown key; the keys are inputs, {}", known.join(", ")),
            ));
        };
        let mut args = Vec::new();
        if spec.flag {
            match value {
                toml::Value::Boolean(true) => args.push(format!("--{}", spec.long)),
                toml::Value::Boolean(false) => {}
                _ => return Err(err(line, name, "expected true or false".into())),
            }
        } else {
            let values = match (&value, spec.many) {
                (toml::Value::Array(_), true) => strings(&value),
                (toml::Value::Array(_), false) => {
                    return Err(err(line, name, "takes one value, not a list".into()));
                }
                (v, _) => scalar(v).map(|s| vec![s]),
            };
            let values = values.ok_or_else(|| {
                err(
                    line,
                    name,
                    "expected a string or a number".to_string()
                        + if spec.many { ", or a list of them" } else { "" },
                )
            })?;
            for v in values {
                args.push(format!("--{}", spec.long));
                args.push(v);
            }
        }
        check(&args).map_err(|reason| err(line, name, reason))?;
        if !spec.given {
            out.args.extend(args);
        }
    }
    Ok(out)
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

fn strings(v: &toml::Value) -> Option<Vec<String>> {
    match v {
        toml::Value::Array(a) => a.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

/// The 1-based line of byte `pos` in `text`.
fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The key assigned on the line holding byte `pos`, if the line is `key = …`.
fn key_at(text: &str, pos: usize) -> Option<String> {
    let start = text[..pos.min(text.len())].rfind('\n').map_or(0, |p| p + 1);
    let line = text[start..].lines().next()?;
    let (k, _) = line.split_once('=')?;
    let k = k.trim();
    (!k.is_empty()).then(|| k.to_string())
}

/// The files `patterns` name: a plain path as is (when it exists), a glob (`*`, `?`, `[…]`
/// in its last component) as every matching regular file. Sorted, without duplicates.
pub fn expand(patterns: &[String]) -> Result<Vec<PathBuf>> {
    let mut files = std::collections::BTreeSet::new();
    for pat in patterns {
        let p = Path::new(pat);
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| d.to_string_lossy().contains(['*', '?', '['])) {
            return Err(Error::Usage(format!(
                "{pat}: only the file name of an input may hold a wildcard"
            )));
        }
        if !name.contains(['*', '?', '[']) {
            if p.is_file() {
                files.insert(p.to_path_buf());
            }
            continue;
        }
        let dir = dir.unwrap_or(Path::new("."));
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if !n.starts_with('.')
                && glob_match(name.as_bytes(), n.as_bytes())
                && e.file_type().is_ok_and(|t| t.is_file())
            {
                files.insert(if p.parent().is_some_and(|d| !d.as_os_str().is_empty()) {
                    dir.join(&n)
                } else {
                    PathBuf::from(&n)
                });
            }
        }
    }
    Ok(files.into_iter().collect())
}

/// Shell-style matching of one file name: `*`, `?` and `[abc]`, `[a-z]`, `[!abc]`.
pub fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| glob_match(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && glob_match(rest, &name[1..]),
        Some((b'[', rest)) => {
            let Some(close) = rest.iter().skip(1).position(|&b| b == b']').map(|p| p + 1) else {
                return name.first() == Some(&b'[') && glob_match(rest, &name[1..]);
            };
            let Some((&c, tail)) = name.split_first() else {
                return false;
            };
            let (neg, set) = match rest[..close].split_first() {
                Some((b'!' | b'^', s)) => (true, s),
                _ => (false, &rest[..close]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != neg && glob_match(&rest[close + 1..], tail)
        }
        Some((&b, rest)) => name.first() == Some(&b) && glob_match(rest, &name[1..]),
    }
}

/// Deletes raw inputs whose whole content the committed run counted: each only if it still
/// has the size it had when it was looked at (a log still written is kept). Returns the
/// files deleted.
pub fn delete_raw(complete: &[(PathBuf, u64)]) -> Result<Vec<PathBuf>> {
    let mut deleted = Vec::new();
    for (path, len) in complete {
        let same = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == *len);
        if same && crate::store::remove_file(path)? {
            deleted.push(path.clone());
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(key: &str, flag: bool, many: bool, given: bool) -> OptionSpec {
        OptionSpec {
            key: key.into(),
            long: key.replace('_', "-"),
            flag,
            many,
            given,
        }
    }

    fn options() -> Vec<OptionSpec> {
        vec![
            opt("out", false, false, false),
            opt("k_min", false, false, false),
            opt("retention", false, false, false),
            opt("delete_raw_after", true, false, false),
            opt("trusted_proxy", false, true, false),
            opt("threads", false, false, true),
        ]
    }

    fn check(text: &str) -> std::result::Result<ConfigArgs, String> {
        let ok = |args: &[String]| {
            if args.iter().any(|a| a == "bad") {
                Err("invalid value 'bad'".to_string())
            } else {
                Ok(())
            }
        };
        config_args(Path::new("c.toml"), text, &options(), &ok).map_err(|e| e.to_string())
    }

    #[test]
    fn keys_become_options_and_the_command_line_wins() {
        let got = check(
            "inputs = [\"/var/log/a/access.log*\"]\nout = \"/srv/out\"\nk_min = 0\nretention = \"7d\"\n\
             delete_raw_after = true\ntrusted_proxy = [\"10.0.0.0/8\", \"::1\"]\nthreads = 8\n",
        )
        .unwrap();
        assert_eq!(got.inputs, ["/var/log/a/access.log*"]);
        assert_eq!(
            got.args,
            [
                "--out",
                "/srv/out",
                "--k-min",
                "0",
                "--retention",
                "7d",
                "--delete-raw-after",
                "--trusted-proxy",
                "10.0.0.0/8",
                "--trusted-proxy",
                "::1"
            ]
        );
    }

    #[test]
    fn wrong_keys_and_types_name_the_key_and_line() {
        for (text, expected) in [
            (
                "out = \"x\"\nkmin = 3\n",
                "c.toml: line 2: kmin: unknown key",
            ),
            (
                "\n\nk_min = [1]\n",
                "c.toml: line 3: k_min: takes one value",
            ),
            (
                "delete_raw_after = \"yes\"\n",
                "c.toml: line 1: delete_raw_after: expected true",
            ),
            (
                "k_min = \"bad\"\n",
                "c.toml: line 1: k_min: invalid value 'bad'",
            ),
            ("out = \"x\"\nk_min = = 3\n", "c.toml: line 2: k_min:"),
            ("inputs = 3.5\n", "c.toml: line 1: inputs: expected a list"),
        ] {
            let e = check(text).unwrap_err();
            assert!(e.starts_with(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn globs_match_file_names() {
        for (pat, name, want) in [
            ("access.log*", "access.log", true),
            ("access.log*", "access.log.2.gz", true),
            ("access.log.[0-9]", "access.log.1", true),
            ("access.log.[!0-9]", "access.log.1", false),
            ("*.gz", "access.log", false),
            ("a?c", "abc", true),
        ] {
            assert_eq!(
                glob_match(pat.as_bytes(), name.as_bytes()),
                want,
                "{pat} {name}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        for n in ["access.log", "access.log.1", "access.log.2.gz", "error.log"] {
            std::fs::write(dir.path().join(n), b"x\n").unwrap();
        }
        let pat = dir.path().join("access.log*").display().to_string();
        let got = expand(&[pat]).unwrap();
        let names: Vec<_> = got
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["access.log", "access.log.1", "access.log.2.gz"]);
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../contrib/logveil.toml");
        let mut opts = options();
        for k in [
            "format",
            "max_reject_rate",
            "diagnostics",
            "anonymised_log",
            "keep_query_params",
            "salt_file",
            "ipv4_prefix",
            "ipv6_prefix",
            "wait",
        ] {
            opts.push(opt(k, k == "wait", k == "keep_query_params", false));
        }
        let got = config_args(Path::new("logveil.toml"), text, &opts, &|_| Ok(())).unwrap();
        assert!(!got.inputs.is_empty());
    }
}
