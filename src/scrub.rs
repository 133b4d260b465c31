//! Scrubbing: removes personal data from every string bound for an analyst output or the
//! anonymised log (request targets, referrers, user agents, other free text). Owns the rules
//! (addresses, e-mails, secrets, userinfo, query strings, id templating); never sees a client
//! field, never writes anything, and never returns a byte of input it has not examined.
//!
//! The rules as implemented:
//!
//! * **Percent-encoding.** A string holding a `%` is fully percent-decoded before anything
//!   else: decoding repeats until no `%XX` is left (`%253A` becomes `:`), in one linear pass;
//!   `+` is left alone. Structure (`?`, `&`, `#`, `/`) is read from the decoded string, so an
//!   encoded `&` in a kept value splits it. Targets and referrers are written re-encoded
//!   canonically: bytes up to space, `"`, `\`, `%`, DEL and bytes from 0x80 on become `%XX`
//!   (upper-case hex), everything else (including `<`, `>`, `{`, `}`) is literal. Free text is
//!   written decoded, with no re-encoding. A `%` that a replacement would have turned into a
//!   new `%XX` becomes `_`. So decoding the output once gives exactly the scrubbed string, and
//!   decoding it again changes nothing; the output read without decoding is scrubbed too
//!   (`%10.0.0.1` is byte 0x10 then `.0.0.1`, but reads as an address: it is truncated).
//! * **Addresses.** Runs of `[0-9A-Fa-f:.]` are examined. A dotted quad (parts of one to three
//!   digits, each at most 255, leading zeros allowed and read as decimal, not next to another
//!   digit) anywhere in a run is an IPv4 address. An IPv6 candidate is the run, or the run
//!   minus a leading or trailing group (junk or a port), or with an over-long first or last
//!   group cut to four digits, that `std` parses and that writes at least three groups or an
//!   embedded dotted quad: `Foo::bar`, `d::c`, `fe80::1` and `dead:beef` are left alone (none
//!   of them identify a client). Each is replaced by its [`anon::truncate`]d form, written as
//!   `Display` writes it (IPv4-mapped and other embedding forms become the truncated IPv4
//!   address); brackets, ports and zones around it are kept. In hosts, dashed quads
//!   (`ip-203-0-113-195.example.org`) are truncated too.
//! * **E-mails.** `local@domain` (local part `[A-Za-z0-9._+~-]` and bytes from 0x80 on, domain
//!   `[A-Za-z0-9.-]` and bytes from 0x80 on, with at least one dot) becomes `<email>`.
//! * **Secrets.** `name=value` and `name:value` where the name is secret: one of the configured
//!   names (ASCII case-insensitive, whole name; `a[b]` names are matched on `b`), or a name
//!   ending in one of [`SECRET_SUFFIXES`]. The value, up to whitespace, a control byte or one of
//!   `& ; , " ' )`, becomes `<redacted>`. `keyboard` and `zipcode` are not secret; `api_key`,
//!   `X-Api-Key`, `access_token`, `jsessionid` and `client_secret` are.
//! * **Userinfo** after any `scheme://` is removed, up to the last `@` of the authority.
//! * **Targets and referrers**: fragment dropped; query reduced to the kept parameters (in
//!   their order, values scrubbed as free text, secret values redacted); every path segment
//!   whose part before `;` and before a short extension is an id becomes `{id}` (see
//!   [`is_id_segment`]), the extension kept.
//!
//! Every rule applies to its own output without change (scrubbing twice gives what scrubbing
//! once gave): where a replacement could make its neighbours read differently, the pass is
//! repeated until it changes nothing. The common cases (a plain path, a plain `scheme://host`,
//! a user agent) allocate nothing; `%`-decoding, re-encoding and replacements may.

use std::cell::RefCell;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::anon::{self, Masks};

/// Names of query parameters whose values are always replaced by `<redacted>`.
pub const DEFAULT_SECRET_PARAMS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "key",
    "api_key",
    "session",
    "sid",
    "auth",
    "code",
    "signature",
];

/// Endings (ASCII case-insensitive) that make any parameter name secret, on top of the
/// configured names: `access_token`, `X-Api-Key`, `client_secret`, `new_password`,
/// `jsessionid`, `X-Amz-Signature`, `X-Amz-Credential`, Azure's `sig`.
pub const SECRET_SUFFIXES: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "signature",
    "credential",
    "sessionid",
    "sessid",
    "authorization",
    "_key",
    "-key",
    ".key",
    "apikey",
    "accesskey",
    "_sig",
    "-sig",
];

/// What an e-mail address is replaced by.
pub const EMAIL: &str = "<email>";
/// What a secret value is replaced by.
pub const REDACTED: &str = "<redacted>";

/// Rounds of [`Scrubber::rewrite_run`] before an unstable run is redacted whole.
const MAX_ROUNDS: usize = 16;
/// What an id path segment is replaced by.
pub const ID: &str = "{id}";

/// What the scrubber keeps and what it redacts.
#[derive(Debug, Clone)]
pub struct ScrubConfig {
    pub masks: Masks,
    /// Query parameters kept in targets (values still scrubbed); all others are removed.
    pub keep_query_params: Vec<String>,
    /// Parameter names whose values become `<redacted>` (compared case-insensitively).
    pub secret_params: Vec<String>,
}

