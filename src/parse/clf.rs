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

/// `[dd/Mon/yyyy:HH:MM:SS +zzzz]` as UTC seconds.
#[inline]
fn timestamp(i: In<'_>) -> IResult<In<'_>, i64> {
    let (rest, _) = char('[').parse(i)?;
    let Some(close) = memchr(b']', rest) else {
        return fail(i);
    };
    match time::parse_clf(&rest[..close]) {
        Some(t) => Ok((&rest[close + 1..], t)),
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
    let (rest, digits) = word(i)?;
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
    let Some(first) = memchr(b' ', req) else {
        return (b"", b"", b"");
    };
    let method = &req[..first];
    if method.is_empty()
        || !method
            .iter()
            .all(|c| c.is_ascii_uppercase() || *c == b'-' || *c == b'_')
    {
        return (b"", b"", b"");
    }
    let rest = &req[first + 1..];
    match memrchr(b' ', rest) {
        Some(last) if rest[last + 1..].starts_with(b"HTTP/") => {
            (method, &rest[..last], &rest[last + 1..])
        }
        _ => (method, rest, b""),
    }
}

/// Parses one Common or Combined line (without its newline).
pub fn parse(line: &[u8]) -> Result<Record<'_>, Reject> {
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
    let (i, _ident) = (word, char(' ')).parse(i).map_err(err_at(BadIdent))?;
    let (i, _user) = (word, char(' ')).parse(i).map_err(err_at(BadUser))?;
    let (i, time) = (timestamp, char(' '))
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
    };
    if i.is_empty() {
        return Ok(rec);
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
    if i.is_empty() {
        return Ok(rec);
    }
    if !i.starts_with(b" \"") {
        return Err(at(TrailingData, i));
    }
    let (i, xff) = (tag(&b" "[..]), quoted)
        .parse(i)
        .map(|(i, (_, r))| (i, r))
        .map_err(err_at(BadForwardedFor))?;
    rec.forwarded_for = Some(xff);
    if !i.is_empty() {
        return Err(at(TrailingData, i));
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `input` and compares a compact rendering with `expected`.
    fn check(input: &str, expected: &str) {
        let got = match parse(input.as_bytes()) {
            Ok(r) => format!(
                "client={} time={} method={} target={} proto={} status={} bytes={} ref={:?} ua={:?} xff={:?}",
                s(r.client),
                r.time,
                s(r.method),
                s(r.target),
                s(r.protocol),
                r.status,
                r.bytes,
                r.referer.map(s),
                r.user_agent.map(s),
                r.forwarded_for.map(s)
            ),
            Err(e) => format!("reject {} at {}", e.reason.as_str(), e.offset),
        };
        assert_eq!(got, expected, "input: {input}");
    }

    fn s(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn cases() {
        check(
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
            "client=127.0.0.1 time=971211336 method=GET target=/apache_pb.gif proto=HTTP/1.0 status=200 bytes=2326 ref=None ua=None xff=None",
        );
        check(
            r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a b HTTP/1.1" 404 - "http://x/\"q\"" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
            r#"client=127.0.0.1 time=971211336 method=GET target=/a b proto=HTTP/1.1 status=404 bytes=0 ref=Some("http://x/\\\"q\\\"") ua=Some("Mozilla/4.08 [en] (Win98; I ;Nav)") xff=None"#,
        );
        check(
            r#"2001:db8::1 - - [10/Oct/2000:13:55:36 +0000] "\x16\x03\x01" 400 0 "-" "-" "1.2.3.4, 10.0.0.1""#,
            r#"client=2001:db8::1 time=971186136 method= target= proto= status=400 bytes=0 ref=Some("-") ua=Some("-") xff=Some("1.2.3.4, 10.0.0.1")"#,
        );
        check("not a log line", "reject bad_timestamp at 10");
        check("1.2.3.4 -", "reject bad_ident at 9");
        check(
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.1" 200 1"#,
            "reject bad_timestamp at 12",
        );
        check(
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1 200 1"#,
            "reject bad_request at 62",
        );
        check(
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 2000 1"#,
            "reject bad_status at 58",
        );
        check(
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 18446744073709551616"#,
            "reject bad_bytes at 62",
        );
        check(
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla"#,
            "reject bad_user_agent at 76",
        );
        check(
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" 0.003"#,
            "reject trailing_data at 72",
        );
        check(
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua\\""#,
            r#"client=1.2.3.4 time=971186136 method=GET target=/ proto=HTTP/1.1 status=200 bytes=1 ref=Some("-") ua=Some("ua\\\\") xff=None"#,
        );
        check(
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua\""#,
            "reject bad_user_agent at 73",
        );
        check("", "reject bad_client at 0");
        // Regression: an unquoted `-` for an absent referer and agent (seen from some writers).
        check(
            "224.92.49.50 bob frank [25/Feb/2021:12:44:08 +0000] \"PATCH /one-to-one HTTP/1.1\" 401 84170 - -",
            r#"client=224.92.49.50 time=1614257048 method=PATCH target=/one-to-one proto=HTTP/1.1 status=401 bytes=84170 ref=Some("-") ua=Some("-") xff=None"#,
        );
    }
}
