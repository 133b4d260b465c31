//! The HTML report: one self-contained page (inline CSS and SVG, no script, font, style sheet
//! or image from anywhere, a Content-Security-Policy that forbids them). Every report string
//! goes through `safe::html`; numbers are formatted here. Never emits a `<script` element.

use std::fmt::Write;

use super::safe::{html, html_cut};
use super::{Options, Ranked, Summary, group, human_bytes, percent};

/// The page's Content-Security-Policy: nothing but inline styles and data: images.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Longest label shown in a table cell (the cell cuts it further with an ellipsis); the full
/// value, up to `MAX_TITLE` columns, is in its tooltip.
const MAX_LABEL: usize = 160;
const MAX_TITLE: usize = 2000;

const STYLE: &str = r#"
:root{--bg:#f5f6f8;--card:#fff;--ink:#1d2330;--muted:#6b7385;--line:#e4e7ec;--accent:#3b6fd8;
--accent2:#a9c1f2;--ok:#2f9e6b;--redir:#3b6fd8;--client:#d98a1c;--server:#d2483f;--other:#9aa3b2}
@media (prefers-color-scheme:dark){:root{--bg:#12151b;--card:#1b2029;--ink:#e6e9ef;--muted:#9099aa;
--line:#2a303b;--accent:#6f9bf0;--accent2:#34507f}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 24px 40px}
header{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:8px;margin-bottom:18px}
h1{font-size:22px;margin:0;font-weight:650;letter-spacing:-.01em}
h1 span{color:var(--muted);font-weight:500}
.period{color:var(--muted);margin:0}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 12px;font-weight:600}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px;margin-bottom:16px}
.kpi,.card{background:var(--card);border:1px solid var(--line);border-radius:10px}
.kpi{padding:14px 16px}
.kpi b{display:block;font-size:24px;font-weight:650;letter-spacing:-.02em;font-variant-numeric:tabular-nums}
.kpi span{color:var(--muted);font-size:12px}
.card{padding:16px 18px;margin-bottom:16px;min-width:0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:16px}
.grid>.card{margin-bottom:0}
.row{margin-bottom:16px}
.geo{grid-template-columns:minmax(0,3fr) minmax(300px,2fr)}
@media (max-width:900px){.geo{grid-template-columns:1fr}}
.maplegend{display:flex;flex-wrap:wrap;align-items:center;gap:4px;margin-top:10px;font-size:12px;color:var(--muted)}
.maplegend i{display:inline-block;width:22px;height:10px;border-radius:2px}
.maplegend span{margin:0 6px}
svg{display:block;width:100%;height:auto}
svg text{fill:var(--muted);font-size:11px;font-family:inherit}
.grid-line{stroke:var(--line);stroke-width:1}
.area{fill:var(--accent);fill-opacity:.16}
.line{fill:none;stroke:var(--accent);stroke-width:2;stroke-linejoin:round}
table{width:100%;border-collapse:collapse;table-layout:fixed;font-variant-numeric:tabular-nums}
th{font-weight:600;color:var(--muted);font-size:12px;text-align:right;padding:0 0 6px;border-bottom:1px solid var(--line)}
th:first-child,td:first-child{text-align:left}
.fold thead tr:first-child th{border-bottom:0;text-align:center;padding-bottom:4px}
.fold thead tr:first-child th[colspan]{box-shadow:inset 0 -1px var(--line)}
.fold thead tr+tr th{padding-top:4px}
td{padding:5px 0;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
tr:last-child td{border-bottom:0}
td.l{overflow:hidden;text-overflow:ellipsis;padding-right:12px}
td.l code{font:12.5px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.num{width:76px}.pct{width:56px}
.bar{position:relative;height:6px;border-radius:3px;background:var(--line);margin-top:3px;overflow:hidden}
.bar i{position:absolute;left:0;top:0;bottom:0;border-radius:3px;background:var(--accent)}
.other td{color:var(--muted);font-style:italic}
.stack{display:flex;height:14px;border-radius:7px;overflow:hidden;margin:4px 0 14px}
.stack i{display:block;height:100%}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:0;padding:0;list-style:none}
.legend li{display:flex;align-items:center;gap:6px}
.legend i{width:10px;height:10px;border-radius:2px;display:inline-block}
.legend b{font-variant-numeric:tabular-nums;font-weight:600}
.muted{color:var(--muted)}
.s2xx{background:var(--ok)}.s3xx{background:var(--redir)}.s4xx{background:var(--client)}
.s5xx{background:var(--server)}.sother,.s1xx{background:var(--other)}
footer{color:var(--muted);font-size:12px;margin-top:8px}
"#;

fn th(s: &str, class: &str) -> String {
    format!("<th class=\"{class}\">{s}</th>")
}

/// A ranked table: label with a bar under it, requests, share and (optionally) visitors.
#[allow(clippy::too_many_arguments)]
fn ranked_table(
    out: &mut String,
    title: &str,
    head: &str,
    rows: &[Ranked],
    total: u64,
    top: usize,
    visitors: bool,
    code: bool,
) {
    let _ = write!(out, "<section class=\"card\"><h2>{}</h2>", html(title));
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">No rows in this period.</p></section>");
        return;
    }
    let _ = write!(
        out,
        "<table><thead><tr>{}{}{}{}</tr></thead><tbody>",
        th(&html(head), ""),
        th("requests", "num"),
        th("share", "pct"),
        if visitors {
            th("visitors", "num")
        } else {
            String::new()
        }
    );
    let shown: Vec<&Ranked> = rows.iter().take(top).collect();
    let max = shown
        .iter()
        .filter(|r| r.label != super::OTHER)
        .map(|r| r.requests)
        .max()
        .unwrap_or(0)
        .max(1);
    for r in &shown {
        let other = r.label == super::OTHER;
        let w = (r.requests as f64 * 100.0 / max as f64).min(100.0);
        let label = if code {
            format!("<code>{}</code>", html_cut(&r.label, MAX_LABEL))
        } else {
            html_cut(&r.label, MAX_LABEL)
        };
        let detail = if r.detail.is_empty() || r.detail == r.label {
            String::new()
        } else {
            format!(" <span class=\"muted\">{}</span>", html_cut(&r.detail, 60))
        };
        let _ = write!(
            out,
            "<tr{}><td class=\"l\" title=\"{}\">{label}{detail}<div class=\"bar\"><i style=\"width:{w:.1}%\"></i></div></td><td>{}</td><td>{}</td>{}</tr>",
            if other { " class=\"other\"" } else { "" },
            html_cut(&r.label, MAX_TITLE),
            group(r.requests),
            percent(r.requests, total),
            if visitors {
                format!("<td>{}</td>", group(r.visitors))
            } else {
                String::new()
            }
        );
    }
    out.push_str("</tbody></table>");
    if rows.len() > shown.len() {
        let rest: u64 = rows[shown.len()..].iter().map(|r| r.requests).sum();
        let _ = write!(
            out,
            "<p class=\"muted\">{} more, {} request{}.</p>",
            group((rows.len() - shown.len()) as u64),
            group(rest),
            if rest == 1 { "" } else { "s" }
        );
    }
    out.push_str("</section>");
}

