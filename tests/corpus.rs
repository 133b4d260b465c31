//! Data-driven tests against the shared corpus at `../shared/corpus` (see its MANIFEST.md):
//! peers' parse vectors (Vector VRL, apachelogs), the nginx/Apache escaping table, Anonip
//! truncation vectors, MaxMind's test databases (good and corrupt), and real access logs run
//! through the `logveil` binary with a leak check of everything it publishes.
//!
//! The corpus lives outside the crate and is never copied into it. When it is missing, every
//! test that needs it prints a `SKIPPED:` line on stderr and passes.
//!
//! One check helper per layer: [`check_clf`] (parser), [`check_unescape`] (escapes),
//! [`check_anon`] (address parsing + truncation), [`check_geo`] (geo database + cache),
//! [`check_process`] (the binary). Each returns `Err(description)` instead of panicking, so a
//! test reports every failing vector at once.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

use logveil::anon::{Masks, parse_client, truncate};
use logveil::geo::{GeoCache, GeoDb};
use logveil::parse::clf;
use logveil::parse::escape::unescape;

mod common;
use common::*;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");

/// The corpus root, or `None` (after printing the SKIPPED line) when it is not there.
fn corpus() -> Option<PathBuf> {
    let p = Path::new(CORPUS);
    if p.is_dir() {
        Some(p.to_path_buf())
    } else {
        eprintln!("SKIPPED: ../shared/corpus not found; corpus tests skipped");
        None
    }
}

macro_rules! corpus_or_skip {
    () => {
        match corpus() {
            Some(c) => c,
            None => return,
        }
    };
}

/// Collects failures of many vectors and panics once with all of them.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn push(&mut self, name: &str, r: Result<(), String>) {
        if let Err(e) = r {
            self.0.push(format!("{name}: {e}"));
        }
    }
    fn finish(self, what: &str) {
        if !self.0.is_empty() {
            panic!(
                "{what}: {} failing vector(s):\n  {}",
                self.0.len(),
                self.0.join("\n  ")
            );
        }
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    String::from_utf8(read(path))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// Rows of a tab-separated file with a header row, as maps header -> cell (cells untrimmed).
fn read_tsv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = String::from_utf8(read(path)).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(str::to_string)
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            assert_eq!(cells.len(), header.len(), "{}: row {l:?}", path.display());
            header
                .iter()
                .cloned()
                .zip(cells.iter().map(|c| c.to_string()))
                .collect()
        })
        .collect()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn rfc3339(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.to_string())
        .unwrap_or_else(|e| format!("<bad time {t}: {e}>"))
}

/// A string whose chars are all <= U+00FF, as the bytes they stand for (apachelogs decodes
/// log bytes as latin-1, one char per byte).
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or_else(|_| panic!("not latin-1: {s:?}")))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Parse layer
// ---------------------------------------------------------------------------------------------

/// What one record field should be.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// Not in the line, or written as `-` (for method/path/protocol: empty).
    Absent,
    /// The field exactly as written in the log, escapes still in it.
    Raw(String),
    /// The field after `unescape`.
    Decoded(Vec<u8>),
}

