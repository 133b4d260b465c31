//! The `report` command: reads a reports tree (`reports/<table>/date=…/*.parquet`, every part
//! file summed, visitor sketches unioned) and the run manifests back, and renders them for
//! people, as terminal text or one self-contained HTML page. Owns the reading back and the
//! rendering; never prints or writes a report string that has not gone through `safe`, and
//! writes nothing but the HTML page (through `store`).

pub mod html;
pub mod safe;
pub mod term;
pub mod tiles;

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use datasketches::hll::{HllSketch, HllType, HllUnion};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};

/// Label of the rows that gather what publication folded away.
pub const OTHER: &str = "(other)";

/// What to read and how to show it.
#[derive(Debug, Clone)]
pub struct Options {
    /// The output tree holding `reports/` and `runs/`.
    pub out: PathBuf,
    /// First and last date (`YYYY-MM-DD`, inclusive) to read.
    pub since: Option<String>,
    pub until: Option<String>,
    /// Rows shown of each ranked table.
    pub top: usize,
    /// Terminal width in columns.
    pub width: usize,
    /// Colour on the terminal.
    pub color: bool,
}

/// Traffic of one UTC day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Day {
    pub date: String,
    pub requests: u64,
    pub bytes: u64,
    /// Estimated distinct visitors (union of that day's place sketches).
    pub visitors: u64,
}

/// One row of a ranked table, summed over the period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ranked {
    pub label: String,
    /// A second label (the continent of a country, the vhost of a page), or empty.
    pub detail: String,
    pub requests: u64,
    pub bytes: u64,
    /// Sum over days of each day's estimate (visitors are counted per day).
    pub visitors: u64,
}

/// What publication folded into `(other)` rows, summed over the runs of the period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoldedSum {
    pub suppressed_rows: u64,
    pub suppressed_requests: u64,
    pub top_n_rows: u64,
    pub top_n_requests: u64,
    pub bounded_rows: u64,
    pub bounded_requests: u64,
}

/// Everything the renderers show.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub days: Vec<Day>,
    /// Requests per hour (hours since the epoch), from `traffic_hourly`.
    pub hourly: Vec<(i64, u64)>,
    pub requests: u64,
    pub bytes: u64,
    pub visitors: u64,
    pub countries: Vec<Ranked>,
    pub continents: Vec<Ranked>,
    pub pages: Vec<Ranked>,
    pub referrers: Vec<Ranked>,
    pub status: Vec<Ranked>,
    pub methods: Vec<Ranked>,
    pub browsers: Vec<Ranked>,
    pub os: Vec<Ranked>,
    pub devices: Vec<Ranked>,
    /// Requests by bots and by everything else, from `agents_daily`.
    pub bot_requests: u64,
    pub agent_requests: u64,
    /// Number of vhosts seen (pages show theirs when there is more than one).
    pub vhosts: usize,
    /// Runs whose manifests were read, and the k-min values they used.
    pub runs: usize,
    pub k_min: Vec<u64>,
    pub folded: BTreeMap<String, FoldedSum>,
    /// Part files read.
    pub files: usize,
}

impl Summary {
    pub fn first_date(&self) -> Option<&str> {
        self.days.first().map(|d| d.date.as_str())
    }
    pub fn last_date(&self) -> Option<&str> {
        self.days.last().map(|d| d.date.as_str())
    }
}

