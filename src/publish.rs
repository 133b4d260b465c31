//! Publishing rules, in two stages: a merged accumulator (or report trees read back) becomes
//! mergeable raw rows ([`RawTables`]), and [`apply`] turns them into the rows analysts see,
//! applying the top-N bounds and small-cell suppression by folding rows into explicit
//! `(other)` rows of their parent. Owns those rules and their statistics; does no I/O and never drops a request (every
//! fold keeps sums and unions sketches).

use std::collections::BTreeMap;

use crate::agg::{Accumulator, Cell, METHODS, OTHER, Totals, status_class_name};

/// The rules a run publishes under.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Rules {
    /// Rows with fewer distinct visitors than this are folded into their parent's other-row;
    /// 0 disables suppression (for edge servers whose reports are merged later).
    pub k_min: u64,
    /// Pages kept per day (the rest go to `(other)` per vhost and status class).
    pub top_pages: usize,
    /// Referrer hosts kept per day.
    pub top_referrers: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            k_min: 10,
            top_pages: 1000,
            top_referrers: 500,
        }
    }
}

/// One published row: its day, its dimensions as strings, and its cell.
#[derive(Debug, Clone)]
pub struct Row {
    pub day: i64,
    pub dims: Vec<String>,
    pub cell: Cell,
}

/// How many rows and requests each rule folded into other-rows, for one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Folded {
    /// By small-cell suppression (fewer than k visitors).
    pub suppressed_rows: u64,
    pub suppressed_requests: u64,
    /// By the top-N bound of the table at publication.
    pub top_n_rows: u64,
    pub top_n_requests: u64,
    /// By the memory bound while aggregating (only with very many distinct values).
    pub bounded_rows: u64,
    pub bounded_requests: u64,
}

/// Rows of `traffic_hourly`: hour since the epoch, vhost, status class, method, totals.
pub type TrafficRow = (i64, String, String, String, Totals);

/// Key of a raw row: the day since the epoch (the hour, for `traffic_hourly`) and the row's
/// dimensions as strings, in the order of the table's columns. Boolean dimensions are
/// `true`/`false`.
pub type RawKey = (i64, Vec<String>);

/// Every row of every report table, before any publishing rule: no top-N bound, no
/// suppression, nothing folded (except what an accumulator's memory bound folded, counted in
/// `bounded`). It is what a run publishes from, and what is read back from report trees to
/// republish or merge them.
///
/// Raw tables form a commutative monoid under [`RawTables::merge`]: totals are summed and
/// visitor sketches unioned ([`crate::agg::Visitors::merge`]), row by row, so merging is
/// associative and commutative, and [`apply`] after merging gives the same tables whatever the
/// grouping. Merging the same rows twice counts their requests twice: callers that merge
/// stored runs must refuse a run they already hold.
#[derive(Debug, Clone, Default)]
pub struct RawTables {
    /// `[continent, country]` per day.
    pub geo_daily: BTreeMap<RawKey, Cell>,
    /// `[vhost, status_class, method]` per hour since the epoch (no visitors).
    pub traffic_hourly: BTreeMap<RawKey, Totals>,
    /// `[vhost, path, status_class]` per day.
    pub pages_daily: BTreeMap<RawKey, Cell>,
    /// `[referrer_host]` per day.
    pub referrers_daily: BTreeMap<RawKey, Cell>,
    /// `[browser, browser_major, os, device, bot]` per day.
    pub agents_daily: BTreeMap<RawKey, Cell>,
    /// Rows and requests folded by an accumulator's memory bound, per table.
    pub bounded: BTreeMap<&'static str, (u64, u64)>,
}

fn merge_cells(into: &mut BTreeMap<RawKey, Cell>, from: BTreeMap<RawKey, Cell>) {
    for (k, c) in from {
        into.entry(k).or_default().merge(c);
    }
}

impl RawTables {
    /// Adds every row of `other` to `self`: sums of totals, unions of sketches.
    pub fn merge(&mut self, other: RawTables) {
        merge_cells(&mut self.geo_daily, other.geo_daily);
        for (k, t) in other.traffic_hourly {
            self.traffic_hourly.entry(k).or_default().merge(t);
        }
        merge_cells(&mut self.pages_daily, other.pages_daily);
        merge_cells(&mut self.referrers_daily, other.referrers_daily);
        merge_cells(&mut self.agents_daily, other.agents_daily);
        for (t, (rows, requests)) in other.bounded {
            let b = self.bounded.entry(t).or_default();
            b.0 += rows;
            b.1 += requests;
        }
    }