/// What the parser should make of one line.
#[derive(Debug, Clone)]
enum ClfExpect {
    Rejected,
    /// Field name -> value. Names: client, time (RFC 3339 UTC), request, method, path,
    /// protocol, status, size, referer, agent, xff.
    Fields(Vec<(&'static str, Want)>),
}

/// A record field by name, with `-` (and empty method/path/protocol) mapped to `None`.
fn clf_field(rec: &logveil::parse::Record<'_>, name: &str) -> Option<Vec<u8>> {
    let opt = |v: Option<&[u8]>| v.filter(|v| *v != b"-").map(<[u8]>::to_vec);
    let nonempty = |v: &[u8]| (!v.is_empty()).then(|| v.to_vec());
    match name {
        "client" => opt(Some(rec.client)),
        "time" => Some(rfc3339(rec.time).into_bytes()),
        "request" => opt(Some(rec.request)),
        "method" => nonempty(rec.method),
        "path" => nonempty(rec.target),
        "protocol" => nonempty(rec.protocol),
        "status" => Some(rec.status.to_string().into_bytes()),
        "size" => Some(rec.bytes.to_string().into_bytes()),
        "referer" => opt(rec.referer),
        "agent" => opt(rec.user_agent),
        "xff" => opt(rec.forwarded_for),
        other => panic!("check_clf: unknown field {other}"),
    }
}

/// Parser check: `clf::parse(input)` is rejected, or gives exactly the expected fields.
fn check_clf(input: &[u8], expected: &ClfExpect) -> Result<(), String> {
    let got = clf::parse(input);
    match (expected, got) {
        (ClfExpect::Rejected, Err(_)) => Ok(()),
        (ClfExpect::Rejected, Ok(rec)) => Err(format!(
            "expected a reject, got {rec:?} for {:?}",
            lossy(input)
        )),
        (ClfExpect::Fields(_), Err(rej)) => Err(format!(
            "rejected ({} at {}) but should parse: {:?}",
            rej.reason.as_str(),
            rej.offset,
            lossy(input)
        )),
        (ClfExpect::Fields(fields), Ok(rec)) => {
            let mut bad = Vec::new();
            for (name, want) in fields {
                let got = clf_field(&rec, name);
                let ok = match (want, &got) {
                    (Want::Absent, None) => true,
                    (Want::Raw(w), Some(g)) => w.as_bytes() == g.as_slice(),
                    (Want::Decoded(w), Some(g)) => &*unescape(g) == w.as_slice(),
                    _ => false,
                };
                if !ok {
                    bad.push(format!(
                        "{name}: got {:?}, want {want:?}",
                        got.as_deref().map(lossy)
                    ));
                }
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(format!("{} for {:?}", bad.join("; "), lossy(input)))
            }
        }
    }
}

/// How a VRL function/format pair maps onto our fields.
#[derive(Debug, Clone, Copy, PartialEq)]
enum VrlLayout {
    /// parse_common_log, parse_apache_log format=common.
    Common,
    /// parse_apache_log format=combined.
    ApacheCombined,
    /// parse_nginx_log format=combined (optional 10th quoted field, VRL's `compression`).
    NginxCombined,
    /// parse_nginx_log format=main (combined + `"$http_x_forwarded_for"`).
    NginxMain,
}

/// What the test does with one VRL case.
enum VrlPlan {
    Check(VrlLayout),
    /// An error case, or a line we reject by design.
    MustReject(&'static str),
    Skip(&'static str),
}

fn vrl_plan(case: &Value) -> VrlPlan {
    let func = case["function"].as_str().unwrap();
    let test = case["upstream_test"].as_str().unwrap();
    let args = &case["args"];
    let format = args["format"].as_str();
    if case.get("error").is_some() {
        return VrlPlan::MustReject("error case");
    }
    if args.get("timestamp_format").is_some() {
        return VrlPlan::Skip("custom timestamp_format (ISO / strftime timestamps: later work)");
    }
    let layout = match (func, format) {
        ("parse_common_log", None) | ("parse_apache_log", Some("common")) => VrlLayout::Common,
        ("parse_apache_log", Some("combined")) => VrlLayout::ApacheCombined,
        ("parse_nginx_log", Some("combined")) => VrlLayout::NginxCombined,
        ("parse_nginx_log", Some("main")) => VrlLayout::NginxMain,
        ("parse_apache_log", Some("error")) => {
            return VrlPlan::Skip("Apache error-log format (later work)");
        }
        ("parse_nginx_log", Some("error")) => {
            return VrlPlan::Skip("nginx error-log format (later work)");
        }
        ("parse_nginx_log", Some("ingress_upstreaminfo")) => {
            return VrlPlan::Skip(
                "ingress-nginx upstreaminfo format (unquoted trailing fields; later work)",
            );
        }
        ("parse_aws_alb_log", _) => return VrlPlan::Skip("AWS ALB log format (later work)"),
        _ => panic!("unclassified VRL case {func} {test} {args}"),
    };
    if case["expected"].as_object().is_some_and(|o| o.is_empty()) {
        // `- - - - - - -` and `- - - [-] "-" - -`: VRL returns `{}`; a line without a
        // timestamp (or status) carries nothing we can count, so we reject it by design.
        return VrlPlan::MustReject("all-empty line (no timestamp): rejected by design");
    }
    VrlPlan::Check(layout)
}

/// The expected fields of a VRL case, in our vocabulary. Fields of the layout that the
/// vector leaves out are expected absent (size: 0, as `-` bytes count as 0).
fn vrl_expect(layout: VrlLayout, expected: &Value) -> Result<ClfExpect, String> {
    let obj = expected.as_object().unwrap();
    let (map, ignored): (&[(&str, &'static str)], &[&str]) = match layout {
        VrlLayout::Common | VrlLayout::ApacheCombined => (
            &[
                ("host", "client"),
                ("timestamp", "time"),
                ("message", "request"),
                ("method", "method"),
                ("path", "path"),
                ("protocol", "protocol"),
                ("status", "status"),
                ("size", "size"),
                ("referrer", "referer"),
                ("agent", "agent"),
            ],
            // The record does not expose identd/user fields.
            &["identity", "user"],
        ),
        VrlLayout::NginxCombined => (
            &[
                ("client", "client"),
                ("timestamp", "time"),
                ("request", "request"),
                ("status", "status"),
                ("size", "size"),
                ("referer", "referer"),
                ("agent", "agent"),
                // VRL names the optional 10th quoted field `compression`; for us it is the one
                // optional trailing quoted field, returned as `forwarded_for`.
                ("compression", "xff"),
            ],
            &["user"],
        ),
        VrlLayout::NginxMain => (
            &[
                ("remote_addr", "client"),
                ("timestamp", "time"),
                ("request", "request"),
                ("status", "status"),
                ("body_bytes_size", "size"),
                ("http_referer", "referer"),
                ("http_user_agent", "agent"),
                ("http_x_forwarded_for", "xff"),
            ],
            &["remote_user"],
        ),
    };
    for key in obj.keys() {
        if !map.iter().any(|(k, _)| k == key) && !ignored.contains(&key.as_str()) {
            return Err(format!("unmapped expected key {key}"));
        }
    }
    let ours: &[&'static str] = match layout {
        VrlLayout::Common | VrlLayout::ApacheCombined => &[
            "client", "time", "request", "method", "path", "protocol", "status", "size", "referer",
            "agent", "xff",
        ],
        // VRL's nginx parsers do not split the request line.
        VrlLayout::NginxCombined | VrlLayout::NginxMain => &[
            "client", "time", "request", "status", "size", "referer", "agent", "xff",
        ],
    };
    let mut fields = Vec::new();
    for &field in ours {
        let theirs = map.iter().find(|(_, f)| *f == field).map(|(k, _)| *k);
        let want = match theirs.and_then(|k| obj.get(k)) {
            // VRL's nginx parsers keep a `-` referer/agent literally; `-` means absent.
            Some(Value::String(s)) if s == "-" => Want::Absent,
            Some(Value::String(s)) => Want::Raw(s.clone()),
            Some(Value::Number(n)) => Want::Raw(n.to_string()),
            Some(v) => return Err(format!("unexpected value {v} for {field}")),
            None if field == "size" => Want::Raw("0".into()),
            None => Want::Absent,
        };
        fields.push((field, want));
    }
    Ok(ClfExpect::Fields(fields))
}

/// The VRL case whose expectation we do not meet (see the ignored test below).
const VRL_UNQUOTED_DASH_CASE: (&str, &str) =
    ("parse_apache_log", "combined_line_missing_fields_valid");

#[test]
fn vrl_parse_log_vectors() {
    let corpus = corpus_or_skip!();
    let cases = read_jsonl(&corpus.join("vectors/vrl_parse_logs.jsonl"));
    assert_eq!(cases.len(), 47, "vrl_parse_logs.jsonl changed");
    let mut failures = Failures::default();
    let (mut checked, mut rejected, mut skipped, mut deferred) = (0, 0, 0, 0);
    for case in &cases {
        let func = case["function"].as_str().unwrap();
        let test = case["upstream_test"].as_str().unwrap();
        let name = format!("{func}/{test}");
        let input = case["input"].as_str().unwrap().as_bytes();
        if (func, test) == VRL_UNQUOTED_DASH_CASE {
            deferred += 1;
            eprintln!("deferred {name}: see vrl_apache_combined_unquoted_dash_referer_agent");
            continue;
        }
        match vrl_plan(case) {
            VrlPlan::Check(layout) => {
                checked += 1;
                let r = vrl_expect(layout, &case["expected"]).and_then(|e| check_clf(input, &e));
                failures.push(&name, r);
            }
            VrlPlan::MustReject(why) => {
                rejected += 1;
                eprintln!("must reject {name}: {why}");
                failures.push(&name, check_clf(input, &ClfExpect::Rejected));
            }
            VrlPlan::Skip(why) => {
                skipped += 1;
                eprintln!("skipped {name}: {why}");
            }
        }
    }
    eprintln!(
        "VRL vectors: {checked} checked, {rejected} must-reject, {skipped} skipped, {deferred} deferred"
    );
    failures.finish("VRL parse vectors");
    assert_eq!((checked, rejected, skipped, deferred), (15, 9, 22, 1));
}

/// VRL's Apache `combined` accepts an unquoted `-` for the referer and user agent
/// (`... 401 84170 - -`) and returns the line without them; our parser rejects the line with
/// `bad_referer` at offset 91. Apache itself always quotes `"%{Referer}i"`, so such lines come
/// from other writers; whether to accept them is the parser owner's call. Un-ignore when fixed.
#[test]
fn vrl_apache_combined_unquoted_dash_referer_agent() {
    let corpus = corpus_or_skip!();
    let cases = read_jsonl(&corpus.join("vectors/vrl_parse_logs.jsonl"));
    let case = cases
        .iter()
        .find(|c| {
            (c["function"].as_str(), c["upstream_test"].as_str())
                == (
                    Some(VRL_UNQUOTED_DASH_CASE.0),
                    Some(VRL_UNQUOTED_DASH_CASE.1),
                )
        })
        .expect("case present");
    let expected = vrl_expect(VrlLayout::ApacheCombined, &case["expected"]).unwrap();
    check_clf(case["input"].as_str().unwrap().as_bytes(), &expected).unwrap();
}

const APACHE_COMMON: &str = r#"%h %l %u %t "%r" %>s %b"#;
const APACHE_COMBINED: &str = r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i""#;
const APACHE_VHOST_COMBINED: &str =
    r#"%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#;

/// apachelogs' `YYYY-MM-DDTHH:MM:SS.ffffff UTC±hh:mm` as RFC 3339 UTC.
fn apachelogs_time(s: &str) -> String {
    let (local, offset) = s.split_once(" UTC").expect("apachelogs time");
    let ts: jiff::Timestamp = format!("{local}{offset}")
        .parse()
        .unwrap_or_else(|e| panic!("{s}: {e}"));
    ts.to_string()
}

/// The fields of an apachelogs access-log case (directives of COMMON/COMBINED, plus `%O`).
fn apachelogs_expect(directives: &serde_json::Map<String, Value>) -> ClfExpect {
    let text = |k: &str| match directives.get(k) {
        Some(Value::String(s)) => Want::Decoded(latin1(s)),
        Some(Value::Null) | None => Want::Absent,
        Some(v) => panic!("{k}: {v}"),
    };
    let num = |k: &str| match directives.get(k) {
        Some(Value::Number(n)) => Want::Raw(n.to_string()),
        Some(Value::Null) => Want::Raw("0".into()),
        v => panic!("{k}: {v:?}"),
    };
    let fields = vec![
        ("client", text("%h")),
        (
            "time",
            Want::Raw(apachelogs_time(directives["%t"].as_str().unwrap())),
        ),
        ("request", text("%r")),
        ("status", num("%>s")),
        (
            "size",
            if directives.contains_key("%O") {
                num("%O")
            } else {
                num("%b")
            },
        ),
        ("referer", text("%{Referer}i")),
        ("agent", text("%{User-Agent}i")),
        ("xff", Want::Absent),
    ];
    // COMMON has no referer/agent directives: they are expected absent.
    ClfExpect::Fields(fields)
}

/// Bodies of the `"`-quoted segments of a line, skipping backslash-escaped characters.
fn quoted_segments(s: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < s.len() && s[j] != b'"' {
            j += if s[j] == b'\\' { 2 } else { 1 };
        }
        out.push(&s[start..j.min(s.len())]);
        i = j + 1;
    }
    out
}

/// Splits a quoted format segment made only of directives (`%U%q`, `%{Referer}i`) into them.
fn directive_names(seg: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = seg;
    while !rest.is_empty() {
        let body = rest.strip_prefix('%')?;
        let mut end = None;
        let mut in_brace = false;
        for (i, c) in body.char_indices() {
            match c {
                '{' => in_brace = true,
                '}' => in_brace = false,
                c if !in_brace && c.is_ascii_alphabetic() => {
                    end = Some(i + 1);
                    break;
                }
                _ => {}
            }
        }
        let end = end?;
        out.push(format!("%{}", &body[..end]));
        rest = &body[end..];
    }
    Some(out)
}

#[test]
fn apachelogs_parse_vectors() {
    let corpus = corpus_or_skip!();
    let cases = read_jsonl(&corpus.join("vectors/apachelogs_parse_cases.jsonl"));
    assert_eq!(cases.len(), 35, "apachelogs_parse_cases.jsonl changed");
    let mut failures = Failures::default();
    let (mut full, mut escapes, mut skipped) = (0, 0, 0);
    for (n, case) in cases.iter().enumerate() {
        let format = case["format"].as_str().unwrap();
        let entry = case["entry"].as_str().unwrap();
        let directives = case["expected"]["directives"].as_object().unwrap();
        let name = format!("case {} ({format})", n + 1);
        match format {
            APACHE_COMMON | APACHE_COMBINED => {
                full += 1;
                failures.push(
                    &name,
                    check_clf(entry.as_bytes(), &apachelogs_expect(directives)),
                );
            }
            APACHE_VHOST_COMBINED => {
                // vhost_combined is not a format we parse (later work). Its tail after the
                // leading `%v:%p ` is Combined with %O for %b, so the test strips that token
                // itself to check the field decoding (this case holds the `\"`, `\\` and
                // `\xhh` escapes of a real Joomla-exploit User-Agent).
                full += 1;
                let (_, tail) = entry.split_once(' ').unwrap();
                failures.push(
                    &name,
                    check_clf(tail.as_bytes(), &apachelogs_expect(directives)),
                );
            }
            _ if entry.contains('\\') => {
                // A custom LogFormat (not parsed by us) with escapes in quoted directives:
                // check only the escape decoding of those quoted values.
                let fsegs = quoted_segments(format.as_bytes());
                let esegs = quoted_segments(entry.as_bytes());
                if fsegs.len() != esegs.len() {
                    failures.push(&name, Err("quoted segments do not pair up".into()));
                    continue;
                }
                for (f, e) in fsegs.iter().zip(&esegs) {
                    if !e.contains(&b'\\') {
                        continue;
                    }
                    let f = std::str::from_utf8(f).unwrap();
                    let Some(names) = directive_names(f) else {
                        failures.push(&name, Err(format!("cannot split directives {f:?}")));
                        continue;
                    };
                    let mut want = Vec::new();
                    for d in &names {
                        match directives.get(d) {
                            Some(Value::String(s)) => want.extend(latin1(s)),
                            Some(Value::Null) => {}
                            v => panic!("{name}: directive {d}: {v:?}"),
                        }
                    }
                    escapes += 1;
                    failures.push(&format!("{name} \"{f}\""), check_unescape(e, &want));
                }
            }
            _ => {
                skipped += 1;
                eprintln!(
                    "skipped {name}: custom LogFormat, not an access-log line format we parse"
                );
            }
        }
    }

    // apachelogs' test_decoding.py case, quoted in apachelogs_parse_cases.md (item 8) with its
    // expected values in prose: %r is the bytes `Gh0st` 0xAD.
    let md = String::from_utf8(read(&corpus.join("vectors/apachelogs_parse_cases.md"))).unwrap();
    let line = md
        .lines()
        .find(|l| l.contains("test_decoding.py") && l.contains("Gh0st"))
        .and_then(|l| l.split('`').nth(1))
        .expect("test_decoding.py line in apachelogs_parse_cases.md");
    full += 1;
    failures.push(
        "test_decoding.py Gh0st",
        check_clf(
            line.as_bytes(),
            &ClfExpect::Fields(vec![
                ("client", Want::Raw("66.240.205.34".into())),
                ("time", Want::Raw("2017-11-18T12:30:55Z".into())),
                ("request", Want::Decoded(b"Gh0st\xad".to_vec())),
                ("method", Want::Absent),
                ("status", Want::Raw("400".into())),
                ("size", Want::Raw("0".into())),
                ("referer", Want::Absent),
                ("agent", Want::Absent),
            ]),
        ),
    );

    eprintln!("apachelogs vectors: {full} parsed, {escapes} escape-only, {skipped} skipped");
    failures.finish("apachelogs parse vectors");
    assert_eq!((full, escapes, skipped), (3, 1, 32));
}

// ---------------------------------------------------------------------------------------------
// Escape layer
// ---------------------------------------------------------------------------------------------

/// Escape check: `unescape(raw)` is exactly `expected`.
fn check_unescape(raw: &[u8], expected: &[u8]) -> Result<(), String> {
    let got = unescape(raw);
    if &*got == expected {
        Ok(())
    } else {
        Err(format!(
            "unescape({:?}) = {:?}, want {:?}",
            lossy(raw),
            lossy(&got),
            lossy(expected)
        ))
    }
}

/// Every byte as nginx (`escape=default`) and Apache (`ap_escape_logitem`) write it decodes
/// back to that byte. The nginx `escape=json` column is skipped: JSON escapes (`\u00XX`, `\f`)
/// belong to JSON-format logs, which `unescape` does not claim to decode.
#[test]
fn escaping_byte_table_round_trips() {
    let corpus = corpus_or_skip!();
    let text = read(&corpus.join("vectors/escaping_byte_table.tsv"));
    let mut failures = Failures::default();
    let mut checked = 0;
    for row in text
        .split(|&b| b == b'\n')
        .skip(1)
        .filter(|r| !r.is_empty())
    {
        let cells: Vec<&[u8]> = row.split(|&b| b == b'\t').collect();
        assert_eq!(cells.len(), 5, "row {:?}", lossy(row));
        let hex = std::str::from_utf8(cells[0]).unwrap();
        let byte = u8::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap();
        for (col, cell) in [("nginx default", cells[2]), ("apache", cells[4])] {
            if cell.starts_with(b"<NUL") {
                continue; // Apache never logs a NUL (end of C string).
            }
            let cell: &[u8] = if cell == b"<SPACE>" { b" " } else { cell };
            checked += 1;
            failures.push(&format!("{hex} {col}"), check_unescape(cell, &[byte]));
        }
    }
    failures.finish("escaping byte table");
    assert_eq!(checked, 511);
}

// ---------------------------------------------------------------------------------------------
// Anonymisation layer
// ---------------------------------------------------------------------------------------------

/// Address check: `truncate(parse_client(input), masks)` is `expected` (`None`: not an address).
fn check_anon(input: &str, masks: Masks, expected: Option<IpAddr>) -> Result<(), String> {
    let got = parse_client(input.as_bytes()).map(|ip| truncate(ip, masks));
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "{input:?} with {masks:?}: got {got:?}, want {expected:?}"
        ))
    }
}

/// The bare address in an anonip output cell: `1.2.3.4`, `1.2.3.4:80`, `1.2.3.4]`,
/// `1.2.3.4:80]`, `[v6]`, `[v6]:443`, `[v6]]`, `[v6]:443]`; `None` for a non-address.
fn bare_address(s: &str) -> Option<IpAddr> {
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let s = s.strip_suffix(']').unwrap_or(s);
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    match s.split_once(':') {
        Some((a, port)) if port.bytes().all(|b| b.is_ascii_digit()) => a.parse().ok(),
        _ => None,
    }
}

#[test]
fn anonip_truncation_vectors() {
    let corpus = corpus_or_skip!();
    let rows = read_tsv(&corpus.join("vectors/anonip_cases.tsv"));
    assert_eq!(rows.len(), 55, "anonip_cases.tsv changed");
    // anonip.md's IPv4-mapped table (`::ffff:192.168.100.200`) is derived and NOT in the TSV,
    // so nothing to run here; logveil deliberately unwraps mapped addresses before
    // truncating (anonip masks them as IPv6), a documented divergence.
    assert!(
        !rows.iter().any(|r| r["input"].contains("::ffff:")),
        "the TSV now has IPv4-mapped rows: decide how they compare with logveil's unwrapping"
    );
    let mut failures = Failures::default();
    let (mut checked, mut skipped) = (0, 0);
    for (n, row) in rows.iter().enumerate() {
        let group = row["group"].as_str();
        let input = row["input"].as_str();
        let name = format!("row {} [{group}] {input:?}", n + 2);
        match group {
            // process_line: one address column with default settings. The two
            // DISABLED_upstream rows (zone ids, commented out upstream) and run_stream (one
            // address per stdin line) have the same semantics.
            "process_line" | "process_line_DISABLED_upstream" | "run_stream" => {}
            // increment (anonip adds a number after masking), column/delimiter (selects a
            // column of a whole line), regex/replace (rewrites text), skip_private (leaves
            // private addresses whole), main_cli/main_input_file (CLI on whole lines): none of
            // these is a single-address truncation.
            _ => {
                skipped += 1;
                eprintln!(
                    "skipped {name}: anonip {group} feature, not a single-address truncation"
                );
                continue;
            }
        }
        if input.trim().is_empty() {
            skipped += 1;
            eprintln!("skipped {name}: blank stream line");
            continue;
        }
        for key in ["increment", "replace", "regex"] {
            assert!(matches!(row[key].as_str(), "" | "0"), "{name}: {key} set");
        }
        assert_eq!(row["skip_private"], "false", "{name}");
        let v4: u8 = row["ipv4mask"].parse().unwrap();
        let v6: u8 = row["ipv6mask"].parse().unwrap();
        // anonip's masks are bits REMOVED; ours are prefix lengths KEPT.
        let masks = Masks::new(32 - v4, 128 - v6).unwrap();
        let expected = bare_address(&row["expected"]);
        if input.matches(']').count() > input.matches('[').count() {
            // `1.2.3.4]`, `[v6]:443]`: anonip keeps a stray `]` for Apache *error-log*
            // `[client 1.2.3.4:80]` fields (error logs are later work). An access-log client
            // field never looks like this; parse_client may refuse it, but must never return a
            // different address.
            skipped += 1;
            let got = parse_client(input.as_bytes()).map(|ip| truncate(ip, masks));
            eprintln!("skipped {name}: error-log `[client …]` form; parse_client gives {got:?}");
            if got.is_some() && got != expected {
                failures.push(
                    &name,
                    Err(format!("got {got:?}, want None or {expected:?}")),
                );
            }
            continue;
        }
        checked += 1;
        failures.push(&name, check_anon(input, masks, expected));
    }
    eprintln!("anonip vectors: {checked} checked, {skipped} skipped");
    failures.finish("anonip vectors");
    assert_eq!((checked, skipped), (25, 30));
}

// ---------------------------------------------------------------------------------------------
// Geo layer
// ---------------------------------------------------------------------------------------------

/// Geo check: `db.lookup(ip)` gives `expected` (continent, country as published) and the cache
/// agrees with it, on a miss and on a hit.
fn check_geo(
    db: &GeoDb,
    cache: &mut GeoCache<'_>,
    ip: IpAddr,
    expected: Option<(&str, &str)>,
) -> Result<(), String> {
    let (place, _, _) = db.lookup(ip).map_err(|e| format!("lookup {ip}: {e}"))?;
    for pass in ["first", "second"] {
        let cached = cache
            .lookup(ip)
            .map_err(|e| format!("cache lookup {ip}: {e}"))?;
        if cached != place {
            return Err(format!(
                "{ip}: cache ({pass} lookup) gives {cached:?}, db.lookup gives {place:?}"
            ));
        }
    }
    let got = (&*place.continent_str(), &*place.country_str());
    match expected {
        Some(want) if got != want => Err(format!("{ip}: got {got:?}, want {want:?}")),
        _ => Ok(()),
    }
}

/// GeoIP2/GeoLite2 databases with country data. The first three are the ones the
/// project targets; the others share the schema and are checked the same way.
const GEO_DBS: &[&str] = &[
    "GeoIP2-City-Test.mmdb",
    "GeoIP2-Country-Test.mmdb",
    "GeoLite2-Country-Test.mmdb",
    "GeoLite2-City-Test.mmdb",
    "GeoIP2-City-Shield-Test.mmdb",
    "GeoIP2-Country-Shield-Test.mmdb",
    "GeoIP2-Enterprise-Test.mmdb",
    "GeoIP2-Enterprise-Shield-Test.mmdb",
    "GeoIP2-Precision-Enterprise-Test.mmdb",
    "GeoIP2-Precision-Enterprise-Shield-Test.mmdb",
];

/// What the published place should be for one expected record.
fn geo_expect(rec: &Value, continent_of: &BTreeMap<String, String>) -> Option<(String, String)> {
    if rec.is_null() {
        return Some(("unknown".into(), "unknown".into()));
    }
    let traits = &rec["traits"];
    if traits["is_anonymous_proxy"] == Value::Bool(true) {
        return Some(("unknown".into(), "anonymous_proxy".into()));
    }
    if traits["is_satellite_provider"] == Value::Bool(true) {
        return Some(("unknown".into(), "satellite_provider".into()));
    }
    let continent = rec["continent"]["code"].as_str().map(str::to_string);
    match rec["country"]["iso_code"].as_str() {
        Some(cc) => {
            // No continent in the record: logveil derives it from the country; the corpus's
            // own country -> continent pairs say what it should be.
            let continent = continent.or_else(|| continent_of.get(cc).cloned())?;
            Some((continent, cc.to_string()))
        }
        None => Some((
            continent.unwrap_or_else(|| "unknown".into()),
            "unknown".into(),
        )),
    }
}

#[test]
fn mmdb_expected_lookups() {
    let corpus = corpus_or_skip!();
    let rows = read_tsv(&corpus.join("vectors/mmdb_expected_lookups.tsv"));
    let recs: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::from_str(&r["full_record_json"]).unwrap())
        .collect();
    let mut continent_of = BTreeMap::new();
    for rec in &recs {
        if let (Some(cc), Some(cont)) = (
            rec["country"]["iso_code"].as_str(),
            rec["continent"]["code"].as_str(),
        ) {
            continent_of.insert(cc.to_string(), cont.to_string());
        }
    }
    let mut failures = Failures::default();
    for &file in GEO_DBS {
        let path = corpus.join("mmdb/test-data").join(file);
        let db = GeoDb::open(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut cache = GeoCache::new(&db);
        let (mut n, mut with_country, mut derived) = (0, 0, 0);
        for (row, rec) in rows
            .iter()
            .zip(&recs)
            .filter(|(r, _)| r["mmdb_file"] == file)
        {
            n += 1;
            assert!(
                row["error"].is_empty(),
                "{file} {}: reference error",
                row["ip"]
            );
            let ip: IpAddr = row["ip"].parse().unwrap();
            with_country += rec["country"]["iso_code"].is_string() as usize;
            derived +=
                (rec["country"]["iso_code"].is_string() && rec["continent"].is_null()) as usize;
            let want = geo_expect(rec, &continent_of);
            let want_ref = want.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
            failures.push(
                &format!("{file} {ip}"),
                check_geo(&db, &mut cache, ip, want_ref),
            );
            // The database network found must be the reference's, in IPv4 bits for IPv4
            // addresses (the cache decides from it whether a whole block shares the answer).
            if !rec.is_null()
                && let Ok((_, prefix, _)) = db.lookup(ip)
            {
                let want: u8 = row["prefix_len_found"].parse().unwrap();
                if prefix != want {
                    failures.push(
                        &format!("{file} {ip} prefix"),
                        Err(format!("prefix {prefix}, reference {want}")),
                    );
                }
            }
            // Neighbours in the same /24 (IPv4) or /48 (IPv6) block: the cache must still
            // agree with the database, whatever was cached for the block.
            let neighbours: Vec<IpAddr> = match ip {
                IpAddr::V4(v4) => {
                    let o = v4.octets();
                    [0u8, 1, 127, 255]
                        .iter()
                        .map(|&l| IpAddr::from([o[0], o[1], o[2], l]))
                        .collect()
                }
                IpAddr::V6(v6) => {
                    let x = u128::from(v6);
                    [0u128, 1, 1 << 64, (1 << 80) - 1]
                        .iter()
                        .map(|&d| IpAddr::V6(Ipv6Addr::from((x & !((1u128 << 80) - 1)) | d)))
                        .collect()
                }
            };
            for nb in neighbours {
                failures.push(
                    &format!("{file} {nb} (neighbour of {ip})"),
                    check_geo(&db, &mut cache, nb, None),
                );
            }
        }
        eprintln!(
            "{file}: {n} rows, {with_country} with a country, {derived} continent derived; cache hits {} misses {}",
            cache.hits, cache.misses
        );
        assert!(n >= 30, "{file}: only {n} rows");
    }
    failures.finish("mmdb expected lookups");
}

/// Addresses looked up in databases that may be corrupt.
fn probe_addresses() -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = [
        "1.1.1.1",
        "1.1.1.16",
        "1.1.1.32",
        "81.2.69.160",
        "2001:218::",
        "::1.1.1.1",
        "::ffff:81.2.69.160",
        "0.0.0.0",
        "255.255.255.255",
        "::",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    for i in 0u32..64 {
        v.push(IpAddr::from((i.wrapping_mul(0x0404_0405)).to_be_bytes()));
        v.push(IpAddr::V6(Ipv6Addr::from(
            (0x2000u128 + i as u128 * 0x101) << 112 | i as u128,
        )));
    }
    v
}

/// Opens a bad database and, if it opens, looks up many addresses; any panic is turned into
/// an `Err`. Returns whether it opened.
fn open_bad_db(path: &Path) -> Result<bool, String> {
    let opened = catch_unwind(AssertUnwindSafe(|| GeoDb::open(path)))
        .map_err(|p| format!("GeoDb::open panicked: {}", panic_text(&p)))?;
    let Ok(db) = opened else {
        return Ok(false);
    };
    catch_unwind(AssertUnwindSafe(|| {
        let mut cache = GeoCache::new(&db);
        for ip in probe_addresses() {
            let _ = db.lookup(ip);
            let _ = cache.lookup(ip);
        }
    }))
    .map_err(|p| format!("opened, then a lookup panicked: {}", panic_text(&p)))?;
    Ok(true)
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "<non-string panic>".into())
}

fn mmdb_files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            mmdb_files_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "mmdb") {
            out.push(p);
        }
    }
}

