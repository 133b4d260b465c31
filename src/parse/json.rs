//! JSON access logs, one object per line: Caddy, nginx `escape=json`, Traefik. A small
//! zero-copy scanner walks the object once and hands each scalar to a visitor with its key
//! path; the format parsers pick the paths they want. Strings stay JSON-escaped (records
//! carry [`Escaping::Json`]); decode them with [`unescape_json`]. Never allocates on the
//! common path, never panics.
//!
//! Shared here as well, for the other structured formats (`w3c`, `aws`): ISO 8601 / RFC 3339
//! timestamps ([`parse_iso8601`]) and exact decimal arithmetic for fractional seconds.

use std::borrow::Cow;

use memchr::memchr2;

use super::time::{MAX_SECS, MIN_SECS};
use super::{Escaping, Record, Reject, RejectReason, clf, time};

/// Deepest nesting of objects and arrays the scanner accepts (the top-level object is 1).
pub const MAX_DEPTH: usize = 32;

/// One step of a key path: an object key (raw, still escaped) or an array index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'a> {
    Key(&'a [u8]),
    Index(usize),
}

/// A scalar as written in the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// The bytes between the quotes, still JSON-escaped.
    Str(&'a [u8]),
    /// The number text as written (`200`, `0.0125`, `1.7e-05`).
    Num(&'a [u8]),
    Bool(bool),
    Null,
}

impl<'a> Value<'a> {
    /// The text of a string or a number; `None` for `true`, `false` and `null`.
    pub fn text(self) -> Option<&'a [u8]> {
        match self {
            Value::Str(s) | Value::Num(s) => Some(s),
            Value::Bool(_) | Value::Null => None,
        }
    }
}

/// Why [`scan`] stopped: the byte offset and what was wrong there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// Not a JSON object here (bad token, unterminated string, missing `:` or `,`).
    Syntax(usize),
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep(usize),
    /// Something other than whitespace after the closing `}`.
    Trailing(usize),
}

impl JsonError {
    pub fn offset(self) -> usize {
        match self {
            JsonError::Syntax(o) | JsonError::TooDeep(o) | JsonError::Trailing(o) => o,
        }
    }
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(c) = b.get(i) {
        if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

/// The content of a string whose opening quote is just before `start`, and the offset after
/// its closing quote. Escapes are skipped, not checked.
#[inline]
fn string(b: &[u8], start: usize) -> Result<(&[u8], usize), JsonError> {
    let mut pos = start;
    loop {
        let Some(p) = b.get(pos..).and_then(|rest| memchr2(b'"', b'\\', rest)) else {
            return Err(JsonError::Syntax(b.len()));
        };
        let at = pos + p;
        if b[at] == b'"' {
            return Ok((&b[start..at], at + 1));
        }
        pos = at + 2;
        if pos > b.len() {
            return Err(JsonError::Syntax(b.len()));
        }
    }
}

#[derive(Clone, Copy)]
enum State {
    FirstKey,
    Key,
    FirstElem,
    Value,
    After,
}

/// Walks the one JSON object in `input` (leading and trailing whitespace and a leading UTF-8
/// BOM allowed) and calls `visit` with the key path and value of every scalar in it, in
/// document order. Nested objects and arrays are walked up to [`MAX_DEPTH`]. Duplicate keys
/// are all visited, so a visitor that stores what it sees keeps the **last** one. Keys are
/// compared raw: a key written with escapes (`"User\u002dAgent"`) does not match its plain
/// spelling. String contents are not validated (raw control bytes and invalid UTF-8 are let
/// through, as nginx writes bytes >= 0x80 unchanged).
pub fn scan<'a>(
    input: &'a [u8],
    mut visit: impl FnMut(&[Seg<'a>], Value<'a>),
) -> Result<(), JsonError> {
    let b = input;
    let mut i = skip_ws(b, 0);
    if b[i..].starts_with(b"\xEF\xBB\xBF") {
        i = skip_ws(b, i + 3);
    }
    if b.get(i) != Some(&b'{') {
        return Err(JsonError::Syntax(i));
    }
    i += 1;
    let mut path = [Seg::Index(0); MAX_DEPTH];
    let mut is_obj = [false; MAX_DEPTH];
    is_obj[0] = true;
    let mut depth = 1usize;
    let mut st = State::FirstKey;
    loop {
        i = skip_ws(b, i);
        match st {
            State::FirstKey | State::Key => match b.get(i) {
                Some(b'}') if matches!(st, State::FirstKey) => {
                    i += 1;
                    depth -= 1;
                    st = State::After;
                }
                Some(b'"') => {
                    let (key, next) = string(b, i + 1)?;
                    path[depth - 1] = Seg::Key(key);
                    i = skip_ws(b, next);
                    if b.get(i) != Some(&b':') {
                        return Err(JsonError::Syntax(i));
                    }
                    i += 1;
                    st = State::Value;
                }
                _ => return Err(JsonError::Syntax(i)),
            },
            State::FirstElem => {
                if b.get(i) == Some(&b']') {
                    i += 1;
                    depth -= 1;
                    st = State::After;
                } else {
                    path[depth - 1] = Seg::Index(0);
                    st = State::Value;
                }
            }
            State::Value => {
                match b.get(i) {
                    Some(b'"') => {
                        let (s, next) = string(b, i + 1)?;
                        visit(&path[..depth], Value::Str(s));
                        i = next;
                    }
                    Some(c @ (b'{' | b'[')) => {
                        if depth == MAX_DEPTH {
                            return Err(JsonError::TooDeep(i));
                        }
                        is_obj[depth] = *c == b'{';
                        depth += 1;
                        i += 1;
                        st = if *c == b'{' {
                            State::FirstKey
                        } else {
                            State::FirstElem
                        };
                        continue;
                    }
                    Some(b'-' | b'0'..=b'9') => {
                        let start = i;
                        i += 1;
                        while let Some(c) = b.get(i) {
                            if !matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                                break;
                            }
                            i += 1;
                        }
                        visit(&path[..depth], Value::Num(&b[start..i]));
                    }
                    Some(b't') if b[i..].starts_with(b"true") => {
                        visit(&path[..depth], Value::Bool(true));
                        i += 4;
                    }
                    Some(b'f') if b[i..].starts_with(b"false") => {
                        visit(&path[..depth], Value::Bool(false));
                        i += 5;
                    }
                    Some(b'n') if b[i..].starts_with(b"null") => {
                        visit(&path[..depth], Value::Null);
                        i += 4;
                    }
                    _ => return Err(JsonError::Syntax(i)),
                }
                st = State::After;
            }
            State::After => {
                if depth == 0 {
                    return if i == b.len() {
                        Ok(())
                    } else {
                        Err(JsonError::Trailing(i))
                    };
                }
                match (b.get(i), is_obj[depth - 1]) {
                    (Some(b','), true) => {
                        i += 1;
                        st = State::Key;
                    }
                    (Some(b','), false) => {
                        i += 1;
                        if let Seg::Index(n) = path[depth - 1] {
                            path[depth - 1] = Seg::Index(n.saturating_add(1));
                        }
                        st = State::Value;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        i += 1;
                        depth -= 1;
                    }
                    _ => return Err(JsonError::Syntax(i)),
                }
            }
        }
    }
}

/// Decodes JSON string escapes: `\" \\ \/ \b \f \n \r \t \uXXXX` (surrogate pairs combined).
/// A lone surrogate or a `\u` without four hex digits becomes U+FFFD; other unknown escapes
/// and a trailing lone backslash are kept as written. Borrowed when there is no backslash.
pub fn unescape_json(raw: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'\\', raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' || i + 1 >= raw.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let simple = match raw[i + 1] {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(d) = simple {
            out.push(d);
            i += 2;
            continue;
        }
        if raw[i + 1] != b'u' {
            out.push(b'\\');
            i += 1;
            continue;
        }
        let (ch, used) = match hex4(&raw[i + 2..]) {
            Ok(hi @ 0xD800..=0xDBFF) => {
                let lo = match raw.get(i + 6..i + 8) {
                    Some(b"\\u") => hex4(&raw[i + 8..]).ok(),
                    _ => None,
                };
                match lo {
                    Some(lo @ 0xDC00..=0xDFFF) => {
                        let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        (char::from_u32(cp).unwrap_or('\u{FFFD}'), 12)
                    }
                    _ => ('\u{FFFD}', 6),
                }
            }
            Ok(cp) => (char::from_u32(cp).unwrap_or('\u{FFFD}'), 6),
            Err(hex_digits) => ('\u{FFFD}', 2 + hex_digits),
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        i += used;
    }
    Cow::Owned(out)
}

