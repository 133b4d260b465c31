//! The anonymised copy of a log: each line that parses is rewritten in its own format, with
//! the client truncated, the user and credentials blanked, the request target, referrer and
//! free text scrubbed, and every byte no parser claimed passed through [`Scrubber::text`].
//! Owns the rewriting of lines; never copies a line it could not parse, and never writes a
//! file itself ([`run`] does, through `store`).
//!
//! # What becomes of each field
//!
//! | field | in the copy |
//! |---|---|
//! | client | its truncation ([`anon::truncate`] with the masks), without a port; a hostname or anything else that is not an address becomes `-`. ALB keeps its `client:port` shape with port `0` |
//! | user, identd name, cookie and authorization fields | `-` |
//! | request line | method and protocol kept, target through [`Scrubber::target`]; a request line without the usual shape through [`Scrubber::text`] |
//! | target (a field of its own) | [`Scrubber::target`] |
//! | query (W3C and CloudFront `cs-uri-query`) | [`Scrubber::target`] of `?query`, without the `?`; `-` when nothing is left |
//! | referrer | [`Scrubber::referrer`] (`-` stays `-`) |
//! | user agent, virtual host | [`Scrubber::text`] |
//! | X-Forwarded-For and other address lists | each entry truncated, entries that are not addresses become `-`, separators kept |
//! | everything else (timestamp, status, sizes, durations, fields the tool does not know, the format's punctuation) | [`Scrubber::text`] |
//!
//! Text fields are decoded by the record's escaping before scrubbing and encoded again for
//! the format: log escapes (`\"`, `\\`, `\xHH` for control bytes, DEL and bytes ≥ 0x80, as
//! Apache and nginx write them), JSON string escapes, or, for the raw formats (W3C, ALB,
//! CloudFront), percent-encoding of the bytes that would break the line.
//!
//! JSON lines are walked whole: besides the record's fields, every string value is rewritten
//! by its key — cookie and authorization keys, configured secret parameter names and user
//! keys become `-`, address keys (`remote_ip`, `ClientAddr`, `X-Forwarded-For`, …) are
//! truncated, the rest goes through [`Scrubber::text`].
//!
//! A line that does not parse is never copied: it is counted by reason. So is a parsed line
//! whose fields overlap in a way the rewrite cannot split (`unsplittable`). W3C and
//! CloudFront directive lines (`#Fields:` …) are copied as they are (`#Remark:` and other
//! free-text directives go through [`Scrubber::text`]); blank lines are dropped.

pub mod run;

use std::net::IpAddr;
use std::sync::Arc;

use crate::anon::{self, Masks};
use crate::error::{Error, Result};
use crate::parse::json::{self, Seg, Value};
use crate::parse::logformat::LogFormat;
use crate::parse::w3c::{self, W3cFields};
use crate::parse::{Escaping, Format, Record, Reject, RejectReason, clf, escape};
use crate::scrub::{Memo, Scrubber};

/// Everything the copy of a line needs. Shared by reference between threads.
#[derive(Debug, Clone)]
pub struct CopyCtx {
    /// The named format of the input (`Auto` is read as `Clf`); ignored when `custom` is set.
    pub format: Format,
    /// A parser compiled from a server's format string; it replaces `format`.
    pub custom: Option<Arc<LogFormat>>,
    /// Truncation of client and forwarded addresses.
    pub masks: Masks,
    pub scrubber: Scrubber,
    /// Longer lines are rejected as `line_too_long` without being parsed.
    pub max_line_bytes: usize,
}

impl CopyCtx {
    /// A context for `format` (or `custom`). Trusted proxies play no part: the copy truncates
    /// the client field as written and every X-Forwarded-For entry alike.
    pub fn new(
        format: Format,
        custom: Option<Arc<LogFormat>>,
        masks: Masks,
        scrubber: Scrubber,
        max_line_bytes: usize,
    ) -> Result<Self> {
        if let Some(c) = &custom
            && !c.secrets_fit()
        {
            return Err(Error::Usage(format!(
                "the format has more than {} cookie, authorization and identd fields; the anonymised copy cannot blank them all",
                crate::parse::SECRET_SLOTS
            )));
        }
        Ok(CopyCtx {
            format: if format == Format::Auto {
                Format::Clf
            } else {
                format
            },
            custom,
            masks,
            scrubber,
            max_line_bytes,
        })
    }

    /// The same context for another named format.
    pub fn with_format(&self, format: Format) -> Self {
        CopyCtx {
            format: if format == Format::Auto {
                Format::Clf
            } else {
                format
            },
            ..self.clone()
        }
    }

    fn has_directives(&self) -> bool {
        self.custom.is_none() && self.format.has_directives()
    }
}

/// What happened to the lines of a chunk or a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyCounts {
    /// Lines read, blank ones and directives included.
    pub lines: u64,
    /// Lines written to the copy, directives included.
    pub written: u64,
    pub blank: u64,
    pub directives: u64,
    /// Lines that did not parse, by [`RejectReason::index`]. None of them is in the copy.
    pub rejected: [u64; RejectReason::ALL.len()],
    /// Lines that parsed but whose fields overlap, so they could not be rewritten field by
    /// field. None of them is in the copy.
    pub unsplittable: u64,
}

impl CopyCounts {
    pub fn merge(&mut self, o: &CopyCounts) {
        self.lines += o.lines;
        self.written += o.written;
        self.blank += o.blank;
        self.directives += o.directives;
        for (a, b) in self.rejected.iter_mut().zip(o.rejected) {
            *a += b;
        }
        self.unsplittable += o.unsplittable;
    }

    /// Lines left out of the copy (rejected or unsplittable).
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum::<u64>() + self.unsplittable
    }

    /// `N lines, M written, K rejected (bad_timestamp: 1, …)`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} lines, {} written, {} rejected",
            self.lines,
            self.written,
            self.rejected_total()
        );
        let mut parts: Vec<String> = RejectReason::ALL
            .iter()
            .filter(|r| self.rejected[r.index()] > 0)
            .map(|r| format!("{}: {}", r.as_str(), self.rejected[r.index()]))
            .collect();
        if self.unsplittable > 0 {
            parts.push(format!("unsplittable: {}", self.unsplittable));
        }
        if !parts.is_empty() {
            s += &format!(" ({})", parts.join(", "));
        }
        s
    }

    fn reject(&mut self, reason: RejectReason) {
        self.rejected[reason.index()] += 1;
    }
}