    /// Whether no table has a row.
    pub fn is_empty(&self) -> bool {
        self.geo_daily.is_empty()
            && self.traffic_hourly.is_empty()
            && self.pages_daily.is_empty()
            && self.referrers_daily.is_empty()
            && self.agents_daily.is_empty()
    }
}

/// Every table of a run, ready to write.
#[derive(Debug, Default)]
pub struct Tables {
    pub geo_daily: Vec<Row>,
    pub traffic_hourly: Vec<TrafficRow>,
    pub pages_daily: Vec<Row>,
    pub referrers_daily: Vec<Row>,
    pub agents_daily: Vec<Row>,
    pub folded: BTreeMap<&'static str, Folded>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn add(map: &mut BTreeMap<RawKey, Cell>, day: i64, dims: Vec<String>, c: &Cell) {
    map.entry((day, dims)).or_default().merge(c.clone());
}

/// Every row of a merged accumulator, unfolded.
pub fn raw(acc: &Accumulator) -> RawTables {
    let mut t = RawTables::default();
    for ((day, place), c) in &acc.geo {
        let dims = vec![
            place.continent_str().into_owned(),
            place.country_str().into_owned(),
        ];
        add(&mut t.geo_daily, *day, dims, c);
    }
    for ((hour, vhost, class, method), tot) in &acc.hourly {
        let dims = vec![
            text(acc.vhosts.name(*vhost)),
            status_class_name(*class).to_string(),
            METHODS[*method as usize].to_string(),
        ];
        t.traffic_hourly
            .entry((*hour, dims))
            .or_default()
            .merge(*tot);
    }
    for ((day, vhost, _, class), name, c) in acc.pages.named() {
        let dims = vec![
            text(acc.vhosts.name(*vhost)),
            text(name),
            status_class_name(*class).to_string(),
        ];
        add(&mut t.pages_daily, *day, dims, c);
    }
    for ((day, _), name, c) in acc.referrers.named() {
        add(&mut t.referrers_daily, *day, vec![text(name)], c);
    }
    for ((day, id), c) in &acc.agents {
        let a = &acc.agent_classes[*id as usize];
        let dims = vec![
            a.browser.clone(),
            a.major.clone(),
            a.os.clone(),
            a.device.as_str().to_string(),
            a.bot.to_string(),
        ];
        add(&mut t.agents_daily, *day, dims, c);
    }
    t.bounded.insert(
        "pages_daily",
        (acc.pages.purged_rows, acc.pages.purged_requests),
    );
    t.bounded.insert(
        "referrers_daily",
        (acc.referrers.purged_rows, acc.referrers.purged_requests),
    );
    t
}

fn rows(map: BTreeMap<RawKey, Cell>) -> Vec<Row> {
    map.into_iter()
        .map(|((day, dims), cell)| Row { day, dims, cell })
        .collect()
}

/// Applies the rules to a merged accumulator.
pub fn tables(acc: &Accumulator, rules: Rules) -> Tables {
    apply(raw(acc), rules)
}

/// Applies the publishing rules to raw rows: the top-N bounds of pages and referrers, then
/// small-cell suppression of every table with visitors, folding into `(other)` rows.
pub fn apply(raw: RawTables, rules: Rules) -> Tables {
    let mut t = Tables::default();
    let bounded = |name: &str| {
        let (bounded_rows, bounded_requests) = raw.bounded.get(name).copied().unwrap_or_default();
        Folded {
            bounded_rows,
            bounded_requests,
            ..Folded::default()
        }
    };
    let (fp, fr) = (bounded("pages_daily"), bounded("referrers_daily"));

    let mut f = Folded::default();
    t.geo_daily = suppress(rows(raw.geo_daily), rules.k_min, geo_parent, &mut f);
    t.folded.insert("geo_daily", f);

    t.traffic_hourly = raw
        .traffic_hourly
        .into_iter()
        .map(|((hour, mut d), tot)| {
            let method = d.pop().unwrap_or_default();
            let class = d.pop().unwrap_or_default();
            let vhost = d.pop().unwrap_or_default();
            (hour, vhost, class, method, tot)
        })
        .collect();

    let mut f = fp;
    let pages = top_n(rows(raw.pages_daily), rules.top_pages, page_parent, &mut f);
    t.pages_daily = suppress(pages, rules.k_min, page_parent, &mut f);
    t.folded.insert("pages_daily", f);

    let mut f = fr;
    let refs = top_n(
        rows(raw.referrers_daily),
        rules.top_referrers,
        referrer_parent,
        &mut f,
    );
    t.referrers_daily = suppress(refs, rules.k_min, referrer_parent, &mut f);
    t.folded.insert("referrers_daily", f);

    let mut f = Folded::default();
    t.agents_daily = suppress(rows(raw.agents_daily), rules.k_min, agent_parent, &mut f);
    t.folded.insert("agents_daily", f);
    t
}