/// Four hex digits as a number, or how many leading hex digits there were (fewer than 4).
fn hex4(b: &[u8]) -> Result<u32, usize> {
    let mut v = 0u32;
    for n in 0..4 {
        let d = match b.get(n) {
            Some(c @ b'0'..=b'9') => c - b'0',
            Some(c @ b'a'..=b'f') => c - b'a' + 10,
            Some(c @ b'A'..=b'F') => c - b'A' + 10,
            _ => return Err(n),
        };
        v = v << 4 | d as u32;
    }
    Ok(v)
}

// ---------------------------------------------------------------------------------------
// Numbers, times and addresses shared by the structured-format parsers.

/// `floor(value * 10^scale)` of a decimal number (`-12.5`, `0.000724332`, `1.7e-05`, `+3`),
/// computed exactly without floating point; `None` if the text is not a number or the
/// result does not fit. Digits past the 30th significant one are dropped.
pub(crate) fn scaled_decimal(raw: &[u8], scale: i32) -> Option<i128> {
    let (neg, mut b) = match raw {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, raw),
    };
    const CAP: u128 = 10u128.pow(30);
    let mut mant: u128 = 0;
    let mut exp: i64 = 0;
    let mut digits = 0usize;
    let mut lost = false;
    while let [c @ b'0'..=b'9', rest @ ..] = b {
        digits += 1;
        if mant < CAP {
            mant = mant * 10 + (c - b'0') as u128;
        } else {
            exp += 1;
            lost |= *c != b'0';
        }
        b = rest;
    }
    if let [b'.', rest @ ..] = b {
        b = rest;
        while let [c @ b'0'..=b'9', rest @ ..] = b {
            digits += 1;
            if mant < CAP {
                mant = mant * 10 + (c - b'0') as u128;
                exp -= 1;
            } else {
                lost |= *c != b'0';
            }
            b = rest;
        }
    }
    if digits == 0 {
        return None;
    }
    if let [b'e' | b'E', rest @ ..] = b {
        let (eneg, mut r) = match rest {
            [b'-', r @ ..] => (true, r),
            [b'+', r @ ..] => (false, r),
            _ => (false, rest),
        };
        let mut e: i64 = 0;
        let mut n = 0;
        while let [c @ b'0'..=b'9', more @ ..] = r {
            e = (e * 10 + (c - b'0') as i64).min(10_000);
            n += 1;
            r = more;
        }
        if n == 0 {
            return None;
        }
        exp += if eneg { -e } else { e };
        b = r;
    }
    if !b.is_empty() {
        return None;
    }
    let e = exp + scale as i64;
    let (q, rem) = if mant == 0 {
        (0u128, false)
    } else if e >= 0 {
        let p = 10u128.checked_pow(u32::try_from(e).ok()?)?;
        (mant.checked_mul(p)?, false)
    } else if e < -38 {
        (0, true)
    } else {
        let p = 10u128.pow((-e) as u32);
        (mant / p, !mant.is_multiple_of(p))
    };
    let q = i128::try_from(q).ok()?;
    Some(if neg { -q - (rem || lost) as i128 } else { q })
}

/// Unsigned decimal digits only, no sign, no fraction.
pub(crate) fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(n)
}

/// An HTTP status: one to three digits.
pub(crate) fn parse_status(b: &[u8]) -> Option<u16> {
    if b.is_empty() || b.len() > 3 {
        return None;
    }
    parse_u64(b).map(|n| n as u16)
}