impl Default for ScrubConfig {
    fn default() -> Self {
        ScrubConfig {
            masks: Masks::default(),
            keep_query_params: Vec::new(),
            secret_params: DEFAULT_SECRET_PARAMS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// The scrubber. Cheap to share between threads (`&Scrubber` is all the hot loop needs).
#[derive(Debug, Clone)]
pub struct Scrubber {
    cfg: ScrubConfig,
    /// The last bytes (both cases) of every secret name and suffix: a name ending in another
    /// byte is not secret, which most names (`2026` of a timestamp) show at once.
    secret_ends: [bool; 256],
    /// Whether a CLF timestamp is left as it is (no secret name ends in a digit), see
    /// [`Scrubber::between_fields`].
    stamps_as_is: bool,
}

impl Scrubber {
    pub fn new(cfg: ScrubConfig) -> Self {
        let mut secret_ends = [false; 256];
        let names = cfg.secret_params.iter().map(String::as_str);
        for name in names.chain(SECRET_SUFFIXES.iter().copied()) {
            if let Some(&b) = name.as_bytes().last() {
                secret_ends[b.to_ascii_lowercase() as usize] = true;
                secret_ends[b.to_ascii_uppercase() as usize] = true;
            }
        }
        let stamps_as_is = !secret_ends[b'0' as usize..=b'9' as usize].contains(&true);
        Scrubber {
            cfg,
            secret_ends,
            stamps_as_is,
        }
    }

    pub fn config(&self) -> &ScrubConfig {
        &self.cfg
    }

    /// A request target (origin form `/a/b?c=d`, absolute form `http://h/p`, or anything a
    /// client sent), already unescaped from the log's own escaping. Appends to `out` the
    /// target with its query reduced to the kept parameters, id segments templated, and
    /// addresses, e-mails, secrets and userinfo scrubbed.
    pub fn target(&self, raw: &[u8], out: &mut Vec<u8>) {
        if let Some((path_start, q, kind)) = self.plain_url(raw) {
            let start = out.len();
            out.extend_from_slice(&raw[..q]);
            if kind == PathKind::Ids {
                template_ids(out, start + path_start);
            }
            return;
        }
        let start = out.len();
        self.url(raw, out);
        self.settle(out, start, |s, x, o| {
            s.url(x, o);
            true
        });
    }

    /// A full referrer for the anonymised log: as [`Scrubber::target`], applied to a URL.
    pub fn referrer(&self, raw: &[u8], out: &mut Vec<u8>) {
        self.target(raw, out);
    }

    /// A referrer reduced to `scheme://host` for reports (host lower-cased, an address host
    /// truncated, userinfo and port dropped). Returns false, appending nothing, when there is
    /// no usable referrer (`-`, empty, no host).
    pub fn referrer_host(&self, raw: &[u8], out: &mut Vec<u8>) -> bool {
        let start = out.len();
        self.referrer_host_once(raw, out)
            && self.settle(out, start, |s, x, o| s.referrer_host_once(x, o))
    }

    /// The part of a raw referrer field (still escaped, by a convention whose escapes start
    /// with `\`) that [`Scrubber::referrer_host`] of the decoded field depends on: for the
    /// common `scheme://host` of letters, dots and hyphens followed by `/`, `?`, `#` or the
    /// end, that origin alone; otherwise the whole field. A memo keyed by it holds one entry
    /// per site instead of one per referring page. `tests::referrer_key_decides_the_host`
    /// checks that the host of the decoded field and of the key are the same.
    pub fn referrer_key(raw: &[u8]) -> &[u8] {
        match plain_origin(raw) {
            Some(end) if raw.get(end) != Some(&b'\\') => &raw[..end],
            _ => raw,
        }
    }

    fn referrer_host_once(&self, raw: &[u8], out: &mut Vec<u8>) -> bool {
        let start = out.len();
        if let Some(end) = plain_origin(raw) {
            out.extend_from_slice(&raw[..end]);
            out[start..].make_ascii_lowercase();
            return true;
        }
        let ok = if find(b'%', raw).is_some() {
            let ok = with_scratch(|d| {
                percent_decode(raw, d);
                self.host_of(d, out)
            });
            no_new_escapes(out, start);
            ok
        } else {
            self.host_of(raw, out)
        };
        if !ok {
            out.truncate(start);
            return false;
        }
        encode_unsafe(out, start);
        true
    }

    /// A re-encoded output can show, to a reader who does not decode it, digits of a `%XX`
    /// joined to what follows (`%10.0.0.1` is byte 0x10 then `.0.0.1`). When the output read
    /// as it stands would be scrubbed differently, that reading is scrubbed and the result
    /// run through `once` again, until both readings agree (at most three rounds; this only
    /// happens around encoded bytes). Returns false if `once` does.
    fn settle(
        &self,
        out: &mut Vec<u8>,
        start: usize,
        once: impl Fn(&Self, &[u8], &mut Vec<u8>) -> bool,
    ) -> bool {
        if find(b'%', &out[start..]).is_none() {
            return true;
        }
        for _ in 0..3 {
            let mut as_is = Vec::new();
            self.scrub_text(&out[start..], &mut as_is);
            if as_is == out[start..] {
                break;
            }
            out.truncate(start);
            if !once(self, &as_is, out) {
                out.truncate(start);
                return false;
            }
        }
        true
    }

    /// The bytes of a line between the fields a parser located (`" [05/Oct/2026:00:00:02
    /// +0000] \""`, `"\" 200 512 \""`), scrubbed as [`Scrubber::text`] scrubs them, faster:
    /// - bytes holding none of `% @ . : =` are copied as they are, since `text` looks at
    ///   nothing else;
    /// - a CLF timestamp (`[dd/Mon/yyyy:hh:mm:ss +zzzz]`) between such bytes is copied as it
    ///   is too, unless a secret name ends in a digit: its only events are the colons of
    ///   `yyyy:hh:mm:ss`, a run of four groups without `::` that no address can be read in,
    ///   and whose names (`yyyy`, `hh`, `mm`) can only be secret if a secret name ends in a
    ///   digit.
    ///
    /// Anything else goes through [`Scrubber::text`].
    /// `tests::between_fields_is_text` checks both paths against `text`.
    #[inline]
    pub fn between_fields(&self, raw: &[u8], out: &mut Vec<u8>) {
        // Too short to hold a timestamp (most gaps are a space or a quote and a space): as is
        // when no byte is one `text` acts on.
        if raw.len() < CLF_STAMP_LEN && raw.iter().all(|&b| GAP_CLASS[b as usize] != GAP_ACTS) {
            match raw {
                [b] => out.push(*b),
                _ => out.extend_from_slice(raw),
            }
            return;
        }
        self.between_fields_scan(raw, out);
    }

    /// [`Scrubber::between_fields`] past its short cut.
    #[inline(never)]
    fn between_fields_scan(&self, raw: &[u8], out: &mut Vec<u8>) {
        // One pass: plain bytes are skipped, a `[` that opens a timestamp skips it.
        let mut i = 0;
        let verbatim = loop {
            let Some(&b) = raw.get(i) else { break true };
            match GAP_CLASS[b as usize] {
                GAP_PLAIN => i += 1,
                GAP_OPEN
                    if self.stamps_as_is
                        && raw.len() >= i + CLF_STAMP_LEN
                        && is_clf_stamp(&raw[i..i + CLF_STAMP_LEN]) =>
                {
                    i += CLF_STAMP_LEN
                }
                GAP_OPEN => i += 1,
                _ => break false,
            }
        };
        if verbatim {
            out.extend_from_slice(raw);
            return;
        }
        self.text(raw, out);
    }

    /// Free text (a user agent, a vhost, any field the tool does not understand): addresses
    /// truncated, e-mails replaced, userinfo of embedded URLs removed, secret `key=value`
    /// values redacted. Nothing else changes.
    pub fn text(&self, raw: &[u8], out: &mut Vec<u8>) {
        if find(b'%', raw).is_some() {
            let start = out.len();
            with_scratch(|d| {
                percent_decode(raw, d);
                self.scrub_text(d, out);
            });
            no_new_escapes(out, start);
        } else {
            self.scrub_text(raw, out);
        }
    }

    /// Whether a parameter name is secret: a configured name (whole name, ASCII
    /// case-insensitive) or a name ending in one of [`SECRET_SUFFIXES`]. For `a[b]`, `b` is
    /// the name.
    pub fn is_secret_name(&self, name: &[u8]) -> bool {
        let mut name = name;
        if let [head @ .., b']'] = name
            && let Some(open) = rfind(b'[', head)
        {
            name = &head[open + 1..];
        }
        match name.last() {
            Some(&b) if self.secret_ends[b as usize] => {}
            _ => return false,
        }
        self.cfg
            .secret_params
            .iter()
            .any(|s| s.as_bytes().eq_ignore_ascii_case(name))
            || SECRET_SUFFIXES.iter().any(|s| {
                name.len() >= s.len()
                    && name[name.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
            })
    }

    fn masks(&self) -> Masks {
        self.cfg.masks
    }

    // ---- URLs -------------------------------------------------------------------------

    fn url(&self, raw: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        // One pass: where the query starts, and whether the part kept holds a `%` or a byte
        // to encode.
        let mut q = raw.len();
        let mut seen = 0;
        for (i, &b) in raw.iter().enumerate() {
            if b == b'?' || b == b'#' {
                q = i;
                break;
            }
            seen |= class(b);
        }
        let query_kept = !self.cfg.keep_query_params.is_empty() && raw.get(q) == Some(&b'?');
        if query_kept {
            seen |= raw[q..].iter().fold(0, |acc, &b| acc | class(b));
        }
        if seen & ENCODE != 0
            && (find(b'%', &raw[..q]).is_some() || (query_kept && find(b'%', &raw[q..]).is_some()))
        {
            with_scratch(|d| {
                percent_decode(raw, d);
                let q = find2(b'?', b'#', d).unwrap_or(d.len());
                self.url_decoded(d, q, out);
            });
            no_new_escapes(out, start);
            encode_unsafe(out, start);
        } else {
            self.url_decoded(raw, q, out);
            if seen & ENCODE != 0 {
                encode_unsafe(out, start);
            }
        }
    }

    /// A decoded URL: scheme and authority (userinfo dropped, host scrubbed), path (scrubbed,
    /// ids templated), kept query parameters. The fragment is dropped. `q` is where the query
    /// or fragment starts (`d.len()` if nowhere).
    fn url_decoded(&self, d: &[u8], q: usize, out: &mut Vec<u8>) {
        let mut path = &d[..q];
        if let Some(se) = scheme_end(path) {
            let auth_start = se + 3;
            out.extend_from_slice(&path[..auth_start]);
            let auth_end = find(b'/', &path[auth_start..]).map_or(q, |k| auth_start + k);
            let auth = &path[auth_start..auth_end];
            let host = rfind(b'@', auth).map_or(auth, |k| &auth[k + 1..]);
            self.scrub_host(host, out);
            path = &path[auth_end..];
        }
        if path_kind(path) == PathKind::Plain {
            out.extend_from_slice(path);
        } else {
            let path_start = out.len();
            self.scrub_text(path, out);
            template_ids(out, path_start);
        }
        if d.get(q) == Some(&b'?') && !self.cfg.keep_query_params.is_empty() {
            let query = &d[q + 1..];
            let query = &query[..find(b'#', query).unwrap_or(query.len())];
            self.kept_query(query, out);
        }
    }

    fn kept_query(&self, query: &[u8], out: &mut Vec<u8>) {
        let mut sep = b'?';
        for param in query.split(|&b| b == b'&') {
            let eq = find(b'=', param);
            let name = &param[..eq.unwrap_or(param.len())];
            if name.is_empty()
                || !self
                    .cfg
                    .keep_query_params
                    .iter()
                    .any(|k| k.as_bytes().eq_ignore_ascii_case(name))
            {
                continue;
            }
            out.push(sep);
            sep = b'&';
            out.extend_from_slice(name);
            if let Some(eq) = eq {
                out.push(b'=');
                let value = &param[eq + 1..];
                if !value.is_empty() && self.is_secret_name(name) {
                    out.extend_from_slice(REDACTED.as_bytes());
                } else {
                    self.scrub_text(value, out);
                }
            }
        }
    }

    /// The common case, recognised in one pass: an optional `scheme://host` whose host is
    /// letters, dots and hyphens, then a path that needs at most id templating (see
    /// [`path_kind`]), and a query that is dropped whole. Returns where the path starts, how
    /// much of `raw` is kept, and what the path needs.
    fn plain_url(&self, raw: &[u8]) -> Option<(usize, usize, PathKind)> {
        let mut i = 0;
        if let Some(se) = scheme_end(raw) {
            i = se + 3;
            while let Some(&b) = raw.get(i) {
                if matches!(b, b'/' | b'?' | b'#') {
                    break;
                }
                if !(b.is_ascii_alphabetic() || b == b'.' || b == b'-') {
                    return None;
                }
                i += 1;
            }
        }
        let q = find2(b'?', b'#', &raw[i..]).map_or(raw.len(), |k| i + k);
        let kind = path_kind(&raw[i..q]);
        if kind == PathKind::Other
            || (raw.get(q) == Some(&b'?') && !self.cfg.keep_query_params.is_empty())
        {
            return None;
        }
        Some((i, q, kind))
    }

    /// `host[:port]` of a URL: dashed quads truncated, then scrubbed as text.
    fn scrub_host(&self, host: &[u8], out: &mut Vec<u8>) {
        if host
            .iter()
            .all(|&b| b.is_ascii_alphabetic() || b == b'.' || b == b'-')
        {
            // Nothing to find in letters, dots and hyphens.
            out.extend_from_slice(host);
            return;
        }
        match find(b'-', host).and_then(|_| self.dashed_quads(host)) {
            Some(h) => self.scrub_text(&h, out),
            None => self.scrub_text(host, out),
        }
    }

    /// `203-0-113-195` in a hostname, truncated; `None` when nothing changes.
    fn dashed_quads(&self, h: &[u8]) -> Option<Vec<u8>> {
        let mut res: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut j = 0;
        while j < h.len() {
            if h[j].is_ascii_digit()
                && (j == 0 || !h[j - 1].is_ascii_digit())
                && let Some((end, octets, canonical)) = parse_quad(h, j, b'-')
            {
                let ip = Ipv4Addr::from(octets);
                if let IpAddr::V4(t) = anon::truncate(IpAddr::V4(ip), self.masks())
                    && (t != ip || !canonical)
                {
                    let v = res.get_or_insert_with(Vec::new);
                    v.extend_from_slice(&h[copied..j]);
                    push_v4(v, t, b'-');
                    copied = end;
                }
                j = end;
                continue;
            }
            j += 1;
        }
        let mut v = res?;
        v.extend_from_slice(&h[copied..]);
        Some(v)
    }

    /// `scheme://host` of a decoded referrer, or false.
    fn host_of(&self, d: &[u8], out: &mut Vec<u8>) -> bool {
        let d = d.trim_ascii();
        let Some(se) = scheme_end(d) else {
            return false;
        };
        let auth_start = se + 3;
        let auth_end = d[auth_start..]
            .iter()
            .position(|&b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
            .map_or(d.len(), |k| auth_start + k);
        let auth = &d[auth_start..auth_end];
        let hp = rfind(b'@', auth)
            .map_or(auth, |k| &auth[k + 1..])
            .trim_ascii();
        let scheme_pos = out.len();
        out.extend_from_slice(&d[..auth_start]);
        out[scheme_pos..].make_ascii_lowercase();
        let host_pos = out.len();
        if let [b'[', rest @ ..] = hp {
            let inner = &rest[..find(b']', rest).unwrap_or(rest.len())];
            let addr = &inner[..find(b'%', inner).unwrap_or(inner.len())];
            if let Some(v6) = parse_v6(addr) {
                push_host_ip(out, anon::truncate(IpAddr::V6(v6), self.masks()));
            } else if inner.is_empty() {
                return false;
            } else {
                out.push(b'[');
                self.scrub_host(inner, out);
                out.push(b']');
            }
        } else {
            let zone_less = &hp[..find(b'%', hp).unwrap_or(hp.len())];
            let colons = hp.iter().filter(|&&b| b == b':').count();
            if let Some(v6) = (colons >= 2).then(|| parse_v6(zone_less)).flatten() {
                push_host_ip(out, anon::truncate(IpAddr::V6(v6), self.masks()));
            } else {
                let host = hp[..find(b':', hp).unwrap_or(hp.len())].trim_ascii();
                if host.is_empty() {
                    return false;
                }
                self.scrub_host(host, out);
            }
        }
        out[host_pos..].make_ascii_lowercase();
        true
    }

    // ---- Free text --------------------------------------------------------------------

    /// Free-text scrubbing of decoded bytes. A replacement can make its surroundings read
    /// differently (a truncated address next to `@` reads as an e-mail domain), so when one
    /// pass made a replacement next to such bytes, passes repeat until one changes nothing
    /// (at most four in all).
    fn scrub_text(&self, x: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        if !self.text_pass(x, out) {
            return;
        }
        for _ in 0..3 {
            let prev = out[start..].to_vec();
            out.truncate(start);
            if !self.text_pass(&prev, out) {
                break;
            }
        }
    }

    /// One pass over decoded bytes: everything is copied through except userinfo, e-mails,
    /// secret values and addresses. Only `.`, `:`, `=` (and `@` when the string has one) are
    /// looked at; the bytes between them are copied in bulk. Returns whether a replacement
    /// was made next to bytes it could combine with.
    fn text_pass(&self, x: &[u8], out: &mut Vec<u8>) -> bool {
        let mut t = TextPass {
            x,
            copied: 0,
            floor: out.len(),
            has_at: find(b'@', x).is_some(),
            changed: false,
        };
        let mut i = 0;
        while i < x.len() {
            let found = if t.has_at {
                x[i..].iter().position(|&b| class(b) & EVENT != 0)
            } else {
                find3(b'.', b':', b'=', &x[i..])
            };
            let Some(k) = found else { break };
            let p = i + k;
            i = match x[p] {
                b'@' => t.at_sign(p, out),
                b'=' => t.assignment(self, p, out).unwrap_or(p + 1),
                b':' if x[p + 1..].starts_with(b"//") => t.url(p, out),
                b':' => match t.assignment(self, p, out) {
                    Some(next) => next,
                    None => t.address_run(self, p, out),
                },
                _ => t.address_run(self, p, out),
            };
        }
        out.extend_from_slice(&x[t.copied..]);
        t.changed
    }

    /// A run with every address truncated, given its first change. A replacement can join
    /// what follows it into a new address (`::1:0:1010` cut out of `::1:0:10100.0.0.0` leaves
    /// `::` before `0.0.0.0`), so unless the replacement was the whole run, this repeats
    /// until the run is stable. A run still unstable after [`MAX_ROUNDS`] rounds (hex
    /// garbage built so that each truncation exposes another address) becomes `<redacted>`.
    fn rewrite_run(&self, run: &[u8], first: (usize, usize, IpAddr)) -> Vec<u8> {
        let mut out = Vec::with_capacity(run.len());
        if first.0 == 0 && first.1 == run.len() {
            push_ip(&mut out, first.2);
            return out;
        }
        let mut cur = run.to_vec();
        let mut first = Some(first);
        for _ in 0..MAX_ROUNDS {
            let (mut k, mut changed) = (0, false);
            while k < cur.len() {
                let Some((a, b, ip)) = first.take().or_else(|| self.first_change(&cur[k..])) else {
                    break;
                };
                out.extend_from_slice(&cur[k..k + a]);
                push_ip(&mut out, ip);
                k += b;
                changed = true;
            }
            if !changed {
                break;
            }
            out.extend_from_slice(&cur[k..]);
            std::mem::swap(&mut cur, &mut out);
            out.clear();
        }
        if self.first_change(&cur).is_some() {
            return REDACTED.as_bytes().to_vec();
        }
        cur
    }

    /// The left-most address in a run whose truncation differs from how it is written, as
    /// `(start, end, truncation)`.
    fn first_change(&self, r: &[u8]) -> Option<(usize, usize, IpAddr)> {
        let masks = self.masks();
        let v6 = if r.iter().filter(|&&b| b == b':').nth(1).is_some() {
            find_v6(r)
        } else {
            None
        };
        let mut best = None;
        if let Some((a, b, addr)) = v6 {
            let t = anon::truncate(IpAddr::V6(addr), masks);
            if !ip_text(t).as_bytes().eq(&r[a..b]) {
                best = Some((a, b, t));
            }
        }
        let limit = best.map_or(r.len(), |(a, _, _)| a);
        let mut j = 0;
        while j < limit {
            if r[j].is_ascii_digit()
                && (j == 0 || !r[j - 1].is_ascii_digit())
                && let Some((end, octets, canonical)) = parse_quad(r, j, b'.')
            {
                let covered = v6.is_some_and(|(a, b, _)| j >= a && end <= b);
                if !covered {
                    let ip = IpAddr::V4(Ipv4Addr::from(octets));
                    let t = anon::truncate(ip, masks);
                    if !canonical || t != ip {
                        return Some((j, end, t));
                    }
                }
                j = end;
                continue;
            }
            j += 1;
        }
        best
    }
}

// ---- Memo -------------------------------------------------------------------------------

/// A two-way set-associative cache of scrubbed values by their raw bytes and a caller's tag
/// (what was done to them, in which context). Scrubbing is a pure function of those, so a hit
/// is what scrubbing would give; log fields repeat (agents, referrers, pages), and a hit costs
/// a hash instead of a scrub. A miss costs one scrub.
///
/// Each slot also carries a caller's `A` (for example what the value resolved to elsewhere),
/// reset to its default whenever the slot is filled anew.
///
/// Keys are not kept: a key is known by the 128-bit XXH3 hash of its bytes under its tag and a
/// seed drawn at random for each memo, 64 bits of which choose the set and the other 64 are
/// the slot's check. A hit therefore reads the set's cache line and nothing else (the value
/// stays where it is until asked for), where comparing the key bytes cost a read of memory
/// elsewhere on most lines. A lookup compares its check with the two slots of one set, so two
/// keys are taken for each other with probability 2^-63 per lookup (one in 9·10^18), and the
/// random seed keeps anyone from writing two such keys on purpose.
///
/// Layout: a key hashes to a set of two slots, each holding its check, the value's length and
/// allocation, and its `A`: with no `A`, a set is one 64-byte cache line; with a larger `A`
/// (the pipeline's is 24 bytes), each slot has a line of its own, so a hit on the set's first
/// slot, the most frequent case, reads one line for the check and the `A`. Each set keeps its most
/// recently used entry first: a hit on the second swaps the two, and a new entry goes first,
/// pushing out the second. Two keys that share a set then both stay, which a direct-mapped
/// table of the same size could not do: on 100k generated lines with 7.7k distinct requests,
/// `anonymise` scrubbed 11.9k targets through a 16k-slot memo instead of 17.7k.
pub struct Memo<A = ()> {
    sets: Vec<MemoSet<A>>,
    /// log2 of the number of sets.
    bits: u32,
    seed: u64,
}

/// Two slots, most recently used first, aligned to a cache line.
#[derive(Default)]
#[repr(align(64))]
struct MemoSet<A>([MemoSlot<A>; 2]);

#[derive(Default)]
struct MemoSlot<A> {
    /// The key's check word (never 0); 0 for an empty slot.
    check: u64,
    val_len: u16,
    /// The value; may be longer.
    val: Box<[u8]>,
    aux: A,
}

/// Where a key lives in a [`Memo`]: its set and check word, from [`Memo::locate`].
#[derive(Debug, Clone, Copy)]
pub struct MemoKey {
    set: usize,
    check: u64,
}

impl<A: Default> Memo<A> {
    /// Longer values are scrubbed every time: they rarely repeat.
    pub const MAX_KEY: usize = 512;
    /// Longer scrubbed values are not kept.
    const MAX_VAL: usize = u16::MAX as usize;

    /// A memo of `2^bits` slots (`bits` at least 1).
    pub fn new(bits: u32) -> Self {
        use std::hash::BuildHasher;
        let bits = bits.max(1) - 1;
        Memo {
            sets: (0..1usize << bits).map(|_| MemoSet::default()).collect(),
            bits,
            seed: std::collections::hash_map::RandomState::new().hash_one(0x6c76_6d65_6d6fu64),
        }
    }

    /// The set and check word of `raw` under `tag`, or `None` for a key too long to keep.
    #[inline]
    pub fn locate(&self, raw: &[u8], tag: u32) -> Option<MemoKey> {
        if raw.len() > Self::MAX_KEY {
            return None;
        }
        let seed = self.seed ^ u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let h = twox_hash::XxHash3_128::oneshot_with_seed(seed, raw);
        // The set from the high half (`bits` may be 0), the check from the low half.
        let set = ((h >> 64) as u64 >> 1 >> (63 - self.bits)) as usize;
        Some(MemoKey {
            set,
            check: (h as u64).max(1),
        })
    }

    /// The value stored for `raw` under `tag` (never 0), or the slot to [`Memo::put`] it in.
    /// A value longer than [`Memo::MAX_KEY`] is never stored, nor hashed.
    #[inline]
    pub fn get(&mut self, raw: &[u8], tag: u32) -> Result<&[u8], usize> {
        let k = self.find(raw, tag)?;
        Ok(self.slot_mut(k).0)
    }

    /// Prefetches the set of `key` (its first slot, the one most hits land on), so that a
    /// [`Memo::find_key`] of it made after other work finds it in the CPU's cache.
    #[inline]
    pub fn warm(&self, key: &MemoKey) {
        crate::source::prefetch(&self.sets[key.set].0[0]);
    }

    /// The slot holding `raw` under `tag`, or the slot to [`Memo::put`] it in. A hit becomes
    /// its set's most recently used entry.
    #[inline]
    pub fn find(&mut self, raw: &[u8], tag: u32) -> Result<usize, usize> {
        match self.locate(raw, tag) {
            Some(key) => self.find_key(&key),
            None => Err(0),
        }
    }

    /// [`Memo::find`] of a key already located.
    #[inline]
    pub fn find_key(&mut self, key: &MemoKey) -> Result<usize, usize> {
        let set = key.set;
        let ways = &mut self.sets[set].0;
        if ways[0].check == key.check {
            return Ok(2 * set);
        }
        if ways[1].check == key.check {
            ways.swap(0, 1);
            return Ok(2 * set);
        }
        Err(2 * set)
    }

    /// The value and the `A` of slot `k`, found by [`Memo::find`]. The value's bytes are not
    /// read until the caller reads them.
    #[inline]
    pub fn slot_mut(&mut self, k: usize) -> (&[u8], &mut A) {
        let slot = &mut self.sets[k / 2].0[k % 2];
        (&slot.val[..slot.val_len as usize], &mut slot.aux)
    }

    /// Stores `val` for `raw` under `tag` in `slot` (from a missed [`Memo::find`] of the same
    /// key), with a default `A`, which it returns; `None` for a key too long to keep, or a
    /// value too long. The set's older entry is dropped.
    pub fn put(&mut self, slot: usize, raw: &[u8], tag: u32, val: &[u8]) -> Option<&mut A> {
        let key = self.locate(raw, tag)?;
        self.put_key(slot, &key, val)
    }

    /// [`Memo::put`] of a key already located.
    pub fn put_key(&mut self, slot: usize, key: &MemoKey, val: &[u8]) -> Option<&mut A> {
        if val.len() > Self::MAX_VAL {
            return None;
        }
        let first = slot & !1;
        debug_assert_eq!(
            first / 2,
            key.set,
            "the slot comes from a find of the same key"
        );
        let ways = &mut self.sets[first / 2].0;
        // The newer entry becomes the second; the older one's slot (and allocation) is reused.
        ways.swap(0, 1);
        let s = &mut ways[0];
        if s.val.len() < val.len() {
            s.val = vec![0; val.len().next_power_of_two().max(32)].into_boxed_slice();
        }
        s.val[..val.len()].copy_from_slice(val);
        s.val_len = val.len() as u16;
        s.check = key.check;
        s.aux = A::default();
        Some(&mut s.aux)
    }
}

/// Classes of bytes for [`Scrubber::between_fields`]: bytes [`Scrubber::text`] acts on (`%`,
/// `@`, `.`, `:`, `=`), the `[` that may open a timestamp, and every other byte.
const GAP_PLAIN: u8 = 0;
const GAP_ACTS: u8 = 1;
const GAP_OPEN: u8 = 2;
const GAP_CLASS: [u8; 256] = {
    let mut t = [GAP_PLAIN; 256];
    t[b'%' as usize] = GAP_ACTS;
    t[b'@' as usize] = GAP_ACTS;
    t[b'.' as usize] = GAP_ACTS;
    t[b':' as usize] = GAP_ACTS;
    t[b'=' as usize] = GAP_ACTS;
    t[b'[' as usize] = GAP_OPEN;
    t
};

/// Bytes of `[dd/Mon/yyyy:hh:mm:ss +zzzz]`.
const CLF_STAMP_LEN: usize = 28;

/// Whether `b` is a bracketed CLF timestamp: digits, ASCII letters, `/`, `:`, one space and a
/// sign, each where the format puts it.
#[inline]
fn is_clf_stamp(b: &[u8]) -> bool {
    const DIGITS: [usize; 16] = [1, 2, 8, 9, 10, 11, 13, 14, 16, 17, 19, 20, 23, 24, 25, 26];
    let Ok(b) = <&[u8; CLF_STAMP_LEN]>::try_from(b) else {
        return false;
    };
    let digits = DIGITS
        .iter()
        .fold(true, |ok, &k| ok & (b[k].wrapping_sub(b'0') < 10));
    let letters = b[4..7]
        .iter()
        .fold(true, |ok, &c| ok & c.is_ascii_alphabetic());
    digits
        && letters
        && b[0] == b'['
        && b[3] == b'/'
        && b[7] == b'/'
        && b[12] == b':'
        && b[15] == b':'
        && b[18] == b':'
        && b[21] == b' '
        && (b[22] == b'+' || b[22] == b'-')
        && b[27] == b']'
}

// ---- Searching ------------------------------------------------------------------------------

/// Below this length a plain loop beats `memchr`'s dispatch; most fields are short.
const SHORT: usize = 32;

#[inline]
fn find(n: u8, h: &[u8]) -> Option<usize> {
    if h.len() < SHORT {
        h.iter().position(|&b| b == n)
    } else {
        memchr::memchr(n, h)
    }
}

#[inline]
fn find2(n1: u8, n2: u8, h: &[u8]) -> Option<usize> {
    if h.len() < SHORT {
        h.iter().position(|&b| b == n1 || b == n2)
    } else {
        memchr::memchr2(n1, n2, h)
    }
}

#[inline]
fn find3(n1: u8, n2: u8, n3: u8, h: &[u8]) -> Option<usize> {
    if h.len() < SHORT {
        h.iter().position(|&b| b == n1 || b == n2 || b == n3)
    } else {
        memchr::memchr3(n1, n2, n3, h)
    }
}

#[inline]
fn rfind(n: u8, h: &[u8]) -> Option<usize> {
    if h.len() < SHORT {
        h.iter().rposition(|&b| b == n)
    } else {
        memchr::memrchr(n, h)
    }
}

// ---- Byte classes -------------------------------------------------------------------------

/// `[0-9A-Fa-f:.]`: what an address is written with.
const RUN: u8 = 1;
/// E-mail local part.
const LOCAL: u8 = 1 << 1;
/// E-mail domain.
const DOMAIN: u8 = 1 << 2;
/// Parameter name.
const KEY: u8 = 1 << 3;
/// Ends a secret value.
const VSTOP: u8 = 1 << 4;
/// Percent-encoded in targets and referrers.
const ENCODE: u8 = 1 << 5;
/// Ends a URL authority inside free text.
const AUTH_END: u8 = 1 << 6;
/// Where the text pass stops to look (`@` only when the string has one).
const EVENT: u8 = 1 << 7;

static CLASSES: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mut c = 0;
        if b.is_ascii_hexdigit() || b == b':' || b == b'.' {
            c |= RUN;
        }
        if alnum || b >= 0x80 || matches!(b, b'.' | b'_' | b'+' | b'-' | b'~') {
            c |= LOCAL;
        }
        if alnum || b >= 0x80 || matches!(b, b'.' | b'-') {
            c |= DOMAIN;
        }
        if alnum || matches!(b, b'_' | b'.' | b'-' | b'[' | b']') {
            c |= KEY;
        }
        if b <= b' ' || b == 0x7f || matches!(b, b'&' | b';' | b',' | b'"' | b'\'' | b')') {
            c |= VSTOP;
        }
        if b <= b' ' || b >= 0x7f || matches!(b, b'"' | b'\\' | b'%') {
            c |= ENCODE;
        }
        if b <= b' '
            || b == 0x7f
            || matches!(
                b,
                b'/' | b'?' | b'#' | b'\\' | b'"' | b'\'' | b'<' | b'>' | b'(' | b')' | b','
            )
        {
            c |= AUTH_END;
        }
        if matches!(b, b'.' | b':' | b'=' | b'@') {
            c |= EVENT;
        }
        t[i] = c;
        i += 1;
    }
    t
}

#[inline(always)]
fn class(b: u8) -> u8 {
    CLASSES[b as usize]
}

// ---- Pieces of the text pass ----------------------------------------------------------------

/// The state of one text pass: `x[..copied]` has been dealt with, and what it became is
/// `out[floor..]`.
struct TextPass<'a> {
    x: &'a [u8],
    copied: usize,
    floor: usize,
    has_at: bool,
    changed: bool,
}

impl TextPass<'_> {
    /// Copies the input up to `to`, then `replacement`, and goes on after `resume`.
    /// Notes whether the replacement could read differently next to its neighbours (see
    /// [`Scrubber::scrub_text`]): only when one of them can be part of a name, a local part,
    /// a domain or an address, or is `@`.
    fn replace(&mut self, out: &mut Vec<u8>, to: usize, replacement: &[u8], resume: usize) {
        out.extend_from_slice(&self.x[self.copied..to]);
        let sticky = |b: Option<&u8>| {
            b.is_some_and(|&b| b == b'@' || class(b) & (RUN | LOCAL | DOMAIN | KEY) != 0)
        };
        let before = out.len().checked_sub(1).filter(|&i| i >= self.floor);
        if sticky(before.map(|i| &out[i])) || sticky(self.x.get(resume)) {
            self.changed = true;
        }
        out.extend_from_slice(replacement);
        self.copied = resume;
    }

    /// Where the bytes of class `mask` ending at `p` start: in the input (not before
    /// `copied`) and, when they reach `copied`, in what has been written already (so a
    /// replacement just written counts as part of a name or local part, as it will when the
    /// output is scrubbed again).
    fn back(&self, p: usize, mask: u8, out: &[u8]) -> (usize, usize) {
        let mut s = p;
        while s > self.copied && class(self.x[s - 1]) & mask != 0 {
            s -= 1;
        }
        let mut o = out.len();
        if s == self.copied {
            while o > self.floor && class(out[o - 1]) & mask != 0 {
                o -= 1;
            }
        }
        (s, o)
    }

    /// The local part ending at `p` as `(input start, output start)`, without leading
    /// dots; `None` if empty.
    fn local_part(&self, p: usize, out: &[u8]) -> Option<(usize, usize)> {
        let (mut s, mut o) = self.back(p, LOCAL, out);
        while o < out.len() && out[o] == b'.' {
            o += 1;
        }
        if o == out.len() {
            while s < p && self.x[s] == b'.' {
                s += 1;
            }
        }
        (o < out.len() || s < p).then_some((s, o))
    }

    fn email(&mut self, out: &mut Vec<u8>, (s, o): (usize, usize), end: usize) -> usize {
        out.truncate(o);
        self.replace(out, s, EMAIL.as_bytes(), end);
        end
    }

    /// `@` at `p`: an e-mail when a local part precedes it and a dotted domain follows.
    fn at_sign(&mut self, p: usize, out: &mut Vec<u8>) -> usize {
        match (self.local_part(p, out), domain_end(self.x, p + 1)) {
            (Some(local), Some(end)) => self.email(out, local, end),
            _ => p + 1,
        }
    }

    /// `://` at `p`: the userinfo of the authority, if any, is dropped.
    fn url(&mut self, p: usize, out: &mut Vec<u8>) -> usize {
        let a = p + 3;
        let e = self.x[a..]
            .iter()
            .position(|&b| class(b) & AUTH_END != 0)
            .map_or(self.x.len(), |k| a + k);
        match rfind(b'@', &self.x[a..e]) {
            Some(k) => {
                self.replace(out, a, b"", a + k + 1);
                a + k + 1
            }
            None => a,
        }
    }

    /// `=` or `:` at `p` after a secret name: the value is redacted. Returns where to go on,
    /// or `None` when this is not a secret assignment.
    fn assignment(&mut self, s: &Scrubber, p: usize, out: &mut Vec<u8>) -> Option<usize> {
        let (ks, o) = self.back(p, KEY, out);
        let secret = if o < out.len() {
            let mut name = out[o..].to_vec();
            name.extend_from_slice(&self.x[ks..p]);
            s.is_secret_name(&name)
        } else {
            ks < p && s.is_secret_name(&self.x[ks..p])
        };
        if !secret {
            return None;
        }
        let vs = p + 1;
        let ve = self.x[vs..]
            .iter()
            .position(|&b| class(b) & VSTOP != 0)
            .map_or(self.x.len(), |k| vs + k);
        if ve == vs {
            return None;
        }
        if &self.x[vs..ve] != REDACTED.as_bytes() {
            self.replace(out, vs, REDACTED.as_bytes(), ve);
        }
        Some(ve)
    }

    /// The run of `[0-9A-Fa-f:.]` around `p`: every address in it is truncated (or, when it
    /// is the local part of an e-mail, the e-mail is replaced). Returns the run's end.
    fn address_run(&mut self, s: &Scrubber, p: usize, out: &mut Vec<u8>) -> usize {
        let x = self.x;
        // The bytes before `p` hold no `.`, `:` or `=` (the search went past them), so the
        // dots and colons of the run are all from `p` on; its start is only looked for when
        // they are enough for an address.
        // An IPv4 address needs three dots; an IPv6 one seven colons, or `::`, or six
        // colons and an IPv4 tail (three dots again).
        let (mut dots, mut colons, mut double) = (0, 0, false);
        let mut re = p;
        let mut prev = 0u8;
        while let Some(&b) = x.get(re) {
            if class(b) & RUN == 0 {
                break;
            }
            dots += (b == b'.') as usize;
            colons += (b == b':') as usize;
            double |= b == b':' && prev == b':';
            prev = b;
            re += 1;
        }
        if dots < 3 && colons < 7 && !double {
            return re;
        }
        let mut rs = p;
        while rs > self.copied && class(x[rs - 1]) & RUN != 0 {
            rs -= 1;
        }
        let Some(first) = s.first_change(&x[rs..re]) else {
            return re;
        };
        if self.has_at
            && let Some((local, end)) = self.email_around(rs + first.0, out)
        {
            return self.email(out, local, end);
        }
        self.replace(out, rs, &s.rewrite_run(&x[rs..re], first), re);
        re
    }

    /// The e-mail whose local part holds position `a`, as the local part's start (see
    /// [`TextPass::local_part`]) and the domain's end.
    fn email_around(&self, a: usize, out: &[u8]) -> Option<((usize, usize), usize)> {
        let x = self.x;
        if class(x[a]) & LOCAL == 0 {
            return None;
        }
        let le = x[a..]
            .iter()
            .position(|&b| class(b) & LOCAL == 0)
            .map_or(x.len(), |k| a + k);
        if x.get(le) != Some(&b'@') {
            return None;
        }
        Some((self.local_part(le, out)?, domain_end(x, le + 1)?))
    }
}

/// The end of an e-mail domain starting at `s` (at least one dot, no leading or trailing
/// dot or hyphen).
fn domain_end(x: &[u8], s: usize) -> Option<usize> {
    let mut e = s;
    while e < x.len() && class(x[e]) & DOMAIN != 0 {
        e += 1;
    }
    while e > s && matches!(x[e - 1], b'.' | b'-') {
        e -= 1;
    }
    let d = &x[s..e];
    if d.is_empty() || matches!(d[0], b'.' | b'-') {
        return None;
    }
    find(b'.', d)?;
    Some(e)
}

/// A dotted (or dashed) quad at `j`: `(end, octets, canonical)`. Parts are one to three
/// digits, at most 255, and the quad is not followed by another digit. `canonical` is false
/// when a part has a leading zero.
fn parse_quad(r: &[u8], j: usize, sep: u8) -> Option<(usize, [u8; 4], bool)> {
    let mut i = j;
    let mut octets = [0u8; 4];
    let mut canonical = true;
    for (n, octet) in octets.iter_mut().enumerate() {
        let s = i;
        let mut v = 0u32;
        while i < r.len() && r[i].is_ascii_digit() && i - s < 3 {
            v = v * 10 + (r[i] - b'0') as u32;
            i += 1;
        }
        if i == s || v > 255 || r.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        canonical &= i - s == 1 || r[s] != b'0';
        *octet = v as u8;
        if n < 3 {
            if r.get(i) != Some(&sep) {
                return None;
            }
            i += 1;
        }
    }
    Some((i, octets, canonical))
}

fn parse_v6(s: &[u8]) -> Option<Ipv6Addr> {
    if s.len() < 2 || s.len() > 45 {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Whether an IPv6 literal says enough to be a client address: an embedded dotted quad or at
/// least three written groups.
fn strong_v6(c: &[u8]) -> bool {
    find(b'.', c).is_some() || c.split(|&b| b == b':').filter(|g| !g.is_empty()).count() >= 3
}

/// The IPv6 address in a run, tolerating one group of junk (or a port) at either end and an
/// over-long first or last group: `(start, end, address)`.
fn find_v6(r: &[u8]) -> Option<(usize, usize, Ipv6Addr)> {
    let n = r.len();
    let colons = r.iter().filter(|&&b| b == b':').count();
    if colons < 6 && !r.windows(2).any(|w| w == b"::") {
        return None;
    }
    let mut s0 = 0;
    while s0 < n && r[s0] == b'.' {
        s0 += 1;
    }
    if s0 + 1 < n && r[s0] == b':' && r[s0 + 1] != b':' {
        s0 += 1;
    }
    let mut e0 = n;
    while e0 > s0 && r[e0 - 1] == b'.' {
        e0 -= 1;
    }
    if e0 >= s0 + 2 && r[e0 - 1] == b':' && r[e0 - 2] != b':' {
        e0 -= 1;
    }
    if e0 <= s0 {
        return None;
    }
    let body = &r[s0..e0];
    let fc = s0 + find(b':', body)?;
    let lc = s0 + rfind(b':', body)?;
    let mut starts = [Some(s0), None, None];
    if fc > s0 {
        if fc - s0 > 4 && r[fc - 4..fc].iter().all(u8::is_ascii_hexdigit) {
            starts[1] = Some(fc - 4);
        }
        starts[2] = Some(if r.get(fc + 1) == Some(&b':') {
            fc
        } else {
            fc + 1
        });
    }
    let mut ends = [Some(e0), None, None, None];
    if lc + 1 < e0 {
        let last = &r[lc + 1..e0];
        let hex = last
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count()
            .min(4);
        if hex > 0 && hex < last.len() {
            ends[1] = Some(lc + 1 + hex);
        }
        ends[2] = Some(if lc > 0 && r[lc - 1] == b':' {
            lc + 1
        } else {
            lc
        });
        // `a:…:h:::2`: an address ending in `::` followed by a port.
        if lc > 1 && r[lc - 1] == b':' && r[lc - 2] == b':' {
            ends[3] = Some(lc);
        }
    }
    for s in starts.into_iter().flatten() {
        for e in ends.into_iter().flatten() {
            if e <= s {
                continue;
            }
            let c = &r[s..e];
            if let Some(addr) = parse_v6(c)
                && strong_v6(c)
            {
                return Some((s, e, addr));
            }
        }
    }
    None
}

// ---- Paths ------------------------------------------------------------------------------------

/// Whether a path segment's stem (the segment before any `;` and short extension) is an id:
/// at least 5 digits; a UUID (8-4-4-4-12 hex); at least 16 hex digits; or at least 20 bytes of
/// `[A-Za-z0-9_-]` with letters, digits and at least 3 letter/digit alternations (random
/// tokens; slugs like `how-to-x-in-2024` have none).
pub fn is_id_segment(s: &[u8]) -> bool {
    let n = s.len();
    if n < 5 || !s[0].is_ascii_alphanumeric() {
        return false;
    }
    if n < 16 {
        return s.iter().all(u8::is_ascii_digit);
    }
    if s.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    if n == 36
        && s.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
    {
        return true;
    }
    if n < 20 {
        return false;
    }
    let (mut digits, mut letters, mut alternations) = (0, 0, 0);
    let mut prev_digit = None;
    for &b in s {
        let digit = b.is_ascii_digit();
        if digit || b.is_ascii_alphabetic() {
            digits += digit as usize;
            letters += !digit as usize;
            alternations += (prev_digit == Some(!digit)) as usize;
            prev_digit = Some(digit);
        } else if b == b'_' || b == b'-' {
            prev_digit = None;
        } else {
            return false;
        }
    }
    digits > 0 && letters > 0 && alternations >= 3
}

/// A file extension kept after `{id}`: 1 to 5 alphanumeric bytes, one a letter.
fn is_extension(ext: &[u8]) -> bool {
    (1..=5).contains(&ext.len())
        && ext.iter().all(u8::is_ascii_alphanumeric)
        && ext.iter().any(u8::is_ascii_alphabetic)
}

/// The common referrer, recognised in one pass: `scheme://host` with a host of letters,
/// dots and hyphens, then the end or `/`, `?`, `#`. Returns where the host ends.
fn plain_origin(raw: &[u8]) -> Option<usize> {
    let a = scheme_end(raw)? + 3;
    let mut e = a;
    while let Some(&b) = raw.get(e) {
        if matches!(b, b'/' | b'?' | b'#' | b'\\') {
            break;
        }
        if !(b.is_ascii_alphabetic() || b == b'.' || b == b'-') {
            return None;
        }
        e += 1;
    }
    (e > a).then_some(e)
}

/// What a path needs, as far as one pass can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathKind {
    /// Nothing: no `:`, `=`, `@`, `%` or byte to encode, fewer than three dots, and no
    /// segment that could be an id (5 bytes with a digit, or 16 bytes).
    Plain,
    /// Only id templating: as `Plain`, except for segments that could be ids.
    Ids,
    /// The full treatment.
    Other,
}

fn path_kind(path: &[u8]) -> PathKind {
    let (mut dots, mut len, mut digit, mut ids) = (0, 0, false, false);
    for &b in path {
        if b == b'/' {
            ids |= len >= 16 || (len >= 5 && digit);
            (len, digit) = (0, false);
            continue;
        }
        if class(b) & (EVENT | ENCODE) != 0 {
            if b != b'.' {
                return PathKind::Other;
            }
            dots += 1;
        }
        digit |= b.is_ascii_digit();
        len += 1;
    }
    ids |= len >= 16 || (len >= 5 && digit);
    match (dots < 3, ids) {
        (false, _) => PathKind::Other,
        (true, false) => PathKind::Plain,
        (true, true) => PathKind::Ids,
    }
}

/// Replaces, in place, the id segments of the path written at `out[start..]` by `{id}`.
fn template_ids(out: &mut Vec<u8>, start: usize) {
    let end = out.len();
    let (mut r, mut w) = (start, start);
    loop {
        // One look at the segment: where it ends, where its name ends (`;`), and the last
        // dot of the name.
        let (mut se, mut ne, mut dot) = (r, None, None);
        while se < end && out[se] != b'/' {
            match out[se] {
                b';' if ne.is_none() => ne = Some(se),
                b'.' if ne.is_none() => dot = Some(se),
                _ => {}
            }
            se += 1;
        }
        let ne = ne.unwrap_or(se);
        let stem_end = match dot {
            Some(d) if d > r && is_extension(&out[d + 1..ne]) => d,
            _ => ne,
        };
        if is_id_segment(&out[r..stem_end]) {
            // The stem has at least 5 bytes, so `{id}` never overwrites what is still unread.
            out[w..w + ID.len()].copy_from_slice(ID.as_bytes());
            w += ID.len();
            out.copy_within(stem_end..se, w);
            w += se - stem_end;
        } else {
            if w != r {
                out.copy_within(r..se, w);
            }
            w += se - r;
        }
        if se == end {
            break;
        }
        out[w] = b'/';
        w += 1;
        r = se + 1;
    }
    out.truncate(w);
}

/// `scheme` of `scheme://`: the index of its `:`.
fn scheme_end(s: &[u8]) -> Option<usize> {
    if !s.first()?.is_ascii_alphabetic() {
        return None;
    }
    let len = s
        .iter()
        .take(33)
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))?;
    s[len..].starts_with(b"://").then_some(len)
}