/// A small country goes to its continent's other-row, a small continent to the world's.
fn geo_parent(d: &[String]) -> Option<Vec<String>> {
    if d[1] != OTHER {
        Some(vec![d[0].clone(), OTHER.into()])
    } else if d[0] != OTHER {
        Some(vec![OTHER.into(), OTHER.into()])
    } else {
        None
    }
}

/// A small page goes to its vhost's other-row (same status class), a small vhost to all's.
fn page_parent(d: &[String]) -> Option<Vec<String>> {
    if d[1] != OTHER {
        Some(vec![d[0].clone(), OTHER.into(), d[2].clone()])
    } else if d[0] != OTHER {
        Some(vec![OTHER.into(), OTHER.into(), d[2].clone()])
    } else {
        None
    }
}

fn referrer_parent(d: &[String]) -> Option<Vec<String>> {
    (d[0] != OTHER).then(|| vec![OTHER.into()])
}

/// An agent first loses its version and OS, then its browser; device class and bot flag stay.
fn agent_parent(d: &[String]) -> Option<Vec<String>> {
    if !d[1].is_empty() || d[2] != OTHER {
        Some(vec![
            d[0].clone(),
            String::new(),
            OTHER.into(),
            d[3].clone(),
            d[4].clone(),
        ])
    } else if d[0] != OTHER {
        Some(vec![
            OTHER.into(),
            String::new(),
            OTHER.into(),
            d[3].clone(),
            d[4].clone(),
        ])
    } else {
        None
    }
}

type Parent = fn(&[String]) -> Option<Vec<String>>;

/// Whether a row already gathers folded rows.
fn is_other(dims: &[String]) -> bool {
    dims.iter().any(|d| d == OTHER)
}

/// Keeps the `n` most-requested rows of each day that are not other-rows; folds the rest into
/// their parent.
fn top_n(rows: Vec<Row>, n: usize, parent: Parent, f: &mut Folded) -> Vec<Row> {
    let mut by_day: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
    for r in rows {
        by_day.entry(r.day).or_default().push(r);
    }
    let mut out = Vec::new();
    for (day, mut rows) in by_day {
        rows.sort_by(|a, b| {
            b.cell
                .totals
                .requests
                .cmp(&a.cell.totals.requests)
                .then_with(|| a.dims.cmp(&b.dims))
        });
        let mut map: BTreeMap<Vec<String>, Cell> = BTreeMap::new();
        let mut kept = 0usize;
        for r in rows {
            if is_other(&r.dims) || kept < n {
                if !is_other(&r.dims) {
                    kept += 1;
                }
                map.entry(r.dims).or_default().merge(r.cell);
            } else {
                f.top_n_rows += 1;
                f.top_n_requests += r.cell.totals.requests;
                let p = parent(&r.dims).expect("a row that is not an other-row has a parent");
                map.entry(p).or_default().merge(r.cell);
            }
        }
        out.extend(map.into_iter().map(|(dims, cell)| Row { day, dims, cell }));
    }
    out
}