/// Seconds since the epoch of a numeric timestamp, its unit guessed from its size: up to 11
/// integer digits are seconds, up to 14 milliseconds, up to 17 microseconds, else
/// nanoseconds (Caddy's `unix_*` time formats, nginx `$msec`).
pub(crate) fn epoch_seconds(raw: &[u8]) -> Option<i64> {
    let v = scaled_decimal(raw, 0)?;
    let secs = match v.unsigned_abs() {
        0..100_000_000_000 => v,
        100_000_000_000..100_000_000_000_000 => v.div_euclid(1_000),
        100_000_000_000_000..100_000_000_000_000_000 => v.div_euclid(1_000_000),
        _ => v.div_euclid(1_000_000_000),
    };
    let secs = i64::try_from(secs).ok()?;
    (MIN_SECS..=MAX_SECS).contains(&secs).then_some(secs)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[inline]
fn digits_n(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u32;
    }
    Some(v)
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub(crate) fn parse_date(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits_n(&b[0..4])?;
    let m = digits_n(&b[5..7])?;
    let d = digits_n(&b[8..10])?;
    if m == 0 || m > 12 || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(time::days_from_civil(y as i64, m, d))
}

/// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff` (or `,fff`) as seconds of the day; the fraction is
/// dropped.
pub(crate) fn parse_clock(b: &[u8]) -> Option<i64> {
    if b.len() < 5 || b[2] != b':' {
        return None;
    }
    let h = digits_n(&b[0..2])?;
    let m = digits_n(&b[3..5])?;
    let s = match &b[5..] {
        [] => 0,
        [b':', s1, s2, frac @ ..] => {
            match frac {
                [] => {}
                [b'.' | b',', f @ ..] if !f.is_empty() && f.iter().all(u8::is_ascii_digit) => {}
                _ => return None,
            }
            digits_n(&[*s1, *s2])?
        }
        _ => return None,
    };
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(h as i64 * 3600 + m as i64 * 60 + s as i64)
}

/// ISO 8601 / RFC 3339 date-time as UTC seconds: `YYYY-MM-DD` then `T`, `t` or a space,
/// `HH:MM[:SS[.frac]]`, then `Z`, `z`, `±HH:MM`, `±HHMM`, `±HH` or nothing. A time without an
/// offset is taken as UTC. Fractions of a second are dropped (not rounded).
pub fn parse_iso8601(b: &[u8]) -> Option<i64> {
    let days = parse_date(b.get(..10)?)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let rest = &b[11..];
    let end = rest
        .iter()
        .position(|c| !matches!(c, b'0'..=b'9' | b':' | b'.' | b','))
        .unwrap_or(rest.len());
    let clock = parse_clock(&rest[..end])?;
    let offset = match &rest[end..] {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), off @ ..] => {
            let (h, m) = match off {
                [a, b] => (digits_n(&[*a, *b])?, 0),
                [a, b, c, d] => (digits_n(&[*a, *b])?, digits_n(&[*c, *d])?),
                [a, b, b':', c, d] => (digits_n(&[*a, *b])?, digits_n(&[*c, *d])?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let o = h as i64 * 3600 + m as i64 * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let t = days * 86_400 + clock - offset;
    (MIN_SECS..=MAX_SECS).contains(&t).then_some(t)
}

/// A timestamp in any of the shapes JSON access logs use: CLF (`10/Oct/2000:13:55:36 -0700`),
/// ISO 8601 ([`parse_iso8601`]) or a number of seconds (or ms, µs, ns: [`epoch_seconds`]).
pub(crate) fn any_time(raw: &[u8]) -> Option<i64> {
    match raw {
        [_, _, b'/', ..] => time::parse_clf(raw),
        [_, _, _, _, b'-', ..] => parse_iso8601(raw),
        _ => epoch_seconds(raw),
    }
}

/// A duration written the Go way (`1.5ms`, `350µs`, `2m3.5s`, `0`) in microseconds.
pub(crate) fn go_duration_us(raw: &[u8]) -> Option<u64> {
    if raw == b"0" {
        return Some(0);
    }
    let mut b = raw;
    let mut total: i128 = 0;
    while !b.is_empty() {
        let num_end = b
            .iter()
            .position(|c| !matches!(c, b'0'..=b'9' | b'.'))
            .unwrap_or(b.len());
        let num = &b[..num_end];
        let rest = &b[num_end..];
        let unit_end = rest
            .iter()
            .position(|c| matches!(c, b'0'..=b'9' | b'.'))
            .unwrap_or(rest.len());
        let (scale, mul) = match &rest[..unit_end] {
            b"ns" => (-3, 1),
            b"us" | b"\xC2\xB5s" | b"\xCE\xBCs" | b"\\u00b5s" | b"\\u00B5s" | b"\\u03bcs"
            | b"\\u03BCs" => (0, 1),
            b"ms" => (3, 1),
            b"s" => (6, 1),
            b"m" => (6, 60),
            b"h" => (6, 3600),
            _ => return None,
        };
        total = total.checked_add(scaled_decimal(num, scale)?.checked_mul(mul)?)?;
        b = &rest[unit_end..];
    }
    u64::try_from(total).ok()
}

/// An address without its port: `[v6]:port` and `[v6]` give `v6`, `v4:port` and
/// `host:port` give the part before the colon; anything with two or more colons (a bare
/// IPv6 address) is returned as is.
pub(crate) fn strip_port(b: &[u8]) -> &[u8] {
    if let [b'[', rest @ ..] = b {
        if let Some(close) = memchr::memchr(b']', rest) {
            return &rest[..close];
        }
        return b;
    }
    let mut colons = memchr::memchr_iter(b':', b);
    match (colons.next(), colons.next()) {
        (Some(c), None) => &b[..c],
        _ => b,
    }
}

/// Offset of a subslice of `line` (or the end of the line if it is not one).
#[inline]
pub(crate) fn offset_in(line: &[u8], part: &[u8]) -> usize {
    let o = (part.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
    if o <= line.len() { o } else { line.len() }
}

// ---------------------------------------------------------------------------------------
// The three JSON formats.

/// A candidate value and the priority of the key it came from (lower wins; between equal
/// priorities, and between duplicate keys, the later one wins).
type Slot<'a> = Option<(u8, Value<'a>)>;

#[inline]
fn put<'a>(slot: &mut Slot<'a>, rank: u8, v: Value<'a>) {
    if v == Value::Null {
        return;
    }
    match slot {
        Some((r, _)) if *r < rank => {}
        _ => *slot = Some((rank, v)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DurUnit {
    /// Seconds as a decimal (Caddy `duration`, nginx `$request_time`); Caddy's integer
    /// nanoseconds and Go duration strings are recognised too.
    CaddySeconds,
    /// Integer nanoseconds (Traefik `Duration`).
    Nanos,
}

/// What a format parser found, before validation.
#[derive(Default)]
struct Found<'a> {
    client: Slot<'a>,
    time: Slot<'a>,
    request: Slot<'a>,
    method: Slot<'a>,
    target: Slot<'a>,
    protocol: Slot<'a>,
    status: Slot<'a>,
    bytes: Slot<'a>,
    referer: Slot<'a>,
    user_agent: Slot<'a>,
    forwarded_for: Slot<'a>,
    vhost: Slot<'a>,
    duration: Slot<'a>,
    user: Slot<'a>,
}

/// The string in a slot; numbers and booleans do not count as text fields.
fn str_of<'a>(s: Slot<'a>) -> Option<&'a [u8]> {
    match s {
        Some((_, Value::Str(v))) => Some(v),
        _ => None,
    }
}

/// An optional text field: absent, empty and `-` are all `None`.
fn opt_text<'a>(s: Slot<'a>) -> Option<&'a [u8]> {
    str_of(s).filter(|v| !v.is_empty() && *v != b"-")
}

fn json_reject(e: JsonError) -> Reject {
    Reject {
        reason: match e {
            JsonError::Trailing(_) => RejectReason::TrailingData,
            JsonError::Syntax(_) | JsonError::TooDeep(_) => RejectReason::BadRequest,
        },
        offset: e.offset(),
    }
}

impl<'a> Found<'a> {
    /// Validates and assembles the record. Checks run in this order, so a line that is not
    /// an access entry at all (no method, no target, no request line) is a `bad_request`.
    fn finish(
        self,
        line: &'a [u8],
        strip_client_port: bool,
        dur: DurUnit,
    ) -> Result<Record<'a>, Reject> {
        use RejectReason::*;
        let end = line.len();
        let at = |reason, part: Option<&[u8]>| Reject {
            reason,
            offset: part.map_or(end, |p| offset_in(line, p)),
        };
        let slot_text = |s: Slot<'a>| s.and_then(|(_, v)| v.text());

        // Request.
        let line_req = str_of(self.request);
        let (mut method, mut target, mut protocol) = match line_req {
            Some(r) => clf::split_request(r),
            None => (&b""[..], &b""[..], &b""[..]),
        };
        if method.is_empty() {
            method = str_of(self.method).unwrap_or(b"");
        }
        if target.is_empty() {
            target = str_of(self.target).unwrap_or(b"");
        }
        if protocol.is_empty() {
            protocol = str_of(self.protocol).unwrap_or(b"");
        }
        let request = match line_req {
            Some(r) => r,
            None if str_of(self.target).is_some() || str_of(self.method).is_some() => target,
            None => return Err(at(BadRequest, slot_text(self.request))),
        };

        // Client.
        let client = match str_of(self.client) {
            Some(c) if !c.is_empty() => {
                if strip_client_port {
                    strip_port(c)
                } else {
                    c
                }
            }
            _ => return Err(at(BadClient, slot_text(self.client))),
        };

        // Time.
        let time = match slot_text(self.time) {
            Some(t) => any_time(t).ok_or_else(|| at(BadTimestamp, Some(t)))?,
            None => return Err(at(BadTimestamp, None)),
        };