/// A round step for an axis reaching `max`: 1, 2 or 5 times a power of ten.
fn nice_step(max: u64, ticks: u64) -> u64 {
    let raw = (max / ticks.max(1)).max(1);
    let mut p = 1u64;
    while p.saturating_mul(10) <= raw {
        p *= 10;
    }
    for m in [1, 2, 5, 10] {
        if p * m >= raw {
            return p * m;
        }
    }
    p * 10
}

fn short(n: u64) -> String {
    match n {
        0..=9_999 => group(n),
        10_000..=999_999 => format!("{}k", n / 1000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// Requests over time as an SVG area chart: by hour up to 14 days, by day beyond.
fn time_chart(out: &mut String, s: &Summary) {
    out.push_str("<section class=\"card row\"><h2>Requests over time</h2>");
    let (points, unit): (Vec<(i64, u64)>, i64) = if !s.hourly.is_empty() && s.days.len() <= 14 {
        // Every hour of the span, zeros included, so quiet hours show.
        let (a, b) = (s.hourly[0].0, s.hourly[s.hourly.len() - 1].0);
        let a = a - a.rem_euclid(24);
        let b = b - b.rem_euclid(24) + 23;
        let m: std::collections::HashMap<i64, u64> = s.hourly.iter().copied().collect();
        ((a..=b).map(|h| (h, *m.get(&h).unwrap_or(&0))).collect(), 1)
    } else {
        let pts = s
            .days
            .iter()
            .filter_map(|d| {
                let date: jiff::civil::Date = d.date.parse().ok()?;
                let days = crate::parse::time::days_from_civil(
                    date.year().into(),
                    date.month() as u32,
                    date.day() as u32,
                );
                Some((days * 24, d.requests))
            })
            .collect();
        (pts, 24)
    };
    if points.is_empty() {
        out.push_str("<p class=\"muted\">No traffic in this period.</p></section>");
        return;
    }
    let (w, h) = (1100.0, 260.0);
    let (left, right, top, bottom) = (56.0, 12.0, 10.0, 26.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let step = nice_step(max, 4);
    let ymax = max.div_ceil(step) * step;
    let n = points.len();
    let x = |i: usize| {
        if n == 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: u64| top + ph - ph * v as f64 / ymax as f64;
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"requests per {}\">",
        if unit == 1 { "hour" } else { "day" }
    );
    let mut v = 0;
    while v <= ymax {
        let yy = y(v);
        let _ = write!(
            out,
            "<line class=\"grid-line\" x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            w - right,
            left - 8.0,
            yy + 4.0,
            short(v)
        );
        v += step;
    }
    // Date labels: at most about ten, at day starts.
    let day_idx: Vec<usize> = (0..n)
        .filter(|&i| unit == 24 || points[i].0.rem_euclid(24) == 0)
        .collect();
    let every = day_idx.len().div_ceil(10).max(1);
    for (k, &i) in day_idx.iter().enumerate() {
        if k % every != 0 {
            continue;
        }
        let date = crate::parse::time::date_string(points[i].0 * 3600);
        let xx = x(i);
        if unit == 1 {
            let _ = write!(
                out,
                "<line class=\"grid-line\" x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{top}\" y2=\"{}\"/>",
                top + ph
            );
        }
        let anchor = if n == 1 {
            "middle"
        } else if i == 0 {
            "start"
        } else if i + 1 == n {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            "<text x=\"{xx:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            h - 8.0,
            html(&date)
        );
    }
    let mut line = String::new();
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            line,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { "L" },
            x(i),
            y(p.1)
        );
    }
    if n == 1 {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"var(--accent)\"/>",
            x(0),
            y(points[0].1)
        );
    } else {
        let _ = write!(
            out,
            "<path class=\"area\" d=\"{line}L{:.1},{:.1}L{:.1},{:.1}Z\"/><path class=\"line\" d=\"{line}\"/>",
            x(n - 1),
            top + ph,
            x(0),
            top + ph
        );
    }
    out.push_str("</svg></section>");
}

/// Status classes as one stacked bar with a legend.
fn status_card(out: &mut String, s: &Summary) {
    out.push_str("<section class=\"card\"><h2>Status classes</h2>");
    let total: u64 = s.status.iter().map(|r| r.requests).sum();
    if total == 0 {
        out.push_str("<p class=\"muted\">No rows in this period.</p></section>");
        return;
    }
    let class = |l: &str| match l {
        "1xx" | "2xx" | "3xx" | "4xx" | "5xx" => format!("s{l}"),
        _ => "sother".to_string(),
    };
    let mut sorted = s.status.clone();
    sorted.sort_by(|a, b| a.label.cmp(&b.label));
    out.push_str("<div class=\"stack\">");
    for r in &sorted {
        let _ = write!(
            out,
            "<i class=\"{}\" style=\"width:{:.2}%\" title=\"{}\"></i>",
            class(&r.label),
            r.requests as f64 * 100.0 / total as f64,
            html(&r.label)
        );
    }
    out.push_str("</div><ul class=\"legend\">");
    for r in &sorted {
        let _ = write!(
            out,
            "<li><i class=\"{}\"></i>{} <b>{}</b> <span class=\"muted\">{}</span></li>",
            class(&r.label),
            html(&r.label),
            group(r.requests),
            percent(r.requests, total)
        );
    }
    out.push_str("</ul>");
    if !s.methods.is_empty() {
        out.push_str("<h2 style=\"margin-top:18px\">Methods</h2><ul class=\"legend\">");
        for r in s.methods.iter().take(8) {
            let _ = write!(
                out,
                "<li>{} <b>{}</b> <span class=\"muted\">{}</span></li>",
                html(&r.label),
                group(r.requests),
                percent(r.requests, total)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

/// Requests by country on the tile-grid map ([`super::tiles`]): each square's opacity grows
/// with the logarithm of its requests.
fn map_card(out: &mut String, s: &Summary) {
    out.push_str("<section class=\"card\"><h2>Where requests come from</h2>");
    let by: std::collections::HashMap<&str, u64> = s
        .countries
        .iter()
        .map(|r| (r.label.as_str(), r.requests))
        .collect();
    let tiles = super::tiles::tiles();
    let total: u64 = s.countries.iter().map(|r| r.requests).sum();
    let on_map: u64 = tiles.iter().filter_map(|t| by.get(t.0)).sum();
    let max = tiles
        .iter()
        .filter_map(|t| by.get(t.0))
        .max()
        .copied()
        .unwrap_or(0);
    let (cols, rows) = super::tiles::size();
    let (cell, gap) = (32.0, 3.0);
    let _ = write!(
        out,
        "<svg class=\"map\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"requests by country\">",
        cols as f64 * (cell + gap),
        rows as f64 * (cell + gap)
    );
    let scale = |v: u64| {
        if max == 0 || v == 0 {
            0.0
        } else {
            ((1.0 + v as f64).ln() / (1.0 + max as f64).ln()).clamp(0.0, 1.0)
        }
    };
    for &(code, col, row) in &tiles {
        let v = by.get(code).copied().unwrap_or(0);
        let t = scale(v);
        let (x, y) = (col as f64 * (cell + gap), row as f64 * (cell + gap));
        let fill = if v == 0 {
            "fill=\"var(--line)\"".to_string()
        } else {
            format!(
                "fill=\"var(--accent)\" fill-opacity=\"{:.2}\"",
                0.18 + 0.82 * t
            )
        };
        let ink = if t > 0.55 { "#fff" } else { "var(--muted)" };
        let _ = write!(
            out,
            "<g><title>{}: {} request{}</title><rect x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" rx=\"4\" {fill}/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" style=\"fill:{ink};font-size:10px;font-weight:600\">{}</text></g>",
            html(code),
            group(v),
            if v == 1 { "" } else { "s" },
            x + cell / 2.0,
            y + cell / 2.0 + 3.5,
            html(code)
        );
    }
    out.push_str("</svg><div class=\"maplegend\"><span>fewer</span>");
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            out,
            "<i style=\"background:var(--accent);opacity:{:.2}\"></i>",
            0.18 + 0.82 * t
        );
    }
    let _ = write!(out, "<span>more requests (log scale)</span>");
    if total > on_map {
        let _ = write!(
            out,
            "<span class=\"muted\" style=\"margin-left:auto\">{} of requests from places not on the map (unknown, proxies, small countries)</span>",
            percent(total - on_map, total)
        );
    }
    out.push_str("</div></section>");
}

fn suppression_card(out: &mut String, s: &Summary) {
    out.push_str("<section class=\"card\"><h2>Suppression</h2>");
    if s.runs == 0 {
        out.push_str("<p class=\"muted\">No run manifest found under runs/.</p></section>");
        return;
    }
    let ks: Vec<String> = s.k_min.iter().map(|k| k.to_string()).collect();
    let _ = write!(
        out,
        "<p class=\"muted\">{} run{}, k-min {}. Rows below k-min visitors, beyond the top-N bounds or past the memory bound were folded into <code>(other)</code> rows; totals are kept.</p>",
        s.runs,
        if s.runs == 1 { "" } else { "s" },
        html(&if ks.is_empty() {
            "unknown".into()
        } else {
            ks.join(", ")
        })
    );
    let _ = write!(
        out,
        "<table class=\"fold\"><thead><tr><th></th><th colspan=\"2\">below k-min</th><th colspan=\"2\">beyond top-N</th><th colspan=\"2\">memory bound</th></tr><tr>{}{}{}{}{}{}{}</tr></thead><tbody>",
        th("table", ""),
        th("rows", "num"),
        th("requests", "num"),
        th("rows", "num"),
        th("requests", "num"),
        th("rows", "num"),
        th("requests", "num")
    );
    for (table, f) in &s.folded {
        let _ = write!(
            out,
            "<tr><td class=\"l\"><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html(table),
            group(f.suppressed_rows),
            group(f.suppressed_requests),
            group(f.top_n_rows),
            group(f.top_n_requests),
            group(f.bounded_rows),
            group(f.bounded_requests)
        );
    }
    out.push_str("</tbody></table></section>");
}

/// The whole page.
pub fn render(s: &Summary, opts: &Options) -> String {
    let top = opts.top.max(1);
    let period = match (s.first_date(), s.last_date()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a} – {b}"),
        _ => "no data".to_string(),
    };
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Traffic report · {}</title><style>{STYLE}</style></head><body><main>",
        html(&period)
    );
    let _ = write!(
        out,
        "<header><h1>Traffic report <span>· {}</span></h1><p class=\"period\">{} day{} · {} part files · UTC</p></header>",
        html(&period),
        s.days.len(),
        if s.days.len() == 1 { "" } else { "s" },
        s.files
    );
    let errors: u64 = s
        .status
        .iter()
        .filter(|r| r.label == "4xx" || r.label == "5xx")
        .map(|r| r.requests)
        .sum();
    let status_total: u64 = s.status.iter().map(|r| r.requests).sum();
    let kpis = [
        (group(s.requests), "requests".to_string()),
        (human_bytes(s.bytes), "served".to_string()),
        (group(s.visitors), "visitors (per day, summed)".to_string()),
        (
            percent(errors, status_total),
            "errors (4xx and 5xx)".to_string(),
        ),
        (
            percent(s.bot_requests, s.agent_requests),
            "requests by bots".to_string(),
        ),
    ];
    out.push_str("<section class=\"kpis\">");
    for (v, l) in kpis {
        let _ = write!(
            out,
            "<div class=\"kpi\"><b>{}</b><span>{}</span></div>",
            html(&v),
            html(&l)
        );
    }
    out.push_str("</section>");
    time_chart(&mut out, s);

    out.push_str("<div class=\"grid geo row\">");
    map_card(&mut out, s);
    let geo_total = s.countries.iter().map(|r| r.requests).sum();
    ranked_table(
        &mut out,
        "Countries",
        "country",
        &s.countries,
        geo_total,
        top,
        true,
        false,
    );
    out.push_str("</div><div class=\"grid row\">");
    status_card(&mut out, s);
    let cont_total = s.continents.iter().map(|r| r.requests).sum();
    ranked_table(
        &mut out,
        "Continents",
        "continent",
        &s.continents,
        cont_total,
        top,
        true,
        false,
    );
    out.push_str("</div>");

    out.push_str("<div class=\"grid row\">");
    let pages: Vec<Ranked> = s
        .pages
        .iter()
        .map(|r| Ranked {
            label: if s.vhosts > 1 && r.detail != "-" {
                format!("{}{}", r.detail, r.label)
            } else {
                r.label.clone()
            },
            detail: String::new(),
            ..r.clone()
        })
        .collect();
    let page_total = pages.iter().map(|r| r.requests).sum();
    ranked_table(
        &mut out,
        "Top pages",
        "page",
        &pages,
        page_total,
        top,
        true,
        true,
    );
    let ref_total = s.referrers.iter().map(|r| r.requests).sum();
    ranked_table(
        &mut out,
        "Top referrers",
        "referrer",
        &s.referrers,
        ref_total,
        top,
        true,
        true,
    );
    out.push_str("</div>");

    out.push_str("<div class=\"grid row\">");
    for (title, head, rows) in [
        ("Browsers", "browser", &s.browsers),
        ("Operating systems", "system", &s.os),
        ("Devices", "device", &s.devices),
    ] {
        ranked_table(
            &mut out,
            title,
            head,
            rows,
            s.agent_requests,
            top,
            true,
            false,
        );
    }
    out.push_str("</div>");

    suppression_card(&mut out, s);
    let _ = write!(
        out,
        "<footer>Made by logveil {} from the reports under its output tree. Visitors are estimated distinct visitors of each day (HLL sketches), summed over days: a visitor who comes back another day counts again. Times are UTC.</footer>",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("</main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_steps_are_round() {
        for (max, ticks, expected) in [
            (100, 4, 50),
            (1000, 4, 500),
            (2000, 4, 500),
            (7, 4, 1),
            (0, 4, 1),
            (93, 4, 50),
            (12, 4, 5),
        ] {
            assert_eq!(nice_step(max, ticks), expected, "nice_step({max}, {ticks})");
        }
    }
}
