//! W3C extended log format (IIS, IIS Advanced Logging, and other writers). The columns are
//! declared by a `#Fields:` directive, which may repeat (IIS writes a new header block each
//! time the worker restarts), so a line is parsed against the header in effect:
//! [`W3cFields::from_header`] builds it, [`header_offsets`] finds every one in a buffer.
//!
//! Line syntax: fields separated by runs of spaces or tabs; a field that starts with `"` is
//! quoted up to a `"` followed by a separator or the end of the line (a doubled `""` inside
//! is a literal quote and stays doubled in the record: escaping is [`Escaping::Raw`]). A
//! bare `-` means empty. IIS writes a space inside `cs(User-Agent)`, `cs(Referer)` and
//! `cs(Cookie)` as `+`: kept as written. One trailing `\r` is ignored.
//!
//! Column mapping (names matched case-insensitively):
//!
//! | record | columns |
//! |---|---|
//! | time | `date` + `time` (UTC by definition); else `date-local` + `time-local` (IIS Advanced Logging), also read as UTC because the offset is not in the line |
//! | client | `c-ip` (a `-` is kept, like CLF's `-` host) |
//! | method | `cs-method` |
//! | target, request | `cs-uri-stem`, else `cs-uri`. `request` is the same slice (there is no request line) |
//! | query | `cs-uri-query` (a `-` is `None`); the target does not include it |
//! | user | `cs-username`, as written |
//! | secrets | `cs(Cookie)`, `sc(Set-Cookie)`, `cs(Authorization)` (in column order, at most four) |
//! | protocol | `cs-version` |
//! | status | `sc-status` |
//! | bytes | `sc-bytes`, else `bytes`; absent or `-` is 0 |
//! | referer, user_agent | `cs(Referer)` / `cs(Referrer)`, `cs(User-Agent)` |
//! | forwarded_for | `cs(X-Forwarded-For)`, `x-forwarded-for`, `s-xff` (Incapsula) |
//! | vhost | `cs-host` / `cs(Host)`, else `s-sitename` (IIS writes a site id there, `W3SVC1`) |
//! | duration_us | `time-taken` (IIS: integer milliseconds; a value with a fraction is W3C-spec seconds), `TimeTakenMS` |
//!
//! Rejects: more or fewer fields than the header declares → `trailing_data` (at the first
//! extra field, or at the end of a short line), as is an unterminated quote; no `date`/`time`
//! column, or an unreadable one → `bad_timestamp` (the `#Date:` directive is not used); no
//! `c-ip` → `bad_client`; no `cs-uri-stem`/`cs-uri` → `bad_request`; no or non-numeric
//! `sc-status` → `bad_status`; non-numeric `sc-bytes` → `bad_bytes`. A bad `time-taken` only
//! leaves `duration_us` empty.

use memchr::memchr;

use super::json::{offset_in, parse_clock, parse_date, parse_status, parse_u64, scaled_decimal};
use super::{Escaping, Record, Reject, RejectReason};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Other,
    Date,
    Time,
    DateLocal,
    TimeLocal,
    ClientIp,
    Method,
    UriStem,
    Uri,
    Version,
    Status,
    ScBytes,
    Bytes,
    UserAgent,
    Referer,
    Xff,
    Host,
    SiteName,
    TimeTaken,
    TimeTakenMs,
    Username,
    UriQuery,
    /// Cookie and authorization headers: located for the anonymised copy, never read.
    Secret,
}