#[test]
fn bad_mmdb_files_are_errors_not_panics() {
    let corpus = corpus_or_skip!();
    let mmdb = corpus.join("mmdb");
    let mut files = Vec::new();
    mmdb_files_under(&mmdb.join("bad-data"), &mut files);
    for e in std::fs::read_dir(mmdb.join("test-data")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".mmdb")
            && (name.contains("Broken") || name.contains("Invalid") || name.contains("broken"))
        {
            files.push(p);
        }
    }
    files.sort();
    assert_eq!(files.len(), 25, "bad-data + broken test-data databases");

    // Databases that MaxMind's own reader (maxminddb 3.2.0) refuses to open: ours must too.
    let reference = read_tsv(&corpus.join("vectors/mmdb_bad_db_reference_behaviour.tsv"));
    let ref_open_error: BTreeSet<String> = reference
        .iter()
        .filter(|r| r["open_result"].starts_with("ERROR"))
        .map(|r| r["db_file"].clone())
        .collect();

    let mut failures = Failures::default();
    let mut opened = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&mmdb).unwrap().display().to_string();
        match open_bad_db(path) {
            Err(e) => failures.push(&rel, Err(e)),
            Ok(false) => {}
            Ok(true) => {
                if ref_open_error.contains(&rel) {
                    failures.push(&rel, Err("opens, but MaxMind's reader refuses it".into()));
                }
                opened.push(rel);
            }
        }
    }
    eprintln!("bad databases that GeoDb::open accepts (lookups did not panic): {opened:?}");
    failures.finish("bad mmdb files");
}

