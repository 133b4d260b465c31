//! CLF timestamps (`10/Oct/2000:13:55:36 -0700`) to UTC seconds, by a hand-written fast path.
//! Owns date arithmetic for parsing; never allocates and never panics on any input.

/// Earliest and latest UTC second a timestamp may have: years 0000 to 9999, the range that
/// four-digit years express. A local time near either end whose offset takes it outside is
/// rejected, so that every accepted time has a four-digit date.
pub const MIN_SECS: i64 = -62_167_219_200;
pub const MAX_SECS: i64 = 253_402_300_799;

/// Seconds since the Unix epoch (UTC) for a 26-byte CLF timestamp without brackets, or `None`.
///
/// Lines in a row share their date and zone: each thread keeps the last few dates and zones
/// it validated, with the instant of their midnight, and reads only the time of day when one
/// comes again. `tests::the_cache_answers_as_the_full_parse` checks it against
/// [`parse_clf_whole`].
#[inline]
pub fn parse_clf(ts: &[u8]) -> Option<i64> {
    use std::cell::Cell;
    /// Date bytes and zone bytes (see `k1`, `k2`), and the instant of that local midnight.
    type Entry = Cell<(u64, u64, i64)>;
    thread_local! {
        /// The last few dates and zones seen (logs whose lines mix a few zones keep one entry
        /// for each), then the entry to replace next.
        static LAST: ([Entry; 4], Cell<usize>) = const {
            ([const { Cell::new((0, 0, 0)) }; 4], Cell::new(0))
        };
    }
    let b: &[u8; 26] = ts.try_into().ok()?;
    if b[11] != b':' || b[14] != b':' || b[17] != b':' || b[20] != b' ' {
        return None;
    }
    let hour = two(b[12], b[13])?;
    let min = two(b[15], b[16])?;
    let sec = two(b[18], b[19])?;
    if hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let of_day = hour as i64 * 3600 + min as i64 * 60 + sec as i64;
    // `dd/Mon/yy` and `yy` + the zone's five bytes. A valid stamp has a `/` at byte 2, so no
    // stamp has the empty key.
    let k1 = u64::from_le_bytes(b[0..8].try_into().expect("8 bytes"));
    let k2 = u64::from_le_bytes([b[8], b[9], b[10], b[21], b[22], b[23], b[24], b[25]]);
    let t = LAST.with(|(last, next)| {
        for e in last {
            let (c1, c2, midnight) = e.get();
            if (c1, c2) == (k1, k2) {
                return Some(midnight + of_day);
            }
        }
        let t = parse_clf_whole(ts)?;
        let n = next.get();
        last[n].set((k1, k2, t - of_day));
        next.set((n + 1) % last.len());
        Some(t)
    })?;
    (MIN_SECS..=MAX_SECS).contains(&t).then_some(t)
}

/// [`parse_clf`] without the cache: every field parsed and checked.
fn parse_clf_whole(ts: &[u8]) -> Option<i64> {
    if ts.len() != 26 {
        return None;
    }
    let b = ts;
    if b[2] != b'/'
        || b[6] != b'/'
        || b[11] != b':'
        || b[14] != b':'
        || b[17] != b':'
        || b[20] != b' '
    {
        return None;
    }
    let day = two(b[0], b[1])?;
    let month = month_of(&b[3..6])?;
    let year = four(&b[7..11])?;
    let hour = two(b[12], b[13])?;
    let min = two(b[15], b[16])?;
    let sec = two(b[18], b[19])?;
    let sign: i64 = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let oh = two(b[22], b[23])?;
    let om = two(b[24], b[25])?;
    if day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 60
        || oh > 23
        || om > 59
    {
        return None;
    }
    let days = days_from_civil(year as i64, month, day);
    let local = days * 86_400 + hour as i64 * 3600 + min as i64 * 60 + sec as i64;
    let t = local - sign * (oh as i64 * 3600 + om as i64 * 60);
    (MIN_SECS..=MAX_SECS).contains(&t).then_some(t)
}

#[inline]
fn two(a: u8, b: u8) -> Option<u32> {
    let (a, b) = (a.wrapping_sub(b'0'), b.wrapping_sub(b'0'));
    (a < 10 && b < 10).then_some(a as u32 * 10 + b as u32)
}

#[inline]
fn four(s: &[u8]) -> Option<u32> {
    Some(two(s[0], s[1])? * 100 + two(s[2], s[3])?)
}