        // Status and bytes.
        let status = match slot_text(self.status) {
            Some(s) => parse_status(s).ok_or_else(|| at(BadStatus, Some(s)))?,
            None => return Err(at(BadStatus, None)),
        };
        let bytes = match slot_text(self.bytes) {
            None | Some(b"") | Some(b"-") => 0,
            Some(b) => parse_u64(b).ok_or_else(|| at(BadBytes, Some(b)))?,
        };

        let duration_us = self.duration.and_then(|(_, v)| match (dur, v) {
            (DurUnit::Nanos, Value::Num(n) | Value::Str(n)) => {
                scaled_decimal(n, -3).and_then(|d| u64::try_from(d).ok())
            }
            (DurUnit::CaddySeconds, Value::Num(n)) => {
                let integer = !n.iter().any(|c| matches!(c, b'.' | b'e' | b'E'));
                let scale = if integer && n.len() >= 7 { -3 } else { 6 };
                scaled_decimal(n, scale).and_then(|d| u64::try_from(d).ok())
            }
            (DurUnit::CaddySeconds, Value::Str(s)) => scaled_decimal(s, 6)
                .and_then(|d| u64::try_from(d).ok())
                .or_else(|| go_duration_us(s)),
            _ => None,
        });

        Ok(Record {
            client,
            time,
            request,
            method,
            target,
            protocol,
            status,
            bytes,
            referer: opt_text(self.referer),
            user_agent: opt_text(self.user_agent),
            forwarded_for: opt_text(self.forwarded_for),
            vhost: opt_text(self.vhost),
            duration_us,
            user: opt_text(self.user),
            query: None,
            // Not located here: the anonymised copy walks the whole object and finds cookie
            // and authorization keys itself, however many there are.
            secrets: [None; super::SECRET_SLOTS],
            escaping: Escaping::Json,
            stamp: None,
        })
    }
}

/// Parses one Caddy access-log entry (`http.log.access`, the default JSON encoder).
///
/// | record | from |
/// |---|---|
/// | client | `request.client_ip`, else `request.remote_ip`, else `request.remote_addr` (Caddy < 2.5), port stripped |
/// | time | `ts`: float seconds; also `unix_milli_float`/`unix_nano` numbers and ISO 8601 / CLF strings (not the `wall*` formats) |
/// | method, target, protocol | `request.method`, `request.uri`, `request.proto`; `request` is the uri too |
/// | status, bytes | `status`, `size` |
/// | vhost | `request.host` (as the client sent it, port included) |
/// | referer, user_agent, forwarded_for | **first** element of `request.headers.Referer`, `.User-Agent`, `.X-Forwarded-For` (header names matched case-insensitively) |
/// | duration_us | `duration`: float seconds; an integer of 7+ digits is nanoseconds (`duration_format nano`); a string is a Go duration (`1.5ms`) |
/// | user | `user_id` (empty is `None`) |
///
/// Lines that are valid JSON but not access entries (Caddy's own messages) are `bad_request`.
pub fn parse_caddy(line: &[u8]) -> Result<Record<'_>, Reject> {
    use Seg::{Index, Key};
    let mut f = Found::default();
    scan(line, |path, v| match path {
        [Key(b"ts")] => put(&mut f.time, 0, v),
        [Key(b"status")] => put(&mut f.status, 0, v),
        [Key(b"size")] => put(&mut f.bytes, 0, v),
        [Key(b"duration")] => put(&mut f.duration, 0, v),
        [Key(b"user_id")] => put(&mut f.user, 0, v),
        [Key(b"request"), Key(k)] => match *k {
            b"client_ip" => put(&mut f.client, 0, v),
            b"remote_ip" => put(&mut f.client, 1, v),
            b"remote_addr" => put(&mut f.client, 2, v),
            b"method" => put(&mut f.method, 0, v),
            b"uri" => put(&mut f.target, 0, v),
            b"proto" => put(&mut f.protocol, 0, v),
            b"host" => put(&mut f.vhost, 0, v),
            _ => {}
        },
        [Key(b"request"), Key(b"headers"), Key(h), Index(0)] => {
            if h.eq_ignore_ascii_case(b"User-Agent") {
                put(&mut f.user_agent, 0, v)
            } else if h.eq_ignore_ascii_case(b"Referer") {
                put(&mut f.referer, 0, v)
            } else if h.eq_ignore_ascii_case(b"X-Forwarded-For") {
                put(&mut f.forwarded_for, 0, v)
            }
        }
        _ => {}
    })
    .map_err(json_reject)?;
    f.finish(line, true, DurUnit::CaddySeconds)
}

/// Parses one line written by an nginx `log_format … escape=json '{…}'`. The keys are the
/// operator's choice; these top-level keys are understood (the first listed wins when
/// several are present; nested keys are ignored):
///
/// | record | keys |
/// |---|---|
/// | client | `remote_addr`, `client`, `ip`, `client_ip`, `remote_ip` (kept as written: nginx logs no port) |
/// | time | `time_iso8601`, `time_local`, `@timestamp`, `time`, `timestamp`, `msec`: each may be CLF, ISO 8601 with offset, or epoch seconds |
/// | request | `request` (the request line, split like CLF); else `request_method`/`method` + `request_uri`/`uri` + `server_protocol`/`protocol`, and `request` is the uri |
/// | status, bytes | `status`; `body_bytes_sent`, `bytes_sent` (numbers or numeric strings; missing bytes count 0) |
/// | referer, user_agent, forwarded_for | `http_referer`/`referer`/`referrer`; `http_user_agent`/`user_agent`; `http_x_forwarded_for`/`x_forwarded_for` |
/// | vhost | `host`, `http_host`, `server_name` |
/// | duration_us | `request_time` (seconds, `0.123`) |
/// | user | `remote_user`, `user` |
///
/// Empty strings (nginx writes `""` for an unset variable under `escape=json`) and `-` make
/// the optional fields `None`.
pub fn parse_nginx_json(line: &[u8]) -> Result<Record<'_>, Reject> {
    use Seg::Key;
    let mut f = Found::default();
    scan(line, |path, v| {
        let [Key(k)] = path else { return };
        match *k {
            b"remote_addr" => put(&mut f.client, 0, v),
            b"client" => put(&mut f.client, 1, v),
            b"ip" => put(&mut f.client, 2, v),
            b"client_ip" => put(&mut f.client, 3, v),
            b"remote_ip" => put(&mut f.client, 4, v),
            b"time_iso8601" => put(&mut f.time, 0, v),
            b"time_local" => put(&mut f.time, 1, v),
            b"@timestamp" => put(&mut f.time, 2, v),
            b"time" => put(&mut f.time, 3, v),
            b"timestamp" => put(&mut f.time, 4, v),
            b"msec" => put(&mut f.time, 5, v),
            b"request" => put(&mut f.request, 0, v),
            b"request_method" => put(&mut f.method, 0, v),
            b"method" => put(&mut f.method, 1, v),
            b"request_uri" => put(&mut f.target, 0, v),
            b"uri" => put(&mut f.target, 1, v),
            b"server_protocol" => put(&mut f.protocol, 0, v),
            b"protocol" => put(&mut f.protocol, 1, v),
            b"status" => put(&mut f.status, 0, v),
            b"body_bytes_sent" => put(&mut f.bytes, 0, v),
            b"bytes_sent" => put(&mut f.bytes, 1, v),
            b"http_referer" => put(&mut f.referer, 0, v),
            b"referer" => put(&mut f.referer, 1, v),
            b"referrer" => put(&mut f.referer, 2, v),
            b"http_user_agent" => put(&mut f.user_agent, 0, v),
            b"user_agent" => put(&mut f.user_agent, 1, v),
            b"http_x_forwarded_for" => put(&mut f.forwarded_for, 0, v),
            b"x_forwarded_for" => put(&mut f.forwarded_for, 1, v),
            b"host" => put(&mut f.vhost, 0, v),
            b"http_host" => put(&mut f.vhost, 1, v),
            b"server_name" => put(&mut f.vhost, 2, v),
            b"request_time" => put(&mut f.duration, 0, v),
            b"remote_user" => put(&mut f.user, 0, v),
            b"user" => put(&mut f.user, 1, v),
            _ => {}
        }
    })
    .map_err(json_reject)?;
    f.finish(line, false, DurUnit::CaddySeconds)
}