/// Checks a `YYYY-MM-DD` option.
pub fn parse_date(s: &str) -> std::result::Result<String, String> {
    s.parse::<jiff::civil::Date>()
        .map(|d| d.to_string())
        .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

/// The part files of `table` by date, within the options' range, in date order.
fn parts(opts: &Options, table: &str) -> Result<BTreeMap<String, Vec<PathBuf>>> {
    let dir = opts.out.join("reports").join(table);
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::input(&dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::input(&dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(date) = name.strip_prefix("date=") else {
            continue;
        };
        if parse_date(date).is_err()
            || opts.since.as_deref().is_some_and(|s| date < s)
            || opts.until.as_deref().is_some_and(|u| date > u)
            || !entry.file_type().is_ok_and(|t| t.is_dir())
        {
            continue;
        }
        let mut files = Vec::new();
        for f in fs::read_dir(entry.path()).map_err(|e| Error::input(entry.path(), e))? {
            let f = f.map_err(|e| Error::input(entry.path(), e))?;
            let n = f.file_name().to_string_lossy().into_owned();
            if n.ends_with(".parquet")
                && !n.starts_with('.')
                && f.file_type().is_ok_and(|t| t.is_file())
            {
                files.push(f.path());
            }
        }
        files.sort();
        if !files.is_empty() {
            out.insert(date.to_string(), files);
        }
    }
    Ok(out)
}

fn read_batches(path: &Path) -> Result<Vec<RecordBatch>> {
    let perr = |reason: String| Error::Parquet {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(|e| Error::input(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| perr(e.to_string()))?
        .build()
        .map_err(|e| perr(e.to_string()))?;
    reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| perr(e.to_string()))
}

/// The columns of one batch that the summary reads, by name.
struct Cols<'a> {
    batch: &'a RecordBatch,
    path: &'a Path,
}

impl<'a> Cols<'a> {
    fn missing(&self, name: &str, what: &str) -> Error {
        Error::Parquet {
            path: self.path.to_path_buf(),
            reason: format!("column {name:?} is missing or not {what}"),
        }
    }
    fn text(&self, name: &str) -> Result<Vec<String>> {
        let col = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| self.missing(name, "text"))?;
        match col.data_type() {
            DataType::Utf8 => Ok(col
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap_or("").to_string())
                .collect()),
            DataType::LargeUtf8 => Ok(col
                .as_string::<i64>()
                .iter()
                .map(|v| v.unwrap_or("").to_string())
                .collect()),
            DataType::Utf8View => Ok(col
                .as_string_view()
                .iter()
                .map(|v| v.unwrap_or("").to_string())
                .collect()),
            DataType::Boolean => Ok(col
                .as_boolean()
                .iter()
                .map(|v| v.unwrap_or(false).to_string())
                .collect()),
            _ => Err(self.missing(name, "text")),
        }
    }
    fn count(&self, name: &str) -> Result<Vec<u64>> {
        let col = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| self.missing(name, "uint64"))?;
        if col.data_type() != &DataType::UInt64 {
            return Err(self.missing(name, "uint64"));
        }
        Ok(col
            .as_primitive::<UInt64Type>()
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect())
    }
    fn count_or_zero(&self, name: &str) -> Result<Vec<u64>> {
        if self.batch.column_by_name(name).is_some() {
            self.count(name)
        } else {
            Ok(vec![0; self.batch.num_rows()])
        }
    }
    fn sketches(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        let col = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| self.missing(name, "binary"))?;
        match col.data_type() {
            DataType::Binary => Ok(col
                .as_binary::<i32>()
                .iter()
                .map(|v| v.unwrap_or(&[]).to_vec())
                .collect()),
            DataType::LargeBinary => Ok(col
                .as_binary::<i64>()
                .iter()
                .map(|v| v.unwrap_or(&[]).to_vec())
                .collect()),
            _ => Err(self.missing(name, "binary")),
        }
    }
}

/// Visitors of one (day, key): the stored estimate when one part file has the row, the
/// estimate of the union of the sketches when several do.
#[derive(Default)]
struct Distinct {
    stored: u64,
    sketches: Vec<Vec<u8>>,
}

impl Distinct {
    fn add(&mut self, visitors: u64, sketch: Vec<u8>) {
        self.stored = visitors;
        self.sketches.push(sketch);
    }
    fn estimate(&self, path: &Path) -> Result<u64> {
        if self.sketches.len() <= 1 {
            return Ok(self.stored);
        }
        let mut u = HllUnion::new(12).expect("lg_k 12 is valid");
        for s in &self.sketches {
            let s = HllSketch::deserialize(s).map_err(|e| Error::Parquet {
                path: path.to_path_buf(),
                reason: format!("visitor sketch: {e}"),
            })?;
            u.update(&s);
        }
        Ok(u.to_sketch(HllType::Hll8).composite_estimate().round() as u64)
    }
}

/// A key with its requests, bytes and visitors.
type KeyTotals = (Vec<String>, u64, u64, u64);

/// Per (day, key) totals and visitors of a table with visitor sketches.
#[derive(Default)]
struct Keyed {
    cells: BTreeMap<(String, Vec<String>), (u64, u64, Distinct)>,
}

