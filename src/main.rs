//! The `logveil` command line: options, exit codes and printing. Owns no pipeline logic.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

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
    /// Merge the reports of several output trees (of `process` or earlier merges) into a new
    /// tree: requests and bytes summed, visitor sketches unioned, then small-cell suppression
    /// and the top-N bounds applied. A run held by two inputs is refused.
    Merge(MergeArgs),
    /// Show the reports of an output tree: traffic per day, countries, pages, referrers,
    /// status classes, agents and what suppression folded; on the terminal, or as one
    /// self-contained HTML page with --html.
    Report(ReportArgs),
    /// Delete expired diagnostics and visitor salts now (after finishing or undoing a run
    /// that was interrupted).
    Purge {
        /// Output tree.
        #[arg(long, short, default_value = "logveil-out")]
        out: PathBuf,
        /// Wait for a run working on the output tree instead of refusing.
        #[arg(long)]
        wait: bool,
        /// Print what was deleted as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Process every log (file names or globs, or `inputs` of the config file) whose content
    /// the output tree has not counted yet: rotated, compressed and copied logs count once, a
    /// log that grew is read from where the last run stopped. Takes every option of `process`,
    /// also as keys of a TOML config file.
    Rotate(Box<RotateArgs>),
    /// Query the unexpired diagnostics: raw rows by client, status, time, path or vhost.
    Diag(DiagArgs),
    /// Remove every diagnostics row of a client (an address or a CIDR network), rewriting each
    /// file that holds one; prints how many rows left which file.
    Forget {
        /// The client: an address (IPv4, IPv6 or IPv4-mapped) or a network.
        #[arg(value_name = "ADDR|CIDR", value_parser = parse_cidr)]
        client: ipnet::IpNet,
        /// Output tree.
        #[arg(long, short, default_value = "logveil-out")]
        out: PathBuf,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List the personal data an output tree holds: diagnostics rows per day with raw
    /// addresses, their time span and expiry, visitor salts and their expiry, sizes.
    Audit {
        /// Output tree.
        #[arg(long, short, default_value = "logveil-out")]
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
    #[arg(long, short, default_value = "logveil-out")]
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
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct RotateArgs {
    /// Input logs or globs (`access.log*`); replaces `inputs` of the config file.
    #[arg(value_name = "FILE|GLOB")]
    inputs: Vec<String>,
    /// A TOML file: `inputs`, `out`, `delete_raw_after` and any option of `process` (with `_`
    /// for `-`). The command line wins over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Delete each raw input once its whole content is committed to the output tree.
    #[arg(long)]
    delete_raw_after: bool,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct RunArgs {
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
    /// Process inputs again even when the output tree has counted their content already.
    #[arg(long)]
    reprocess: bool,
    /// Wait for another run on the same output tree to finish instead of refusing to start.
    #[arg(long)]
    wait: bool,
}

#[derive(Args)]
struct MergeArgs {
    /// Output trees to merge (each with reports/).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// The merged tree (reports/ and runs/); must not hold reports yet.
    #[arg(long, short)]
    out: PathBuf,
    /// Rows with fewer distinct visitors than this are folded into `(other)` rows after
    /// merging; 0 for a merge that will be merged again.
    #[arg(long, default_value_t = 10)]
    k_min: u64,
    /// Pages kept per day in pages_daily.
    #[arg(long, default_value_t = 1000)]
    top_pages: usize,
    /// Referrer hosts kept per day in referrers_daily.
    #[arg(long, default_value_t = 500)]
    top_referrers: usize,
    /// Print the merge manifest as JSON on stdout.
    #[arg(long)]
    json: bool,
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
struct ReportArgs {
    /// Output tree holding reports/ and runs/.
    #[arg(long, short, default_value = "logveil-out")]
    out: PathBuf,
    /// Write one self-contained HTML page to FILE instead of printing.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// First day to show (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", value_parser = logveil::report::parse_date)]
    since: Option<String>,
    /// Last day to show (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", value_parser = logveil::report::parse_date)]
    until: Option<String>,
    /// Rows shown of each ranked table.
    #[arg(long, default_value_t = 10)]
    top: usize,
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
    logveil::source::return_large_frees();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let cli = match rotate_config(cli, &matches) {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("logveil: error: {e:#}");
            return ExitCode::from(2);
        }
    };
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
        Command::Merge(a) => {
            let s = logveil::merge::run(&logveil::merge::Options {
                inputs: a.dirs,
                out: a.out,
                rules: Rules {
                    k_min: a.k_min,
                    top_pages: a.top_pages,
                    top_referrers: a.top_referrers,
                },
                now,
            })?;
            if !cli.quiet {
                eprint!("{}", logveil::merge::human(&s));
            }
            if a.json {
                println!("{}", serde_json::to_string(&s)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(a) => report(a, cli.quiet),
        Command::Purge { out, wait, json } => {
            let r = logveil::pipeline::purge(&out, now, wait)?;
            if json {
                let files: Vec<_> = r
                    .files
                    .iter()
                    .chain(&r.salt_files)
                    .chain(&r.day_state_files)
                    .collect();
                println!("{}", serde_json::json!({"summary": r, "deleted": files}));
            } else if !cli.quiet {
                for f in r
                    .files
                    .iter()
                    .chain(&r.salt_files)
                    .chain(&r.day_state_files)
                {
                    println!("deleted {}", f.display());
                }
                eprintln!(
                    "purged {} expired diagnostics files ({} bytes), {} visitor salts and {} day-state files",
                    r.files_deleted, r.bytes_deleted, r.salts_deleted, r.day_state_deleted
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rotate(r) => rotate(*r, now, cli.quiet),
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

/// With `rotate --config FILE`: the command line again, with the file's keys that it does not
/// give added to it.
fn rotate_config(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<Cli> {
    let (Command::Rotate(r), Some(("rotate", sub))) = (&cli.command, matches.subcommand()) else {
        return Ok(cli);
    };
    let Some(path) = &r.config else {
        return Ok(cli);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| logveil::Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    let cmd = Cli::command();
    let rotate_cmd = cmd
        .find_subcommand("rotate")
        .expect("rotate is a subcommand");
    let options: Vec<_> = rotate_cmd
        .get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            if ["config", "help", "version"].contains(&long) {
                return None;
            }
            let id = a.get_id().as_str();
            Some(logveil::rotate::OptionSpec {
                key: long.replace('-', "_"),
                long: long.to_string(),
                flag: matches!(a.get_action(), clap::ArgAction::SetTrue),
                many: matches!(a.get_action(), clap::ArgAction::Append),
                given: matches!(
                    sub.value_source(id),
                    Some(
                        clap::parser::ValueSource::CommandLine
                            | clap::parser::ValueSource::EnvVariable
                    )
                ),
            })
        })
        .collect();
    let check = |args: &[String]| {
        let argv = ["logveil", "rotate"].into_iter().map(String::from);
        Cli::try_parse_from(argv.chain(args.iter().cloned()))
            .map(|_| ())
            .map_err(|e| {
                let msg = e.to_string();
                msg.lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ")
                    .to_string()
            })
    };
    let extra = logveil::rotate::config_args(path, &text, &options, &check)?;
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let at = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    argv.splice(at..at, extra.args.iter().map(Into::into));
    if r.inputs.is_empty() {
        if !argv.iter().any(|a| a == "--") {
            argv.push("--".into());
        }
        argv.extend(extra.inputs.iter().map(Into::into));
    }
    Ok(Cli::try_parse_from(argv).unwrap_or_else(|e| e.exit()))
}

fn rotate(r: RotateArgs, now: i64, quiet: bool) -> anyhow::Result<ExitCode> {
    let files = logveil::rotate::expand(&r.inputs)?;
    if files.is_empty() {
        if !quiet {
            eprintln!("rotate: no input matches {}", r.inputs.join(" "));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let inputs = files.into_iter().map(InputSpec::Path).collect();
    let (code, outcome) = process_inputs(inputs, &r.run, now, quiet)?;
    if r.delete_raw_after && code == ExitCode::SUCCESS {
        for f in logveil::rotate::delete_raw(&outcome.complete_inputs)? {
            if !quiet {
                eprintln!(
                    "deleted {}: its content is committed to {}",
                    f.display(),
                    r.run.out.display()
                );
            }
        }
    }
    Ok(code)
}

fn process(a: ProcessArgs, now: i64, quiet: bool) -> anyhow::Result<ExitCode> {
    let inputs = a.inputs.iter().map(|s| InputSpec::parse(s)).collect();
    Ok(process_inputs(inputs, &a.run, now, quiet)?.0)
}

fn process_inputs(
    inputs: Vec<InputSpec>,
    a: &RunArgs,
    now: i64,
    quiet: bool,
) -> anyhow::Result<(ExitCode, pipeline::Outcome)> {
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
        inputs,
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
        custom_format: compile_format(a)?,
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
        reprocess: a.reprocess,
        wait: a.wait,
        now,
        progress: None,
    };
    let mut opts = opts;
    let display = logveil::progress::wanted(quiet).then(|| {
        let counters = Arc::new(logveil::progress::Counters::default());
        opts.progress = Some(counters.clone());
        let paths: Vec<&std::path::Path> = opts
            .inputs
            .iter()
            .filter_map(|i| match i {
                InputSpec::Path(p) => Some(p.as_path()),
                InputSpec::Stdin => None,
            })
            .collect();
        let total = if paths.len() < opts.inputs.len() {
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
    let code = outcome_code(&outcome, a.json, quiet)?;
    Ok((code, outcome))
}

fn outcome_code(outcome: &pipeline::Outcome, json: bool, quiet: bool) -> anyhow::Result<ExitCode> {
    let s = &outcome.summary;
    if !quiet {
        eprint!("{}", logveil::manifest::human(s));
    }
    if json {
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

fn report(a: ReportArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let opts = logveil::report::Options {
        out: a.out,
        since: a.since,
        until: a.until,
        top: a.top,
        width: logveil::report::terminal_width(),
        color: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    match &a.html {
        Some(dest) => {
            let path = logveil::report::write_html(&opts, dest)?;
            if !quiet {
                eprintln!("report written to {}", path.display());
            }
        }
        None => print!("{}", logveil::report::text(&opts)?),
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
fn compile_format(a: &RunArgs) -> anyhow::Result<Option<Arc<LogFormat>>> {
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