// ---------------------------------------------------------------------------------------------
// Process layer (the binary)
// ---------------------------------------------------------------------------------------------

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    out: tempfile::TempDir,
}

/// Runs `logveil process FILES --out <tempdir> --now 2026-01-01T00:00:00Z --json ARGS`.
fn run_process(files: &[&Path], args: &[&str]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("logveil").unwrap();
    cmd.arg("process")
        .args(files)
        .arg("--out")
        .arg(out.path())
        .args(["--now", "2026-01-01T00:00:00Z", "--json"])
        .args(args);
    let o = cmd.output().unwrap();
    Run {
        code: o.status.code(),
        stdout: lossy(&o.stdout),
        stderr: lossy(&o.stderr),
        out,
    }
}

/// [`run_process`], killed after two minutes (a hang shows as a run without an exit code).
fn run_process_bounded(files: &[&Path], args: &[&str]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("logveil").unwrap();
    cmd.arg("process")
        .args(files)
        .arg("--out")
        .arg(out.path())
        .args(["--now", "2026-01-01T00:00:00Z", "--json"])
        .args(args)
        .timeout(std::time::Duration::from_secs(120));
    let o = cmd.output().unwrap();
    Run {
        code: o.status.code(),
        stdout: lossy(&o.stdout),
        stderr: lossy(&o.stderr),
        out,
    }
}