/// Rewrites every line of `chunk` (newline-aligned, as [`crate::source`] cuts them) into
/// `out`, in order. W3C lines before the chunk's first `#Fields:` directive are rejected:
/// use [`anonymise_chunk_at`] for a chunk that starts after one.
pub fn anonymise_chunk(ctx: &CopyCtx, chunk: &[u8], out: &mut Vec<u8>) -> CopyCounts {
    anonymise_chunk_at(ctx, chunk, None, out)
}

/// As [`anonymise_chunk`], with the W3C header in effect at the start of the chunk.
pub fn anonymise_chunk_at(
    ctx: &CopyCtx,
    chunk: &[u8],
    header: Option<W3cFields>,
    out: &mut Vec<u8>,
) -> CopyCounts {
    Copier::new(ctx).chunk(chunk, header, out)
}

impl Copier<'_> {
    /// [`anonymise_chunk_at`] with this copier, which keeps what it memoised from one chunk
    /// to the next (a worker's copier goes through many chunks).
    pub fn chunk(
        &mut self,
        chunk: &[u8],
        header: Option<W3cFields>,
        out: &mut Vec<u8>,
    ) -> CopyCounts {
        self.header = header;
        let mut counts = CopyCounts::default();
        let mut rest = chunk;
        while !rest.is_empty() {
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(p) => (&rest[..p], &rest[p + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            self.line(line, out, &mut counts);
            rest = next;
        }
        counts
    }
}

/// What a span of a line becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    /// The client field: its truncation, or `-`.
    Client,
    /// ALB's `client:port`: the truncation with port `0`.
    ClientPort0,
    /// `-`.
    Dash,
    /// A request line: method and protocol kept, the target scrubbed.
    Request,
    Target,
    /// A query without its `?`.
    Query,
    Referrer,
    Text,
    /// A comma-separated list of addresses (X-Forwarded-For).
    Addresses,
    /// Bytes kept as they are: a timestamp its parser checked byte by byte.
    Verbatim,
}

impl Act {
    /// Whether dropping the span inside a larger one could leave personal data behind.
    fn strong(self) -> bool {
        matches!(
            self,
            Act::Client | Act::ClientPort0 | Act::Dash | Act::Addresses
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    act: Act,
}

/// Rewrites lines one at a time, reusing its buffers. Holds the W3C header in effect.
pub struct Copier<'c> {
    ctx: &'c CopyCtx,
    header: Option<W3cFields>,
    spans: Vec<Span>,
    buf: Vec<u8>,
    tmp: Vec<u8>,
    /// Rewritten requests, referrers and agents, by raw bytes, action and context: a
    /// value's rewriting depends on nothing else, and most lines repeat an agent and a
    /// referrer seen a few lines before.
    memo: Memo,
    /// The client field of the record being rewritten (address and length) and its parse,
    /// when the caller gave it.
    client: Option<(usize, usize, Option<IpAddr>)>,
}

impl<'c> Copier<'c> {
    pub fn new(ctx: &'c CopyCtx) -> Self {
        Copier {
            ctx,
            header: None,
            spans: Vec::with_capacity(16),
            buf: Vec::with_capacity(512),
            tmp: Vec::with_capacity(512),
            // Requests repeat less than agents and referrers: 16k slots keep most of them.
            memo: Memo::new(14),
            client: None,
        }
    }

    /// Counts a line that was too long to be read whole (streaming input).
    pub fn too_long(&mut self, counts: &mut CopyCounts) {
        counts.lines += 1;
        counts.reject(RejectReason::LineTooLong);
    }

    /// Rewrites one line (without its `\n`; a trailing `\r` is kept as the line ending) and
    /// appends it with its ending to `out`; appends nothing for a blank or rejected line.
    /// Returns whether something was written.
    pub fn line(&mut self, raw: &[u8], out: &mut Vec<u8>, counts: &mut CopyCounts) -> bool {
        counts.lines += 1;
        let (line, ending): (&[u8], &[u8]) = match raw.strip_suffix(b"\r") {
            Some(l) => (l, b"\r\n"),
            None => (raw, b"\n"),
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            counts.blank += 1;
            return false;
        }
        if line.len() > self.ctx.max_line_bytes {
            counts.reject(RejectReason::LineTooLong);
            return false;
        }
        if self.ctx.has_directives() && w3c::is_directive(line) {
            counts.directives += 1;
            counts.written += 1;
            if self.ctx.format == Format::W3c
                && let Some(h) = W3cFields::from_header(line)
            {
                self.header = Some(h);
            }
            self.directive(line, ending, out);
            return true;
        }
        let parsed = match &self.ctx.custom {
            Some(c) => c.parse(line),
            None => self.ctx.format.parse(line, self.header.as_ref()),
        };
        let rec = match parsed {
            Ok(r) => r,
            Err(Reject { reason, .. }) => {
                counts.reject(reason);
                return false;
            }
        };
        if self.parsed(line, &rec, None, ending, out) {
            counts.written += 1;
            true
        } else {
            counts.unsplittable += 1;
            false
        }
    }

    /// Appends the rewriting of a line already parsed as `rec` (`line` without its ending),
    /// then `ending`. Returns false, appending nothing, for a line whose fields cannot be
    /// told apart. This is how `process --anonymised-log` copies the lines it parses.
    ///
    /// `client` is `anon::parse_client(rec.client)` when the caller has it already, so that
    /// the client field is not parsed twice.
    pub fn parsed(
        &mut self,
        line: &[u8],
        rec: &Record<'_>,
        client: Option<Option<IpAddr>>,
        ending: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let mark = out.len();
        self.client = client.map(|ip| (rec.client.as_ptr() as usize, rec.client.len(), ip));
        let done = self.record(line, rec, out);
        self.client = None;
        match done {
            Ok(()) => {
                out.extend_from_slice(ending);
                true
            }
            Err(Unsplittable) => {
                out.truncate(mark);
                false
            }
        }
    }

    /// Appends a directive line (W3C `#…`), scrubbed, then `ending`.
    pub fn directive(&self, line: &[u8], ending: &[u8], out: &mut Vec<u8>) {
        copy_directive(&self.ctx.scrubber, line, out);
        out.extend_from_slice(ending);
    }