impl Keyed {
    /// Reads `dims` of every part file of `table`; `key` maps the dims of a row to the key it
    /// is summed under (None drops the row).
    fn read(
        opts: &Options,
        table: &str,
        dims: &[&str],
        files: &mut usize,
        key: impl Fn(&[String]) -> Option<Vec<String>>,
    ) -> Result<Keyed> {
        let mut k = Keyed::default();
        for (date, paths) in parts(opts, table)? {
            for path in paths {
                *files += 1;
                for batch in read_batches(&path)? {
                    let c = Cols {
                        batch: &batch,
                        path: &path,
                    };
                    let cols = dims.iter().map(|d| c.text(d)).collect::<Result<Vec<_>>>()?;
                    let requests = c.count("requests")?;
                    let bytes = c.count_or_zero("bytes")?;
                    let visitors = c.count("visitors")?;
                    let sketches = c.sketches("visitors_hll")?;
                    for (i, sketch) in sketches.into_iter().enumerate() {
                        let row: Vec<String> = cols.iter().map(|col| col[i].clone()).collect();
                        let Some(key) = key(&row) else { continue };
                        let cell = k.cells.entry((date.clone(), key)).or_default();
                        cell.0 += requests[i];
                        cell.1 += bytes[i];
                        cell.2.add(visitors[i], sketch);
                    }
                }
            }
        }
        Ok(k)
    }

    /// Totals by key over all days, ordered by requests (then label), `(other)` last.
    fn ranked(&self, opts: &Options) -> Result<Vec<KeyTotals>> {
        let mut by_key: HashMap<&Vec<String>, (u64, u64, u64)> = HashMap::new();
        for ((_, key), (r, b, d)) in &self.cells {
            let v = d.estimate(&opts.out)?;
            let e = by_key.entry(key).or_default();
            e.0 += r;
            e.1 += b;
            e.2 += v;
        }
        let mut rows: Vec<_> = by_key
            .into_iter()
            .map(|(k, (r, b, v))| (k.clone(), r, b, v))
            .collect();
        rows.sort_by(|a, b| {
            let other = |k: &[String]| k.iter().any(|s| s == OTHER);
            other(&a.0)
                .cmp(&other(&b.0))
                .then(b.1.cmp(&a.1))
                .then(a.0.cmp(&b.0))
        });
        Ok(rows)
    }

    /// Visitors per day: the union of every row's sketch of that day.
    fn visitors_by_day(&self, path: &Path) -> Result<BTreeMap<String, u64>> {
        let mut days: BTreeMap<&str, Vec<&Distinct>> = BTreeMap::new();
        for ((date, _), (_, _, d)) in &self.cells {
            days.entry(date).or_default().push(d);
        }
        let mut out = BTreeMap::new();
        for (date, cells) in days {
            let mut u = HllUnion::new(12).expect("lg_k 12 is valid");
            let mut only = None;
            let mut n = 0;
            for d in cells {
                for s in &d.sketches {
                    n += 1;
                    only = Some(d.stored);
                    let s = HllSketch::deserialize(s).map_err(|e| Error::Parquet {
                        path: path.to_path_buf(),
                        reason: format!("visitor sketch: {e}"),
                    })?;
                    u.update(&s);
                }
            }
            let v = if n == 1 {
                only.unwrap_or(0)
            } else {
                u.to_sketch(HllType::Hll8).composite_estimate().round() as u64
            };
            out.insert(date.to_string(), v);
        }
        Ok(out)
    }
}

fn ranked(rows: Vec<KeyTotals>) -> Vec<Ranked> {
    rows.into_iter()
        .map(|(k, requests, bytes, visitors)| Ranked {
            label: k.first().cloned().unwrap_or_default(),
            detail: k.get(1).cloned().unwrap_or_default(),
            requests,
            bytes,
            visitors,
        })
        .collect()
}

/// Labels with their encoded UTF-8 decoded for reading (see [`safe::readable`]).
fn readable(mut rows: Vec<Ranked>) -> Vec<Ranked> {
    for r in &mut rows {
        if let std::borrow::Cow::Owned(l) = safe::readable(&r.label) {
            r.label = l;
        }
    }
    rows
}

/// Sums of `traffic_hourly`: by hour, by status class, by method, and the vhosts.
#[derive(Default)]
struct Traffic {
    hours: BTreeMap<i64, (u64, u64)>,
    status: BTreeMap<String, (u64, u64)>,
    methods: BTreeMap<String, (u64, u64)>,
    vhosts: std::collections::BTreeSet<String>,
}