impl Col {
    fn of(name: &[u8]) -> Col {
        const NAMES: &[(&[u8], Col)] = &[
            (b"date", Col::Date),
            (b"time", Col::Time),
            (b"date-local", Col::DateLocal),
            (b"time-local", Col::TimeLocal),
            (b"c-ip", Col::ClientIp),
            (b"cs-method", Col::Method),
            (b"cs-uri-stem", Col::UriStem),
            (b"cs-uri", Col::Uri),
            (b"cs-version", Col::Version),
            (b"sc-status", Col::Status),
            (b"sc-bytes", Col::ScBytes),
            (b"bytes", Col::Bytes),
            (b"cs(user-agent)", Col::UserAgent),
            (b"cs(referer)", Col::Referer),
            (b"cs(referrer)", Col::Referer),
            (b"cs(x-forwarded-for)", Col::Xff),
            (b"x-forwarded-for", Col::Xff),
            (b"s-xff", Col::Xff),
            (b"cs-host", Col::Host),
            (b"cs(host)", Col::Host),
            (b"s-sitename", Col::SiteName),
            (b"time-taken", Col::TimeTaken),
            (b"timetakenms", Col::TimeTakenMs),
            (b"cs-username", Col::Username),
            (b"cs-uri-query", Col::UriQuery),
            (b"cs(cookie)", Col::Secret),
            (b"sc(set-cookie)", Col::Secret),
            (b"cs(authorization)", Col::Secret),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(Col::Other, |&(_, c)| c)
    }
}

/// The columns declared by one `#Fields:` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct W3cFields {
    cols: Vec<Col>,
}

#[inline]
fn is_sep(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

#[inline]
fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether a line is a directive (`#Software:`, `#Version:`, `#Date:`, `#Fields:`, …) rather
/// than an entry. Entries never start with `#`.
#[inline]
pub fn is_directive(line: &[u8]) -> bool {
    line.first() == Some(&b'#')
}

/// A field's value, the offset where it starts (its opening quote if quoted), and the
/// offset just after it.
type Field<'a> = (&'a [u8], usize, usize);

/// The next field at or after `i`: `Ok(Some(field))`, `Ok(None)` at the end of the line,
/// `Err(offset)` for an unterminated quote.
#[inline]
fn next_field(line: &[u8], mut i: usize) -> Result<Option<Field<'_>>, usize> {
    while i < line.len() && is_sep(line[i]) {
        i += 1;
    }
    if i >= line.len() {
        return Ok(None);
    }
    let start = i;
    if line[i] != b'"' {
        let end = line[i..]
            .iter()
            .position(|&c| is_sep(c))
            .map_or(line.len(), |p| i + p);
        return Ok(Some((&line[i..end], start, end)));
    }
    let body = i + 1;
    let mut pos = body;
    loop {
        let Some(p) = line.get(pos..).and_then(|rest| memchr(b'"', rest)) else {
            return Err(start);
        };
        let q = pos + p;
        match line.get(q + 1) {
            Some(b'"') => pos = q + 2,
            None => return Ok(Some((&line[body..q], start, q + 1))),
            Some(&c) if is_sep(c) => return Ok(Some((&line[body..q], start, q + 1))),
            Some(_) => pos = q + 1,
        }
    }
}

impl W3cFields {
    /// Reads a `#Fields:` directive (with or without a trailing `\r`, a UTF-8 BOM before it
    /// allowed). `None` if the line is not one or declares no field.
    pub fn from_header(line: &[u8]) -> Option<W3cFields> {
        let line = trim_cr(line);
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        let rest = line.strip_prefix(b"#Fields:")?;
        let cols: Vec<Col> = rest
            .split(|&c| is_sep(c))
            .filter(|n| !n.is_empty())
            .map(Col::of)
            .collect();
        (!cols.is_empty()).then_some(W3cFields { cols })
    }

    /// The number of fields the header declares.
    pub fn field_count(&self) -> usize {
        self.cols.len()
    }

    /// Parses one entry (not a directive) against this header.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<Record<'a>, Reject> {
        use RejectReason::*;
        let line = trim_cr(line);
        let end = line.len();
        let at = |reason, offset| Reject { reason, offset };