// ---- Percent-encoding -------------------------------------------------------------------------

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` until none is left, in one pass: each decoded byte may complete a `%XX`
/// with what precedes it, which is decoded in turn.
fn percent_decode(raw: &[u8], d: &mut Vec<u8>) {
    d.clear();
    d.reserve(raw.len());
    for &b in raw {
        d.push(b);
        while let [.., b'%', h, l] = d[..]
            && let (Some(h), Some(l)) = (hex_val(h), hex_val(l))
        {
            d.truncate(d.len() - 3);
            d.push(h << 4 | l);
        }
    }
}

/// A replacement next to a literal `%` can form a new `%XX` (`%A` before a truncated
/// address); such a `%` becomes `_` so that no decoding of the output finds anything new.
fn no_new_escapes(out: &mut [u8], start: usize) {
    let mut i = start;
    while let Some(k) = find(b'%', &out[i..]) {
        let p = i + k;
        if p + 2 < out.len() && out[p + 1].is_ascii_hexdigit() && out[p + 2].is_ascii_hexdigit() {
            out[p] = b'_';
        }
        i = p + 1;
    }
}

/// Percent-encodes, in `out[start..]`, the bytes that are unsafe in a URL.
fn encode_unsafe(out: &mut Vec<u8>, start: usize) {
    if !out[start..].iter().any(|&b| class(b) & ENCODE != 0) {
        return;
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    with_scratch(|buf| {
        buf.extend_from_slice(&out[start..]);
        out.truncate(start);
        for &b in buf.iter() {
            if class(b) & ENCODE != 0 {
                out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            } else {
                out.push(b);
            }
        }
    });
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A cleared per-thread buffer (a fresh one if it is already in use).
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    buf.clear();
    let r = f(&mut buf);
    if buf.capacity() <= 1 << 16 {
        SCRATCH.with(|s| *s.borrow_mut() = buf);
    }
    r
}

// ---- Writing addresses ------------------------------------------------------------------------

fn push_v4(out: &mut Vec<u8>, ip: Ipv4Addr, sep: u8) {
    // Into a buffer on the stack, an octet's digits at a time, then one copy.
    let mut buf = [0u8; 16];
    let mut n = 0;
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = sep;
            n += 1;
        }
        let d = OCTET_DIGITS[o as usize];
        buf[n..n + 3].copy_from_slice(&d[..3]);
        n += d[3] as usize;
    }
    out.extend_from_slice(&buf[..n]);
}

/// The decimal digits of each byte value, left-aligned, and how many there are.
const OCTET_DIGITS: [[u8; 4]; 256] = {
    let mut t = [[0u8; 4]; 256];
    let mut v = 0;
    while v < 256 {
        let (h, d, u) = ((v / 100) as u8, (v / 10 % 10) as u8, (v % 10) as u8);
        t[v] = if v >= 100 {
            [b'0' + h, b'0' + d, b'0' + u, 3]
        } else if v >= 10 {
            [b'0' + d, b'0' + u, 0, 2]
        } else {
            [b'0' + u, 0, 0, 1]
        };
        v += 1;
    }
    t
};

/// An address as `Display` writes it (`tests::push_ip_is_display` checks it).
pub(crate) fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => push_v4(out, v4, b'.'),
        IpAddr::V6(v6) => push_v6(out, v6),
    }
}

/// An IPv6 address as `Display` writes it: IPv4-mapped ones as `::ffff:a.b.c.d`, otherwise
/// lower-case groups without leading zeros, the first longest run of two zero groups or more
/// written `::` (RFC 5952). By hand: the anonymised copy writes one per IPv6 line.
fn push_v6(out: &mut Vec<u8>, v6: Ipv6Addr) {
    if let Some(v4) = v6.to_ipv4_mapped() {
        out.extend_from_slice(b"::ffff:");
        push_v4(out, v4, b'.');
        return;
    }
    let g = v6.segments();
    let (mut best, mut best_len) = (8, 0);
    let mut k = 0;
    while k < 8 {
        if g[k] == 0 {
            let start = k;
            while k < 8 && g[k] == 0 {
                k += 1;
            }
            if k - start > best_len {
                (best, best_len) = (start, k - start);
            }
        } else {
            k += 1;
        }
    }
    let group = |out: &mut Vec<u8>, v: u16| {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digits = (16 - v.leading_zeros() as usize).div_ceil(4).max(1);
        for d in (0..digits).rev() {
            out.push(HEX[(v >> (4 * d) & 0xf) as usize]);
        }
    };
    let groups = |out: &mut Vec<u8>, gs: &[u16]| {
        for (i, &v) in gs.iter().enumerate() {
            if i > 0 {
                out.push(b':');
            }
            group(out, v);
        }
    };
    if best_len > 1 {
        groups(out, &g[..best]);
        out.extend_from_slice(b"::");
        groups(out, &g[best + best_len..]);
    } else {
        groups(out, &g);
    }
}

/// A host address: IPv6 bracketed.
fn push_host_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(_) => push_ip(out, ip),
        IpAddr::V6(_) => {
            out.push(b'[');
            push_ip(out, ip);
            out.push(b']');
        }
    }
}

/// An address as `Display` writes it, without allocating.
struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl IpText {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn ip_text(ip: IpAddr) -> IpText {
    let mut t = IpText {
        buf: [0; 48],
        len: 0,
    };
    let _ = fmt::Write::write_fmt(&mut t, format_args!("{ip}"));
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A memo answers exactly what was put under the same key and tag, or a slot to fill;
    /// a refill resets the slot's `A`; keys too long are never kept.
    #[test]
    fn memo_answers_what_was_put_or_nothing() {
        let mut m: Memo<u32> = Memo::new(1);
        let slot = m.get(b"/a", 1).unwrap_err();
        *m.put(slot, b"/a", 1, b"/A").unwrap() = 7;
        assert_eq!(m.get(b"/a", 1), Ok(&b"/A"[..]));
        let k = m.find(b"/a", 1).unwrap();
        assert_eq!(m.slot_mut(k), (&b"/A"[..], &mut 7));
        // Another tag, a prefix, a longer key: not the same entry.
        assert!(m.get(b"/a", 2).is_err());
        assert!(m.get(b"/", 1).is_err());
        assert!(m.get(b"/ab", 1).is_err());
        // Many keys through two slots: every answer is the key's own value or a miss.
        for round in 0..3 {
            for i in 0..50u32 {
                let key = format!("/k{i}");
                let val = format!("/v{i}-{}", "x".repeat(i as usize * 3));
                match m.get(key.as_bytes(), 1) {
                    Ok(v) => assert_eq!(v, val.as_bytes(), "round {round}"),
                    Err(slot) => {
                        let aux = m.put(slot, key.as_bytes(), 1, val.as_bytes()).unwrap();
                        assert_eq!(*aux, 0, "a refilled slot starts from the default");
                        *aux = i;
                    }
                }
            }
        }
        let long = vec![b'a'; Memo::<()>::MAX_KEY + 1];
        let slot = m.get(&long, 1).unwrap_err();
        assert!(m.put(slot, &long, 1, b"x").is_none());
        assert!(m.get(&long, 1).is_err());
        // An empty value is a value.
        let slot = m.get(b"", 3).unwrap_err();
        m.put(slot, b"", 3, b"");
        assert_eq!(m.get(b"", 3), Ok(&b""[..]));
    }

    /// Two slots are one set: two keys stay side by side, and a third pushes out the one used
    /// least recently, whatever order the two were put in.
    #[test]
    fn memo_keeps_two_keys_per_set_and_drops_the_older() {
        let mut m: Memo<u32> = Memo::new(1);
        for (key, aux) in [(&b"/a"[..], 1), (b"/b", 2)] {
            let slot = m.find(key, 1).unwrap_err();
            *m.put(slot, key, 1, key).unwrap() = aux;
        }
        for (key, aux) in [(&b"/a"[..], 1), (b"/b", 2), (b"/a", 1)] {
            let k = m.find(key, 1).unwrap();
            assert_eq!(
                m.slot_mut(k),
                (key, &mut { aux }),
                "{key:?} stays with its own A"
            );
        }
        // `/a` was used last: `/c` takes the place of `/b`.
        let slot = m.find(b"/c", 1).unwrap_err();
        m.put(slot, b"/c", 1, b"/c");
        assert_eq!(m.get(b"/a", 1), Ok(&b"/a"[..]));
        assert_eq!(m.get(b"/c", 1), Ok(&b"/c"[..]));
        assert!(m.get(b"/b", 1).is_err());
    }

    fn scrubbers() -> (Scrubber, Scrubber) {
        let keep = ScrubConfig {
            keep_query_params: ["q", "page", "token", "next"].map(String::from).to_vec(),
            ..ScrubConfig::default()
        };
        (Scrubber::new(ScrubConfig::default()), Scrubber::new(keep))
    }

    /// Runs a method by name (`keep:` prefix: the scrubber keeping `q`, `page`, `token`,
    /// `next`). `referrer_host` gives `""` when it returns false.
    fn run(s: &Scrubber, method: &str, input: &[u8]) -> Vec<u8> {
        let mut out = b"prefix".to_vec();
        match method {
            "target" => s.target(input, &mut out),
            "referrer" => s.referrer(input, &mut out),
            "text" => s.text(input, &mut out),
            "referrer_host" => {
                let ok = s.referrer_host(input, &mut out);
                assert_eq!(ok, out.len() > 6, "return value of referrer_host");
            }
            other => panic!("no method {other}"),
        }
        assert!(out.starts_with(b"prefix"), "out is only appended to");
        out.split_off(6)
    }

    /// Found by fuzzing: an address ending in `::` followed by `:port` (`…:4a2b:::2`) was
    /// kept whole, though a reader sees a full address and a port.
    #[test]
    fn address_ending_in_double_colon_before_a_port_is_truncated() {
        let (plain, _) = scrubbers();
        for method in ["target", "referrer", "text"] {
            let got = run(
                &plain,
                method,
                b"[2001:db8:4a2b:78:F42:db28:4a2b:::2]:443 x",
            );
            let got = String::from_utf8_lossy(&got).to_lowercase();
            assert!(!got.contains("78:f42"), "{method}: {got}");
        }
    }

    fn check(method: &str, input: &str, expected: &str) {
        let (plain, keep) = scrubbers();
        let (s, m) = match method.strip_prefix("keep:") {
            Some(m) => (&keep, m),
            None => (&plain, method),
        };
        let got = run(s, m, input.as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&got),
            expected,
            "{method}({input:?})"
        );
        let again = run(s, m, &got);
        assert_eq!(
            String::from_utf8_lossy(&again),
            expected,
            "{method} is not idempotent on {input:?}"
        );
    }

    const CASES: &[(&str, &str, &str)] = &[
        // Regression (fuzz): each truncation of `…::AAAA` exposes another address in the rest
        // of the hex run; four rounds left `ad:35e:f564::AAA`, an address of its own.
        (
            "text",
            "AD:35e:f564::AAAAAAAAAAAAAAAAAAA'",
            "ad:35e:f564::'",
        ),
        (
            "text",
            "x AD:35e:f564::AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA y",
            "x <redacted> y",
        ),
        // Query strings.
        ("target", "/static/app.js?v=3", "/static/app.js"),
        ("target", "/", "/"),
        ("target", "", ""),
        ("target", "/search?q=jane&x=1", "/search"),
        ("target", "/page#section", "/page"),
        (
            "keep:target",
            "/s?q=hello&utm_source=x&page=2",
            "/s?q=hello&page=2",
        ),
        ("keep:target", "/s?page=2&q=hello", "/s?page=2&q=hello"),
        ("keep:target", "/s?utm_source=x", "/s"),
        ("keep:target", "/s?Q=a&PAGE", "/s?Q=a&PAGE"),
        ("keep:target", "/s?q=jane@example.org", "/s?q=<email>"),
        (
            "keep:target",
            "/s?q=jane%40example.org&page=1",
            "/s?q=<email>&page=1",
        ),
        ("keep:target", "/s?token=abc&q=1", "/s?token=<redacted>&q=1"),
        (
            "keep:target",
            "/s?q=ip%3D203.0.113.195",
            "/s?q=ip=203.0.113.0",
        ),
        ("keep:target", "/s?q=a%26b", "/s?q=a"),
        ("keep:target", "/s?q=a+b%20c", "/s?q=a+b%20c"),
        (
            "keep:target",
            "/s?next=https://u:p@example.org/x?password=hunter2",
            "/s?next=https://example.org/x?password=<redacted>",
        ),
        ("keep:target", "/s?q=1#q=2", "/s?q=1"),
        // Addresses in targets, every form.
        ("target", "/ip/203.0.113.195/info", "/ip/203.0.113.0/info"),
        ("target", "/ip/010.001.002.003", "/ip/10.1.2.0"),
        (
            "target",
            "/v6/2001:db8:85a3::8a2e:370:7334",
            "/v6/2001:db8:85a3::",
        ),
        (
            "target",
            "/v6/2001:DB8:85A3:0:0:8A2E:370:7334",
            "/v6/2001:db8:85a3::",
        ),
        (
            "target",
            "/v6/2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            "/v6/2001:db8:85a3::",
        ),
        ("target", "/x/2001%3Adb8%3A%3A1", "/x/2001:db8::"),
        ("target", "/x/2001%253Adb8%253A%253A1", "/x/2001:db8::"),
        (
            "target",
            "/x/%5B2001:db8::1%5D:8080",
            "/x/[2001:db8::]:8080",
        ),
        ("target", "/x/::ffff:203.0.113.9", "/x/203.0.113.0"),
        (
            "target",
            "/x/[fe80::822a:a8ff:fe49:470c%25eth0]",
            "/x/[fe80::%25eth0]",
        ),
        ("target", "203.0.113.5:443", "203.0.113.0:443"),
        (
            "target",
            "http://[2001:db8::1]:8080/a",
            "http://[2001:db8::]:8080/a",
        ),
        // E-mails, userinfo, secrets in targets.
        ("target", "/u/jane@example.org/x", "/u/<email>/x"),
        ("target", "/u/jane%40example.org", "/u/<email>"),
        (
            "target",
            "http://user:pass@example.org/a?b=c",
            "http://example.org/a",
        ),
        (
            "target",
            "ftp://user@203.0.113.7:21/x",
            "ftp://203.0.113.0:21/x",
        ),
        (
            "target",
            "/r/https://u:p@example.org/",
            "/r/https://example.org/",
        ),
        (
            "target",
            "/app;jsessionid=ABC123DEF",
            "/app;jsessionid=<redacted>",
        ),
        // Id templating.
        ("target", "/user/12345/profile", "/user/{id}/profile"),
        ("target", "/user/1234/profile", "/user/1234/profile"),
        ("target", "/2024/05/10/post", "/2024/05/10/post"),
        (
            "target",
            "/order/550e8400-e29b-41d4-a716-446655440000",
            "/order/{id}",
        ),
        (
            "target",
            "/img/3f2a9b1c8d7e6f5a4b3c2d1e0f9a8b7c.png",
            "/img/{id}.png",
        ),
        ("target", "/d/deadbeefcafe0123/", "/d/{id}/"),
        (
            "target",
            "/f/aB3dE9fG2hJ5kL8mN1pQ4r/download",
            "/f/{id}/download",
        ),
        (
            "target",
            "/blog/how-to-configure-nginx-in-2024-for-beginners",
            "/blog/how-to-configure-nginx-in-2024-for-beginners",
        ),
        ("target", "/u/12345;v=1", "/u/{id};v=1"),
        ("target", "/u/12345.json?x", "/u/{id}.json"),
        (
            "target",
            "/js/jquery-3.7.1.min.js",
            "/js/jquery-3.7.1.min.js",
        ),
        // Re-encoding.
        ("target", "/a b\"c\\d", "/a%20b%22c%5Cd"),
        ("target", "/caf%C3%A9", "/caf%C3%A9"),
        ("target", "/café", "/caf%C3%A9"),
        ("target", "/100%", "/100%25"),
        ("target", "/a%2Fb", "/a/b"),
        ("target", "/a\u{7f}\n", "/a%7F%0A"),
        // False-positive guards.
        ("target", "/time/10:20:30", "/time/10:20:30"),
        ("target", "/v/Foo::bar/dead:beef", "/v/Foo::bar/dead:beef"),
        // Referrers.
        (
            "referrer",
            "https://www.example.org/search?q=secret",
            "https://www.example.org/search",
        ),
        (
            "referrer",
            "https://user:pw@example.com/p/123456",
            "https://example.com/p/{id}",
        ),
        ("referrer", "http://203.0.113.195/x", "http://203.0.113.0/x"),
        ("referrer", "-", "-"),
        (
            "keep:referrer",
            "https://example.org/?token=abc&q=x",
            "https://example.org/?token=<redacted>&q=x",
        ),
        // Referrer hosts.
        (
            "referrer_host",
            "https://www.example.org/search?q=x",
            "https://www.example.org",
        ),
        (
            "referrer_host",
            "HTTPS://WWW.Example.ORG:8443/",
            "https://www.example.org",
        ),
        (
            "referrer_host",
            "https://user:pass@example.org/",
            "https://example.org",
        ),
        (
            "referrer_host",
            "https://jane%40example.org@example.com/",
            "https://example.com",
        ),
        (
            "referrer_host",
            "http://203.0.113.195:8080/x",
            "http://203.0.113.0",
        ),
        (
            "referrer_host",
            "http://[2001:db8::1]:8080/",
            "http://[2001:db8::]",
        ),
        (
            "referrer_host",
            "http://[::ffff:203.0.113.9]/",
            "http://203.0.113.0",
        ),
        (
            "referrer_host",
            "http://2001:db8::1/",
            "http://[2001:db8::]",
        ),
        (
            "referrer_host",
            "http://[fe80::1%25eth0]/",
            "http://[fe80::]",
        ),
        (
            "referrer_host",
            "http://ip-203-0-113-195.example.org/",
            "http://ip-203-0-113-0.example.org",
        ),
        (
            "referrer_host",
            "http://203.0.113.195.example.org/",
            "http://203.0.113.0.example.org",
        ),
        (
            "referrer_host",
            "android-app://com.example.app",
            "android-app://com.example.app",
        ),
        (
            "referrer_host",
            " https://example.org ",
            "https://example.org",
        ),
        ("referrer_host", "-", ""),
        ("referrer_host", "", ""),
        ("referrer_host", "/relative/path", ""),
        ("referrer_host", "www.example.org/x", ""),
        ("referrer_host", "http:///x", ""),
        ("referrer_host", "http://user@:80/", ""),
        // Free text: user agents go through unchanged.
        (
            "text",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36",
        ),
        (
            "text",
            "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
            "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
        ),
        (
            "text",
            "Edg/120.0.2210.91 OPR/105.0.0.0",
            "Edg/120.0.2210.91 OPR/105.0.0.0",
        ),
        (
            "text",
            "ExampleBot/1.0 (+http://www.example.org/bot; bot@example.org)",
            "ExampleBot/1.0 (+http://www.example.org/bot; <email>)",
        ),
        ("text", "Firefox/1.2.3.4", "Firefox/1.2.3.0"),
        // Free text: addresses.
        (
            "text",
            "client 203.0.113.195 said hi",
            "client 203.0.113.0 said hi",
        ),
        (
            "text",
            "from 2001:db8:85a3::8a2e:370:7334.",
            "from 2001:db8:85a3::.",
        ),
        ("text", "[2001:db8::1]:443", "[2001:db8::]:443"),
        ("text", "fe80::822a:a8ff:fe49:470c%eth0", "fe80::%eth0"),
        ("text", "::ffff:203.0.113.9", "203.0.113.0"),
        ("text", "::FFFF:cb00:7109", "203.0.113.0"),
        ("text", "ip%3D1.2.3.4", "ip=1.2.3.0"),
        ("text", "2001%253Adb8%253A%253A1", "2001:db8::"),
        ("text", "010.001.002.003", "10.1.2.0"),
        ("text", "1.2.3.4:8080, 5.6.7.8", "1.2.3.0:8080, 5.6.7.0"),
        ("text", "0.0.0.0 and ::", "0.0.0.0 and ::"),
        ("text", "1.2.3.4.5", "1.2.3.0.5"),
        // Free text: false-positive guards.
        ("text", "at 10:20:30 ok", "at 10:20:30 ok"),
        (
            "text",
            "Foo::bar dead:beef std::vec",
            "Foo::bar dead:beef std::vec",
        ),
        (
            "text",
            "1111.2.3.4 256.1.1.1 1.2.3",
            "1111.2.3.4 256.1.1.1 1.2.3",
        ),
        ("text", "00:1a:2b:3c:4d:5e", "00:1a:2b:3c:4d:5e"),
        ("text", "/user/12345?q=1", "/user/12345?q=1"),
        ("text", "100% done", "100% done"),
        ("text", "Foo%20Bar", "Foo Bar"),
        // Free text: e-mails, userinfo, secrets.
        ("text", "jane%40example.org", "<email>"),
        (
            "text",
            "mailto:jane.doe+tag@example.org.",
            "mailto:<email>.",
        ),
        ("text", "root@localhost @handle", "root@localhost @handle"),
        (
            "text",
            "see https://user:pw@example.org/x",
            "see https://example.org/x",
        ),
        ("text", "ftp://anon@example.org", "ftp://example.org"),
        ("text", "token=abc123&x=1", "token=<redacted>&x=1"),
        (
            "text",
            "API_KEY=zzz; keyboard=1",
            "API_KEY=<redacted>; keyboard=1",
        ),
        ("text", "session=abc, other", "session=<redacted>, other"),
        (
            "text",
            "my_access_token=abc zipcode=12345",
            "my_access_token=<redacted> zipcode=12345",
        ),
        (
            "text",
            "X-Api-Key:abc user[password]=p",
            "X-Api-Key:<redacted> user[password]=<redacted>",
        ),
        ("text", "password:hunter2", "password:<redacted>"),
        ("text", "token=jane@example.org", "token=<redacted>"),
        ("text", "1.2.3.4@example.org", "<email>"),
        ("text", "session:2001:db8::1", "session:<redacted>"),
    ];

    #[test]
    fn cases() {
        for &(method, input, expected) in CASES {
            check(method, input, expected);
        }
    }

    #[test]
    fn masks_are_used() {
        let s = Scrubber::new(ScrubConfig {
            masks: Masks::new(16, 32).unwrap(),
            ..ScrubConfig::default()
        });
        let got = run(&s, "text", b"203.0.113.195 2001:db8:85a3::1");
        assert_eq!(got, b"203.0.0.0 2001:db8::");
    }

    #[test]
    fn configured_secrets_replace_the_defaults() {
        let s = Scrubber::new(ScrubConfig {
            secret_params: vec!["Pin".into()],
            ..ScrubConfig::default()
        });
        assert_eq!(
            run(&s, "text", b"pin=1234 code=5"),
            b"pin=<redacted> code=5"
        );
        assert_eq!(
            run(&s, "text", b"refresh_token=x"),
            b"refresh_token=<redacted>"
        );
    }

    // ---- Properties -------------------------------------------------------------------

    /// One pass of ordinary percent-decoding.
    fn decode_once(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            if s[i] == b'%'
                && i + 2 < s.len()
                && let (Some(h), Some(l)) = (hex_val(s[i + 1]), hex_val(s[i + 2]))
            {
                out.push(h * 16 + l);
                i += 3;
            } else {
                out.push(s[i]);
                i += 1;
            }
        }
        out
    }

    /// Addresses as a naive reader finds them: tokens of `[0-9a-fA-F:.]` that parse, with or
    /// without a trailing `:port`.
    fn naive_addresses(s: &[u8]) -> Vec<IpAddr> {
        let mut found = Vec::new();
        let is_addr_byte = |b: &u8| b.is_ascii_hexdigit() || *b == b':' || *b == b'.';
        for token in s.split(|b| !is_addr_byte(b)) {
            let Ok(t) = std::str::from_utf8(token) else {
                continue;
            };
            found.extend(t.parse::<IpAddr>().ok());
            if let Some((left, _)) = t.rsplit_once(':') {
                found.extend(left.parse::<IpAddr>().ok());
            }
        }
        found
    }

    /// Panics if `out`, as written or decoded once or twice, shows one of `inputs` other than
    /// truncated.
    fn assert_no_leak(out: &[u8], inputs: &[IpAddr], masks: Masks, what: &str) {
        let once = decode_once(out);
        let twice = decode_once(&once);
        for view in [out, &once[..], &twice[..]] {
            for found in naive_addresses(view) {
                let leaked = anon::truncate(found, masks) != found
                    && inputs
                        .iter()
                        .any(|i| anon::unwrap_embedded(*i) == anon::unwrap_embedded(found));
                assert!(
                    !leaked,
                    "{what}: {found} in {:?}",
                    String::from_utf8_lossy(view)
                );
            }
        }
    }

    fn percent_encode_some(s: &str, which: &[u8], double: bool) -> String {
        let mut out = String::new();
        for c in s.chars() {
            if c.is_ascii() && which.contains(&(c as u8)) {
                if double {
                    out.push_str(&format!("%25{:02X}", c as u8));
                } else {
                    out.push_str(&format!("%{:02x}", c as u8));
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// An address written in one of many ways.
    fn address_fragment() -> impl Strategy<Value = (IpAddr, String)> {
        let v4 = any::<[u8; 4]>().prop_map(|o| IpAddr::V4(o.into()));
        let v6 = any::<[u8; 16]>().prop_map(|o| IpAddr::V6(o.into()));
        let mapped = any::<[u8; 4]>().prop_map(|o| IpAddr::V6(Ipv4Addr::from(o).to_ipv6_mapped()));
        (prop_oneof![v4, v6, mapped], 0u8..12, any::<u16>()).prop_map(|(ip, form, port)| {
            let plain = ip.to_string();
            let text = match (ip, form) {
                (IpAddr::V4(v4), 1) => {
                    let o = v4.octets();
                    format!("{:03}.{:03}.{:03}.{:03}", o[0], o[1], o[2], o[3])
                }
                (IpAddr::V4(_), 2) => format!("{plain}:{port}"),
                (IpAddr::V6(v6), 1) => {
                    let s = v6.segments();
                    s.map(|g| format!("{g:04X}")).join(":")
                }
                (IpAddr::V6(_), 2) => format!("[{plain}]:{port}"),
                (IpAddr::V6(_), 3) => format!("[{plain}]"),
                (IpAddr::V6(_), 4) => format!("{plain}%eth0"),
                (IpAddr::V6(_), 5) => format!("{plain}%25eth0"),
                (_, 6) => percent_encode_some(&plain, b":.", false),
                (_, 7) => percent_encode_some(&plain, b":.", true),
                (_, 8) => format!("%5B{}%5D", percent_encode_some(&plain, b":", false)),
                (_, 9) => format!("ip%3D{plain}"),
                (_, 10) => percent_encode_some(&plain, b"0123456789abcdef:.", false),
                _ => plain,
            };
            (ip, text)
        })
    }

    #[derive(Debug, Clone)]
    enum Fragment {
        Address(IpAddr, String),
        Text(Vec<u8>),
    }

    fn fragment() -> impl Strategy<Value = Fragment> {
        let email = ("[a-z0-9][a-z0-9._]{0,7}", any::<bool>()).prop_map(|(local, encoded)| {
            let at = if encoded { "%40" } else { "@" };
            Fragment::Text(format!("{local}{at}example.org").into_bytes())
        });
        let separator = prop::sample::select(vec![
            " ",
            "/",
            "?",
            "&",
            "=",
            "[",
            "]",
            ":",
            ".",
            "%",
            "@",
            "ip=",
            "token=",
            "https://u:p@",
            "http://",
            ", ",
            ";",
            "%3A",
            "%25",
            "-",
        ])
        .prop_map(|s| Fragment::Text(s.as_bytes().to_vec()));
        let bytes = prop::collection::vec(any::<u8>(), 0..6).prop_map(Fragment::Text);
        let hexish = "[0-9a-fA-F:.]{0,6}".prop_map(|s| Fragment::Text(s.into_bytes()));
        prop_oneof![
            4 => address_fragment().prop_map(|(ip, s)| Fragment::Address(ip, s)),
            1 => email,
            3 => separator,
            2 => bytes,
            1 => hexish,
        ]
    }

    fn assemble(fragments: &[Fragment]) -> (Vec<u8>, Vec<IpAddr>) {
        let mut input = Vec::new();
        let mut ips = Vec::new();
        for f in fragments {
            match f {
                Fragment::Address(ip, s) => {
                    ips.push(*ip);
                    input.extend_from_slice(s.as_bytes());
                }
                Fragment::Text(t) => input.extend_from_slice(t),
            }
        }
        (input, ips)
    }

    const METHODS: [&str; 4] = ["target", "referrer", "text", "referrer_host"];

    /// Bytes rich in what the scrubber reacts to.
    fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(b"0123456789abcdefABCDEF:.%@=/?&#[]; -_xzt".to_vec()),
                1 => any::<u8>(),
            ],
            0..80,
        )
    }

    #[test]
    fn push_ip_table() {
        for text in [
            "::",
            "::1",
            "1::",
            "2001:db8::",
            "2001:db8:0:1::",
            "1:0:0:2:0:0:0:3",
            "1:0:0:2:0:0:3:4",
            "0:1:0:0:0:0:0:0",
            "1:2:3:4:5:6:7:8",
            "1:0:3:4:5:6:7:8",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "64:ff9b::1.2.3.4",
            "ffff:abcd:ef01:2345:6789:a:bc:def",
            "0.0.0.0",
            "255.255.255.255",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            let mut out = Vec::new();
            push_ip(&mut out, ip);
            assert_eq!(String::from_utf8(out).unwrap(), ip.to_string(), "{text}");
        }
    }

    proptest! {
        #[test]
        fn push_ip_is_display(g in any::<[u16; 8]>(), zeros in any::<u8>(), v4 in any::<u32>()) {
            // Zero groups are common in addresses: clear those flagged in `zeros`.
            let mut g = g;
            for (k, v) in g.iter_mut().enumerate() {
                if zeros >> k & 1 == 1 {
                    *v = 0;
                }
            }
            for ip in [
                IpAddr::V6(Ipv6Addr::from(g)),
                IpAddr::V6(Ipv4Addr::from(v4).to_ipv6_mapped()),
                IpAddr::V4(Ipv4Addr::from(v4)),
            ] {
                let mut out = Vec::new();
                push_ip(&mut out, ip);
                prop_assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
            }
        }
    }

    /// Gaps between the fields of a line: what `between_fields` writes, which is what `text`
    /// writes.
    #[test]
    fn between_fields_table() {
        let check = |s: &Scrubber, gap: &str, expected: &str| {
            let mut out = Vec::new();
            s.between_fields(gap.as_bytes(), &mut out);
            assert_eq!(
                String::from_utf8_lossy(&out),
                expected,
                "between_fields({gap:?})"
            );
            let mut slow = Vec::new();
            s.text(gap.as_bytes(), &mut slow);
            assert_eq!(out, slow, "text({gap:?})");
        };
        let (plain, _) = scrubbers();
        let pin = Scrubber::new(ScrubConfig {
            secret_params: ["2026".to_string()].to_vec(),
            ..ScrubConfig::default()
        });
        for (gap, expected) in [
            (
                " - - [05/Oct/2026:00:00:02 +0000] \"",
                " - - [05/Oct/2026:00:00:02 +0000] \"",
            ),
            ("\" 200 44931 \"", "\" 200 44931 \""),
            ("] 10.1.2.3 [", "] 10.1.2.0 ["),
            (
                " [05/Oct/2026:00:00:02 +0000] 198.51.100.7",
                " [05/Oct/2026:00:00:02 +0000] 198.51.100.0",
            ),
            (
                " a@example.org [05/Oct/2026:00:00:02 +0000]",
                " <email> [05/Oct/2026:00:00:02 +0000]",
            ),
            (" [2001:db8:1:2:3:4:5:6] ", " [2001:db8:1::] "),
            ("", ""),
        ] {
            check(&plain, gap, expected);
        }
        // A secret name ending in a digit: the timestamp is scrubbed like any text.
        check(
            &pin,
            "[05/Oct/2026:00:00:02 +0000]",
            "[05/Oct/2026:<redacted> +0000]",
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_address_survives(fragments in prop::collection::vec(fragment(), 1..10)) {
            let (input, ips) = assemble(&fragments);
            let (plain, keep) = scrubbers();
            for s in [&plain, &keep] {
                for method in METHODS {
                    let out = run(s, method, &input);
                    let what = format!("{method}({:?})", String::from_utf8_lossy(&input));
                    assert_no_leak(&out, &ips, s.config().masks, &what);
                    for f in &fragments {
                        if let Fragment::Text(t) = f
                            && t.ends_with(b"@example.org")
                        {
                            prop_assert!(
                                !out.windows(t.len()).any(|w| w == &t[..]),
                                "{}: e-mail kept in {:?}", what, String::from_utf8_lossy(&out)
                            );
                        }
                    }
                }
            }
        }

        #[test]
        fn idempotent_on_fragments(fragments in prop::collection::vec(fragment(), 1..10)) {
            let (input, _) = assemble(&fragments);
            let (plain, keep) = scrubbers();
            for s in [&plain, &keep] {
                for method in METHODS {
                    let once = run(s, method, &input);
                    let twice = run(s, method, &once);
                    prop_assert_eq!(
                        String::from_utf8_lossy(&twice),
                        String::from_utf8_lossy(&once),
                        "{}({:?})", method, String::from_utf8_lossy(&input)
                    );
                }
            }
        }

        #[test]
        fn idempotent_on_tricky_bytes(input in tricky_bytes()) {
            let (plain, keep) = scrubbers();
            for s in [&plain, &keep] {
                for method in METHODS {
                    let once = run(s, method, &input);
                    let twice = run(s, method, &once);
                    prop_assert_eq!(
                        String::from_utf8_lossy(&twice),
                        String::from_utf8_lossy(&once),
                        "{}({:?})", method, String::from_utf8_lossy(&input)
                    );
                }
            }
        }

        /// The fast paths of `between_fields` give what `text` gives, for timestamps among
        /// other text and for the scrubber whose secret names end in a digit.
        #[test]
        fn between_fields_is_text(
            before in tricky_bytes(),
            stamp in prop::collection::vec(
                prop::sample::select(b"0123456789AaFfeDbcz:/+- []".to_vec()), 28),
            after in tricky_bytes(),
            shaped in any::<bool>(),
        ) {
            let mut stamp = stamp;
            if shaped {
                // Mostly timestamps of the right shape, with any digits and letters.
                for (c, s) in stamp.iter_mut().zip(b"[00/Aaa/0000:00:00:00 +0000]") {
                    if !matches!(s, b'0' | b'A' | b'a') {
                        *c = *s;
                    }
                }
            }
            let digit_secret = Scrubber::new(ScrubConfig {
                secret_params: ["pin2".to_string(), "00".to_string()].to_vec(),
                ..ScrubConfig::default()
            });
            let (plain, keep) = scrubbers();
            for gap in [&before[..], &[&before[..], &stamp[..], &after[..]].concat(),
                        &[b" - - ", &stamp[..], b" \""].concat()] {
                for s in [&plain, &keep, &digit_secret] {
                    let (mut fast, mut slow) = (b"x".to_vec(), b"x".to_vec());
                    s.between_fields(gap, &mut fast);
                    s.text(gap, &mut slow);
                    prop_assert_eq!(
                        String::from_utf8_lossy(&fast),
                        String::from_utf8_lossy(&slow),
                        "{:?}", String::from_utf8_lossy(gap)
                    );
                }
            }
        }

        /// A referrer's host, from the decoded field, is the host of its `referrer_key`, under
        /// every escaping convention, for fields that start like common referrers and go on
        /// with anything (escapes, addresses, userinfo, percent-encoding).
        #[test]
        fn referrer_key_decides_the_host(
            scheme in prop::sample::select(vec!["http", "https", "HTTPS", "android-app", "h2", ""]),
            host in prop::collection::vec(
                prop::sample::select(b"abcXYZ.-0123456789:@%[]\\_".to_vec()), 0..24),
            end in prop::sample::select(vec!["", "/", "?", "#", "\\", "\\x2F", "\\x2e", ":", "@"]),
            rest in tricky_bytes(),
        ) {
            use crate::parse::{escape::decode, Escaping};
            let raw = [scheme.as_bytes(), b"://", &host, end.as_bytes(), &rest].concat();
            let key = Scrubber::referrer_key(&raw);
            let (plain, keep) = scrubbers();
            for s in [&plain, &keep] {
                for escaping in [Escaping::Log, Escaping::Json, Escaping::Raw] {
                    let (mut full, mut short) = (Vec::new(), Vec::new());
                    let a = s.referrer_host(&decode(&raw, escaping), &mut full);
                    let b = s.referrer_host(&decode(key, escaping), &mut short);
                    prop_assert_eq!(
                        (a, String::from_utf8_lossy(&full)),
                        (b, String::from_utf8_lossy(&short)),
                        "{:?} ({:?}) under {:?}", String::from_utf8_lossy(&raw),
                        String::from_utf8_lossy(key), escaping
                    );
                }
            }
        }

        #[test]
        fn never_panics(input in prop::collection::vec(any::<u8>(), 0..200)) {
            let (plain, keep) = scrubbers();
            for s in [&plain, &keep] {
                for method in METHODS {
                    let _ = run(s, method, &input);
                }
            }
        }
    }
}