/// Parses one Traefik access-log line in `format: json`.
///
/// | record | from |
/// |---|---|
/// | client | `ClientHost`, else `ClientAddr` with its port stripped |
/// | time | `StartUTC` (RFC 3339, nanoseconds), else `StartLocal`, else `time` |
/// | method, target, protocol | `RequestMethod`, `RequestPath` (with its query), `RequestProtocol`; `request` is the path |
/// | status, bytes | `DownstreamStatus`, `DownstreamContentSize` |
/// | vhost | `RequestHost`, else `RequestAddr` |
/// | referer, user_agent, forwarded_for | `request_Referer`, `request_User-Agent`, `request_X-Forwarded-For` (present only when header logging keeps them; `REDACTED` is kept as is) |
/// | duration_us | `Duration` (integer nanoseconds) |
/// | user | `ClientUsername` |
pub fn parse_traefik_json(line: &[u8]) -> Result<Record<'_>, Reject> {
    use Seg::Key;
    let mut f = Found::default();
    scan(line, |path, v| {
        let [Key(k)] = path else { return };
        match *k {
            b"ClientHost" => put(&mut f.client, 0, v),
            b"ClientAddr" => put(&mut f.client, 1, v),
            b"StartUTC" => put(&mut f.time, 0, v),
            b"StartLocal" => put(&mut f.time, 1, v),
            b"time" => put(&mut f.time, 2, v),
            b"RequestMethod" => put(&mut f.method, 0, v),
            b"RequestPath" => put(&mut f.target, 0, v),
            b"RequestProtocol" => put(&mut f.protocol, 0, v),
            b"DownstreamStatus" => put(&mut f.status, 0, v),
            b"DownstreamContentSize" => put(&mut f.bytes, 0, v),
            b"RequestHost" => put(&mut f.vhost, 0, v),
            b"RequestAddr" => put(&mut f.vhost, 1, v),
            b"request_User-Agent" => put(&mut f.user_agent, 0, v),
            b"request_Referer" => put(&mut f.referer, 0, v),
            b"request_X-Forwarded-For" => put(&mut f.forwarded_for, 0, v),
            b"Duration" => put(&mut f.duration, 0, v),
            b"ClientUsername" => put(&mut f.user, 0, v),
            _ => {}
        }
    })
    .map_err(json_reject)?;
    f.finish(line, true, DurUnit::Nanos)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One parse, rendered for comparison: fields as written, `-` for `None`.
    pub(crate) fn render(r: Result<Record<'_>, Reject>) -> String {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let o = |b: Option<&[u8]>| b.map(s).unwrap_or_else(|| "-".into());
        match r {
            Ok(r) => format!(
                "client={} time={} req={} method={} target={} proto={} status={} bytes={} ref={} ua={} xff={} vhost={} dur={}",
                s(r.client),
                jiff::Timestamp::from_second(r.time)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|_| r.time.to_string()),
                s(r.request),
                s(r.method),
                s(r.target),
                s(r.protocol),
                r.status,
                r.bytes,
                o(r.referer),
                o(r.user_agent),
                o(r.forwarded_for),
                o(r.vhost),
                r.duration_us.map_or("-".into(), |d| d.to_string()),
            ),
            Err(e) => format!("reject {} at {}", e.reason.as_str(), e.offset),
        }
    }

    fn check(parse: fn(&[u8]) -> Result<Record<'_>, Reject>, input: &str, expected: &str) {
        let r = parse(input.as_bytes());
        if let Ok(rec) = &r {
            assert_eq!(rec.escaping, Escaping::Json);
        }
        assert_eq!(render(r), expected, "input: {input}");
    }

    fn render_scan(input: &str) -> String {
        let mut out = Vec::new();
        let r = scan(input.as_bytes(), |path, v| {
            let p: Vec<String> = path
                .iter()
                .map(|s| match s {
                    Seg::Key(k) => String::from_utf8_lossy(k).into_owned(),
                    Seg::Index(i) => format!("[{i}]"),
                })
                .collect();
            let v = match v {
                Value::Str(s) => format!("s:{}", String::from_utf8_lossy(s)),
                Value::Num(n) => format!("n:{}", String::from_utf8_lossy(n)),
                Value::Bool(b) => format!("b:{b}"),
                Value::Null => "null".into(),
            };
            out.push(format!("{}={v}", p.join(".")));
        });
        match r {
            Ok(()) => out.join(" "),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn scanner() {
        let cases: &[(&str, &str)] = &[
            (r#"{}"#, ""),
            (r#" { } "#, ""),
            ("\u{feff}{\"a\":1}", "a=n:1"),
            (
                r#"{"a":"x","b":12.5e-3,"c":true,"d":false,"e":null}"#,
                "a=s:x b=n:12.5e-3 c=b:true d=b:false e=null",
            ),
            (
                r#"{"a":{"b":{"c":"d"}},"e":[1,[2,3],{"f":"g"}],"h":[]}"#,
                "a.b.c=s:d e.[0]=n:1 e.[1].[0]=n:2 e.[1].[1]=n:3 e.[2].f=s:g",
            ),
            (r#"{"k\"q":"v\\\"w"}"#, r#"k\"q=s:v\\\"w"#),
            (r#"{"a":1,"a":2}"#, "a=n:1 a=n:2"),
            ("{\"a\":\"x\"}\r", "a=s:x"),
            (r#"{"a":1} x"#, "Trailing(8)"),
            (r#"{"a":1}{}"#, "Trailing(7)"),
            (r#"{"a" 1}"#, "Syntax(5)"),
            (r#"{"a":1,}"#, "Syntax(7)"),
            (r#"{"a":[1,]}"#, "Syntax(8)"),
            (r#"{"a":"x}"#, "Syntax(8)"),
            (r#"{"a":"x\"#, "Syntax(8)"),
            (r#"{"a":tru}"#, "Syntax(5)"),
            (r#"{"a":1"#, "Syntax(6)"),
            (r#"{"a":{"b":1}"#, "Syntax(12)"),
            (r#"[1]"#, "Syntax(0)"),
            ("", "Syntax(0)"),
            ("caddy  | {}", "Syntax(0)"),
            (r#"{"a":1]"#, "Syntax(6)"),
            (r#"{"a":[1}"#, "Syntax(7)"),
        ];
        for (input, expected) in cases {
            assert_eq!(render_scan(input), *expected, "input: {input}");
        }
        let deep_ok = format!(
            "{}{}",
            "{\"a\":".repeat(MAX_DEPTH - 1) + "1",
            "}".repeat(MAX_DEPTH - 1)
        );
        assert_eq!(
            render_scan(&(format!("{{\"x\":{deep_ok}}}"))),
            format!("x{}=n:1", ".a".repeat(MAX_DEPTH - 1))
        );
        let too_deep = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(
            render_scan(&format!("{{\"x\":{too_deep}}}")),
            format!("TooDeep({})", 5 + MAX_DEPTH - 1)
        );
    }

    #[test]
    fn unescape() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"plain", b"plain"),
            (br#"a\"b\\c\/d"#, br#"a"b\c/d"#),
            (br#"\b\f\n\r\t"#, b"\x08\x0c\n\r\t"),
            (br#"caf\u00e9"#, "café".as_bytes()),
            (br#"\u00E9\u20AC"#, "é€".as_bytes()),
            (br#"\ud83d\ude00!"#, "😀!".as_bytes()),
            (br#"\ud83dx"#, "\u{FFFD}x".as_bytes()),
            (br#"\ud83d\u0041"#, "\u{FFFD}A".as_bytes()),
            (br#"\ude00"#, "\u{FFFD}".as_bytes()),
            (br#"\u12"#, "\u{FFFD}".as_bytes()),
            (br#"\u12zz"#, "\u{FFFD}zz".as_bytes()),
            (br#"\u0000"#, b"\0"),
            (br#"\x41"#, br#"\x41"#),
            (br#"end\"#, br#"end\"#),
            (b"\xff\\n", b"\xff\n"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                &*unescape_json(input),
                *expected,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        assert!(matches!(unescape_json(b"no escapes"), Cow::Borrowed(_)));
    }

    #[test]
    fn numbers_and_times() {
        assert_eq!(scaled_decimal(b"0.017557019", 6), Some(17_557));
        assert_eq!(
            scaled_decimal(b"1761019828.6153953", 0),
            Some(1_761_019_828)
        );
        assert_eq!(scaled_decimal(b"7.314e-05", 6), Some(73));
        assert_eq!(scaled_decimal(b"1E3", 0), Some(1000));
        assert_eq!(scaled_decimal(b"-1.5", 0), Some(-2));
        assert_eq!(scaled_decimal(b"-1", 6), Some(-1_000_000));
        assert_eq!(scaled_decimal(b"123456789", -3), Some(123_456));
        assert_eq!(scaled_decimal(b".5", 1), Some(5));
        assert_eq!(scaled_decimal(b"5.", 1), Some(50));
        assert_eq!(scaled_decimal(b"1e99999999999", 0), None);
        assert_eq!(scaled_decimal(b"1e-99999999999", 0), Some(0));
        assert_eq!(scaled_decimal(b"", 0), None);
        assert_eq!(scaled_decimal(b"-", 0), None);
        assert_eq!(scaled_decimal(b"1e", 0), None);
        assert_eq!(scaled_decimal(b"1.2.3", 0), None);
        assert_eq!(scaled_decimal(b"0x10", 0), None);
        assert_eq!(
            scaled_decimal(b"123456789012345678901234567890123456789", 0),
            Some(123_456_789_012_345_678_901_234_567_890_100_000_000)
        );
        assert_eq!(epoch_seconds(b"1716723772601.4807"), Some(1_716_723_772));
        assert_eq!(epoch_seconds(b"1716723772601480"), Some(1_716_723_772));
        assert_eq!(epoch_seconds(b"1716723772601480700"), Some(1_716_723_772));
        assert_eq!(epoch_seconds(b"99999999999"), Some(99_999_999_999));
        assert_eq!(epoch_seconds(b"-99999999999"), None);
        assert_eq!(epoch_seconds(b"1e300"), None);
        let iso = |s: &str| {
            parse_iso8601(s.as_bytes())
                .map(|t| jiff::Timestamp::from_second(t).unwrap().to_string())
        };
        assert_eq!(
            iso("2020-07-17T09:24:06.529718553Z").as_deref(),
            Some("2020-07-17T09:24:06Z")
        );
        assert_eq!(
            iso("2019-05-20T10:00:00+03:00").as_deref(),
            Some("2019-05-20T07:00:00Z")
        );
        assert_eq!(
            iso("2019-05-20T10:00:00.123-0130").as_deref(),
            Some("2019-05-20T11:30:00Z")
        );
        assert_eq!(
            iso("2019-05-20 10:00:00+02").as_deref(),
            Some("2019-05-20T08:00:00Z")
        );
        assert_eq!(
            iso("2019-05-20t10:00z").as_deref(),
            Some("2019-05-20T10:00:00Z")
        );
        assert_eq!(
            iso("2019-05-20T10:00:00").as_deref(),
            Some("2019-05-20T10:00:00Z")
        );
        assert_eq!(iso("2019-02-29T10:00:00Z"), None);
        assert_eq!(iso("2019-05-20T24:00:00Z"), None);
        assert_eq!(iso("2019-05-20T10:00:00+24:00"), None);
        assert_eq!(iso("2019-05-20T10:00:00.Z"), None);
        assert_eq!(iso("2019-05-20"), None);
        assert_eq!(iso("2019-05-20T10:00:00 Z"), None);
        assert_eq!(go_duration_us(b"1.5ms"), Some(1500));
        assert_eq!(go_duration_us(b"2m3.5s"), Some(123_500_000));
        assert_eq!(go_duration_us("350µs".as_bytes()), Some(350));
        assert_eq!(go_duration_us(b"1500ns"), Some(1));
        assert_eq!(go_duration_us(b"1h"), Some(3_600_000_000));
        assert_eq!(go_duration_us(b"0"), Some(0));
        assert_eq!(go_duration_us(b"5"), None);
        assert_eq!(go_duration_us(b"5parsecs"), None);
        assert_eq!(strip_port(b"1.2.3.4:80"), b"1.2.3.4");
        assert_eq!(strip_port(b"[2001:db8::1]:443"), b"2001:db8::1");
        assert_eq!(strip_port(b"[2001:db8::1]"), b"2001:db8::1");
        assert_eq!(strip_port(b"2001:db8::1"), b"2001:db8::1");
        assert_eq!(strip_port(b"1.2.3.4"), b"1.2.3.4");
        assert_eq!(strip_port(b"[::1"), b"[::1");
    }

    const CADDY_REF: &str = r#"{"level":"info","ts":1716732963.4146512,"logger":"http.log.access.log16","msg":"handled request","request":{"remote_ip":"240e:1:1::1234","remote_port":"62769","client_ip":"240e:1:1::1234","proto":"HTTP/3.0","method":"GET","host":"mirrors.tnonline.net","uri":"/res/browse.css","headers":{"Sec-Fetch-Mode":["no-cors"],"Referer":["https://mirrors.tnonline.net/gentoo/"],"User-Agent":["Mozilla/5.0 (X11; Linux x86_64)"]},"tls":{"resumed":false,"version":772,"cipher_suite":4865,"proto":"h3","server_name":"mirrors.tnonline.net"}},"bytes_read":0,"user_id":"","duration":0.000275783,"size":1577,"status":200,"resp_headers":{"Server":["Caddy"]}}"#;

    #[test]
    fn caddy() {
        let c = |i: &str, e: &str| check(parse_caddy, i, e);
        c(
            CADDY_REF,
            "client=240e:1:1::1234 time=2024-05-26T14:16:03Z req=/res/browse.css method=GET target=/res/browse.css proto=HTTP/3.0 status=200 bytes=1577 ref=https://mirrors.tnonline.net/gentoo/ ua=Mozilla/5.0 (X11; Linux x86_64) xff=- vhost=mirrors.tnonline.net dur=275",
        );
        // client_ip wins over remote_ip whatever the order; XFF: the first array element.
        c(
            r#"{"ts":1716723772.6014807,"request":{"client_ip":"10.10.10.117","remote_ip":"10.5.1.1","proto":"HTTP/2.0","method":"GET","host":"m.example:400","uri":"/a?b=\u0026","headers":{"X-Forwarded-For":["10.10.10.117, 10.0.0.1","9.9.9.9"]}},"duration":0.017557019,"size":3768,"status":200}"#,
            r"client=10.10.10.117 time=2024-05-26T11:42:52Z req=/a?b=\u0026 method=GET target=/a?b=\u0026 proto=HTTP/2.0 status=200 bytes=3768 ref=- ua=- xff=10.10.10.117, 10.0.0.1 vhost=m.example:400 dur=17557",
        );
        // Old Caddy: remote_addr with a port; header names in any case; duration in ns.
        c(
            r#"{"request":{"remote_addr":"[2001:db8::7]:51234","method":"POST","uri":"/x","proto":"HTTP/1.1","headers":{"user-agent":["curl/8"]}},"status":"201","size":0,"duration":1500000,"ts":"2024-05-26T11:42:52.5+02:00"}"#,
            "client=2001:db8::7 time=2024-05-26T09:42:52Z req=/x method=POST target=/x proto=HTTP/1.1 status=201 bytes=0 ref=- ua=curl/8 xff=- vhost=- dur=1500",
        );
        c(
            r#"{"request":{"remote_ip":"1.2.3.4","method":"GET","uri":"/"},"status":204,"ts":1716723772601,"duration":"1.5ms"}"#,
            "client=1.2.3.4 time=2024-05-26T11:42:52Z req=/ method=GET target=/ proto= status=204 bytes=0 ref=- ua=- xff=- vhost=- dur=1500",
        );
        // Duplicate keys: the last one wins.
        c(
            r#"{"request":{"client_ip":"1.1.1.1","client_ip":"2.2.2.2","method":"GET","uri":"/"},"status":200,"status":404,"ts":0}"#,
            "client=2.2.2.2 time=1970-01-01T00:00:00Z req=/ method=GET target=/ proto= status=404 bytes=0 ref=- ua=- xff=- vhost=- dur=-",
        );
        c(
            r#"{"level":"info","ts":1761019822.3152757,"msg":"maxprocs: Leaving GOMAXPROCS=12"}"#,
            "reject bad_request at 80",
        );
        c(
            r#"{"ts":1,"request":{"method":"GET","uri":"/"},"status":200}"#,
            "reject bad_client at 58",
        );
        c(
            r#"{"ts":1,"request":{"client_ip":"","method":"GET","uri":"/"},"status":200}"#,
            "reject bad_client at 32",
        );
        c(
            r#"{"ts":1,"request":{"client_ip":12,"method":"GET","uri":"/"},"status":200}"#,
            "reject bad_client at 31",
        );
        c(
            r#"{"ts":"yesterday","request":{"client_ip":"1.2.3.4","method":"GET","uri":"/"},"status":200}"#,
            "reject bad_timestamp at 7",
        );
        c(
            r#"{"request":{"client_ip":"1.2.3.4","method":"GET","uri":"/"},"status":200}"#,
            "reject bad_timestamp at 73",
        );
        c(
            r#"{"ts":1,"request":{"client_ip":"1.2.3.4","method":"GET","uri":"/"},"status":2000}"#,
            "reject bad_status at 76",
        );
        c(
            r#"{"ts":1,"request":{"client_ip":"1.2.3.4","method":"GET","uri":"/"},"status":200,"size":-1}"#,
            "reject bad_bytes at 87",
        );
        c(
            r#"{"ts":1,"request":{"client_ip":"1.2.3.4","method":"GET","uri":"/"},"status":200} trailing"#,
            "reject trailing_data at 81",
        );
        c("caddy  | {\"ts\":1}", "reject bad_request at 0");
        c(
            r#"{"ts":1,"request":{"client_ip":"1.2.3.4","method":"GET","uri":"/"#,
            "reject bad_request at 64",
        );
    }

    #[test]
    fn nginx_json() {
        let c = |i: &str, e: &str| check(parse_nginx_json, i, e);
        c(
            r#"{"time_local":"10/Oct/2000:13:55:36 -0700","remote_addr":"192.0.2.1","request":"GET /a?q=1 HTTP/1.1","status": "200","body_bytes_sent":"2326","request_time":"0.123","http_referer":"","http_user_agent":"Mozilla/5.0 \"x\"","http_x_forwarded_for":"203.0.113.9, 10.0.0.1","host":"example.org"}"#,
            r#"client=192.0.2.1 time=2000-10-10T20:55:36Z req=GET /a?q=1 HTTP/1.1 method=GET target=/a?q=1 proto=HTTP/1.1 status=200 bytes=2326 ref=- ua=Mozilla/5.0 \"x\" xff=203.0.113.9, 10.0.0.1 vhost=example.org dur=123000"#,
        );
        c(
            r#"{"@timestamp":"2019-05-20T10:00:00+03:00","client":"2001:db8::1","request_method":"POST","request_uri":"/api","server_protocol":"HTTP/2.0","status":201,"bytes_sent":10,"referer":"-","user_agent":"ua","server_name":"_","request_time":0.5}"#,
            "client=2001:db8::1 time=2019-05-20T07:00:00Z req=/api method=POST target=/api proto=HTTP/2.0 status=201 bytes=10 ref=- ua=ua xff=- vhost=_ dur=500000",
        );
        c(
            r#"{"msec":"1571234567.123","ip":"10.0.0.1","method":"GET","uri":"/u","status":"404"}"#,
            "client=10.0.0.1 time=2019-10-16T14:02:47Z req=/u method=GET target=/u proto= status=404 bytes=0 ref=- ua=- xff=- vhost=- dur=-",
        );
        // time_iso8601 outranks time_local; remote_addr outranks ip; garbage request line kept.
        c(
            r#"{"ip":"9.9.9.9","remote_addr":"1.2.3.4","time_local":"10/Oct/2000:13:55:36 -0700","time_iso8601":"2000-10-10T13:55:37-07:00","request":"\u0016\u0003\u0001","status":400,"body_bytes_sent":"-"}"#,
            r"client=1.2.3.4 time=2000-10-10T20:55:37Z req=\u0016\u0003\u0001 method= target= proto= status=400 bytes=0 ref=- ua=- xff=- vhost=- dur=-",
        );
        // A nested object with the same key names does not count.
        c(
            r#"{"x":{"remote_addr":"1.2.3.4"},"time":"2000-10-10T13:55:37Z","request":"GET / HTTP/1.1","status":200}"#,
            "reject bad_client at 101",
        );
        c(
            r#"{"remote_addr":"1.2.3.4","time":"2000-10-10T13:55:37Z","status":200}"#,
            "reject bad_request at 68",
        );
        c(
            r#"{"remote_addr":"1.2.3.4","time":"10/Oct/2000:13:55:36","request":"GET / HTTP/1.1","status":200}"#,
            "reject bad_timestamp at 33",
        );
        c(
            r#"{"remote_addr":"1.2.3.4","time":"2000-10-10T13:55:37Z","request":"GET / HTTP/1.1","status":"OK"}"#,
            "reject bad_status at 92",
        );
        c(
            r#"{"remote_addr":"1.2.3.4","time":"2000-10-10T13:55:37Z","request":"GET / HTTP/1.1","status":200,"body_bytes_sent":"12k"}"#,
            "reject bad_bytes at 114",
        );
        c(
            "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1",
            "reject bad_request at 0",
        );
    }

    const TRAEFIK: &str = r#"{"ClientAddr":"203.0.113.42:8080","ClientHost":"203.0.113.42","ClientPort":"8080","ClientUsername":"-","DownstreamContentSize":132,"DownstreamStatus":123,"Duration":123000000000,"OriginContentSize":132,"OriginDuration":122000000000,"OriginStatus":123,"Overhead":1000000000,"RequestAddr":"testHost:8080","RequestContentSize":0,"RequestCount":0,"RequestHost":"testHost","RequestMethod":"GET","RequestPath":"/foo?q=1","RequestPort":"8080","RequestProtocol":"HTTP/1.1","RequestScheme":"http","RetryAttempts":0,"RouterName":"foo","ServiceURL":"http://10.0.0.2/toto","StartLocal":"2009-11-10T14:00:00.000000009-09:00","StartUTC":"2009-11-10T23:00:00.000000009Z","entryPointName":"web","level":"info","msg":"","request_Referer":"referer","request_User-Agent":"agent","request_X-Forwarded-For":"198.51.100.1","time":"2009-11-10T23:00:02Z"}"#;

    #[test]
    fn traefik_json() {
        let c = |i: &str, e: &str| check(parse_traefik_json, i, e);
        c(
            TRAEFIK,
            "client=203.0.113.42 time=2009-11-10T23:00:00Z req=/foo?q=1 method=GET target=/foo?q=1 proto=HTTP/1.1 status=123 bytes=132 ref=referer ua=agent xff=198.51.100.1 vhost=testHost dur=123000000",
        );
        c(
            r#"{"ClientAddr":"[2001:db8::abcd:ffff:c0a8:1]:8080","StartLocal":"2009-11-10T14:00:00-09:00","RequestMethod":"HEAD","RequestPath":"/","RequestProtocol":"HTTP/2.0","DownstreamStatus":200,"RequestAddr":"example.com:443","Duration":1234}"#,
            "client=2001:db8::abcd:ffff:c0a8:1 time=2009-11-10T23:00:00Z req=/ method=HEAD target=/ proto=HTTP/2.0 status=200 bytes=0 ref=- ua=- xff=- vhost=example.com:443 dur=1",
        );
        c(
            r#"{"level":"info","msg":"Configuration loaded from flags.","time":"2024-01-01T00:00:00Z"}"#,
            "reject bad_request at 87",
        );
        c(
            r#"{"ClientHost":"1.2.3.4","RequestMethod":"GET","RequestPath":"/","DownstreamStatus":200}"#,
            "reject bad_timestamp at 87",
        );
        c(
            r#"{"ClientHost":"1.2.3.4","StartUTC":"2009-11-10T23:00:00Z","RequestMethod":"GET","RequestPath":"/"}"#,
            "reject bad_status at 98",
        );
    }

    /// The Caddy samples in the corpus: `logfile_caddy_log.0` is `docker compose` output
    /// (`caddy  | ` before each object; stripped here), `.1` is bare JSON.
    #[test]
    fn caddy_corpus() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/logs/lnav");
        if !std::path::Path::new(dir).exists() {
            println!("SKIPPED: ../shared/corpus not found");
            return;
        }
        for (file, parsed, rejected) in [
            ("logfile_caddy_log.0", 4, 35),
            ("logfile_caddy_log.1", 4, 0),
        ] {
            let data = std::fs::read(format!("{dir}/{file}")).unwrap();
            let (mut ok, mut bad) = (0, 0);
            for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let line = match memchr::memmem::find(line, b"| ") {
                    Some(p) if line.starts_with(b"caddy ") => &line[p + 2..],
                    _ => line,
                };
                match parse_caddy(line) {
                    Ok(r) => {
                        ok += 1;
                        assert_eq!(r.method, b"GET");
                        assert!(
                            r.user_agent.is_some() && r.duration_us.is_some() && r.vhost.is_some()
                        );
                        assert!(r.time > 1_700_000_000);
                    }
                    Err(e) => {
                        bad += 1;
                        assert_eq!(
                            e.reason,
                            RejectReason::BadRequest,
                            "{}",
                            String::from_utf8_lossy(line)
                        );
                        assert!(!line.windows(15).any(|w| w == b"handled request"));
                    }
                }
            }
            println!("{file}: parsed {ok}, rejected {bad}");
            assert_eq!((ok, bad), (parsed, rejected), "{file}");
        }
    }

    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(b'{'),
                Just(b'}'),
                Just(b'['),
                Just(b']'),
                Just(b'"'),
                Just(b'\\'),
                Just(b':'),
                Just(b','),
                Just(b'-'),
                Just(b'.'),
                Just(b'e'),
                Just(b'u'),
                Just(b'0'),
                Just(b'9'),
                Just(b' '),
                any::<u8>()
            ],
            0..200,
        )
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in jsonish()) {
            for parse in [parse_caddy, parse_nginx_json, parse_traefik_json] {
                match parse(&bytes) {
                    Ok(r) => prop_assert!(r.client.len() <= bytes.len()),
                    Err(e) => prop_assert!(e.offset <= bytes.len()),
                }
            }
            let _ = scan(&bytes, |_, _| {});
            let _ = unescape_json(&bytes);
            let _ = scaled_decimal(&bytes, 6);
            let _ = any_time(&bytes);
            let _ = go_duration_us(&bytes);
        }

        #[test]
        fn mutated_caddy_lines_never_panic(cut in 0usize..600, byte in any::<u8>(), at in 0usize..600) {
            let mut line = CADDY_REF.as_bytes().to_vec();
            let at = at.min(line.len() - 1);
            line[at] = byte;
            line.truncate(cut.max(1).min(line.len()));
            match parse_caddy(&line) {
                Ok(r) => prop_assert!(r.client.len() <= line.len()),
                Err(e) => prop_assert!(e.offset <= line.len()),
            }
        }

        #[test]
        fn strings_round_trip_through_serde(s in "\\PC{0,40}", n in 0u64..1_000_000) {
            let line = serde_json::json!({
                "remote_addr": "1.2.3.4", "time": 1_600_000_000, "request_uri": s, "method": "GET",
                "status": 200, "body_bytes_sent": n,
            }).to_string();
            let r = parse_nginx_json(line.as_bytes()).unwrap();
            prop_assert_eq!(&*unescape_json(r.target), s.as_bytes());
            prop_assert_eq!(r.bytes, n);
        }
    }
}
