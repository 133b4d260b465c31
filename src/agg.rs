//! Aggregation: per-thread accumulators of counts and report cells, merged associatively.
//! Owns no I/O and holds no address: keys are places, hours, status classes and methods.

use rustc_hash::FxHashMap;

use crate::geo::Place;
use crate::parse::RejectReason;

/// Request and byte totals of one report cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub requests: u64,
    pub bytes: u64,
}

impl Totals {
    #[inline]
    pub fn add(&mut self, bytes: u64) {
        self.requests += 1;
        self.bytes = self.bytes.saturating_add(bytes);
    }
    #[inline]
    pub fn merge(&mut self, other: Totals) {
        self.requests += other.requests;
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// HTTP methods reported by name; anything else is `OTHER`, a missing one `-`.
pub const METHODS: [&str; 11] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "OTHER", "-",
];

/// Index into [`METHODS`] of a request's method.
#[inline]
pub fn method_index(m: &[u8]) -> u8 {
    match m {
        b"GET" => 0,
        b"HEAD" => 1,
        b"POST" => 2,
        b"PUT" => 3,
        b"DELETE" => 4,
        b"OPTIONS" => 5,
        b"PATCH" => 6,
        b"CONNECT" => 7,
        b"TRACE" => 8,
        b"" => 10,
        _ => 9,
    }
}

/// `1xx`…`5xx`, or `other` for anything outside 100–599.
pub fn status_class_name(class: u8) -> &'static str {
    match class {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "other",
    }
}

#[inline]
pub fn status_class(status: u16) -> u8 {
    match status {
        100..=599 => (status / 100) as u8,
        _ => 0,
    }
}

/// Key of a `traffic_hourly` cell: hour since the epoch, status class, method index.
pub type HourKey = (i64, u8, u8);
/// Key of a `geo_daily` cell: day since the epoch and place.
pub type GeoKey = (i64, Place);

/// Everything one thread learns from its chunks. Merging is associative and commutative.
#[derive(Debug, Default, Clone)]
pub struct Accumulator {
    pub lines: u64,
    pub blank: u64,
    /// Directive lines of formats that have them (W3C `#Fields:`, CloudFront `#Version:`).
    pub directives: u64,
    pub parsed: u64,
    pub rejected: [u64; RejectReason::ALL.len()],
    pub bytes_read: u64,
    /// Parsed lines whose client field was not an IP address (hostnames).
    pub non_ip_clients: u64,
    pub ipv6_clients: u64,
    pub geo: FxHashMap<GeoKey, Totals>,
    pub hourly: FxHashMap<HourKey, Totals>,
    pub geo_errors: u64,
    pub first_geo_error: Option<String>,
    pub diagnostics_rows: u64,
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
}

impl Accumulator {
    #[inline]
    pub fn reject(&mut self, reason: RejectReason) {
        self.rejected[reason.index()] += 1;
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }

    #[inline]
    pub fn record(&mut self, time: i64, place: Place, status: u16, method: &[u8], bytes: u64) {
        self.parsed += 1;
        self.geo
            .entry((time.div_euclid(86_400), place))
            .or_default()
            .add(bytes);
        self.hourly
            .entry((
                time.div_euclid(3600),
                status_class(status),
                method_index(method),
            ))
            .or_default()
            .add(bytes);
        self.min_time = Some(self.min_time.map_or(time, |m| m.min(time)));
        self.max_time = Some(self.max_time.map_or(time, |m| m.max(time)));
    }

    /// Folds `other` into `self`.
    pub fn merge(&mut self, other: Accumulator) {
        self.lines += other.lines;
        self.blank += other.blank;
        self.directives += other.directives;
        self.parsed += other.parsed;
        for (a, b) in self.rejected.iter_mut().zip(other.rejected) {
            *a += b;
        }
        self.bytes_read += other.bytes_read;
        self.non_ip_clients += other.non_ip_clients;
        self.ipv6_clients += other.ipv6_clients;
        for (k, v) in other.geo {
            self.geo.entry(k).or_default().merge(v);
        }
        for (k, v) in other.hourly {
            self.hourly.entry(k).or_default().merge(v);
        }
        self.geo_errors += other.geo_errors;
        if self.first_geo_error.is_none() {
            self.first_geo_error = other.first_geo_error;
        }
        self.diagnostics_rows += other.diagnostics_rows;
        self.min_time = match (self.min_time, other.min_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_time = match (self.max_time, other.max_time) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn acc(events: &[(i64, u8, u16, u64)]) -> Accumulator {
        let mut a = Accumulator::default();
        for &(t, c, s, b) in events {
            a.lines += 1;
            a.record(
                t,
                Place {
                    continent: *b"EU",
                    country: [b'A', b'A' + c % 3],
                },
                s,
                b"GET",
                b,
            );
        }
        a
    }

    type Canonical = (u64, u64, Vec<(GeoKey, Totals)>, Vec<(HourKey, Totals)>);

    fn canon(a: &Accumulator) -> Canonical {
        let mut g: Vec<_> = a.geo.iter().map(|(k, v)| (*k, *v)).collect();
        g.sort_by_key(|x| x.0);
        let mut h: Vec<_> = a.hourly.iter().map(|(k, v)| (*k, *v)).collect();
        h.sort_by_key(|x| x.0);
        (a.lines, a.parsed, g, h)
    }

    proptest! {
        #[test]
        fn merge_is_associative_and_commutative(
            x in proptest::collection::vec((0i64..300_000, any::<u8>(), 100u16..600, 0u64..10_000), 0..40),
            y in proptest::collection::vec((0i64..300_000, any::<u8>(), 100u16..600, 0u64..10_000), 0..40),
            z in proptest::collection::vec((0i64..300_000, any::<u8>(), 100u16..600, 0u64..10_000), 0..40),
        ) {
            let (a, b, c) = (acc(&x), acc(&y), acc(&z));
            let mut left = a.clone(); left.merge(b.clone()); left.merge(c.clone());
            let mut bc = b.clone(); bc.merge(c.clone());
            let mut right = a.clone(); right.merge(bc);
            let mut swapped = c.clone(); swapped.merge(a.clone()); swapped.merge(b.clone());
            let all: Vec<_> = x.iter().chain(&y).chain(&z).copied().collect();
            prop_assert_eq!(canon(&left), canon(&right));
            prop_assert_eq!(canon(&left), canon(&swapped));
            prop_assert_eq!(canon(&left), canon(&acc(&all)));
        }
    }

    #[test]
    fn methods_and_classes() {
        assert_eq!(METHODS[method_index(b"GET") as usize], "GET");
        assert_eq!(METHODS[method_index(b"PROPFIND") as usize], "OTHER");
        assert_eq!(METHODS[method_index(b"") as usize], "-");
        assert_eq!(status_class_name(status_class(404)), "4xx");
        assert_eq!(status_class_name(status_class(0)), "other");
        assert_eq!(status_class_name(status_class(999)), "other");
    }
}