enum ProcessExpect<'a> {
    /// Exit 0 and these summary counts.
    Summary {
        lines: u64,
        parsed: u64,
        rejected: u64,
        blank: u64,
        by_reason: &'a [(&'a str, u64)],
    },
    /// This exit code and a single stderr line naming `names`, without a panic.
    Error { code: i32, names: &'a Path },
}

/// Process check: exit code, and the JSON summary or the error line, are as expected.
fn check_process(run: &Run, expected: &ProcessExpect<'_>) -> Result<(), String> {
    if run.stderr.contains("panicked") {
        return Err(format!("panic on stderr: {}", run.stderr));
    }
    match expected {
        ProcessExpect::Summary {
            lines,
            parsed,
            rejected,
            blank,
            by_reason,
        } => {
            if run.code != Some(0) {
                return Err(format!("exit {:?}, stderr: {}", run.code, run.stderr));
            }
            let s: Value = serde_json::from_str(run.stdout.trim())
                .map_err(|e| format!("stdout is not JSON ({e}): {}", run.stdout))?;
            let reasons: BTreeMap<String, u64> =
                by_reason.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            let got = (
                s["lines"].as_u64(),
                s["parsed"].as_u64(),
                s["rejected"].as_u64(),
                s["blank"].as_u64(),
                serde_json::from_value::<BTreeMap<String, u64>>(s["rejected_by_reason"].clone())
                    .ok(),
                s["published"].as_bool(),
            );
            let want = (
                Some(*lines),
                Some(*parsed),
                Some(*rejected),
                Some(*blank),
                Some(reasons),
                Some(true),
            );
            if got == want {
                Ok(())
            } else {
                Err(format!(
                    "(lines, parsed, rejected, blank, by_reason, published) = {got:?}, want {want:?}"
                ))
            }
        }
        ProcessExpect::Error { code, names } => {
            let err = run.stderr.trim_end();
            if run.code != Some(*code) {
                return Err(format!("exit {:?}, want {code}; stderr: {err}", run.code));
            }
            if err.lines().count() != 1 {
                return Err(format!("stderr is not one line: {err:?}"));
            }
            if !err.contains(&names.display().to_string()) {
                return Err(format!("stderr does not name {}: {err}", names.display()));
            }
            Ok(())
        }
    }
}

