//! Line parsers: bytes in, borrowed [`Record`]s or a [`Reject`] reason out. Owns log syntax and
//! escaping; never allocates on the common path, never looks anything up, never panics.

pub mod clf;
pub mod escape;
pub mod logformat;
pub mod time;
pub mod json; pub mod w3c; pub mod aws;

/// One parsed access-log line. Every slice borrows from the input chunk and is still escaped
/// as the server wrote it (see [`escape::unescape`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The client field as written: an address, maybe with a port or brackets, or a hostname.
    pub client: &'a [u8],
    /// Seconds since the Unix epoch, UTC.
    pub time: i64,
    /// The whole request line (`GET /x HTTP/1.1`, or `-`, or garbage).
    pub request: &'a [u8],
    pub method: &'a [u8],
    pub target: &'a [u8],
    pub protocol: &'a [u8],
    pub status: u16,
    /// Response bytes; `-` counts as 0.
    pub bytes: u64,
    pub referer: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    /// A trailing X-Forwarded-For list, when the line has one.
    pub forwarded_for: Option<&'a [u8]>,
    /// Virtual host, for formats that carry one.
    pub vhost: Option<&'a [u8]>,
    /// Time taken to serve the request, in microseconds, for formats that carry it.
    pub duration_us: Option<u64>,
    /// How the text fields are escaped, so that consumers decode them the right way.
    pub escaping: Escaping,
}

/// The escape convention of a record's text fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Escaping {
    /// Apache and nginx access-log escapes (`\"`, `\\`, `\xHH`, C-style): see [`escape::unescape`].
    #[default]
    Log,
    /// JSON string escapes (`\"`, `\\`, `\n`, `\uXXXX`).
    Json,
    /// None: the bytes are the value.
    Raw,
}

/// Why a line was not turned into a record. The names are stable: they appear in summaries,
/// manifests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    BadClient,
    BadIdent,
    BadUser,
    BadTimestamp,
    BadRequest,
    BadStatus,
    BadBytes,
    BadReferer,
    BadUserAgent,
    BadForwardedFor,
    TrailingData,
    LineTooLong,
}

impl RejectReason {
    pub const ALL: [RejectReason; 12] = [
        RejectReason::BadClient,
        RejectReason::BadIdent,
        RejectReason::BadUser,
        RejectReason::BadTimestamp,
        RejectReason::BadRequest,
        RejectReason::BadStatus,
        RejectReason::BadBytes,
        RejectReason::BadReferer,
        RejectReason::BadUserAgent,
        RejectReason::BadForwardedFor,
        RejectReason::TrailingData,
        RejectReason::LineTooLong,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::BadClient => "bad_client",
            RejectReason::BadIdent => "bad_ident",
            RejectReason::BadUser => "bad_user",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::BadRequest => "bad_request",
            RejectReason::BadStatus => "bad_status",
            RejectReason::BadBytes => "bad_bytes",
            RejectReason::BadReferer => "bad_referer",
            RejectReason::BadUserAgent => "bad_user_agent",
            RejectReason::BadForwardedFor => "bad_forwarded_for",
            RejectReason::TrailingData => "trailing_data",
            RejectReason::LineTooLong => "line_too_long",
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A rejected line: the reason and the byte offset in the line where parsing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject {
    pub reason: RejectReason,
    pub offset: usize,
}

/// Input formats understood by the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Combined or Common Log Format, with an optional trailing X-Forwarded-For field (detected per line).
    Auto,
    /// `%h %l %u %t "%r" %>s %b`
    Common,
    /// `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`
    Combined,
    /// nginx combined plus `"$http_x_forwarded_for"`
    CombinedXff,
}

impl Format {
    /// Parses one line (without its newline) in this format.
    #[inline]
    pub fn parse<'a>(self, line: &'a [u8]) -> Result<Record<'a>, Reject> {
        let rec = clf::parse(line)?;
        let ok = match self {
            Format::Auto => true,
            Format::Common => rec.referer.is_none(),
            Format::Combined => rec.user_agent.is_some() && rec.forwarded_for.is_none(),
            Format::CombinedXff => rec.forwarded_for.is_some(),
        };
        if ok {
            Ok(rec)
        } else {
            Err(Reject {
                reason: RejectReason::TrailingData,
                offset: line.len(),
            })
        }
    }
}
