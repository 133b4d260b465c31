//! Line parsers: bytes in, borrowed [`Record`]s or a [`Reject`] reason out. Owns log syntax and
//! escaping; never allocates on the common path, never looks anything up, never panics.

pub mod aws;
pub mod clf;
pub mod escape;
pub mod formats;
pub mod json;
pub mod logformat;
pub mod time;
pub mod w3c;

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
    /// The authenticated user as written (CLF `%u`, nginx `$remote_user`, W3C `cs-username`,
    /// a JSON user key); `None` when the format has no such field.
    pub user: Option<&'a [u8]>,
    /// A query string logged in a field of its own, without its `?` (W3C and CloudFront
    /// `cs-uri-query`); `None` when the target carries the query or the format has none.
    pub query: Option<&'a [u8]>,
    /// Fields that identify a person or hold credentials and that nothing reads, located so
    /// that the anonymised copy can replace them with `-`: cookie, set-cookie and
    /// authorization headers of a format string (`%{Cookie}i`, `$http_cookie`, `$cookie_*`,
    /// `%{Set-Cookie}o`, `%{Authorization}i`, …), CloudFront's and W3C's `cs(Cookie)`, and an
    /// identd user name (`%l`) other than `-`. Filled from the first slot; a value that is
    /// `-` or empty is not recorded. Fixed-size so that parsing never allocates; a format
    /// string with more such fields than slots says so ([`logformat::LogFormat::secrets_fit`]).
    pub secrets: [Option<&'a [u8]>; SECRET_SLOTS],
    /// How the text fields are escaped, so that consumers decode them the right way.
    pub escaping: Escaping,
    /// The timestamp as written, without its brackets, when the parser read it as a CLF
    /// timestamp (`dd/Mon/yyyy:HH:MM:SS +zzzz`, every byte checked): the anonymised copy
    /// keeps it as it is.
    pub stamp: Option<&'a [u8]>,
}

/// Slots of [`Record::secrets`].
pub const SECRET_SLOTS: usize = 4;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Detect from a sample of lines at the start of each input.
    Auto,
    /// Common or Combined, with an optional trailing X-Forwarded-For field, decided per line.
    Clf,
    /// `%h %l %u %t "%r" %>s %b`
    Common,
    /// `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`
    Combined,
    /// nginx combined plus `"$http_x_forwarded_for"`
    #[value(alias = "combined_xff")]
    CombinedXff,
    /// Debian's `%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"`
    #[value(alias = "vhost_combined")]
    VhostCombined,
    /// Caddy's JSON access log.
    #[value(alias = "caddy_json")]
    CaddyJson,
    /// nginx `log_format ... escape=json` JSON lines.
    #[value(alias = "nginx_json")]
    NginxJson,
    /// Traefik's JSON access log.
    #[value(alias = "traefik_json")]
    TraefikJson,
    /// Traefik's CLF access log (Combined plus request count, router, backend URL, duration).
    #[value(alias = "traefik_clf")]
    TraefikClf,
    /// IIS / W3C extended, driven by `#Fields:` headers (which may change mid-file).
    W3c,
    /// AWS Application Load Balancer access log.
    #[value(alias = "aws_alb")]
    AwsAlb,
    /// AWS CloudFront standard log (tab-separated).
    Cloudfront,
}

impl Format {
    /// Every named format, in the order detection prefers them on a tie.
    pub const NAMED: [Format; 12] = [
        Format::Combined,
        Format::CombinedXff,
        Format::Common,
        Format::Clf,
        Format::VhostCombined,
        Format::TraefikClf,
        Format::CaddyJson,
        Format::TraefikJson,
        Format::NginxJson,
        Format::W3c,
        Format::AwsAlb,
        Format::Cloudfront,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Clf => "clf",
            Format::Common => "common",
            Format::Combined => "combined",
            Format::CombinedXff => "combined-xff",
            Format::VhostCombined => "vhost-combined",
            Format::CaddyJson => "caddy-json",
            Format::NginxJson => "nginx-json",
            Format::TraefikJson => "traefik-json",
            Format::TraefikClf => "traefik-clf",
            Format::W3c => "w3c",
            Format::AwsAlb => "aws-alb",
            Format::Cloudfront => "cloudfront",
        }
    }

    /// Whether lines starting with `#` are directives of the format rather than data.
    pub fn has_directives(self) -> bool {
        matches!(self, Format::W3c | Format::Cloudfront)
    }

    /// Parses one line (without its newline). W3C lines need the `#Fields:` header in effect:
    /// pass it as `w3c` (without one, every W3C line is rejected).
    #[inline(always)]
    pub fn parse<'a>(
        self,
        line: &'a [u8],
        w3c: Option<&w3c::W3cFields>,
    ) -> Result<Record<'a>, Reject> {
        let shape = |ok: bool, rec: Record<'a>| {
            if ok {
                Ok(rec)
            } else {
                Err(Reject {
                    reason: RejectReason::TrailingData,
                    offset: line.len(),
                })
            }
        };
        match self {
            Format::Auto | Format::Clf => clf::parse(line),
            Format::Common => {
                let (rec, rest) = clf::parse_prefix(line, false)?;
                let extra = match rec.referer {
                    // Where the referer's field starts (after its separating space).
                    Some(r) => {
                        Some((r.as_ptr() as usize - line.as_ptr() as usize).saturating_sub(1))
                    }
                    None => (!rest.is_empty()).then(|| line.len() - rest.len()),
                };
                match extra {
                    Some(offset) => Err(Reject {
                        reason: RejectReason::TrailingData,
                        offset,
                    }),
                    None => Ok(rec),
                }
            }
            Format::Combined => {
                let rec = clf::parse(line)?;
                let ok = rec.user_agent.is_some() && rec.forwarded_for.is_none();
                shape(ok, rec)
            }
            Format::CombinedXff => {
                let rec = clf::parse(line)?;
                let ok = rec.forwarded_for.is_some();
                shape(ok, rec)
            }
            Format::VhostCombined => formats::parse_vhost_combined(line),
            Format::TraefikClf => formats::parse_traefik_clf(line),
            Format::CaddyJson => json::parse_caddy(line),
            Format::NginxJson => json::parse_nginx_json(line),
            Format::TraefikJson => json::parse_traefik_json(line),
            Format::W3c => match w3c {
                Some(fields) => fields.parse(line),
                None => Err(Reject {
                    reason: RejectReason::BadRequest,
                    offset: 0,
                }),
            },
            Format::AwsAlb => aws::parse_alb(line),
            Format::Cloudfront => aws::parse_cloudfront(line),
        }
    }
}