    /// Rewrites a parsed line into `out`.
    fn record(
        &mut self,
        line: &[u8],
        rec: &Record<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Unsplittable> {
        self.spans.clear();
        let alb = self.ctx.custom.is_none() && self.ctx.format == Format::AwsAlb;
        let mut add = |s: &[u8], act: Act| {
            if let Some((start, end)) = span_of(line, s) {
                self.spans.push(Span { start, end, act });
            }
        };
        if alb {
            // The whole `client:port` word.
            if let Some((start, _)) = span_of(line, rec.client) {
                let end = memchr::memchr(b' ', &line[start..]).map_or(line.len(), |p| start + p);
                add(&line[start..end], Act::ClientPort0);
            }
        } else {
            add(rec.client, Act::Client);
        }
        // In line order for the common formats (client, identd, user, time, request, …), so
        // that `order` finds them sorted.
        for s in rec.secrets.into_iter().flatten() {
            add(s, Act::Dash);
        }
        if let Some(u) = rec.user {
            add(u, Act::Dash);
        }
        if let Some(t) = rec.stamp {
            add(t, Act::Verbatim);
        }
        let req = span_of(line, rec.request);
        let tgt = span_of(line, rec.target);
        match (req, tgt) {
            (Some(r), Some(t)) if r == t => add(rec.target, Act::Target),
            (Some(r), Some(t)) if r.0 <= t.0 && t.1 <= r.1 => add(rec.request, Act::Request),
            _ => {
                add(rec.request, Act::Request);
                add(rec.target, Act::Target);
            }
        }
        if let Some(q) = rec.query {
            add(q, Act::Query);
        }
        if let Some(r) = rec.referer {
            add(r, Act::Referrer);
        }
        if let Some(ua) = rec.user_agent {
            add(ua, Act::Text);
        }
        if let Some(x) = rec.forwarded_for {
            add(x, Act::Addresses);
        }
        if let Some(v) = rec.vhost {
            add(v, Act::Text);
        }
        if rec.escaping == Escaping::Json {
            json_spans(line, &mut self.spans, &self.ctx.scrubber);
        }
        order(&mut self.spans)?;

        let mut pos = 0;
        for k in 0..self.spans.len() {
            let s = self.spans[k];
            self.ctx.scrubber.between_fields(&line[pos..s.start], out);
            match s.act {
                Act::Dash => out.push(b'-'),
                Act::Verbatim => out.extend_from_slice(&line[s.start..s.end]),
                _ => self.replace(line, s, rec.escaping, out),
            }
            pos = s.end;
        }
        self.ctx.scrubber.between_fields(&line[pos..], out);
        Ok(())
    }

    /// Appends what span `s` of `line` becomes.
    fn replace(&mut self, line: &[u8], s: Span, esc: Escaping, out: &mut Vec<u8>) {
        let raw = &line[s.start..s.end];
        let quoted = s.start > 0 && line[s.start - 1] == b'"' && line.get(s.end) == Some(&b'"');
        // `spaces` is a function of `raw`, so a memoised value needs it only when it is made.
        let mut ctx = Context {
            esc,
            quoted: quoted || esc == Escaping::Json,
            spaces: false,
        };
        if !matches!(s.act, Act::Request | Act::Referrer | Act::Text) {
            ctx.spaces = memchr::memchr(b' ', raw).is_some();
            return self.rewrite(raw, s.act, ctx, out);
        }
        let tag = 1 + (s.act as u32) * 16 + (ctx.esc as u32) * 2 + ctx.quoted as u32;
        let slot = match self.memo.get(raw, tag) {
            Ok(val) => {
                out.extend_from_slice(val);
                return;
            }
            Err(slot) => slot,
        };
        let mark = out.len();
        ctx.spaces = memchr::memchr(b' ', raw).is_some();
        self.rewrite(raw, s.act, ctx, out);
        self.memo.put(slot, raw, tag, &out[mark..]);
    }

    /// Appends what `raw`, a span with action `act`, becomes.
    fn rewrite(&mut self, raw: &[u8], act: Act, ctx: Context, out: &mut Vec<u8>) {
        let esc = ctx.esc;
        let scrub = &self.ctx.scrubber;
        let masks = self.ctx.masks;
        match act {
            // JSON can widen the client span past `rec.client` (a quoted `addr:port`): the
            // caller's parse stands only for the very bytes it parsed.
            Act::Client => match self.client {
                Some((ptr, len, ip)) if ptr == raw.as_ptr() as usize && len == raw.len() => {
                    put_parsed_client(raw, ip, masks, out)
                }
                _ => put_client(raw, masks, out),
            },
            Act::ClientPort0 => {
                put_client(raw, masks, out);
                out.extend_from_slice(b":0");
            }
            Act::Dash => out.push(b'-'),
            Act::Verbatim => out.extend_from_slice(raw),
            Act::Addresses => {
                let decoded = escape::decode(raw, esc);
                self.buf.clear();
                put_addresses(&decoded, masks, &mut self.buf);
                put_escaped(&self.buf, ctx, out);
            }
            Act::Request => {
                let decoded = escape::decode(raw, esc);
                self.buf.clear();
                let (method, target, protocol) = clf::split_request(&decoded);
                if method.is_empty() {
                    scrub.text(&decoded, &mut self.buf);
                } else {
                    self.buf.extend_from_slice(method);
                    self.buf.push(b' ');
                    scrub.target(target, &mut self.buf);
                    if !protocol.is_empty() {
                        self.buf.push(b' ');
                        self.buf.extend_from_slice(protocol);
                    }
                }
                put_escaped(&self.buf, ctx, out);
            }
            Act::Target => {
                let decoded = escape::decode(raw, esc);
                self.buf.clear();
                scrub.target(&decoded, &mut self.buf);
                put_escaped(&self.buf, ctx, out);
            }
            Act::Query => {
                let decoded = escape::decode(raw, esc);
                self.tmp.clear();
                self.tmp.push(b'?');
                self.tmp.extend_from_slice(&decoded);
                self.buf.clear();
                scrub.target(&self.tmp, &mut self.buf);
                let q = self.buf.strip_prefix(b"?").unwrap_or(&self.buf);
                if q.is_empty() {
                    out.push(b'-');
                } else {
                    put_escaped(q, ctx, out);
                }
            }
            Act::Referrer => {
                let decoded = escape::decode(raw, esc);
                if &*decoded == b"-" {
                    out.push(b'-');
                    return;
                }
                self.buf.clear();
                scrub.referrer(&decoded, &mut self.buf);
                put_escaped(&self.buf, ctx, out);
            }
            Act::Text => {
                let decoded = escape::decode(raw, esc);
                self.buf.clear();
                scrub.text(&decoded, &mut self.buf);
                put_escaped(&self.buf, ctx, out);
            }
        }
    }
}

/// The fields of a line overlap: it cannot be rewritten field by field.
#[derive(Debug)]
struct Unsplittable;

/// Where `s` lies in `line`, when it is a non-empty slice of it.
#[inline]
fn span_of(line: &[u8], s: &[u8]) -> Option<(usize, usize)> {
    if s.is_empty() {
        return None;
    }
    let start = (s.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
    let end = start.checked_add(s.len())?;
    (start < line.len() && end <= line.len()).then_some((start, end))
}

/// Sorts the spans and drops those inside another (the larger one rewrites them), unless
/// that could leave personal data behind; spans that cross are an error.
fn order(spans: &mut Vec<Span>) -> Result<(), Unsplittable> {
    // Most formats list their fields in line order, apart: nothing to do.
    if spans.windows(2).all(|w| w[0].end <= w[1].start) {
        return Ok(());
    }
    spans.sort_unstable_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut kept = 0;
    for k in 0..spans.len() {
        let s = spans[k];
        if kept > 0 {
            let last = spans[kept - 1];
            if s.start < last.end {
                let inside = s.end <= last.end;
                if inside && (!s.act.strong() || last.act == Act::Dash || last.act == s.act) {
                    continue;
                }
                return Err(Unsplittable);
            }
        }
        spans[kept] = s;
        kept += 1;
    }
    spans.truncate(kept);
    Ok(())
}

/// A client field: its truncation (port, brackets and zone dropped), or `-`.
fn put_client(raw: &[u8], masks: Masks, out: &mut Vec<u8>) {
    put_parsed_client(raw, anon::parse_client(raw), masks, out);
}

/// A client field `raw` and its parse `ip`: its truncation, or `-`. An IPv4 address truncated
/// to /24 is written from its own text: `parse_client` gives IPv4 only for a dotted quad at the
/// start of the field, in canonical decimal, so its first three octets as written, then `0`,
/// are what formatting the truncation would write.
#[inline]
fn put_parsed_client(raw: &[u8], ip: Option<IpAddr>, masks: Masks, out: &mut Vec<u8>) {
    if let Some(IpAddr::V4(_)) = ip
        && masks.ipv4_prefix == 24
    {
        let mut dots = 0;
        for (k, &b) in raw.iter().enumerate().take(12) {
            if b == b'.' {
                dots += 1;
                if dots == 3 {
                    out.extend_from_slice(&raw[..=k]);
                    out.push(b'0');
                    return;
                }
            }
        }
    }
    put_address(ip, masks, out)
}

/// A parsed client field: its truncation, or `-` when it was not an address.
fn put_address(ip: Option<IpAddr>, masks: Masks, out: &mut Vec<u8>) {
    match ip {
        Some(ip) => crate::scrub::push_ip(out, anon::truncate(ip, masks)),
        None => out.push(b'-'),
    }
}

/// A comma-separated address list: each entry truncated or `-`, separators and the
/// whitespace around entries kept, empty entries left empty.
fn put_addresses(list: &[u8], masks: Masks, out: &mut Vec<u8>) {
    for (k, entry) in list.split(|&b| b == b',').enumerate() {
        if k > 0 {
            out.push(b',');
        }
        let trimmed = entry.trim_ascii();
        if trimmed.is_empty() {
            out.extend_from_slice(entry);
            continue;
        }
        let lead = entry.len() - entry.trim_ascii_start().len();
        let trail = entry.len() - entry.trim_ascii_end().len();
        out.extend_from_slice(&entry[..lead]);
        put_client(trimmed, masks, out);
        out.extend_from_slice(&entry[entry.len() - trail..]);
    }
}

/// A W3C directive as is, except free text ones (`#Remark:` …), which are scrubbed.
fn copy_directive(scrub: &Scrubber, line: &[u8], out: &mut Vec<u8>) {
    const AS_IS: [&[u8]; 6] = [
        b"#Fields:",
        b"#Version:",
        b"#Software:",
        b"#Date:",
        b"#Start-Date:",
        b"#End-Date:",
    ];
    let bare = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if AS_IS.iter().any(|p| bare.starts_with(p)) {
        out.extend_from_slice(line);
    } else {
        scrub.text(line, out);
    }
}

/// How a rewritten value is encoded back into its line.
#[derive(Debug, Clone, Copy)]
struct Context {
    esc: Escaping,
    /// Between `"` (always, for JSON strings).
    quoted: bool,
    /// The value as written held spaces, so a space cannot break the line there.
    spaces: bool,
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Whether `b` is written as it is in any context: printable ASCII other than a space, a
/// quote or a backslash.
#[inline]
fn plain(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b'\\')
}

/// Appends `v` encoded for its place in the line.
fn put_escaped(v: &[u8], c: Context, out: &mut Vec<u8>) {
    // Most values need no encoding: copy the run of plain bytes at once.
    let run = v
        .iter()
        .position(|&b| !plain(b) && b != b' ')
        .unwrap_or(v.len());
    if run == v.len() && (c.quoted || c.spaces || !v.contains(&b' ')) {
        out.extend_from_slice(v);
        return;
    }
    out.reserve(v.len());
    match c.esc {
        Escaping::Log => {
            for &b in v {
                match b {
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b' ' if !c.quoted && !c.spaces => out.extend_from_slice(b"\\x20"),
                    0x20..=0x7e => out.push(b),
                    _ => out.extend_from_slice(&[
                        b'\\',
                        b'x',
                        HEX[(b >> 4) as usize],
                        HEX[(b & 15) as usize],
                    ]),
                }
            }
        }
        Escaping::Json => {
            for &b in v {
                match b {
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    0..0x20 => out.extend_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[(b >> 4) as usize],
                        HEX[(b & 15) as usize],
                    ]),
                    _ => out.push(b),
                }
            }
        }
        Escaping::Raw => {
            let pct = |b: u8, out: &mut Vec<u8>| {
                out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]])
            };
            for (i, &b) in v.iter().enumerate() {
                let prev_backslash = i > 0 && v[i - 1] == b'\\';
                match b {
                    0..0x20 | 0x7f => pct(b, out),
                    b' ' if !c.quoted && !c.spaces => pct(b, out),
                    // A quote would end a quoted field (unless escaped as ALB does) and
                    // start one in a bare field; a final backslash would escape the closing
                    // quote.
                    b'"' if !(c.quoted && prev_backslash) => pct(b, out),
                    b'\\' if c.quoted && i + 1 == v.len() => pct(b, out),
                    _ => out.push(b),
                }
            }
        }
    }
}

