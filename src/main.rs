//! The `logveil` command line: options, exit codes and printing. Owns no pipeline logic.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use logveil::agg::ReportSet;
use logveil::anon::Masks;
use logveil::diag::DiagMode;
use logveil::geo::GeoDb;
use logveil::parse::Format;
use logveil::parse::logformat::LogFormat;
use logveil::pipeline::{self, Options};
use logveil::publish::Rules;
use logveil::scrub::ScrubConfig;
use logveil::source::{DEFAULT_CHUNK, InputSpec};
use logveil::timeopt;

/// Turns web-server access logs into privacy-safe analytics: broad geography looked up on the
/// full IP, truncated addresses, Parquet reports for analysts, and raw IPs only in a
/// short-retention diagnostics store that logveil expires itself.
#[derive(Parser)]
#[command(name = "logveil", version, propagate_version = true)]
struct Cli {
    /// Use this time as "now" for every command (RFC 3339, e.g. 2026-10-12T00:00:00Z): for
    /// tests, scripts and backfills. Expiry of diagnostics is computed from it.
    #[arg(long, global = true, value_name = "RFC3339")]
    now: Option<String>,
    /// Print nothing on stderr but errors.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, enrich, anonymise and aggregate access logs; write reports, diagnostics and a
    /// run manifest under --out. Expired diagnostics are purged first.
    Process(Box<ProcessArgs>),
    /// Explain why lines of FILE do not parse: the line, the field and byte offset where each
    /// failing line stopped, and the formats ranked by how many sample lines each parses.
    /// Excerpts of lines are shown only when stdout is a terminal (they may hold personal data).
    CheckFormat {
        /// The log to check (plain, .gz or .zst).
        file: PathBuf,
        /// The format to check against (default: the one detection picks).
        #[arg(long, value_enum, default_value_t = Format::Auto)]
        format: Format,
        /// How many failing lines to explain.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Check against an Apache `LogFormat` string instead.
        #[arg(long, value_name = "FORMAT", conflicts_with = "nginx_format")]
        log_format: Option<String>,
        /// Check against an nginx `log_format` string instead.
        #[arg(long, value_name = "FORMAT")]
        nginx_format: Option<String>,
    },
    /// Write an anonymised copy of access logs in their own format, line for line: clients
    /// truncated, users and credentials blanked, targets, referrers and free text scrubbed.
    /// Lines that do not parse are counted on stderr and never copied. Reads stdin when no
    /// FILE (or `-`) is given, line by line from a pipe (for Apache's piped `CustomLog`).
    Anonymise(AnonymiseArgs),
    /// Delete expired diagnostics and visitor salts now, and list what was deleted.
    Purge {
        /// Output tree.
        #[arg(long, default_value = "logveil-out")]
        out: PathBuf,
        /// Print what was deleted as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Query the unexpired diagnostics: raw rows by client, status, time, path or vhost.
    Diag(DiagArgs),
    /// Remove every diagnostics row of a client (an address or a CIDR network), rewriting each
    /// file that holds one; prints how many rows left which file.
    Forget {
        /// The client: an address (IPv4, IPv6 or IPv4-mapped) or a network.
        #[arg(value_name = "ADDR|CIDR", value_parser = parse_cidr)]
        client: ipnet::IpNet,
        /// Output tree.
        #[arg(long, default_value = "logveil-out")]
        out: PathBuf,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List the personal data an output tree holds: diagnostics rows per day with raw
    /// addresses, their time span and expiry, visitor salts and their expiry, sizes.
    Audit {
        /// Output tree.
        #[arg(long, default_value = "logveil-out")]
        out: PathBuf,
        /// Print the inventory as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script on stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout.
    Man,
}

#[derive(Args)]
struct DiagArgs {
    /// Output tree.
    #[arg(long, default_value = "logveil-out")]
    out: PathBuf,
    /// Rows of this client: an address or a CIDR network.
    #[arg(long, value_name = "ADDR|CIDR", value_parser = parse_cidr)]
    ip: Option<ipnet::IpNet>,
    /// Status codes: `5xx`, `404`, `500-504`, comma-separated.
    #[arg(long, value_name = "CODES", value_parser = logveil::diagquery::StatusSet::parse)]
    status: Option<logveil::diagquery::StatusSet>,
    /// Rows at or after this time: RFC 3339, or a duration before now (`2h`, `3d`).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Rows before this time: RFC 3339, or a duration before now.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Rows whose request target starts with this.
    #[arg(long, value_name = "PREFIX")]
    path_prefix: Option<String>,
    /// Rows of this virtual host.
    #[arg(long)]
    vhost: Option<String>,
    /// At most this many rows (0: all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// One JSON object per row on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ProcessArgs {
    /// Input log files; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    inputs: Vec<String>,
    /// Output tree (reports/, diagnostics/, runs/).
    #[arg(long, short, default_value = "logveil-out")]
    out: PathBuf,
    /// Log format: a named one, or `auto` to detect it from the first lines of each input.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    format: Format,
    /// An Apache `LogFormat` string (e.g. '%h %l %u %t "%r" %>s %b'), compiled into the parser.
    #[arg(long, value_name = "FORMAT", conflicts_with_all = ["format", "nginx_format"])]
    log_format: Option<String>,
    /// An nginx `log_format` string (e.g. '$remote_addr - $remote_user [$time_local] "$request" ...').
    #[arg(long, value_name = "FORMAT", conflicts_with_all = ["format", "log_format"])]
    nginx_format: Option<String>,
    /// MaxMind-format geo database (GeoIP2/GeoLite2 Country or City, DB-IP, or the flat
    /// country_code schema). Default: the country database embedded in the binary.
    #[arg(long, value_name = "PATH")]
    geoip: Option<PathBuf>,
    /// Prefix length kept of IPv4 addresses.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u8).range(0..=32))]
    ipv4_prefix: u8,
    /// Prefix length kept of IPv6 addresses.
    #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u8).range(0..=128))]
    ipv6_prefix: u8,
    /// Which lines the raw diagnostics store keeps.
    #[arg(long, value_enum, default_value_t = DiagMode::Errors)]
    diagnostics: DiagMode,
    /// How long diagnostics are kept, from the start of their day (UTC): e.g. 7d, 36h.
    #[arg(long, default_value = "7d", value_parser = timeopt::parse_duration)]
    retention: i64,
    /// Largest share of rejected lines (0–1) before the run publishes nothing and exits 3.
    #[arg(long, default_value_t = 0.05)]
    max_reject_rate: f64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Read inputs with read() instead of memory-mapping them (for files that may still change).
    #[arg(long)]
    no_mmap: bool,
    /// When an input cannot be read to its end (missing, or a corrupt .gz/.zst), keep the
    /// results of the others and of its lines before the error; the run still exits 1.
    #[arg(long)]
    keep_going: bool,
    /// Chunk size in bytes for parallel processing.
    #[arg(long, default_value_t = DEFAULT_CHUNK, hide = true)]
    chunk_size: usize,
    /// A proxy (CIDR, repeatable) whose X-Forwarded-For entries are believed: the client is the
    /// right-most address of the list that is not a trusted proxy, as nginx's realip module
    /// does. Without it, the connecting address is the client.
    #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = parse_cidr)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Lines longer than this many bytes are rejected (`line_too_long`) and the run goes on.
    #[arg(long, default_value_t = 64 * 1024)]
    max_line_bytes: usize,
    /// Print the run summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    scrub: ScrubArgs,
    /// Rows with fewer distinct visitors than this are folded into their parent's `(other)`
    /// row before publication; 0 disables suppression (edge servers whose reports are merged).
    #[arg(long, default_value_t = 10)]
    k_min: u64,
    /// Pages kept per day in pages_daily; the rest are summed in `(other)` rows.
    #[arg(long, default_value_t = 1000)]
    top_pages: usize,
    /// Referrer hosts kept per day in referrers_daily.
    #[arg(long, default_value_t = 500)]
    top_referrers: usize,
    /// A file holding a shared secret (at least 16 bytes) from which each day's visitor salt is
    /// derived, so that the visitor sketches of several servers can be merged. Without it, each
    /// day gets a random salt under OUT/state/salts/, deleted when that day's diagnostics expire.
    #[arg(long, value_name = "FILE")]
    salt_file: Option<PathBuf>,
    /// Report tables to compute and write (comma-separated): geo_daily, traffic_hourly,
    /// pages_daily, referrers_daily, agents_daily, or all.
    #[arg(long, default_value = "all", value_parser = ReportSet::parse)]
    reports: ReportSet,
    /// Write an anonymised copy of each input into DIR, named as the input, in its format and
    /// compression: addresses truncated, users blanked, targets, referrers and agents
    /// scrubbed, lines that do not parse left out. Published with the reports.
    #[arg(long, value_name = "DIR")]
    anonymised_log: Option<PathBuf>,
}

/// What is kept of request targets and other strings that reach analysts.
#[derive(Args, Clone)]
struct ScrubArgs {
    /// Query parameters kept in published paths and copies (comma-separated); their values
    /// are still scrubbed. Every other parameter is removed.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    keep_query_params: Vec<String>,
    /// More parameter names whose values are always replaced by `<redacted>`
    /// (comma-separated), on top of the built-in list (token, password, session, …).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    secret_params: Vec<String>,
}

impl ScrubArgs {
    fn config(&self, masks: Masks) -> ScrubConfig {
        let mut cfg = ScrubConfig {
            masks,
            keep_query_params: self.keep_query_params.clone(),
            ..ScrubConfig::default()
        };
        cfg.secret_params.extend(self.secret_params.iter().cloned());
        cfg
    }
}

#[derive(Args)]
struct AnonymiseArgs {
    /// Input logs (plain, .gz or .zst); `-` or none reads standard input.
    #[arg(value_name = "FILE")]
    inputs: Vec<String>,
    /// Append the copy to this file (created with mode 0640) instead of writing stdout; a
    /// name ending in `.gz` or `.zst` is written compressed.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Log format: a named one, or `auto` to detect it from the first lines of each input.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    format: Format,
    /// An Apache `LogFormat` string, compiled into the parser.
    #[arg(long, value_name = "FORMAT", conflicts_with_all = ["format", "nginx_format"])]
    log_format: Option<String>,
    /// An nginx `log_format` string, compiled into the parser.
    #[arg(long, value_name = "FORMAT", conflicts_with_all = ["format", "log_format"])]
    nginx_format: Option<String>,
    /// Prefix length kept of IPv4 addresses.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u8).range(0..=32))]
    ipv4_prefix: u8,
    /// Prefix length kept of IPv6 addresses.
    #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u8).range(0..=128))]
    ipv6_prefix: u8,
    #[command(flatten)]
    scrub: ScrubArgs,
    /// Lines longer than this many bytes are rejected (`line_too_long`) and skipped.
    #[arg(long, default_value_t = 64 * 1024)]
    max_line_bytes: usize,
    /// Worker threads for file inputs (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Chunk size in bytes for parallel processing.
    #[arg(long, default_value_t = DEFAULT_CHUNK, hide = true)]
    chunk_size: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("logveil: error: {e:#}");
            let code = match e.downcast_ref::<logveil::Error>() {
                Some(e) if e.is_usage() => 2,
                Some(logveil::Error::FormatMismatch(_)) => 3,
                _ => 1,
            };
            ExitCode::from(code)
        }
    }
}

fn now(cli_now: &Option<String>) -> anyhow::Result<i64> {
    match cli_now {
        Some(s) => timeopt::parse_instant(s).map_err(|e| logveil::Error::Usage(e).into()),
        None => Ok(jiff::Timestamp::now().as_second()),
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let now = now(&cli.now)?;
    match cli.command {
        Command::Process(a) => process(*a, now, cli.quiet),
        Command::CheckFormat {
            file,
            format,
            limit,
            log_format,
            nginx_format,
        } => {
            use std::io::IsTerminal;
            let custom = compile(log_format.as_deref(), nginx_format.as_deref())?;
            let tty = std::io::stdout().is_terminal();
            let report = logveil::checkformat::check(&file, format, custom.as_deref(), limit, tty)?;
            print!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Anonymise(a) => anonymise(a, cli.quiet),
        Command::Purge { out, json } => {
            let mut r = logveil::diag::purge(&out, now)?;
            let salts = logveil::visitors::purge_salt_files(&out, now)?;
            r.salts_deleted = salts.len() as u64;
            if json {
                let files: Vec<_> = r.files.iter().chain(&salts).collect();
                println!("{}", serde_json::json!({"summary": r, "deleted": files}));
            } else if !cli.quiet {
                for f in r.files.iter().chain(&salts) {
                    println!("deleted {}", f.display());
                }
                eprintln!(
                    "purged {} expired diagnostics files ({} bytes) and {} visitor salts",
                    r.files_deleted, r.bytes_deleted, r.salts_deleted
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Diag(a) => diag(a, now, cli.quiet),
        Command::Forget { client, out, json } => {
            let r = logveil::diagquery::forget(&out, &client, now)?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                print!("{}", logveil::diagquery::render_forget(&r));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { out, json } => {
            let a = logveil::audit::audit(&out, now)?;
            if json {
                println!("{}", serde_json::to_string(&a)?);
            } else {
                print!(
                    "{}",
                    logveil::audit::render(&a, logveil::table::stdout_width())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "logveil",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn process(a: ProcessArgs, now: i64, quiet: bool) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&a.max_reject_rate) {
        return Err(logveil::Error::Usage(format!(
            "--max-reject-rate {} is not between 0 and 1",
            a.max_reject_rate
        ))
        .into());
    }
    let geo = match &a.geoip {
        Some(p) => GeoDb::open(p)?,
        None => GeoDb::embedded().context("embedded geo database")?,
    };
    let masks = Masks::new(a.ipv4_prefix, a.ipv6_prefix).map_err(logveil::Error::Usage)?;
    let opts = Options {
        inputs: a.inputs.iter().map(|s| InputSpec::parse(s)).collect(),
        out: a.out.clone(),
        format: a.format,
        masks,
        diagnostics: a.diagnostics,
        retention_secs: a.retention,
        max_reject_rate: a.max_reject_rate,
        threads: a.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        use_mmap: !a.no_mmap,
        keep_going: a.keep_going,
        trusted_proxies: a.trusted_proxies.clone(),
        custom_format: compile_format(&a)?,
        max_line_bytes: a.max_line_bytes,
        chunk_size: a.chunk_size.max(4096),
        scrub: a.scrub.config(masks),
        rules: Rules {
            k_min: a.k_min,
            top_pages: a.top_pages,
            top_referrers: a.top_referrers,
        },
        salt_file: a.salt_file.clone(),
        reports: a.reports,
        anonymised_log: a.anonymised_log.clone(),
        now,
        progress: None,
    };
    let mut opts = opts;
    let display = logveil::progress::wanted(quiet).then(|| {
        let counters = Arc::new(logveil::progress::Counters::default());
        opts.progress = Some(counters.clone());
        let paths: Vec<&std::path::Path> = a.inputs.iter().map(std::path::Path::new).collect();
        let total = if a.inputs.iter().any(|i| i == "-") {
            None
        } else {
            logveil::progress::known_size(&paths)
        };
        logveil::progress::Display::start(counters, total)
    });
    let outcome = pipeline::process(&opts, &geo);
    if let Some(d) = display {
        d.finish();
    }
    let outcome = outcome?;
    let s = &outcome.summary;
    if !quiet {
        eprint!("{}", logveil::manifest::human(s));
    }
    if a.json {
        println!("{}", serde_json::to_string(s)?);
    }
    if !outcome.published {
        eprintln!(
            "logveil: {} of {} lines ({:.2}%) were rejected, above --max-reject-rate {:.2}%: no report was published. \
             The format is probably wrong; run `logveil check-format FILE` to see why lines fail, or pass --format.",
            s.rejected,
            s.parsed + s.rejected,
            s.reject_rate * 100.0,
            s.max_reject_rate * 100.0
        );
        return Ok(ExitCode::from(3));
    }
    if outcome.failed_inputs > 0 {
        eprintln!(
            "logveil: {} input(s) could not be read to their end (see above)",
            outcome.failed_inputs
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn anonymise(a: AnonymiseArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    use logveil::anonymise::{CopyCtx, run};
    use logveil::scrub::Scrubber;
    let masks = Masks::new(a.ipv4_prefix, a.ipv6_prefix).map_err(logveil::Error::Usage)?;
    let scrub = a.scrub.config(masks);
    let custom = compile(a.log_format.as_deref(), a.nginx_format.as_deref())?;
    let detect = custom.is_none() && a.format == Format::Auto;
    let ctx = CopyCtx::new(
        a.format,
        custom,
        masks,
        Scrubber::new(scrub),
        a.max_line_bytes,
    )?;
    let inputs = a
        .inputs
        .iter()
        .map(|s| InputSpec::parse(s))
        .collect::<Vec<_>>();
    let opts = run::Options {
        inputs,
        output: a.output.clone(),
        ctx,
        detect,
        threads: a.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        chunk_size: a.chunk_size.max(4096),
    };
    let summary = run::run(&opts)?;
    if !quiet {
        for note in &summary.notes {
            eprintln!("anonymise: {note}");
        }
        eprintln!("anonymise: {}", summary.counts.summary());
    }
    Ok(ExitCode::SUCCESS)
}

fn diag(a: DiagArgs, now: i64, quiet: bool) -> anyhow::Result<ExitCode> {
    use logveil::diagquery::{Query, query, render_rows};
    let when = |s: &Option<String>| -> anyhow::Result<Option<i64>> {
        s.as_deref()
            .map(|s| timeopt::parse_instant_or_ago(s, now).map_err(logveil::Error::Usage))
            .transpose()
            .map_err(Into::into)
    };
    let q = Query {
        net: a.ip,
        status: a.status,
        since: when(&a.since)?,
        until: when(&a.until)?,
        path_prefix: a.path_prefix,
        vhost: a.vhost,
        limit: a.limit,
    };
    let r = query(&a.out, &q, now)?;
    for f in &r.expired_deleted {
        eprintln!("logveil: deleted expired {}", f.display());
    }
    if a.json {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for row in &r.rows {
            serde_json::to_writer(&mut out, row)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    } else {
        print!("{}", render_rows(&r.rows, logveil::table::stdout_width()));
    }
    if !quiet {
        eprintln!(
            "{} rows{}; read {} of {} row groups in {} files",
            r.rows.len(),
            if r.truncated {
                " (--limit reached)"
            } else {
                ""
            },
            r.row_groups_read,
            r.row_groups,
            r.files
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_cidr(s: &str) -> Result<ipnet::IpNet, String> {
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not an address or CIDR network"))
}

/// The parser compiled from `--log-format` or `--nginx-format`, if one was given.
fn compile_format(a: &ProcessArgs) -> anyhow::Result<Option<Arc<LogFormat>>> {
    compile(a.log_format.as_deref(), a.nginx_format.as_deref())
}

/// The parser compiled from a `--log-format` (Apache) or `--nginx-format` string, if given.
fn compile(
    log_format: Option<&str>,
    nginx_format: Option<&str>,
) -> anyhow::Result<Option<Arc<LogFormat>>> {
    let compiled = match (log_format, nginx_format) {
        (Some(f), _) => {
            LogFormat::apache(f).map_err(|e| logveil::Error::Usage(format!("--log-format: {e}")))?
        }
        (None, Some(f)) => LogFormat::nginx(f)
            .map_err(|e| logveil::Error::Usage(format!("--nginx-format: {e}")))?,
        (None, None) => return Ok(None),
    };
    Ok(Some(Arc::new(compiled)))
}