fn read_traffic(opts: &Options, files: &mut usize) -> Result<Traffic> {
    let mut t = Traffic::default();
    for (_, paths) in parts(opts, "traffic_hourly")? {
        for path in paths {
            *files += 1;
            for batch in read_batches(&path)? {
                let c = Cols {
                    batch: &batch,
                    path: &path,
                };
                let hour = batch
                    .column_by_name("hour")
                    .filter(|h| matches!(h.data_type(), DataType::Timestamp(_, _)))
                    .ok_or_else(|| c.missing("hour", "a timestamp"))?;
                let hour = hour
                    .as_primitive_opt::<TimestampMicrosecondType>()
                    .ok_or_else(|| c.missing("hour", "a timestamp in µs"))?;
                let status = c.text("status_class")?;
                let method = c.text("method")?;
                let vhost = c.text("vhost")?;
                let requests = c.count("requests")?;
                let bytes = c.count("bytes")?;
                for i in 0..batch.num_rows() {
                    let h = hour.value(i).div_euclid(3_600_000_000);
                    let add = |e: &mut (u64, u64)| {
                        e.0 += requests[i];
                        e.1 += bytes[i];
                    };
                    add(t.hours.entry(h).or_default());
                    add(t.status.entry(status[i].clone()).or_default());
                    add(t.methods.entry(method[i].clone()).or_default());
                    t.vhosts.insert(vhost[i].clone());
                }
            }
        }
    }
    Ok(t)
}

fn by_requests(m: BTreeMap<String, (u64, u64)>) -> Vec<Ranked> {
    let mut v: Vec<Ranked> = m
        .into_iter()
        .map(|(label, (requests, bytes))| Ranked {
            label,
            requests,
            bytes,
            ..Ranked::default()
        })
        .collect();
    v.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.label.cmp(&b.label)));
    v
}

/// Sums the suppression statistics of the published runs whose time span meets the period.
fn read_manifests(opts: &Options, s: &mut Summary) -> Result<()> {
    let dir = opts.out.join("runs");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    for path in paths {
        let bytes = fs::read(&path).map_err(|e| Error::input(&path, e))?;
        // A manifest that is not JSON (or not ours) is skipped rather than fatal.
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if v.get("published").and_then(|p| p.as_bool()) == Some(false) {
            continue;
        }
        let day = |k: &str| {
            v.get(k)
                .and_then(|t| t.as_str())
                .map(|t| t.chars().take(10).collect::<String>())
        };
        if let (Some(first), Some(since)) = (day("last_time"), opts.since.as_deref())
            && first.as_str() < since
        {
            continue;
        }
        if let (Some(last), Some(until)) = (day("first_time"), opts.until.as_deref())
            && last.as_str() > until
        {
            continue;
        }
        let Some(p) = v.get("publication") else {
            continue;
        };
        s.runs += 1;
        if let Some(k) = p.pointer("/rules/k_min").and_then(|k| k.as_u64())
            && !s.k_min.contains(&k)
        {
            s.k_min.push(k);
        }
        if let Some(folded) = p.get("folded").and_then(|f| f.as_object()) {
            for (table, f) in folded {
                let n = |k: &str| f.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
                let e = s.folded.entry(table.clone()).or_default();
                e.suppressed_rows += n("suppressed_rows");
                e.suppressed_requests += n("suppressed_requests");
                e.top_n_rows += n("top_n_rows");
                e.top_n_requests += n("top_n_requests");
                e.bounded_rows += n("bounded_rows");
                e.bounded_requests += n("bounded_requests");
            }
        }
    }
    s.k_min.sort_unstable();
    Ok(())
}