        let mut date = None;
        let mut time = None;
        let mut date_local = None;
        let mut time_local = None;
        let mut client = None;
        let mut method: &[u8] = b"";
        let mut stem = None;
        let mut uri = None;
        let mut protocol: &[u8] = b"";
        let mut status = None;
        let mut sc_bytes = None;
        let mut bytes_col = None;
        let mut user_agent = None;
        let mut referer = None;
        let mut xff = None;
        let mut host = None;
        let mut site = None;
        let mut taken = None;
        let mut user = None;
        let mut query = None;
        let mut secrets = [None; super::SECRET_SLOTS];
        let mut n_secrets = 0;

        let mut i = 0;
        let mut n = 0;
        while let Some((v, start, next)) = next_field(line, i).map_err(|o| at(TrailingData, o))? {
            let Some(&col) = self.cols.get(n) else {
                return Err(at(TrailingData, start));
            };
            let val = if v == b"-" { &v[..0] } else { v };
            match col {
                Col::Other => {}
                Col::Date => date = Some(v),
                Col::Time => time = Some(v),
                Col::DateLocal => date_local = Some(v),
                Col::TimeLocal => time_local = Some(v),
                Col::ClientIp => client = Some(v),
                Col::Method => method = val,
                Col::UriStem => stem = Some(val),
                Col::Uri => uri = Some(val),
                Col::Version => protocol = val,
                Col::Status => status = Some(v),
                Col::ScBytes => sc_bytes = Some(v),
                Col::Bytes => bytes_col = Some(v),
                Col::UserAgent => user_agent = Some(val),
                Col::Referer => referer = Some(val),
                Col::Xff => xff = Some(val),
                Col::Host => host = Some(val),
                Col::SiteName => site = Some(val),
                Col::TimeTaken => taken = Some((v, false)),
                Col::TimeTakenMs => taken = Some((v, true)),
                Col::Username => user = Some(v),
                Col::UriQuery => query = Some(val),
                Col::Secret => {
                    if !val.is_empty()
                        && let Some(slot) = secrets.get_mut(n_secrets)
                    {
                        *slot = Some(val);
                        n_secrets += 1;
                    }
                }
            }
            n += 1;
            i = next;
        }
        if n < self.cols.len() {
            return Err(at(TrailingData, end));
        }

        let (date, clock) = match (date.or(date_local), time.or(time_local)) {
            (Some(d), Some(t)) => (d, t),
            _ => return Err(at(BadTimestamp, end)),
        };
        let days = parse_date(date).ok_or_else(|| at(BadTimestamp, offset_in(line, date)))?;
        let secs = parse_clock(clock).ok_or_else(|| at(BadTimestamp, offset_in(line, clock)))?;

        let client = match client {
            Some(c) if !c.is_empty() => c,
            Some(c) => return Err(at(BadClient, offset_in(line, c))),
            None => return Err(at(BadClient, end)),
        };
        let Some(target) = stem.or(uri) else {
            return Err(at(BadRequest, end));
        };
        let status = match status {
            Some(s) => parse_status(s).ok_or_else(|| at(BadStatus, offset_in(line, s)))?,
            None => return Err(at(BadStatus, end)),
        };
        let bytes = match sc_bytes.or(bytes_col) {
            None | Some(b"-") => 0,
            Some(b) => parse_u64(b).ok_or_else(|| at(BadBytes, offset_in(line, b)))?,
        };
        let duration_us = taken.and_then(|(t, ms)| {
            let scale = if ms || !t.contains(&b'.') { 3 } else { 6 };
            scaled_decimal(t, scale).and_then(|d| u64::try_from(d).ok())
        });
        let some = |v: Option<&'a [u8]>| v.filter(|v| !v.is_empty());

        Ok(Record {
            client,
            time: days * 86_400 + secs,
            request: target,
            method,
            target,
            protocol,
            status,
            bytes,
            referer: some(referer),
            user_agent: some(user_agent),
            forwarded_for: some(xff),
            vhost: some(host).or(some(site)),
            duration_us,
            user,
            query: some(query),
            secrets,
            escaping: Escaping::Raw,
            stamp: None,
        })
    }
}