#[inline]
fn month_of(m: &[u8]) -> Option<u32> {
    // Case-sensitive English abbreviations, as Apache and nginx write them.
    Some(match m {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a count of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD` of a Unix time in seconds (UTC).
pub fn date_string(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &str, expected: Option<&str>) {
        let got = parse_clf(input.as_bytes())
            .map(|s| jiff::Timestamp::from_second(s).unwrap().to_string());
        assert_eq!(got.as_deref(), expected, "{input}");
    }

    #[test]
    fn known_values() {
        check("10/Oct/2000:13:55:36 -0700", Some("2000-10-10T20:55:36Z"));
        check("01/Jan/1970:00:00:00 +0000", Some("1970-01-01T00:00:00Z"));
        check("29/Feb/2024:23:59:59 +0130", Some("2024-02-29T22:29:59Z"));
        check("29/Feb/2023:00:00:00 +0000", None);
        check("31/Apr/2023:00:00:00 +0000", None);
        check("10/oct/2000:13:55:36 -0700", None);
        check("10/Okt/2000:13:55:36 -0700", None);
        check("10/Oct/2000:24:00:00 -0700", None);
        check("10/Oct/2000:13:55:36 0700", None);
        check("10/Oct/2000:13:55:36 -070", None);
        check("00/Oct/2000:13:55:36 -0700", None);
        check("01/Jan/0000:00:00:00 +0000", Some("0000-01-01T00:00:00Z"));
        assert_eq!(
            parse_clf(b"31/Dec/9999:23:59:59 +0000"),
            Some(253_402_300_799)
        );
        // An offset that takes the time past a four-digit year (a run once published a
        // `date=10000-01-01` partition and an empty `last_time`).
        check("31/Dec/9999:23:59:59 -1400", None);
        check("31/Dec/9999:10:00:00 -1400", None);
        check("01/Jan/0000:00:00:00 +0100", None);
        check("01/Jan/0000:01:00:00 +0100", Some("0000-01-01T00:00:00Z"));
    }

    #[test]
    fn civil_round_trip() {
        for z in [-800_000i64, -1, 0, 1, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(date_string(971_186_136), "2000-10-10");
    }

    proptest! {
        #[test]
        fn agrees_with_jiff(y in 1i16..=9999, m in 1i8..=12, d in 1i8..=31, h in 0i8..24, mi in 0i8..60, s in 0i8..60, sign in any::<bool>(), oh in 0i8..=23, om in 0i8..60) {
            const MON: [&str; 12] = ["Jan","Feb","Mar","Apr","May","Jun","Jul","Aug","Sep","Oct","Nov","Dec"];
            let text = format!("{d:02}/{}/{y:04}:{h:02}:{mi:02}:{s:02} {}{oh:02}{om:02}", MON[m as usize - 1], if sign {'+'} else {'-'});
            let fmt = "%d/%b/%Y:%H:%M:%S %z";
            let expected = jiff::fmt::strtime::parse(fmt, &text).ok().and_then(|p| p.to_timestamp().ok()).map(|t| t.as_second());
            // jiff refuses offsets it cannot represent and dates outside its range; compare where it answers.
            if let Some(e) = expected {
                prop_assert_eq!(parse_clf(text.as_bytes()), Some(e));
            } else {
                let valid_day = (d as u32) <= days_in_month(y as u32, m as u32);
                prop_assert!(!valid_day || parse_clf(text.as_bytes()).is_some() || y < 1);
            }
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_clf(&bytes);
        }

        /// Stamps that share a date and zone, and stamps that differ from the last one in a
        /// byte: the cached parse answers as the whole parse does.
        #[test]
        fn the_cache_answers_as_the_full_parse(
            base in prop::sample::select(vec![
                "10/Oct/2000:13:55:36 -0700", "29/Feb/2024:23:59:59 +0130",
                "01/Jan/0000:01:00:00 +0100", "31/Dec/9999:23:59:59 +0000",
                "31/Dec/9999:10:00:00 -1400", "28/Feb/2023:00:00:00 +0000",
            ]),
            edits in proptest::collection::vec((0usize..26, prop::sample::select(b"0123456789+-/: JFMADNOSafnbrpyulgcoetv".to_vec())), 0..3),
            runs in 1usize..4,
        ) {
            let mut ts = base.as_bytes().to_vec();
            for _ in 0..runs {
                prop_assert_eq!(parse_clf(&ts), parse_clf_whole(&ts), "{}", String::from_utf8_lossy(&ts));
                for &(i, c) in &edits {
                    ts[i] = c;
                }
            }
        }
    }
}
