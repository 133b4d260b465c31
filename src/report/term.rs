//! Terminal rendering of a report summary: fixed-layout tables that fit the width they are
//! given (40 columns at least), with proportional bars. Every report string goes through
//! `safe::fit`; never emits a control character other than the colour codes it adds itself.

use super::safe::{self, fit};
use super::{Options, Ranked, Summary, group, human_bytes, percent};

/// Narrowest layout; a narrower terminal gets lines of this width.
pub const MIN_WIDTH: usize = 40;
/// Widest layout: past this, long labels are no easier to read.
pub const MAX_WIDTH: usize = 132;
/// Days listed before older ones are left out.
const MAX_DAYS: usize = 31;

struct Out {
    buf: String,
    width: usize,
    color: bool,
}

impl Out {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color && !s.is_empty() {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn line(&mut self, s: &str) {
        self.buf.push_str(s);
        self.buf.push('\n');
    }
    fn heading(&mut self, title: &str) {
        self.buf.push('\n');
        let t = self.paint("1", &safe::truncate(title, self.width));
        self.line(&t);
    }
    fn note(&mut self, s: &str) {
        let t = self.paint("2", &safe::truncate(s, self.width));
        self.line(&t);
    }
}

/// A bar of `value / max` of `cols` columns, in eighths of a column.
pub fn bar(value: u64, max: u64, cols: usize) -> String {
    if max == 0 || cols == 0 {
        return String::new();
    }
    let eighths = ((value as u128 * cols as u128 * 8 + max as u128 / 2) / max as u128) as usize;
    let eighths = if value > 0 { eighths.max(1) } else { 0 };
    let mut s = "█".repeat(eighths / 8);
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    s.push_str(PARTS[eighths % 8]);
    s
}

fn right(s: &str, cols: usize) -> String {
    fit(s, cols, false)
}

/// A ranked table: label, requests, share of `total`, optionally visitors, and a bar when
/// `bar_min` columns are left for one.
#[allow(clippy::too_many_arguments)]
fn ranked_table(
    o: &mut Out,
    title: &str,
    label_head: &str,
    rows: &[Ranked],
    total: u64,
    top: usize,
    label_cols: Option<usize>,
    visitors: bool,
) {
    if rows.is_empty() {
        return;
    }
    o.heading(title);
    // "  " label " " requests(10) " " share(6) [" " visitors(9)] ["  " bar]
    let fixed = 2 + 1 + 10 + 1 + 6 + if visitors { 10 } else { 0 };
    let room = o.width.saturating_sub(fixed);
    let (lw, bw) = match label_cols {
        Some(l) => {
            let l = l.min(room.saturating_sub(6)).max(8);
            let b = room.saturating_sub(l + 2);
            (l, if b >= 4 { b } else { 0 })
        }
        None => (room.max(8), 0),
    };
    let mut head = format!(
        "  {} {} {}",
        fit(label_head, lw, true),
        right("requests", 10),
        right("share", 6)
    );
    if visitors {
        head.push_str(&format!(" {}", right("visitors", 9)));
    }
    let head = o.paint("2", &head);
    o.line(&head);
    let shown: Vec<&Ranked> = rows.iter().take(top).collect();
    let max = shown.iter().map(|r| r.requests).max().unwrap_or(0);
    for r in &shown {
        let label = if r.detail.is_empty() || r.detail == r.label || label_cols.is_none() {
            r.label.clone()
        } else {
            format!("{} {}", r.label, r.detail)
        };
        let mut l = format!(
            "  {} {} {}",
            fit(&label, lw, true),
            right(&group(r.requests), 10),
            right(&percent(r.requests, total), 6)
        );
        if visitors {
            l.push_str(&format!(" {}", right(&group(r.visitors), 9)));
        }
        if bw > 0 {
            l.push_str("  ");
            l.push_str(&o.paint("36", &bar(r.requests, max, bw)));
        }
        o.line(l.trim_end());
    }
    if rows.len() > shown.len() {
        let rest: u64 = rows[shown.len()..].iter().map(|r| r.requests).sum();
        o.note(&format!(
            "  … {} more, {} request{}",
            group((rows.len() - shown.len()) as u64),
            group(rest),
            if rest == 1 { "" } else { "s" }
        ));
    }
}

fn days_table(o: &mut Out, s: &Summary) {
    if s.days.is_empty() {
        return;
    }
    o.heading("Traffic per day");
    // "  " date(10) " " requests(10) [" " bytes(10)] " " visitors(9) "  " bar; bytes are left
    // out below 44 columns.
    let bytes = o.width >= 44;
    let fixed = 2 + 10 + 1 + 10 + 1 + 9 + if bytes { 11 } else { 0 };
    let bw = o.width.saturating_sub(fixed + 2);
    let row = |date: &str, requests: &str, b: &str, visitors: &str| {
        let mut l = format!("  {} {}", fit(date, 10, true), right(requests, 10));
        if bytes {
            l.push_str(&format!(" {}", right(b, 10)));
        }
        l.push_str(&format!(" {}", right(visitors, 9)));
        l
    };
    let head = o.paint("2", &row("date", "requests", "bytes", "visitors"));
    o.line(&head);
    let skip = s.days.len().saturating_sub(MAX_DAYS);
    if skip > 0 {
        o.note(&format!(
            "  ({skip} earlier days left out: use --since/--until)"
        ));
    }
    let max = s.days.iter().map(|d| d.requests).max().unwrap_or(0);
    for d in &s.days[skip..] {
        let mut l = row(
            &d.date,
            &group(d.requests),
            &human_bytes(d.bytes),
            &group(d.visitors),
        );
        if bw >= 4 {
            l.push_str("  ");
            l.push_str(&o.paint("36", &bar(d.requests, max, bw)));
        }
        o.line(l.trim_end());
    }
    if s.days.len() > 1 {
        let l = row(
            "total",
            &group(s.requests),
            &human_bytes(s.bytes),
            &group(s.visitors),
        );
        let l = o.paint("1", &l);
        o.line(&l);
    }
}

fn suppression(o: &mut Out, s: &Summary) {
    o.heading("Suppression");
    if s.runs == 0 {
        o.note("  no run manifest found under runs/");
        return;
    }
    let k = match s.k_min.as_slice() {
        [] => "unknown".to_string(),
        [k] => k.to_string(),
        ks => ks
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    o.note(&format!(
        "  {} run{}, k-min {k}: rows folded into (other) rows",
        s.runs,
        if s.runs == 1 { "" } else { "s" }
    ));
    let counts = |f: &super::FoldedSum| {
        [
            (f.suppressed_rows, f.suppressed_requests),
            (f.top_n_rows, f.top_n_requests),
            (f.bounded_rows, f.bounded_requests),
        ]
    };
    if o.width < 2 + 8 + 3 * 18 {
        // Narrow: one line per table, rows/requests of each kind of fold.
        o.note("  rows/requests below k-min, beyond top-N, past the memory bound");
        for (table, f) in &s.folded {
            let c = counts(f).map(|(r, q)| format!("{}/{}", group(r), group(q)));
            let l = format!("  {table}: {}", c.join("  "));
            o.line(&safe::truncate(&l, o.width));
        }
        return;
    }
    // "  " table(8..16) then three groups of " " rows(6) " " requests(10)
    let groups = ["below k-min", "beyond top-N", "memory bound"];
    let tw = o.width.saturating_sub(2 + 3 * 18).min(16);
    let mut h1 = format!("  {}", " ".repeat(tw));
    let mut h2 = format!("  {}", fit("table", tw, true));
    for g in groups {
        h1.push_str(&format!(" {}", right(g, 17)));
        h2.push_str(&format!(" {} {}", right("rows", 6), right("requests", 10)));
    }
    let (h1, h2) = (o.paint("2", &h1), o.paint("2", &h2));
    o.line(&h1);
    o.line(&h2);
    for (table, f) in &s.folded {
        let mut l = format!("  {}", fit(table, tw, true));
        for (rows, req) in counts(f) {
            l.push_str(&format!(
                " {} {}",
                right(&group(rows), 6),
                right(&group(req), 10)
            ));
        }
        o.line(&l);
    }
}

/// The whole terminal report.
pub fn render(s: &Summary, opts: &Options) -> String {
    let width = opts.width.clamp(MIN_WIDTH, MAX_WIDTH);
    let mut o = Out {
        buf: String::new(),
        width,
        color: opts.color,
    };
    let period = match (s.first_date(), s.last_date()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "no data".to_string(),
    };
    let title = format!(
        "logveil report: {period} ({} day{})",
        s.days.len(),
        if s.days.len() == 1 { "" } else { "s" }
    );
    let t = o.paint("1", &safe::truncate(&title, width));
    o.line(&t);
    o.line(&safe::truncate(
        &format!(
            "{} requests · {} · {} visitors (daily, summed)",
            group(s.requests),
            human_bytes(s.bytes),
            group(s.visitors)
        ),
        width,
    ));
    if s.days.is_empty() {
        o.note("no report rows in this period");
    }
    let top = opts.top.max(1);
    days_table(&mut o, s);
    ranked_table(
        &mut o,
        "Countries",
        "country",
        &s.countries,
        s.requests_or(s.countries.iter().map(|r| r.requests).sum()),
        top,
        Some(12),
        true,
    );
    let page_total = s.pages.iter().map(|r| r.requests).sum();
    let pages: Vec<Ranked> = if s.vhosts > 1 {
        s.pages
            .iter()
            .map(|r| Ranked {
                label: format!("{}{}", r.detail, r.label),
                ..r.clone()
            })
            .collect()
    } else {
        s.pages.clone()
    };
    ranked_table(
        &mut o,
        "Top pages",
        "page",
        &pages,
        page_total,
        top,
        None,
        true,
    );
    let ref_total = s.referrers.iter().map(|r| r.requests).sum();
    ranked_table(
        &mut o,
        "Top referrers",
        "referrer",
        &s.referrers,
        ref_total,
        top,
        None,
        true,
    );
    let status_total = s.status.iter().map(|r| r.requests).sum();
    ranked_table(
        &mut o,
        "Status classes",
        "status",
        &s.status,
        status_total,
        top,
        Some(12),
        false,
    );
    ranked_table(
        &mut o,
        "Browsers",
        "browser",
        &s.browsers,
        s.agent_requests,
        top,
        Some(20),
        true,
    );
    ranked_table(
        &mut o,
        "Devices",
        "device",
        &s.devices,
        s.agent_requests,
        top,
        Some(12),
        true,
    );
    if s.agent_requests > 0 {
        o.note(&format!(
            "  bots: {} of {} requests ({})",
            group(s.bot_requests),
            group(s.agent_requests),
            percent(s.bot_requests, s.agent_requests)
        ));
    }
    suppression(&mut o, s);
    o.buf
}

impl Summary {
    fn requests_or(&self, fallback: u64) -> u64 {
        if self.requests > 0 {
            self.requests
        } else {
            fallback
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_proportional_in_eighths() {
        let cases: &[(u64, u64, usize, &str)] = &[
            (10, 10, 4, "████"),
            (5, 10, 4, "██"),
            (1, 10, 4, "▍"),
            (1, 1000, 4, "▏"),
            (0, 10, 4, ""),
            (3, 0, 4, ""),
        ];
        for (v, m, c, expected) in cases {
            assert_eq!(&bar(*v, *m, *c), expected, "bar({v}, {m}, {c})");
        }
    }
}
