//! Common and Combined Log Format (Apache and nginx defaults), with an optional trailing
//! quoted field (nginx `"$http_x_forwarded_for"`). Zero-copy nom parsers; never allocates.

use memchr::{memchr, memchr2, memrchr};
use nom::IResult;
use nom::Parser;
use nom::bytes::complete::tag;
use nom::character::complete::char;
use nom::error::{Error as NomError, ErrorKind};

use super::{Record, Reject, RejectReason, time};

type In<'a> = &'a [u8];

fn fail<T>(i: In<'_>) -> IResult<In<'_>, T> {
    Err(nom::Err::Error(NomError::new(i, ErrorKind::Verify)))
}

/// A non-empty run of bytes up to the next space (not consumed).
#[inline]
fn word(i: In<'_>) -> IResult<In<'_>, In<'_>> {
    // Most identd and user fields are `-`: no search for those.
    if let [b, b' ', ..] = i
        && *b != b' '
    {
        return Ok((&i[1..], &i[..1]));
    }
    let end = memchr(b' ', i).unwrap_or(i.len());
    if end == 0 {
        return fail(i);
    }
    Ok((&i[end..], &i[..end]))
}

/// A `"`-quoted field. Backslash escapes (`\"`, `\\`, `\xHH`) are skipped, not decoded; the
/// closing quote is the first unescaped `"` followed by a space or the end of the line.
#[inline]
pub fn quoted(i: In<'_>) -> IResult<In<'_>, In<'_>> {
    let (body, _) = char('"').parse(i)?;
    let mut pos = 0;
    loop {
        let Some(p) = memchr2(b'"', b'\\', &body[pos..]) else {
            return fail(&body[body.len()..]);
        };
        let at = pos + p;
        if body[at] == b'\\' {
            pos = at + 2;
            if pos > body.len() {
                return fail(&body[body.len()..]);
            }
            continue;
        }
        match body.get(at + 1) {
            None | Some(b' ') => return Ok((&body[at + 1..], &body[..at])),
            Some(_) => pos = at + 1,
        }
    }
}

/// A quoted field, or a bare `-` (some writers leave an absent referer or agent unquoted).
#[inline]
fn quoted_or_dash(i: In<'_>) -> IResult<In<'_>, In<'_>> {
    match i {
        [b'-', rest @ ..] if matches!(rest.first(), None | Some(b' ')) => Ok((rest, &i[..1])),
        _ => quoted(i),
    }
}

/// `[dd/Mon/yyyy:HH:MM:SS +zzzz]` as UTC seconds, with the bytes between the brackets.
#[inline]
fn timestamp(i: In<'_>) -> IResult<In<'_>, (i64, In<'_>)> {
    let (rest, _) = char('[').parse(i)?;
    // A CLF timestamp is 26 bytes: look there first. (An earlier `]` would fail `parse_clf`
    // either way: no byte of a timestamp is one.)
    let close = match rest.get(26) {
        Some(b']') => 26,
        _ => match memchr(b']', rest) {
            Some(c) => c,
            None => return fail(i),
        },
    };
    match time::parse_clf(&rest[..close]) {
        Some(t) => Ok((&rest[close + 1..], (t, &rest[..close]))),
        None => fail(i),
    }
}

#[inline]
fn status(i: In<'_>) -> IResult<In<'_>, u16> {
    match i {
        [a @ b'0'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', rest @ ..]
            if matches!(rest.first(), None | Some(b' ')) =>
        {
            Ok((
                rest,
                (a - b'0') as u16 * 100 + (b - b'0') as u16 * 10 + (c - b'0') as u16,
            ))
        }
        _ => fail(i),
    }
}

/// Response size: digits, or `-` for none (counted as 0).
#[inline]
fn size(i: In<'_>) -> IResult<In<'_>, u64> {
    // Digits up to the next space: a loop, not a search, for a field of a few bytes.
    let end = i
        .iter()
        .position(|&b| b == b' ' || !b.is_ascii_digit())
        .unwrap_or(i.len());
    let (rest, digits) = if i.get(end).is_none_or(|&b| b == b' ') && end > 0 {
        (&i[end..], &i[..end])
    } else {
        word(i)?
    };
    if digits == b"-" {
        return Ok((rest, 0));
    }
    let mut n: u64 = 0;
    for &d in digits {
        let v = d.wrapping_sub(b'0');
        if v > 9 {
            return fail(i);
        }
        n = match n.checked_mul(10).and_then(|n| n.checked_add(v as u64)) {
            Some(n) => n,
            None => return fail(i),
        };
    }
    Ok((rest, n))
}

/// Splits a request line into method, target and protocol. A line without the usual shape
/// (`-`, garbage bytes) yields empty parts; the record keeps the raw line.
#[inline]
pub fn split_request(req: &[u8]) -> (&[u8], &[u8], &[u8]) {
    // The method is a few bytes: a loop, not a search, finds the space after it, and gives up
    // at the first byte a method cannot have.
    let Some(first) = req
        .iter()
        .position(|&c| !(c.is_ascii_uppercase() || c == b'-' || c == b'_'))
    else {
        return (b"", b"", b"");
    };
    if first == 0 || req[first] != b' ' {
        return (b"", b"", b"");
    }
    let method = &req[..first];
    let rest = &req[first + 1..];
    // Most requests end with ` HTTP/x.y`: that space is the last one.
    if let [.., b' ', b'H', b'T', b'T', b'P', b'/', a, b, c] = rest
        && ![*a, *b, *c].contains(&b' ')
    {
        let last = rest.len() - 9;
        return (method, &rest[..last], &rest[last + 1..]);
    }
    match memrchr(b' ', rest) {
        Some(last) if rest[last + 1..].starts_with(b"HTTP/") => {
            (method, &rest[..last], &rest[last + 1..])
        }
        _ => (method, rest, b""),
    }
}

/// Parses one Common or Combined line (without its newline).
#[inline(always)]
pub fn parse(line: &[u8]) -> Result<Record<'_>, Reject> {
    let (rec, rest) = parse_prefix(line, true)?;
    if rest.is_empty() {
        Ok(rec)
    } else {
        Err(Reject {
            reason: RejectReason::TrailingData,
            offset: line.len() - rest.len(),
        })
    }
}

/// Parses the Common fields, then the referer and agent when the line goes on with a quoted
/// field (or a bare `-`), then, with `allow_xff`, one more quoted field. Returns the record and
/// whatever follows, unparsed, for formats that append fields of their own.
#[inline(always)]
pub fn parse_prefix(line: &[u8], allow_xff: bool) -> Result<(Record<'_>, &[u8]), Reject> {
    use RejectReason::*;
    let at = |reason: RejectReason, rest: In<'_>| Reject {
        reason,
        offset: line.len() - rest.len(),
    };
    let err_at = |reason: RejectReason| {
        move |e: nom::Err<NomError<In<'_>>>| match e {
            nom::Err::Error(e) | nom::Err::Failure(e) => at(reason, e.input),
            nom::Err::Incomplete(_) => at(reason, &line[line.len()..]),
        }
    };

    let (i, client) = (word, char(' '))
        .parse(line)
        .map(|(i, (c, _))| (i, c))
        .map_err(err_at(BadClient))?;
    let (i, (ident, _)) = (word, char(' ')).parse(i).map_err(err_at(BadIdent))?;
    let (i, (user, _)) = (word, char(' ')).parse(i).map_err(err_at(BadUser))?;
    let (i, (time, stamp)) = (timestamp, char(' '))
        .parse(i)
        .map(|(i, (t, _))| (i, t))
        .map_err(err_at(BadTimestamp))?;
    let (i, request) = (quoted, char(' '))
        .parse(i)
        .map(|(i, (r, _))| (i, r))
        .map_err(err_at(BadRequest))?;
    let (i, status) = status(i).map_err(err_at(BadStatus))?;
    let (i, _) = char(' ').parse(i).map_err(err_at(BadBytes))?;
    let (i, bytes) = size(i).map_err(err_at(BadBytes))?;
    let (method, target, protocol) = split_request(request);
    let mut rec = Record {
        client,
        time,
        request,
        method,
        target,
        protocol,
        status,
        bytes,
        referer: None,
        user_agent: None,
        forwarded_for: None,
        vhost: None,
        duration_us: None,
        user: Some(user),
        query: None,
        secrets: [(ident != b"-").then_some(ident), None, None, None],
        escaping: super::Escaping::Log,
        stamp: Some(stamp),
    };
    if !(i.starts_with(b" \"") || i == b" -" || i.starts_with(b" - ")) {
        return Ok((rec, i));
    }
    let (i, referer) = (tag(&b" "[..]), quoted_or_dash)
        .parse(i)
        .map(|(i, (_, r))| (i, r))
        .map_err(err_at(BadReferer))?;
    rec.referer = Some(referer);
    let (i, ua) = (tag(&b" "[..]), quoted_or_dash)
        .parse(i)
        .map(|(i, (_, r))| (i, r))
        .map_err(err_at(BadUserAgent))?;
    rec.user_agent = Some(ua);
    if !allow_xff || !i.starts_with(b" \"") {
        return Ok((rec, i));
    }
    let (i, xff) = (tag(&b" "[..]), quoted)
        .parse(i)
        .map(|(i, (_, r))| (i, r))
        .map_err(err_at(BadForwardedFor))?;
    rec.forwarded_for = Some(xff);
    Ok((rec, i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/parse/clf.golden");

    /// One line's parse, rendered for comparison: fields as written, `(none)` when absent.
    fn render(input: &[u8]) -> String {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let o = |b: Option<&[u8]>| b.map(s).unwrap_or_else(|| "(none)".into());
        match parse(input) {
            Ok(r) => format!(
                "client={} time={} method={} target={} proto={} status={} bytes={} ref={} ua={} xff={}",
                s(r.client),
                jiff::Timestamp::from_second(r.time).unwrap(),
                s(r.method),
                s(r.target),
                s(r.protocol),
                r.status,
                r.bytes,
                o(r.referer),
                o(r.user_agent),
                o(r.forwarded_for)
            ),
            Err(e) => format!("reject {} at {}", e.reason.as_str(), e.offset),
        }
    }

    /// The golden file holds cases as `input` then `=> expected`, separated by blank lines;
    /// `#` lines are comments. `BLESS=1 cargo test` rewrites the expectations.
    #[test]
    fn golden_cases() {
        let text = std::fs::read_to_string(GOLDEN).unwrap();
        let bless = std::env::var_os("BLESS").is_some();
        let mut out = String::new();
        let mut failures = Vec::new();
        let mut cases = 0;
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if line.starts_with('#') || line.is_empty() {
                out += line;
                out += "\n";
                continue;
            }
            let expected = lines
                .next()
                .and_then(|l| l.strip_prefix("=> "))
                .unwrap_or_else(|| panic!("no `=> ` line after {line}"));
            let got = render(line.as_bytes());
            cases += 1;
            if got != expected {
                failures.push(format!(
                    "input:    {line}\nexpected: {expected}\ngot:      {got}"
                ));
            }
            out += &format!("{line}\n=> {got}\n");
        }
        if bless {
            std::fs::write(GOLDEN, out).unwrap();
        } else {
            assert!(
                failures.is_empty(),
                "{} of {cases} golden cases differ:\n{}",
                failures.len(),
                failures.join("\n\n")
            );
        }
        assert!(cases >= 20);
    }

    proptest! {
        #[test]
        fn any_bytes_give_a_record_or_a_reject(bytes in proptest::collection::vec(prop_oneof![Just(b'"'), Just(b' '), Just(b'\\'), Just(b'['), Just(b']'), any::<u8>()], 0..300)) {
            match parse(&bytes) {
                Ok(r) => prop_assert!(r.client.len() <= bytes.len()),
                Err(e) => prop_assert!(e.offset <= bytes.len()),
            }
        }

        /// `split_request` agrees with the plain statement of its rule: the method is what
        /// precedes the first space (upper-case letters, `-`, `_`), the protocol what follows
        /// the last space if it starts with `HTTP/`.
        #[test]
        fn split_request_is_its_rule(req in proptest::collection::vec(prop_oneof![
            Just(b' '), Just(b'G'), Just(b'E'), Just(b'T'), Just(b'H'), Just(b'P'), Just(b'/'),
            Just(b'1'), Just(b'.'), Just(b'-'), Just(b'_'), Just(b'a'), any::<u8>()
        ], 0..24), tail in prop::sample::select(vec!["", " HTTP/1.1", " HTTP/2.0", " HTTP/1 1", " HTTP/"])) {
            let mut req = req;
            req.extend_from_slice(tail.as_bytes());
            let reference = |req: &[u8]| -> (Vec<u8>, Vec<u8>, Vec<u8>) {
                let Some(first) = req.iter().position(|&c| c == b' ') else {
                    return (vec![], vec![], vec![]);
                };
                let method = &req[..first];
                if method.is_empty() || !method.iter().all(|c| c.is_ascii_uppercase() || *c == b'-' || *c == b'_') {
                    return (vec![], vec![], vec![]);
                }
                let rest = &req[first + 1..];
                match rest.iter().rposition(|&c| c == b' ') {
                    Some(last) if rest[last + 1..].starts_with(b"HTTP/") => {
                        (method.to_vec(), rest[..last].to_vec(), rest[last + 1..].to_vec())
                    }
                    _ => (method.to_vec(), rest.to_vec(), vec![]),
                }
            };
            let (m, t, p) = split_request(&req);
            prop_assert_eq!((m.to_vec(), t.to_vec(), p.to_vec()), reference(&req));
        }

        #[test]
        fn generated_lines_round_trip(
            a in any::<[u8; 4]>(),
            method in "(GET|POST|HEAD|PUT)",
            path in "/[a-z0-9/._?=&%-]{0,40}",
            status in 100u16..600,
            bytes in any::<u64>(),
            referer in "[ -~&&[^\"\\\\]]{0,30}",
            ua in "[ -~&&[^\"\\\\]]{0,60}",
            secs in 0i64..4_102_444_800,
        ) {
            let ip = std::net::Ipv4Addr::from(a);
            let ts = jiff::Timestamp::from_second(secs).unwrap().strftime("%d/%b/%Y:%H:%M:%S +0000");
            let line = format!("{ip} - - [{ts}] \"{method} {path} HTTP/1.1\" {status} {bytes} \"{referer}\" \"{ua}\"");
            let r = parse(line.as_bytes()).unwrap();
            let ip_text = ip.to_string();
            prop_assert_eq!(r.client, ip_text.as_bytes());
            prop_assert_eq!(r.time, secs);
            let ts_text = ts.to_string();
            prop_assert_eq!(r.stamp, Some(ts_text.as_bytes()));
            prop_assert_eq!(r.method, method.as_bytes());
            prop_assert_eq!(r.target, path.as_bytes());
            prop_assert_eq!(r.status, status);
            prop_assert_eq!(r.bytes, bytes);
            prop_assert_eq!(r.referer, Some(referer.as_bytes()));
            prop_assert_eq!(r.user_agent, Some(ua.as_bytes()));
        }
    }
}