/// The scanner finds what it is meant to find (so a green leak check means something).
#[test]
fn leak_scanner_finds_planted_addresses() {
    use arrow_array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    std::fs::create_dir_all(out.join("reports/t")).unwrap();
    std::fs::create_dir_all(out.join("diagnostics/date=2026-01-01")).unwrap();
    std::fs::create_dir_all(out.join("runs")).unwrap();
    let batch = RecordBatch::try_from_iter([
        (
            "s",
            Arc::new(StringArray::from(vec!["EU", "client 198.51.100.7 here"])) as ArrayRef,
        ),
        ("n", Arc::new(UInt64Array::from(vec![1u64, 2])) as ArrayRef),
    ])
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .set_key_value_metadata(Some(vec![parquet::file::metadata::KeyValue::new(
            "note".to_string(),
            "from 2001:0db8:0000:0000:0000:0000:0000:0042".to_string(),
        )]))
        .build();
    let f = std::fs::File::create(out.join("reports/t/part.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    std::fs::write(
        out.join("runs/r.json"),
        r#"{"a":"2001:0DB8:0000:0000:0000:0000:0000:0099","b":"10.1.2.3:80","c":"110.1.2.30"}"#,
    )
    .unwrap();
    std::fs::write(out.join("diagnostics/date=2026-01-01/x"), "203.0.113.1").unwrap();

    let addrs = addresses_in(
        b"198.51.100.7 [2001:db8::42]:443 2001:db8::99 10.1.2.3 203.0.113.1, 0.0.0.0 Foo::Get 1.2.3",
    );
    let (files, mut leaks) = scan_for_leaks(out, &addrs);
    leaks.sort();
    assert_eq!(files, 2, "diagnostics/ is not scanned");
    assert_eq!(
        leaks,
        [
            "reports/t/part.parquet: 198.51.100.7 (address 198.51.100.7)",
            "reports/t/part.parquet: 2001:0db8:0000:0000:0000:0000:0000:0042 (address 2001:db8::42)",
            "runs/r.json: 10.1.2.3 (address 10.1.2.3)",
            "runs/r.json: 2001:0DB8:0000:0000:0000:0000:0000:0099 (address 2001:db8::99)",
        ]
    );
}

/// Runs one real log through the binary, checks its summary, then the leak check.
fn real_log(rel: &str, args: &[&str], expected: ProcessExpect<'_>) {
    let corpus = corpus_or_skip!();
    let path = corpus.join("logs").join(rel);
    let run = run_process(&[&path], args);
    if let Err(e) = check_process(&run, &expected) {
        panic!("{rel}: {e}");
    }
    let addrs = addresses_in(&read(&path));
    assert!(!addrs.is_empty(), "{rel}: no address found in the input");
    assert_no_leak(run.out.path(), &addrs);
}

/// 10,000 lines; line 8899 lacks the closing quote of its User-Agent.
#[test]
fn real_log_elastic_apache() {
    real_log(
        "elastic-examples/apache_logs.log",
        &[],
        ProcessExpect::Summary {
            lines: 10_000,
            parsed: 9_999,
            rejected: 1,
            blank: 0,
            by_reason: &[("bad_user_agent", 1)],
        },
    );
}

/// nginx combined + `"$http_x_forwarded_for"`, 1,000 lines (`wc -l`), all well formed (checked
/// independently with a regex for the format: 13 lines carry a real XFF address, 987 `"-"`).
#[test]
fn real_log_lnav_shop_nginx_xff() {
    real_log(
        "lnav/logfile_shop_access_log.0",
        &[],
        ProcessExpect::Summary {
            lines: 1_000,
            parsed: 1_000,
            rejected: 0,
            blank: 0,
            by_reason: &[],
        },
    );
}

/// 17 lines, line 2 is `xxxxxxxxxxxx` (one word, no fields): 1/17 > 5%, hence the higher limit.
#[test]
fn real_log_logparser_access_log() {
    real_log(
        "logparser/access_log",
        &["--max-reject-rate", "0.2"],
        ProcessExpect::Summary {
            lines: 17,
            parsed: 16,
            rejected: 1,
            blank: 0,
            by_reason: &[("bad_client", 1)],
        },
    );
}

/// 3 combined lines from one gPXE client, all well formed.
#[test]
fn real_log_lnav_access_log_0() {
    real_log(
        "lnav/logfile_access_log.0",
        &[],
        ProcessExpect::Summary {
            lines: 3,
            parsed: 3,
            rejected: 0,
            blank: 0,
            by_reason: &[],
        },
    );
}

/// One combined line with request `"-"`, status 400, bytes 0: a valid line.
#[test]
fn real_log_lnav_access_log_1() {
    real_log(
        "lnav/logfile_access_log.1",
        &[],
        ProcessExpect::Summary {
            lines: 1,
            parsed: 1,
            rejected: 0,
            blank: 0,
            by_reason: &[],
        },
    );
}

/// `--geoip` on files that are not usable databases: exit 1, one stderr line naming the file,
/// no panic, no hang (a run is killed after two minutes). Every database of `mmdb/bad-data/`
/// and the broken ones of `mmdb/test-data/`, an intact database cut to half its size (head and
/// tail) and a zero-byte file. Three of `bad-data/` are exceptions: MaxMind's own reader opens
/// them and finds every IPv4 lookup of the reference table (they break a C reader's metadata
/// parsing, not the data), and so does ours, so they must work instead (exit 0).
#[test]
fn geoip_option_rejects_corrupt_databases() {
    let corpus = corpus_or_skip!();
    let log = corpus.join("logs/lnav/logfile_access_log.0");
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.mmdb");
    std::fs::write(&empty, b"").unwrap();
    let good = read(&corpus.join("mmdb/test-data/GeoIP2-City-Test.mmdb"));
    let half = tmp.path().join("half.mmdb");
    std::fs::write(&half, &good[..good.len() / 2]).unwrap();
    let tail = tmp.path().join("tail-half.mmdb");
    std::fs::write(&tail, &good[good.len() / 2..]).unwrap();
    let mmdb = corpus.join("mmdb");
    let mut dbs = vec![empty, half, tail];
    mmdb_files_under(&mmdb.join("bad-data"), &mut dbs);
    for e in std::fs::read_dir(mmdb.join("test-data")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".mmdb")
            && (name.contains("Broken") || name.contains("Invalid") || name.contains("broken"))
        {
            dbs.push(p);
        }
    }
    assert_eq!(dbs.len(), 3 + 25, "bad-data + broken test-data databases");
    let readable = [
        "libmaxminddb-corrupt-search-tree.mmdb",
        "libmaxminddb-empty-array-last-in-metadata.mmdb",
        "libmaxminddb-empty-map-last-in-metadata.mmdb",
    ];
    let mut failures = Failures::default();
    for db in &dbs {
        let run = run_process_bounded(&[&log], &["--geoip", db.to_str().unwrap()]);
        let name = db.file_name().unwrap().to_string_lossy();
        let expected = if readable.contains(&name.as_ref()) {
            ProcessExpect::Summary {
                lines: 3,
                parsed: 3,
                rejected: 0,
                blank: 0,
                by_reason: &[],
            }
        } else {
            ProcessExpect::Error { code: 1, names: db }
        };
        failures.push(&db.display().to_string(), check_process(&run, &expected));
    }
    // The intact database works, so the failures above are about the files.
    let ok = corpus.join("mmdb/test-data/GeoIP2-City-Test.mmdb");
    let run = run_process(&[&log], &["--geoip", ok.to_str().unwrap()]);
    failures.push(
        "intact GeoIP2-City-Test.mmdb",
        check_process(
            &run,
            &ProcessExpect::Summary {
                lines: 3,
                parsed: 3,
                rejected: 0,
                blank: 0,
                by_reason: &[],
            },
        ),
    );
    failures.finish("--geoip with corrupt databases");
}
