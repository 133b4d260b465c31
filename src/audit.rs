//! The inventory of personal data an output tree holds: diagnostics files (rows, rows with a
//! raw address, oldest and newest row, expiry, size), visitor salts (day, expiry, size) and the
//! day store (tables, expiry, size), read from Parquet metadata and file names only. Never
//! reads or prints a row's content, and never writes.

use std::path::{Path, PathBuf};

use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::file::statistics::Statistics;

use crate::diag::ADDR_COLUMN;
use crate::diagquery::{diag_files, metadata_expiry};
use crate::error::{Error, Result};
use crate::visitors::{StoredSalt, stored_salts};

/// One diagnostics file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditFile {
    pub date: String,
    pub path: PathBuf,
    pub rows: u64,
    /// Rows holding a client address (the others are rejected lines, or clients written as
    /// host names, which `client_ip` still holds as text).
    pub ip_rows: u64,
    /// Oldest and newest row time, Unix seconds (none when every row is a rejected line).
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
    /// Unix seconds; `None` when the file has no readable expiry.
    pub expires_at: Option<i64>,
    /// True when it has expired and the next purge (or run) deletes it.
    pub expired: bool,
    pub bytes: u64,
}

/// One day of the day store: unsuppressed report rows and visitor sketches keyed by that
/// day's salt, kept so that later runs republish the day whole.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AuditDay {
    pub date: String,
    /// Tables held for the day.
    pub tables: usize,
    pub expires_at: Option<i64>,
    pub expired: bool,
    pub bytes: u64,
}

/// What an output tree holds of personal data.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Audit {
    pub diagnostics: Vec<AuditFile>,
    pub salts: Vec<StoredSalt>,
    pub day_state: Vec<AuditDay>,
    pub total_rows: u64,
    pub total_ip_rows: u64,
    pub total_bytes: u64,
}

fn column_index(reader: &SerializedFileReader<std::fs::File>, name: &str) -> Option<usize> {
    reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.name() == name)
}

/// Lists the personal data under `out` at `now`.
pub fn audit(out: &Path, now: i64) -> Result<Audit> {
    let mut a = Audit {
        salts: stored_salts(out)?,
        ..Audit::default()
    };
    for f in diag_files(out) {
        let file = std::fs::File::open(&f.path).map_err(|e| Error::input(&f.path, e))?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let reader = SerializedFileReader::new(file).map_err(|e| Error::Parquet {
            path: f.path.clone(),
            reason: e.to_string(),
        })?;
        let meta = reader.metadata();
        let rows = meta.file_metadata().num_rows().max(0) as u64;
        let addr =
            column_index(&reader, ADDR_COLUMN).or_else(|| column_index(&reader, "client_ip"));
        let time = column_index(&reader, "time");
        let mut nulls = 0u64;
        let (mut oldest, mut newest) = (None::<i64>, None::<i64>);
        for rg in meta.row_groups() {
            nulls += addr
                .and_then(|c| rg.column(c).statistics())
                .and_then(|s| s.null_count_opt())
                .unwrap_or(0);
            if let Some(Statistics::Int64(s)) = time.and_then(|c| rg.column(c).statistics()) {
                if let Some(&min) = s.min_opt() {
                    oldest = Some(oldest.map_or(min, |o| o.min(min)));
                }
                if let Some(&max) = s.max_opt() {
                    newest = Some(newest.map_or(max, |n| n.max(max)));
                }
            }
        }
        let expires_at = metadata_expiry(meta);
        let ip_rows = rows.saturating_sub(nulls);
        a.total_rows += rows;
        a.total_ip_rows += ip_rows;
        a.total_bytes += bytes;
        a.diagnostics.push(AuditFile {
            date: f.date,
            path: f.path,
            rows,
            ip_rows,
            oldest: oldest.map(|t| t.div_euclid(1_000_000)),
            newest: newest.map(|t| t.div_euclid(1_000_000)),
            expires_at,
            expired: expires_at.is_some_and(|e| e <= now),
            bytes,
        });
    }
    a.total_bytes += a.salts.iter().map(|s| s.bytes).sum::<u64>();
    let mut days: std::collections::BTreeMap<String, AuditDay> = Default::default();
    for f in crate::days::stored(out)? {
        let d = days.entry(f.date.clone()).or_insert_with(|| AuditDay {
            date: f.date.clone(),
            ..AuditDay::default()
        });
        d.tables += 1;
        d.bytes += f.bytes;
        d.expires_at = match (d.expires_at, f.expires_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        d.expired = d.expires_at.is_some_and(|e| e <= now);
    }
    a.day_state = days.into_values().collect();
    a.total_bytes += a.day_state.iter().map(|d| d.bytes).sum::<u64>();
    Ok(a)
}

/// The inventory as tables: diagnostics files, then salts.
pub fn render(a: &Audit, width: Option<usize>) -> String {
    use crate::table::{render, time};
    let rows: Vec<Vec<String>> = a
        .diagnostics
        .iter()
        .map(|f| {
            vec![
                f.date.clone(),
                f.rows.to_string(),
                f.ip_rows.to_string(),
                time(f.oldest),
                time(f.newest),
                time(f.expires_at) + if f.expired { " (expired)" } else { "" },
                f.bytes.to_string(),
                f.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let mut s = String::from("diagnostics (raw client addresses):\n");
    s.push_str(&render(
        &[
            "date", "rows", "ip_rows", "oldest", "newest", "expires", "bytes", "file",
        ],
        &rows,
        width,
    ));
    let salts: Vec<Vec<String>> = a
        .salts
        .iter()
        .map(|t| {
            vec![
                t.date.clone(),
                time(Some(t.expires_at)),
                t.bytes.to_string(),
            ]
        })
        .collect();
    s.push_str("\nvisitor salts:\n");
    s.push_str(&render(&["date", "expires", "bytes"], &salts, width));
    let days: Vec<Vec<String>> = a
        .day_state
        .iter()
        .map(|d| {
            vec![
                d.date.clone(),
                d.tables.to_string(),
                time(d.expires_at) + if d.expired { " (expired)" } else { "" },
                d.bytes.to_string(),
            ]
        })
        .collect();
    s.push_str("\nday state (unsuppressed report rows, salted visitor sketches):\n");
    s.push_str(&render(
        &["date", "tables", "expires", "bytes"],
        &days,
        width,
    ));
    s.push_str(&format!(
        "\n{} diagnostics rows ({} with a raw address) in {} files, {} salts, {} days of state, {} bytes\n",
        a.total_rows,
        a.total_ip_rows,
        a.diagnostics.len(),
        a.salts.len(),
        a.day_state.len(),
        a.total_bytes
    ));
    s
}