/// Adds a span for every JSON string value the record's spans do not cover, by its key; a
/// string holding the client (with a port) becomes the client span whole.
fn json_spans(line: &[u8], spans: &mut Vec<Span>, scrub: &Scrubber) {
    let known = spans.len();
    let _ = json::scan(line, |path, v| {
        let Value::Str(s) = v else { return };
        let Some((a, b)) = span_of(line, s) else {
            return;
        };
        for sp in spans[..known].iter_mut() {
            let inside = a <= sp.start && sp.end <= b;
            if inside && sp.act == Act::Client {
                (sp.start, sp.end) = (a, b);
                return;
            }
            if sp.start < b && a < sp.end {
                return;
            }
        }
        let key = path.iter().rev().find_map(|seg| match seg {
            Seg::Key(k) => Some(*k),
            Seg::Index(_) => None,
        });
        let act = key.map_or(Act::Text, |k| json_key_act(k, s, scrub));
        spans.push(Span {
            start: a,
            end: b,
            act,
        });
    });
}

/// Whether `key` is `name` (lower case, `_` for separators), ignoring case and `-`/`_`.
fn key_is(key: &[u8], name: &[u8]) -> bool {
    key.len() == name.len()
        && key
            .iter()
            .zip(name)
            .all(|(&k, &n)| k.to_ascii_lowercase() == n || (k == b'-' && n == b'_'))
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// What a JSON string value becomes, by its key.
fn json_key_act(key: &[u8], value: &[u8], scrub: &Scrubber) -> Act {
    const USER: [&[u8]; 6] = [
        b"remote_user",
        b"user_id",
        b"clientusername",
        b"user",
        b"username",
        b"cs_username",
    ];
    const ADDRESS: [&[u8]; 14] = [
        b"remote_addr",
        b"remote_ip",
        b"client_ip",
        b"clientaddr",
        b"clienthost",
        b"ip",
        b"client",
        b"realip_remote_addr",
        b"x_real_ip",
        b"x_forwarded_for",
        b"true_client_ip",
        b"cf_connecting_ip",
        b"proxy_protocol_addr",
        b"x_client_ip",
    ];
    const TARGET: [&[u8]; 4] = [b"request_uri", b"uri", b"requestpath", b"request"];
    const REFERRER: [&[u8]; 3] = [b"referer", b"referrer", b"http_referer"];
    if contains_ci(key, b"cookie") || contains_ci(key, b"authorization") {
        return Act::Dash;
    }
    if scrub
        .config()
        .secret_params
        .iter()
        .any(|p| key.eq_ignore_ascii_case(p.as_bytes()))
    {
        return Act::Dash;
    }
    // Header keys: nginx `http_x_real_ip`, Traefik `request_X-Real-Ip`.
    const PREFIXES: [&[u8]; 4] = [b"http_", b"request_", b"http-", b"request-"];
    let bare = PREFIXES
        .iter()
        .find_map(|p| {
            (key.len() > p.len() && key[..p.len()].eq_ignore_ascii_case(p)).then(|| &key[p.len()..])
        })
        .unwrap_or(key);
    if USER.iter().any(|n| key_is(key, n)) {
        return Act::Dash;
    }
    if ADDRESS.iter().any(|n| key_is(key, n) || key_is(bare, n)) {
        return Act::Addresses;
    }
    if REFERRER.iter().any(|n| key_is(key, n) || key_is(bare, n)) {
        return Act::Referrer;
    }
    if TARGET.iter().any(|n| key_is(key, n)) {
        return if value.contains(&b' ') {
            Act::Request
        } else {
            Act::Target
        };
    }
    Act::Text
}

/// The anonymised copies of a `process` run: one file per input under the copy directory,
/// named as the input, written in chunk order under temporary names and published only with
/// the run's reports.
pub struct CopyFiles {
    dests: Vec<Option<std::path::PathBuf>>,
    open: Option<(usize, crate::store::AtomicFile)>,
    finished: Vec<crate::store::AtomicFile>,
}

impl CopyFiles {
    /// `dests[i]` is where input `i`'s copy goes (`None`: no copy for it).
    pub fn new(dests: Vec<Option<std::path::PathBuf>>) -> Self {
        CopyFiles {
            dests,
            open: None,
            finished: Vec::new(),
        }
    }

    /// Appends the next chunk of input `input`'s copy.
    pub fn append(&mut self, input: usize, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        if self.open.as_ref().is_none_or(|(i, _)| *i != input) {
            if let Some((_, f)) = self.open.take() {
                self.finished.push(f);
            }
            let Some(Some(dest)) = self.dests.get(input) else {
                return Ok(());
            };
            let f = crate::store::AtomicFile::create(dest, crate::store::LOG_FILE)?;
            self.open = Some((input, f));
        }
        if let Some((_, f)) = &mut self.open {
            let dest = f.dest().to_path_buf();
            f.write_all(bytes).map_err(|e| Error::output(dest, e))?;
        }
        Ok(())
    }

    /// Publishes every copy (fsync, rename). Returns their paths.
    pub fn commit(mut self) -> Result<Vec<std::path::PathBuf>> {
        if let Some((_, f)) = self.open.take() {
            self.finished.push(f);
        }
        self.finished
            .into_iter()
            .map(crate::store::AtomicFile::commit)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrub::ScrubConfig;

    /// A format by name, or `apache:<format string>` / `nginx:<format string>`.
    fn ctx(format: &str) -> CopyCtx {
        let custom = match format.split_once(':') {
            Some(("apache", f)) => Some(Arc::new(LogFormat::apache(f).unwrap())),
            Some(("nginx", f)) => Some(Arc::new(LogFormat::nginx(f).unwrap())),
            _ => None,
        };
        let named = match custom {
            Some(_) => Format::Clf,
            None => Format::NAMED
                .into_iter()
                .find(|f| f.name() == format)
                .unwrap_or_else(|| panic!("no format {format}")),
        };
        CopyCtx::new(
            named,
            custom,
            Masks::default(),
            Scrubber::new(ScrubConfig::default()),
            64 * 1024,
        )
        .unwrap()
    }

    proptest::proptest! {
        /// An IPv4 client written from its text is the formatted truncation.
        #[test]
        fn a_client_from_its_text_is_its_truncation(
            a in proptest::prelude::any::<[u8; 4]>(),
            port in proptest::option::of(0u16..),
            zeros in proptest::prelude::any::<bool>(),
            prefix in proptest::sample::select(vec![24u8, 16, 32]),
        ) {
            let mut text = std::net::Ipv4Addr::from(a).to_string();
            if zeros {
                // Not canonical: the parser refuses it, and both write `-`.
                text.insert(0, '0');
            }
            if let Some(p) = port {
                text.push_str(&format!(":{p}"));
            }
            let masks = Masks { ipv4_prefix: prefix, ..Masks::default() };
            let ip = anon::parse_client(text.as_bytes());
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            put_parsed_client(text.as_bytes(), ip, masks, &mut fast);
            put_address(ip, masks, &mut slow);
            proptest::prop_assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(slow).unwrap(), "{}", text);
        }
    }

    /// A copier that goes through many chunks (as each worker's does) writes what a fresh
    /// copier per chunk writes: what it memoised in one chunk is right in the next.
    #[test]
    fn one_copier_over_many_chunks_writes_what_fresh_ones_write() {
        let c = ctx("combined");
        let lines: Vec<String> = (0..300)
            .map(|i| {
                format!(
                    "192.0.2.{} - u{} [05/Oct/2026:00:00:{:02} +0000] \"GET /p/{}?token=s{} HTTP/1.1\" 200 {} \"https://r{}.example/?e=a{}@example.org\" \"agent {} 198.51.100.{}\"\n",
                    i % 250,
                    i % 7,
                    i % 60,
                    i % 13,
                    i % 5,
                    i,
                    i % 11,
                    i % 3,
                    i % 17,
                    i % 9
                )
            })
            .collect();
        let mut kept = Copier::new(&c);
        let (mut one, mut fresh) = (Vec::new(), Vec::new());
        for chunk in lines.chunks(37) {
            let text = chunk.concat();
            let a = kept.chunk(text.as_bytes(), None, &mut one);
            let b = anonymise_chunk(&c, text.as_bytes(), &mut fresh);
            assert_eq!(a, b);
        }
        assert_eq!(
            String::from_utf8(one).unwrap(),
            String::from_utf8(fresh).unwrap()
        );
    }

    fn copy(format: &str, input: &str) -> (String, CopyCounts) {
        let mut out = Vec::new();
        let counts = anonymise_chunk(&ctx(format), input.as_bytes(), &mut out);
        (String::from_utf8(out).unwrap(), counts)
    }

    /// The copy of `input` (lines, the last without its newline) is `expected`, line for line.
    #[track_caller]
    fn check(format: &str, input: &str, expected: &str) {
        let (got, _) = copy(format, input);
        let expected = if expected.is_empty() {
            String::new()
        } else {
            format!("{expected}\n")
        };
        assert_eq!(got, expected, "format {format}, input:\n{input}");
    }

    const TS: &str = "[10/Oct/2000:13:55:36 -0700]";

    #[test]
    fn clf_family() {
        check(
            "combined",
            &format!(
                r#"192.0.2.44 - frank {TS} "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#
            ),
            &format!(
                r#"192.0.2.0 - - {TS} "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#
            ),
        );
        check(
            "common",
            &format!(r#"198.51.100.77 ident frank {TS} "GET / HTTP/1.1" 404 -"#),
            &format!(r#"198.51.100.0 - - {TS} "GET / HTTP/1.1" 404 -"#),
        );
        check(
            "combined-xff",
            &format!(
                r#"10.0.0.9 - - {TS} "GET / HTTP/1.1" 200 5 "-" "curl/8" "198.51.100.7, unknown,2001:db8:1:2::3 ,""#
            ),
            &format!(
                r#"10.0.0.0 - - {TS} "GET / HTTP/1.1" 200 5 "-" "curl/8" "198.51.100.0, -,2001:db8:1:: ,""#
            ),
        );
        check(
            "vhost-combined",
            &format!(
                r#"www.example.org:443 203.0.113.9 - - {TS} "GET / HTTP/1.1" 301 539 "-" "curl/8""#
            ),
            &format!(
                r#"www.example.org:443 203.0.113.0 - - {TS} "GET / HTTP/1.1" 301 539 "-" "curl/8""#
            ),
        );
        check(
            "traefik-clf",
            &format!(
                r#"203.0.113.9 - bob {TS} "GET / HTTP/1.1" 200 10 "-" "curl/8" 17 "web@docker" "http://backend:80" 3ms"#
            ),
            &format!(
                r#"203.0.113.0 - - {TS} "GET / HTTP/1.1" 200 10 "-" "curl/8" 17 "web@docker" "http://backend:80" 3ms"#
            ),
        );
    }

    #[test]
    fn clients() {
        let line = |c: &str| format!(r#"{c} - - {TS} "GET / HTTP/1.1" 200 1"#);
        for (client, expected) in [
            ("192.0.2.200", "192.0.2.0"),
            ("192.0.2.200:8080", "192.0.2.0"),
            ("2001:db8:85a3:1:2:3:4:5", "2001:db8:85a3::"),
            ("[2001:db8:85a3::7]:443", "2001:db8:85a3::"),
            ("::ffff:203.0.113.9", "203.0.113.0"),
            ("fe80::1%eth0", "fe80::"),
            ("host-203-0-113-9.example.net", "-"),
            ("-", "-"),
        ] {
            check("common", &line(client), &line(expected));
        }
        let masks = Masks::new(16, 32).unwrap();
        let c = CopyCtx {
            masks,
            ..ctx("common")
        };
        let mut out = Vec::new();
        anonymise_chunk(&c, line("192.0.2.200").as_bytes(), &mut out);
        assert_eq!(out, format!("{}\n", line("192.0.0.0")).into_bytes());
    }

    #[test]
    fn custom_formats_blank_users_and_credentials() {
        check(
            r#"apache:%h %l %u %t "%r" %>s %b "%{Cookie}i" "%{User-Agent}i" "%{Authorization}i" %{Set-Cookie}o"#,
            &format!(
                r#"192.0.2.1 - alice {TS} "GET /a HTTP/1.1" 200 3 "sid=abc; theme=dark" "curl/8" "Basic YWxpY2U6cHc=" id=42;Path=/"#
            ),
            &format!(r#"192.0.2.0 - - {TS} "GET /a HTTP/1.1" 200 3 "-" "curl/8" "-" -"#),
        );
        check(
            r#"nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_cookie" "$cookie_session" $request_time"#,
            r#"2001:db8::5 - bob [10/Oct/2000:13:55:36 -0700] "POST /login HTTP/2.0" 302 0 "a=b" "xyz" 0.004"#,
            r#"2001:db8:: - - [10/Oct/2000:13:55:36 -0700] "POST /login HTTP/2.0" 302 0 "-" "-" 0.004"#,
        );
        // An empty cookie stays empty; the request line split over three fields.
        check(
            r#"apache:%a %t "%m %U%q %H" %>s %b "%{Cookie}i" %D"#,
            &format!(r#"192.0.2.1 {TS} "GET /a HTTP/1.1" 200 3 "" 1200"#),
            &format!(r#"192.0.2.0 {TS} "GET /a HTTP/1.1" 200 3 "" 1200"#),
        );
        // Too many credential fields to locate: refused.
        let f = LogFormat::apache(
            r#"%h %t %l "%{Cookie}i" "%{Authorization}i" "%{a}C" "%{b}C" "%r" %>s"#,
        )
        .unwrap();
        assert!(!f.secrets_fit());
        assert!(
            CopyCtx::new(
                Format::Clf,
                Some(Arc::new(f)),
                Masks::default(),
                Scrubber::new(ScrubConfig::default()),
                100
            )
            .is_err()
        );
    }

    #[test]
    fn json_formats() {
        check(
            "nginx-json",
            r#"{"time_local":"10/Oct/2000:13:55:36 -0700","remote_addr":"192.0.2.1","remote_user":"carol","request":"GET /a HTTP/1.1","status": "200","body_bytes_sent":"2326","http_referer":"","http_user_agent":"Mozilla/5.0 \"x\"","http_x_forwarded_for":"203.0.113.9, 10.0.0.1","http_cookie":"s=1","host":"example.org"}"#,
            r#"{"time_local":"10/Oct/2000:13:55:36 -0700","remote_addr":"192.0.2.0","remote_user":"-","request":"GET /a HTTP/1.1","status": "200","body_bytes_sent":"2326","http_referer":"","http_user_agent":"Mozilla/5.0 \"x\"","http_x_forwarded_for":"203.0.113.0, 10.0.0.0","http_cookie":"-","host":"example.org"}"#,
        );
        check(
            "caddy-json",
            r#"{"level":"info","ts":1716732963.4146512,"msg":"handled request","request":{"remote_ip":"240e:1:1::1234","remote_port":"62769","client_ip":"240e:1:1::1234","proto":"HTTP/3.0","method":"GET","host":"mirrors.example.net","uri":"/res/browse.css","headers":{"Cookie":["a=b"],"Referer":["https://mirrors.example.net/gentoo/"],"User-Agent":["Mozilla/5.0 (X11; Linux x86_64)"],"X-Forwarded-For":["198.51.100.1","198.51.100.2"]}},"bytes_read":0,"user_id":"dave","duration":0.000275783,"size":1577,"status":200}"#,
            r#"{"level":"info","ts":1716732963.4146512,"msg":"handled request","request":{"remote_ip":"240e:1:1::","remote_port":"62769","client_ip":"240e:1:1::","proto":"HTTP/3.0","method":"GET","host":"mirrors.example.net","uri":"/res/browse.css","headers":{"Cookie":["-"],"Referer":["https://mirrors.example.net/gentoo/"],"User-Agent":["Mozilla/5.0 (X11; Linux x86_64)"],"X-Forwarded-For":["198.51.100.0","198.51.100.0"]}},"bytes_read":0,"user_id":"-","duration":0.000275783,"size":1577,"status":200}"#,
        );
        // Old Caddy: the client with its port, in one string: the port goes.
        check(
            "caddy-json",
            r#"{"request":{"remote_addr":"[2001:db8::7]:51234","method":"POST","uri":"/x","proto":"HTTP/1.1"},"status":"201","size":0,"ts":"2024-05-26T11:42:52.5+02:00"}"#,
            r#"{"request":{"remote_addr":"2001:db8::","method":"POST","uri":"/x","proto":"HTTP/1.1"},"status":"201","size":0,"ts":"2024-05-26T11:42:52.5+02:00"}"#,
        );
        check(
            "traefik-json",
            r#"{"ClientAddr":"192.0.2.8:8080","ClientHost":"192.0.2.8","ClientUsername":"erin","StartUTC":"2009-11-10T23:00:00Z","RequestMethod":"GET","RequestPath":"/","RequestProtocol":"HTTP/1.1","DownstreamStatus":200,"request_Authorization":"Bearer x"}"#,
            r#"{"ClientAddr":"192.0.2.0","ClientHost":"192.0.2.0","ClientUsername":"-","StartUTC":"2009-11-10T23:00:00Z","RequestMethod":"GET","RequestPath":"/","RequestProtocol":"HTTP/1.1","DownstreamStatus":200,"request_Authorization":"-"}"#,
        );
    }

    const IIS: &str = "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Cookie) cs(Referer) sc-status time-taken";

    #[test]
    fn w3c_with_header() {
        let input = format!(
            "#Software: Microsoft Internet Information Services 10.0\r\n{IIS}\r\n2016-01-10 00:29:52 - GET /a.php - 80 CORP\\frank 66.249.66.155 Mozilla/5.0+(compatible) ASP.NET_SessionId=x - 200 1183\r\n\r\n"
        );
        let expected = format!(
            "#Software: Microsoft Internet Information Services 10.0\r\n{IIS}\r\n2016-01-10 00:29:52 - GET /a.php - 80 - 66.249.66.0 Mozilla/5.0+(compatible) - - 200 1183\r"
        );
        check("w3c", &input, &expected);
        // Without a header in effect, a W3C line is rejected, never copied.
        let (out, counts) = copy(
            "w3c",
            "2016-01-10 00:29:52 - GET / - 80 - 66.249.66.155 - - - 200 1\n",
        );
        assert_eq!(out, "");
        assert_eq!(counts.rejected_total(), 1);
        // A chunk that starts after the header is given it.
        let h = W3cFields::from_header(IIS.as_bytes());
        let mut out = Vec::new();
        anonymise_chunk_at(
            &ctx("w3c"),
            b"2016-01-10 00:29:52 - GET / - 80 - 2001:db8:5:6::1 - - - 200 1\n",
            h,
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2016-01-10 00:29:52 - GET / - 80 - 2001:db8:5:: - - - 200 1\n"
        );
    }

    #[test]
    fn aws() {
        check(
            "aws-alb",
            r#"http 2016-08-10T22:08:42.945958Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" - -"#,
            r#"http 2016-08-10T22:08:42.945958Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.0:0 - 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" - -"#,
        );
        check(
            "cloudfront",
            "#Version: 1.0\n2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(Windows)\t-\tsession=abc\tHit\tSOX4\twww.example.com\thttps\t23\t0.001\t-",
            "#Version: 1.0\n2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.0\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(Windows)\t-\t-\tHit\tSOX4\twww.example.com\thttps\t23\t0.001\t-",
        );
    }

    #[test]
    fn rejected_lines_are_never_copied() {
        let good = format!(r#"192.0.2.1 - - {TS} "GET / HTTP/1.1" 200 1"#);
        let input = format!(
            "{good}\n198.51.100.23 - - [10/Oct/2000:13:55:36] \"GET / HTTP/1.1\" 200 1\nnot a log line 203.0.113.5\n\n   \n{good}"
        );
        let (out, counts) = copy("common", &input);
        let expected = format!(r#"192.0.2.0 - - {TS} "GET / HTTP/1.1" 200 1"#);
        assert_eq!(out, format!("{expected}\n{expected}\n"));
        assert_eq!(
            (counts.lines, counts.written, counts.blank),
            (6, 2, 2),
            "{counts:?}"
        );
        assert_eq!(counts.rejected[RejectReason::BadTimestamp.index()], 2);
        assert_eq!(counts.rejected_total(), 2);
        assert_eq!(
            counts.summary(),
            "6 lines, 2 written, 2 rejected (bad_timestamp: 2)"
        );
        // Too long: rejected without being parsed.
        let c = CopyCtx {
            max_line_bytes: 20,
            ..ctx("common")
        };
        let mut out = Vec::new();
        let n = anonymise_chunk(&c, good.as_bytes(), &mut out);
        assert!(out.is_empty());
        assert_eq!(n.rejected[RejectReason::LineTooLong.index()], 1);
    }

    #[test]
    fn escapes_round_trip() {
        // `\"`, `\\`, `\x00` and a byte >= 0x80 in the target; a control byte in the agent.
        let line = format!(
            r#"192.0.2.1 - - {TS} "GET /a\"b\\c\x00d\xc3\xa9 HTTP/1.1" 200 1 "-" "x\ty\x7f""#
        );
        let (out, _) = copy("combined", &line);
        // The scrubber writes targets in canonical percent-encoding: quote, backslash, control
        // and non-ASCII bytes become %XX.
        let expected = format!(
            r#"192.0.2.0 - - {TS} "GET /a%22b%5Cc%00d%C3%A9 HTTP/1.1" 200 1 "-" "x\x09y\x7F""#
        );
        assert_eq!(out, format!("{expected}\n"));
        // The copy parses, and the agent decodes to the same bytes.
        let a = Format::Combined.parse(line.as_bytes(), None).unwrap();
        let b = Format::Combined.parse(expected.as_bytes(), None).unwrap();
        assert_eq!(
            escape::unescape(a.user_agent.unwrap()),
            escape::unescape(b.user_agent.unwrap())
        );
        // A garbage request line (no method) goes through as text, escaped.
        check(
            "common",
            &format!(r#"192.0.2.1 - - {TS} "\x16\x03\x01" 400 0"#),
            &format!(r#"192.0.2.0 - - {TS} "\x16\x03\x01" 400 0"#),
        );
        // JSON: decoded, the target percent-encoded by the scrubber, the rest encoded again.
        check(
            "nginx-json",
            r#"{"remote_addr":"192.0.2.1","time":"2000-10-10T13:55:37Z","request":"GET /\u00e9\"\\ HTTP/1.1","status":200,"http_user_agent":"a\u0001b"}"#,
            r#"{"remote_addr":"192.0.2.0","time":"2000-10-10T13:55:37Z","request":"GET /%C3%A9%22%5C HTTP/1.1","status":200,"http_user_agent":"a\u0001b"}"#,
        );
    }

    #[test]
    fn spans_that_cross_are_unsplittable() {
        let mk = |start, end, act| Span { start, end, act };
        let mut v = vec![mk(0, 5, Act::Text), mk(3, 8, Act::Text)];
        assert!(order(&mut v).is_err());
        let mut v = vec![
            mk(10, 20, Act::Request),
            mk(12, 15, Act::Text),
            mk(0, 4, Act::Client),
        ];
        order(&mut v).unwrap();
        assert_eq!(v.len(), 2);
        let mut v = vec![mk(10, 20, Act::Text), mk(12, 15, Act::Client)];
        assert!(order(&mut v).is_err(), "a client inside free text");
        let mut v = vec![mk(10, 20, Act::Target), mk(10, 20, Act::Target)];
        order(&mut v).unwrap();
        assert_eq!(v.len(), 1);
    }

    /// A line's copy under a real scrubber: no e-mail, no full address anywhere, and the
    /// copy still parses with the same format.
    #[test]
    fn scrubs_every_field_and_the_gaps() {
        let line = format!(
            r#"192.0.2.44 - - {TS} "GET /u/jane@example.com?token=s3cret&page=2 HTTP/1.1" 200 5 "http://user:pw@example.com/?from=198.51.100.4" "bot (+mailto:ops@example.org) 203.0.113.77" 198.51.100.99"#
        );
        let c =
            ctx(r#"apache:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %{X-Real-IP}i"#);
        let mut out = Vec::new();
        anonymise_chunk(&c, line.as_bytes(), &mut out);
        let text = String::from_utf8_lossy(&out);
        for leak in [
            "jane@example.com",
            "s3cret",
            "user:pw",
            "198.51.100.4",
            "ops@example.org",
            "203.0.113.77",
            "198.51.100.99",
            "192.0.2.44",
        ] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
        assert!(text.contains(TS), "the timestamp survives: {text}");
        let copy = text.trim_end_matches('\n');
        assert!(
            c.custom.as_ref().unwrap().parse(copy.as_bytes()).is_ok(),
            "{copy}"
        );
    }

    /// JSON values under unknown keys and W3C queries are scrubbed too.
    #[test]
    fn scrubs_unknown_json_values_and_w3c_queries() {
        let (out, _) = copy(
            "nginx-json",
            r#"{"remote_addr":"192.0.2.1","time":"2000-10-10T13:55:37Z","request":"GET / HTTP/1.1","status":200,"note":"mail bob@example.com from 198.51.100.4"}"#,
        );
        assert!(
            !out.contains("bob@example.com") && !out.contains("198.51.100.4"),
            "{out}"
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(out.trim_end()).is_ok(),
            "{out}"
        );
        let (out, _) = copy(
            "w3c",
            &format!(
                "{IIS}\n2016-01-10 00:29:52 172.31.22.76 GET /a email=jane@example.com 80 - 66.249.66.155 - - - 200 1\n"
            ),
        );
        assert!(!out.contains("jane@example.com"), "{out}");
    }
}