/// Reads the reports tree and the manifests of `opts.out` into a [`Summary`].
pub fn load(opts: &Options) -> Result<Summary> {
    let reports = opts.out.join("reports");
    if !reports.is_dir() {
        return Err(Error::Usage(format!(
            "{} has no reports/ directory: run `logveil process --out {}` first",
            opts.out.display(),
            opts.out.display()
        )));
    }
    let mut s = Summary::default();
    let mut files = 0;

    let traffic = read_traffic(opts, &mut files)?;
    let geo = Keyed::read(
        opts,
        "geo_daily",
        &["country", "continent"],
        &mut files,
        |d| Some(d.to_vec()),
    )?;
    let geo_visitors = geo.visitors_by_day(&opts.out)?;

    // Days: totals from traffic_hourly (never folded), visitors from the place sketches.
    let mut days: BTreeMap<String, Day> = BTreeMap::new();
    for (h, (r, b)) in &traffic.hours {
        let d = days
            .entry(crate::parse::time::date_string(h * 3600))
            .or_default();
        d.requests += r;
        d.bytes += b;
    }
    if traffic.hours.is_empty() {
        for ((date, _), (r, b, _)) in &geo.cells {
            let d = days.entry(date.clone()).or_default();
            d.requests += r;
            d.bytes += b;
        }
    }
    for (date, v) in &geo_visitors {
        days.entry(date.clone()).or_default().visitors = *v;
    }
    for (date, d) in days.iter_mut() {
        d.date = date.clone();
    }
    s.days = days.into_values().collect();
    s.requests = s.days.iter().map(|d| d.requests).sum();
    s.bytes = s.days.iter().map(|d| d.bytes).sum();
    s.visitors = s.days.iter().map(|d| d.visitors).sum();
    s.hourly = traffic.hours.iter().map(|(h, (r, _))| (*h, *r)).collect();
    s.vhosts = traffic.vhosts.len();
    s.status = by_requests(traffic.status);
    s.methods = by_requests(traffic.methods);

    s.countries = ranked(geo.ranked(opts)?);
    let continents = Keyed::read(opts, "geo_daily", &["continent"], &mut 0, |d| {
        Some(d.to_vec())
    })?;
    s.continents = ranked(continents.ranked(opts)?);

    let pages = Keyed::read(opts, "pages_daily", &["path", "vhost"], &mut files, |d| {
        Some(d.to_vec())
    })?;
    if s.vhosts == 0 {
        s.vhosts = pages
            .cells
            .keys()
            .map(|(_, k)| k[1].as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
    }
    s.pages = readable(ranked(pages.ranked(opts)?));

    let referrers = Keyed::read(
        opts,
        "referrers_daily",
        &["referrer_host"],
        &mut files,
        |d| Some(d.to_vec()),
    )?;
    s.referrers = readable(ranked(referrers.ranked(opts)?));

    let agents_dims = ["browser", "os", "device", "bot"];
    let browsers = Keyed::read(opts, "agents_daily", &agents_dims, &mut files, |d| {
        Some(vec![d[0].clone()])
    })?;
    s.browsers = ranked(browsers.ranked(opts)?);
    let os = Keyed::read(opts, "agents_daily", &agents_dims, &mut 0, |d| {
        Some(vec![d[1].clone()])
    })?;
    s.os = ranked(os.ranked(opts)?);
    let devices = Keyed::read(opts, "agents_daily", &agents_dims, &mut 0, |d| {
        Some(vec![d[2].clone(), d[3].clone()])
    })?;
    for r in ranked(devices.ranked(opts)?) {
        if r.detail == "true" {
            s.bot_requests += r.requests;
        }
        s.agent_requests += r.requests;
        match s.devices.iter_mut().find(|d| d.label == r.label) {
            Some(d) => {
                d.requests += r.requests;
                d.visitors += r.visitors;
            }
            None => s.devices.push(Ranked {
                detail: String::new(),
                ..r
            }),
        }
    }
    s.devices
        .sort_by(|a, b| b.requests.cmp(&a.requests).then(a.label.cmp(&b.label)));
    s.files = files;

    read_manifests(opts, &mut s)?;
    Ok(s)
}

/// Thousands separated by commas.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count in binary units, three significant figures.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else if v < 10.0 {
        format!("{v:.2} {}", UNITS[u])
    } else if v < 100.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

/// `part` as a percentage of `whole`, one decimal.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0.0%".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// The terminal width: `COLUMNS` when set, else the terminal's, else 80.
pub fn terminal_width() -> usize {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return c;
    }
    terminal_size::terminal_size()
        .map(|(w, _)| w.0 as usize)
        .filter(|w| *w > 0)
        .unwrap_or(80)
}

/// The terminal report of `opts.out`.
pub fn text(opts: &Options) -> Result<String> {
    let s = load(opts)?;
    Ok(term::render(&s, opts))
}

/// Writes the HTML page of `opts.out` to `dest` (atomically, mode 0644).
pub fn write_html(opts: &Options, dest: &Path) -> Result<PathBuf> {
    let s = load(opts)?;
    let page = html::render(&s, opts);
    crate::store::write_file(dest, crate::store::PUBLIC_FILE, page.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(u64) -> String, cases: &[(u64, &str)]) {
        for (n, expected) in cases {
            assert_eq!(&f(*n), expected, "input {n}");
        }
    }

    #[test]
    fn formats_numbers() {
        check(
            group,
            &[
                (0, "0"),
                (999, "999"),
                (1000, "1,000"),
                (1234567, "1,234,567"),
            ],
        );
        check(
            human_bytes,
            &[
                (0, "0 B"),
                (1023, "1023 B"),
                (1536, "1.50 KiB"),
                (50 * 1024 * 1024, "50.0 MiB"),
                (300 << 30, "300 GiB"),
            ],
        );
    }
}