/// Folds every row with fewer than `k` distinct visitors (but some) into its parent's
/// other-row, repeatedly, until only other-rows without a parent may stay small.
pub fn suppress(rows: Vec<Row>, k: u64, parent: Parent, f: &mut Folded) -> Vec<Row> {
    let mut map: BTreeMap<(i64, Vec<String>), Cell> = BTreeMap::new();
    for r in rows {
        map.entry((r.day, r.dims)).or_default().merge(r.cell);
    }
    if k > 0 {
        loop {
            let small: Vec<(i64, Vec<String>)> = map
                .iter()
                .filter(|((_, dims), c)| {
                    let v = c.visitors.estimate();
                    v > 0 && v < k && parent(dims).is_some()
                })
                .map(|(key, _)| key.clone())
                .collect();
            if small.is_empty() {
                break;
            }
            for key in small {
                let Some(cell) = map.remove(&key) else {
                    continue;
                };
                f.suppressed_rows += 1;
                f.suppressed_requests += cell.totals.requests;
                let p = parent(&key.1).expect("checked above");
                map.entry((key.0, p)).or_default().merge(cell);
            }
        }
    }
    let mut out: Vec<Row> = map
        .into_iter()
        .map(|((day, dims), cell)| Row { day, dims, cell })
        .collect();
    out.sort_by(|a, b| {
        a.day
            .cmp(&b.day)
            .then(b.cell.totals.requests.cmp(&a.cell.totals.requests))
            .then_with(|| a.dims.cmp(&b.dims))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use datasketches::hll::Coupon;
    use proptest::prelude::*;

    fn cell(requests: u64, visitors: std::ops::Range<u32>) -> Cell {
        let mut c = Cell::default();
        let n = visitors.len() as u64;
        for v in visitors {
            c.add(10, Coupon::from_value(v));
        }
        for _ in n..requests {
            c.totals.add(10);
        }
        c
    }

    fn row(day: i64, dims: &[&str], c: Cell) -> Row {
        Row {
            day,
            dims: dims.iter().map(|s| s.to_string()).collect(),
            cell: c,
        }
    }

    /// Runs suppression and checks its two promises: nothing small is published except
    /// other-rows without a parent, and no request is lost.
    fn check_suppressed(rows: Vec<Row>, k: u64, parent: Parent) -> Vec<Row> {
        let before: u64 = rows.iter().map(|r| r.cell.totals.requests).sum();
        let mut f = Folded::default();
        let out = suppress(rows, k, parent, &mut f);
        let after: u64 = out.iter().map(|r| r.cell.totals.requests).sum();
        assert_eq!(before, after);
        for r in &out {
            let v = r.cell.visitors.estimate();
            assert!(
                v == 0 || v >= k || parent(&r.dims).is_none(),
                "published small row {:?} with {v} visitors",
                r.dims
            );
        }
        out
    }

    #[test]
    fn small_country_goes_to_continent_then_world() {
        let rows = vec![
            row(1, &["EU", "DE"], cell(50, 0..40)),
            row(1, &["EU", "LI"], cell(3, 100..102)),
            row(1, &["EU", "MT"], cell(9, 200..209)),
            row(1, &["OC", "NR"], cell(1, 300..301)),
        ];
        let out = check_suppressed(rows, 10, geo_parent);
        let got: Vec<(Vec<String>, u64, u64)> = out
            .iter()
            .map(|r| {
                (
                    r.dims.clone(),
                    r.cell.totals.requests,
                    r.cell.visitors.estimate(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (vec!["EU".into(), "DE".into()], 50, 40),
                (vec!["EU".into(), OTHER.into()], 12, 11),
                (vec![OTHER.into(), OTHER.into()], 1, 1),
            ]
        );
    }

    #[test]
    fn k_zero_publishes_everything() {
        let rows = vec![row(1, &["EU", "LI"], cell(3, 0..1))];
        let out = check_suppressed(rows, 0, geo_parent);
        assert_eq!(out[0].dims, vec!["EU", "LI"]);
    }

    #[test]
    fn top_n_keeps_the_most_requested_per_day() {
        let rows = vec![
            row(1, &["h", "/a", "2xx"], cell(30, 0..30)),
            row(1, &["h", "/b", "2xx"], cell(20, 0..20)),
            row(1, &["h", "/c", "2xx"], cell(10, 0..10)),
            row(2, &["h", "/c", "2xx"], cell(5, 0..5)),
        ];
        let mut f = Folded::default();
        let out = top_n(rows, 2, page_parent, &mut f);
        let names: Vec<(i64, &str, u64)> = out
            .iter()
            .map(|r| (r.day, r.dims[1].as_str(), r.cell.totals.requests))
            .collect();
        assert_eq!(
            names,
            vec![(1, OTHER, 10), (1, "/a", 30), (1, "/b", 20), (2, "/c", 5)]
        );
        assert_eq!((f.top_n_rows, f.top_n_requests), (1, 10));
    }

    #[test]
    fn agents_lose_version_then_browser() {
        let rows = vec![
            row(
                1,
                &["Firefox", "128", "Linux", "desktop", "false"],
                cell(2, 0..2),
            ),
            row(
                1,
                &["Firefox", "127", "Linux", "desktop", "false"],
                cell(9, 10..19),
            ),
            row(
                1,
                &["Chrome", "120", "Windows", "desktop", "false"],
                cell(3, 20..23),
            ),
        ];
        let out = check_suppressed(rows, 10, agent_parent);
        let dims: Vec<Vec<String>> = out.iter().map(|r| r.dims.clone()).collect();
        assert_eq!(
            dims,
            vec![vec![
                "Firefox".to_string(),
                String::new(),
                OTHER.to_string(),
                "desktop".into(),
                "false".into()
            ]]
            .into_iter()
            .chain([vec![
                OTHER.to_string(),
                String::new(),
                OTHER.to_string(),
                "desktop".into(),
                "false".into()
            ]])
            .collect::<Vec<_>>()
        );
    }

    /// Raw tables of `rows` (country index, visitors range start, visitors, requests).
    fn raw_of(rows: &[(u8, u32, u32, u64)]) -> RawTables {
        let mut t = RawTables::default();
        for &(c, start, v, extra) in rows {
            let dims = vec!["EU".to_string(), format!("C{c}")];
            t.geo_daily
                .entry((1, dims.clone()))
                .or_default()
                .merge(cell(v as u64 + extra, start..start + v));
            t.pages_daily
                .entry((1, vec!["h".into(), format!("/p{c}"), "2xx".into()]))
                .or_default()
                .merge(cell(v as u64 + extra, start..start + v));
            t.traffic_hourly
                .entry((24, vec!["h".into(), "2xx".into(), "GET".into()]))
                .or_default()
                .merge(Totals {
                    requests: extra,
                    bytes: extra * 3,
                });
        }
        t
    }

    /// What a published table shows, with the order-independent estimate of each sketch.
    fn shown(t: &Tables) -> Vec<(Vec<String>, u64, u64, u64)> {
        let rows = t.geo_daily.iter().chain(&t.pages_daily);
        let mut v: Vec<_> = rows
            .map(|r| {
                (
                    r.dims.clone(),
                    r.cell.totals.requests,
                    r.cell.totals.bytes,
                    r.cell.visitors.sketch().composite_estimate().round() as u64,
                )
            })
            .collect();
        v.extend(t.traffic_hourly.iter().map(|r| {
            (
                vec![r.1.clone(), r.2.clone(), r.3.clone()],
                r.4.requests,
                r.4.bytes,
                0,
            )
        }));
        v
    }

    proptest! {
        #[test]
        fn raw_merge_is_associative_and_commutative(
            a in proptest::collection::vec((0u8..5, 0u32..200, 1u32..30, 0u64..20), 0..10),
            b in proptest::collection::vec((0u8..5, 0u32..200, 1u32..30, 0u64..20), 0..10),
            c in proptest::collection::vec((0u8..5, 0u32..200, 1u32..30, 0u64..20), 0..10),
            k in 0u64..12,
        ) {
            let rules = Rules { k_min: k, top_pages: 3, top_referrers: 3 };
            let mut ab_c = raw_of(&a);
            ab_c.merge(raw_of(&b));
            ab_c.merge(raw_of(&c));
            let mut bc = raw_of(&b);
            bc.merge(raw_of(&c));
            let mut a_bc = raw_of(&a);
            a_bc.merge(bc);
            let mut cba = raw_of(&c);
            cba.merge(raw_of(&b));
            cba.merge(raw_of(&a));
            let want = shown(&apply(ab_c, rules));
            prop_assert_eq!(&want, &shown(&apply(a_bc, rules)));
            prop_assert_eq!(&want, &shown(&apply(cba, rules)));
        }

        #[test]
        fn suppression_keeps_sums_and_publishes_no_small_cell(
            cells in proptest::collection::vec((0u8..4, 0u8..6, 1u32..30, 1u64..50), 0..40),
            k in 0u64..15,
        ) {
            let conts = ["EU", "AS", "NA", "unknown"];
            let mut next = 0u32;
            let rows: Vec<Row> = cells
                .iter()
                .map(|&(c, n, v, extra)| {
                    let r = row(1, &[conts[c as usize], &format!("C{n}")], cell(v as u64 + extra, next..next + v));
                    next += v;
                    r
                })
                .collect();
            check_suppressed(rows, k, geo_parent);
        }
    }
}
