//! `check-format`: why lines of a log do not parse, line by line, and which named format
//! fits best. Prints at most a short, escaped excerpt of a line, and only for a terminal.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::Result;
use crate::parse::formats;
use crate::parse::logformat::LogFormat;
use crate::parse::w3c::{self, W3cFields};
use crate::parse::{Format, RejectReason};
use crate::source::{InputSpec, Source};

/// Lines examined.
pub const SAMPLE_LINES: usize = 10_000;
/// Bytes of a line shown around the failure, at most.
pub const EXCERPT: usize = 16;

fn expected(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::BadClient => "a client address or host name followed by a space",
        RejectReason::BadIdent => "the ident field (`-`) followed by a space",
        RejectReason::BadUser => "the user field (`-` or a name) followed by a space",
        RejectReason::BadTimestamp => "a timestamp like `[10/Oct/2000:13:55:36 -0700]`",
        RejectReason::BadRequest => "'\"' to open the request, and its closing '\"'",
        RejectReason::BadStatus => "a three-digit status",
        RejectReason::BadBytes => "a byte count or `-`",
        RejectReason::BadReferer => "a quoted referer",
        RejectReason::BadUserAgent => "a quoted user agent",
        RejectReason::BadForwardedFor => "a quoted X-Forwarded-For list",
        RejectReason::TrailingData => "the end of the line",
        RejectReason::LineTooLong => "a shorter line",
    }
}

/// Printable excerpt of `line` from `offset`: control and non-ASCII bytes as `\xHH`.
fn excerpt(line: &[u8], offset: usize) -> String {
    let part = &line[offset.min(line.len())..];
    if part.is_empty() {
        return "the end of the line".into();
    }
    let mut out = String::from("'");
    for &b in part.iter().take(EXCERPT) {
        match b {
            b' '..=b'~' if b != b'\'' && b != b'\\' => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('\'');
    if part.len() > EXCERPT {
        out.push('…');
    }
    out
}

/// The report for `path` in `format` (`Auto`: the detected one), or through `custom`, a
/// parser compiled from a server's format string.
pub fn check(
    path: &Path,
    format: Format,
    custom: Option<&LogFormat>,
    limit: usize,
    show_excerpts: bool,
) -> Result<String> {
    let src = Source::open(&InputSpec::Path(path.to_path_buf()), false, 1 << 20)?;
    let (sample, complete) = src.sample(8 << 20)?;
    let (ranking, sampled) = formats::rank(&sample, complete, SAMPLE_LINES);
    let format = if format == Format::Auto {
        ranking[0].0
    } else {
        format
    };
    let mut out = String::new();
    let name = if custom.is_some() {
        "the given format string"
    } else {
        format.name()
    };
    let _ = writeln!(
        out,
        "{}: checking the first {sampled} lines as {name}",
        path.display()
    );
    let mut header: Option<W3cFields> = None;
    let mut failures = 0;
    for (n, line) in crate::source::lines(&sample).enumerate().take(SAMPLE_LINES) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if format.has_directives() && w3c::is_directive(line) {
            if let Some(h) = W3cFields::from_header(line) {
                header = Some(h);
            }
            continue;
        }
        let result = match custom {
            Some(c) => c
                .parse(line)
                .map(|_| ())
                .map_err(|rej| (rej, c.explain(line).map(|e| e.field))),
            None => format
                .parse(line, header.as_ref())
                .map(|_| ())
                .map_err(|rej| (rej, None)),
        };
        if let Err((rej, field)) = result {
            failures += 1;
            if failures <= limit {
                let field = field.map(|f| format!(" field {f}:")).unwrap_or_default();
                let found = if show_excerpts {
                    excerpt(line, rej.offset)
                } else {
                    "(excerpt shown only on a terminal)".into()
                };
                let _ = writeln!(
                    out,
                    "line {}: byte {}:{field} {}: expected {}, found {found}",
                    n + 1,
                    rej.offset,
                    rej.reason.as_str(),
                    expected(rej.reason)
                );
            }
        }
    }
    if failures > limit {
        let _ = writeln!(out, "… and {} more failing lines", failures - limit);
    }
    let _ = writeln!(out, "{failures} of {sampled} lines fail as {name}");
    let _ = writeln!(out, "formats ranked by sample lines parsed:");
    for (f, n) in ranking {
        let _ = writeln!(out, "  {:<15} {n}/{sampled}", f.name());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_file(content: &str, format: Format, show: bool) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, content).unwrap();
        check(&path, format, None, 10, show)
            .unwrap()
            .replace(&path.display().to_string(), "a.log")
    }

    #[test]
    fn explains_failing_lines() {
        let good =
            r#"203.0.113.9 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8""#;
        let bad_req =
            r#"203.0.113.9 - - [05/Oct/2026:10:00:00 +0000] GET / HTTP/1.1 200 10 "-" "curl/8""#;
        let bad_ts =
            r#"203.0.113.9 - - [2026-10-05T10:00:00Z] "GET / HTTP/1.1" 200 10 "-" "curl/8""#;
        let text = format!("{good}\n{bad_req}\n{good}\n{bad_ts}\n");
        let report = check_file(&text, Format::Auto, true);
        assert!(
            report.contains("checking the first 4 lines as combined"),
            "{report}"
        );
        assert!(report.contains("line 2: byte 45: bad_request: expected '\"' to open the request, and its closing '\"', found 'GET / HTTP/1.1 2'…"), "{report}");
        assert!(report.contains("line 4: byte 16: bad_timestamp: expected a timestamp like `[10/Oct/2000:13:55:36 -0700]`, found '[2026-10-05T10:0'…"), "{report}");
        assert!(report.contains("2 of 4 lines fail as combined"), "{report}");
        assert!(report.contains("  combined        2/4"), "{report}");
        let hidden = check_file(&text, Format::Auto, false);
        assert!(
            !hidden.contains("GET / HTTP/1.1 2"),
            "no excerpt off a terminal: {hidden}"
        );
        assert!(hidden.contains("line 2: byte 45: bad_request"));
    }

    #[test]
    fn checks_against_a_format_string() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "203.0.113.9 [05/Oct/2026:10:00:00 +0000] 200\n203.0.113.9 [05/Oct/2026:10:00:00 +0000] OK\n").unwrap();
        let f = LogFormat::apache("%h %t %>s").unwrap();
        let report = check(&path, Format::Auto, Some(&f), 10, false).unwrap();
        assert!(
            report.contains("1 of 2 lines fail as the given format string"),
            "{report}"
        );
        assert!(report.contains("line 2: byte 41: field"), "{report}");
    }

    #[test]
    fn excerpts_are_short_and_escaped() {
        assert_eq!(excerpt(b"abc\x1b[31m\xff", 0), "'abc\\x1b[31m\\xff'");
        assert_eq!(excerpt(b"abc", 3), "the end of the line");
        assert!(excerpt(&[b'a'; 100], 0).len() < 24);
    }
}