/// Every `#Fields:` directive that starts a line in `data`, with the byte offset of its `#`,
/// in order. A reader starting at offset `o` parses with the last header whose offset is
/// below `o`. Directives that declare no field are left out.
pub fn header_offsets(data: &[u8]) -> Vec<(usize, W3cFields)> {
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(data, b"#Fields:") {
        let line_start = match at {
            0 => true,
            3 => data.starts_with(b"\xEF\xBB\xBF"),
            _ => data[at - 1] == b'\n',
        };
        if !line_start {
            continue;
        }
        let end = memchr(b'\n', &data[at..]).map_or(data.len(), |p| at + p);
        if let Some(h) = W3cFields::from_header(&data[at..end]) {
            out.push((at, h));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::json::tests::render;
    use proptest::prelude::*;

    const IIS85: &str = "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken";

    fn check(header: &str, line: &str, expected: &str) {
        let h = W3cFields::from_header(header.as_bytes()).expect("header");
        let r = h.parse(line.as_bytes());
        if let Ok(rec) = &r {
            assert_eq!(rec.escaping, Escaping::Raw);
        }
        assert_eq!(render(r), expected, "line: {line}");
    }

    #[test]
    fn lines() {
        let cases: &[(&str, &str, &str)] = &[
            (
                IIS85,
                "2016-01-10 00:29:52 172.31.22.76 GET / - 80 - 66.249.66.155 Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html) - 200 0 0 1183",
                "client=66.249.66.155 time=2016-01-10T00:29:52Z req=/ method=GET target=/ proto= status=200 bytes=0 ref=- ua=Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html) xff=- vhost=- dur=1183000",
            ),
            (
                IIS85,
                "2016-01-10 00:07:26 172.31.22.76 GET /httptest.php a=1 80 - 188.68.224.62 - http://x/ 404 0 2 591\r",
                "client=188.68.224.62 time=2016-01-10T00:07:26Z req=/httptest.php method=GET target=/httptest.php proto= status=404 bytes=0 ref=http://x/ ua=- xff=- vhost=- dur=591000",
            ),
            (
                IIS85,
                "2016-01-10 00:07:26 172.31.22.76 GET / - 80 - 188.68.224.62 - - 404 0 2 591 extra",
                "reject trailing_data at 76",
            ),
            (
                IIS85,
                "2016-01-10 00:07:26 172.31.22.76 GET / - 80 - 188.68.224.62 - - 404 0 2",
                "reject trailing_data at 71",
            ),
            (
                IIS85,
                "2016-13-10 00:07:26 172.31.22.76 GET / - 80 - 188.68.224.62 - - 404 0 2 591",
                "reject bad_timestamp at 0",
            ),
            (
                IIS85,
                "2016-01-10 00:07:61 172.31.22.76 GET / - 80 - 188.68.224.62 - - 404 0 2 591",
                "reject bad_timestamp at 11",
            ),
            (
                IIS85,
                "2016-01-10 00:07:26 172.31.22.76 GET / - 80 - 188.68.224.62 - - 4040 0 2 591",
                "reject bad_status at 64",
            ),
            (
                IIS85,
                "2016-01-10 00:07:26 172.31.22.76 GET / - 80 - 188.68.224.62 - - - 0 2 591",
                "reject bad_status at 64",
            ),
            (
                IIS85,
                "2016-01-10 00:07:26 172.31.22.76 GET / - 80 - 188.68.224.62 - - 404 0 2 -",
                "client=188.68.224.62 time=2016-01-10T00:07:26Z req=/ method=GET target=/ proto= status=404 bytes=0 ref=- ua=- xff=- vhost=- dur=-",
            ),
            // A `-` client is kept (like CLF); the pipeline counts it as a non-IP client.
            (
                IIS85,
                "2016-01-10 00:07:26 172.31.22.76 GET / - 80 - - - - 404 0 2 5",
                "client=- time=2016-01-10T00:07:26Z req=/ method=GET target=/ proto= status=404 bytes=0 ref=- ua=- xff=- vhost=- dur=5000",
            ),
            // Quoted fields, doubled quotes, tabs and runs of separators; local time columns.
            (
                "#Fields:   date-local time-local   c-ip cs(User-Agent) cs(Host) sc-status sc-substatus TimeTakenMS cs-uri-stem",
                "2012-08-15 17:00:00.675\t\"70.95.0.0\"  \"Mozilla/5.0 (Macintosh)\" \"hello.example.com\" 404 \" \"\"garbage\"\" w/ spaces \" 359 \"/a b\"",
                "client=70.95.0.0 time=2012-08-15T17:00:00Z req=/a b method= target=/a b proto= status=404 bytes=0 ref=- ua=Mozilla/5.0 (Macintosh) xff=- vhost=hello.example.com dur=359000",
            ),
            (
                "#Fields: date time c-ip cs-uri-stem sc-status",
                "2012-08-15 17:00:00 \"1.2.3.4 / 200",
                "reject trailing_data at 20",
            ),
            (
                "#Fields: date time c-ip cs-uri-stem sc-status",
                "2012-08-15 17:00:00 1.2.3.4 \"/\"x\" 200",
                "client=1.2.3.4 time=2012-08-15T17:00:00Z req=/\"x method= target=/\"x proto= status=200 bytes=0 ref=- ua=- xff=- vhost=- dur=-",
            ),
            // Full set: version, host, bytes, XFF; cs-uri when there is no stem; fractional seconds.
            (
                "#Fields: date time s-sitename cs-method cs-uri cs-version cs-host c-ip sc-status sc-bytes cs(X-Forwarded-For) time-taken",
                "2024-02-29 23:59:59 W3SVC1 POST /a?b=c HTTP/1.1 www.example.com 2001:db8::1 201 512 203.0.113.7 0.25",
                "client=2001:db8::1 time=2024-02-29T23:59:59Z req=/a?b=c method=POST target=/a?b=c proto=HTTP/1.1 status=201 bytes=512 ref=- ua=- xff=203.0.113.7 vhost=www.example.com dur=250000",
            ),
            (
                "#Fields: date time s-sitename cs-method cs-uri-stem c-ip sc-status sc-bytes",
                "2024-01-01 00:00 W3SVC1 GET / 1.2.3.4 200 12x",
                "reject bad_bytes at 42",
            ),
            (
                "#Fields: date time s-sitename cs-method cs-uri-stem c-ip sc-status sc-bytes",
                "2024-01-01 00:00 W3SVC1 GET / 1.2.3.4 200 -",
                "client=1.2.3.4 time=2024-01-01T00:00:00Z req=/ method=GET target=/ proto= status=200 bytes=0 ref=- ua=- xff=- vhost=W3SVC1 dur=-",
            ),
            // Headers missing a column the record needs.
            (
                "#Fields: date c-ip cs-uri-stem cs-bytes",
                "2003-11-18 192.168.1.101 /Default.htm 100",
                "reject bad_timestamp at 41",
            ),
            (
                "#Fields: time c-ip cs-method cs-uri-stem sc-status",
                "16:44:49 1.1.1.1 [2]USER anonymous 331",
                "reject bad_timestamp at 38",
            ),
            (
                "#Fields: date time cs-uri-stem sc-status",
                "2003-11-18 10:00:00 / 200",
                "reject bad_client at 25",
            ),
            (
                "#Fields: date time c-ip sc-status",
                "2003-11-18 10:00:00 1.2.3.4 200",
                "reject bad_request at 31",
            ),
            (
                "#Fields: date time c-ip cs-uri-stem",
                "2003-11-18 10:00:00 1.2.3.4 /",
                "reject bad_status at 29",
            ),
            (
                "#Fields: date time c-ip cs-uri-stem sc-status",
                "",
                "reject trailing_data at 0",
            ),
        ];
        for (h, l, e) in cases {
            check(h, l, e);
        }
    }

    #[test]
    fn headers_and_directives() {
        assert!(is_directive(b"#Version: 1.0"));
        assert!(!is_directive(b"2016-01-10 00:00:00"));
        assert!(!is_directive(b""));
        assert_eq!(
            W3cFields::from_header(IIS85.as_bytes())
                .unwrap()
                .field_count(),
            15
        );
        assert_eq!(
            W3cFields::from_header(b"#Fields: date time\r")
                .unwrap()
                .field_count(),
            2
        );
        assert_eq!(
            W3cFields::from_header(b"\xEF\xBB\xBF#Fields: date")
                .unwrap()
                .field_count(),
            1
        );
        assert_eq!(W3cFields::from_header(b"#Fields:"), None);
        assert_eq!(W3cFields::from_header(b"#Fields:   \r"), None);
        assert_eq!(W3cFields::from_header(b"#Version: 1.0"), None);
        assert_eq!(W3cFields::from_header(b" #Fields: date"), None);

        let data = b"#Software: x\r\n#Fields: date time\r\n2016-01-10 00:00:00\n#Fields: date time c-ip\nx #Fields: no\n#Fields:\n#Fields: time";
        let got: Vec<(usize, usize)> = header_offsets(data)
            .iter()
            .map(|(o, h)| (*o, h.field_count()))
            .collect();
        assert_eq!(
            got,
            vec![(14, 2), (54, 3)]
                .into_iter()
                .chain([(data.len() - 13, 1)])
                .collect::<Vec<_>>()
        );
        assert_eq!(
            header_offsets(b"#Fields: date"),
            vec![(0, W3cFields::from_header(b"#Fields: date").unwrap())]
        );
        assert_eq!(header_offsets(b"\xEF\xBB\xBF#Fields: date")[0].0, 3);
        assert!(header_offsets(b"").is_empty());
    }

    /// Reads a whole file the way a reader would: directives set the header, blank lines are
    /// skipped (as the pipeline does), entries before any `#Fields:` are rejected.
    fn count(data: &[u8]) -> (usize, usize, Vec<String>) {
        let headers = header_offsets(data);
        let (mut ok, mut bad, mut why) = (0, 0, Vec::new());
        let mut off = 0;
        for line in data.split(|&b| b == b'\n') {
            let start = off;
            off += line.len() + 1;
            if line.iter().all(u8::is_ascii_whitespace) || is_directive(line) {
                continue;
            }
            let header = headers
                .iter()
                .rev()
                .find(|(o, _)| *o < start)
                .map(|(_, h)| h);
            match header.map(|h| h.parse(line)) {
                Some(Ok(r)) => {
                    ok += 1;
                    assert!(r.time > 0 && !r.client.is_empty());
                }
                Some(Err(e)) => {
                    bad += 1;
                    why.push(e.reason.as_str().to_string());
                }
                None => {
                    bad += 1;
                    why.push("no_header".into());
                }
            }
        }
        (ok, bad, why)
    }

    #[test]
    fn corpus_files() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");
        if !std::path::Path::new(root).exists() {
            println!("SKIPPED: ../shared/corpus not found");
            return;
        }
        // (file, parsed, rejected, reject reasons)
        let expected: &[(&str, usize, usize, &str)] = &[
            // IIS native (comma-separated) format: no #Fields header at all.
            ("logs/iis-brianary/ex010320.log", 0, 2, "no_header*2"),
            // No time and no sc-status column; line 3 also lacks a field.
            (
                "logs/iis-brianary/ex031118.log",
                0,
                4,
                "bad_timestamp,bad_timestamp,trailing_data,bad_timestamp",
            ),
            ("logs/iis-brianary/ex960101.log", 5, 0, ""),
            ("logs/iis-brianary/u_ex100815.log", 16, 0, ""),
            ("logs/iis-brianary/u_ex160110.log", 28, 0, ""),
            ("logs/lnav/logfile_w3c.0", 1, 0, ""),
            // Oracle Web Cache; #GMT-Offset is ignored (times read as UTC).
            ("logs/lnav/logfile_w3c.1", 1, 0, ""),
            // FTP service log: a time column but no date.
            ("logs/lnav/logfile_w3c.2", 0, 14, "bad_timestamp*14"),
            ("logs/lnav/logfile_w3c.3", 3, 0, ""),
            // Incapsula: the second entry has an empty sc-status ("REQ_BAD_SERVER_CLOSED_CONNECTION").
            ("logs/lnav/logfile_w3c.4", 1, 1, "bad_status"),
            // Header declares 6 fields, the entry has 17.
            ("logs/lnav/logfile_w3c.5", 0, 1, "trailing_data"),
            ("logs/lnav/logfile_w3c.6", 1, 0, ""),
            ("logs/lnav/logfile_w3c_big.0", 210, 0, ""),
        ];
        for &(file, parsed, rejected, reasons) in expected {
            let data = std::fs::read(format!("{root}/{file}")).unwrap();
            let (ok, bad, why) = count(&data);
            println!("{file}: parsed {ok}, rejected {bad} {why:?}");
            let why_text = match why.first() {
                Some(first) if why.len() >= 2 && why.iter().all(|w| w == first) => {
                    format!("{first}*{}", why.len())
                }
                _ => why.join(","),
            };
            assert_eq!(
                (ok, bad, why_text.as_str()),
                (parsed, rejected, reasons),
                "{file}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(
            header in proptest::collection::vec(prop_oneof![Just(b' '), Just(b'\t'), Just(b'"'), Just(b'-'), Just(b'c'), any::<u8>()], 0..80),
            line in proptest::collection::vec(prop_oneof![Just(b' '), Just(b'\t'), Just(b'"'), Just(b'-'), Just(b'\r'), Just(b'1'), any::<u8>()], 0..200),
        ) {
            let mut h = b"#Fields: ".to_vec();
            h.extend_from_slice(&header);
            for fields in [W3cFields::from_header(&h), W3cFields::from_header(IIS85.as_bytes())].into_iter().flatten() {
                match fields.parse(&line) {
                    Ok(r) => prop_assert!(r.client.len() <= line.len()),
                    Err(e) => prop_assert!(e.offset <= line.len()),
                }
            }
            let _ = W3cFields::from_header(&line);
            let _ = header_offsets(&line);
        }

        #[test]
        fn generated_iis_lines(
            secs in 0i64..253_402_300_799,
            ip in any::<[u8; 4]>(),
            path in "/[a-zA-Z0-9/._%-]{0,30}",
            status in 100u16..600,
            taken in 0u64..10_000_000,
        ) {
            let ts = jiff::Timestamp::from_second(secs).unwrap().strftime("%Y-%m-%d %H:%M:%S");
            let ip = std::net::Ipv4Addr::from(ip);
            let line = format!("{ts} 10.0.0.1 GET {path} - 80 - {ip} Mozilla/5.0+x - {status} 0 0 {taken}");
            let r = W3cFields::from_header(IIS85.as_bytes()).unwrap().parse(line.as_bytes()).unwrap();
            prop_assert_eq!(r.time, secs);
            let ip_text = ip.to_string();
            prop_assert_eq!(r.client, ip_text.as_bytes());
            prop_assert_eq!(r.target, path.as_bytes());
            prop_assert_eq!(r.status, status);
            prop_assert_eq!(r.duration_us, Some(taken * 1000));
        }
    }
}
