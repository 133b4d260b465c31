//! Parsing of time options: durations (`7d`, `36h`) and instants (RFC 3339). Pure functions.

/// Parses a duration such as `7d`, `36h`, `90m`, `3600s`, `2w` (or a bare number of seconds).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 7d, 36h, 90m"))?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        other => {
            return Err(format!(
                "invalid duration unit {other:?} in {s:?}: use s, m, h, d or w"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("duration {s:?} is too large"))
}

/// Parses an RFC 3339 instant (`2026-10-05T12:00:00Z`) into Unix seconds.
pub fn parse_instant(s: &str) -> Result<i64, String> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|e| {
            format!("invalid time {s:?} (expected RFC 3339, e.g. 2026-10-05T12:00:00Z): {e}")
        })
}

/// Parses an instant given as RFC 3339, or as a duration before `now` (`2h`, `3d`).
pub fn parse_instant_or_ago(s: &str, now: i64) -> Result<i64, String> {
    if s.trim().starts_with(|c: char| c.is_ascii_digit()) && !s.contains('-') {
        return parse_duration(s).map(|d| now.saturating_sub(d));
    }
    parse_instant(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("36h"), Ok(129_600));
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("15"), Ok(15));
        assert!(parse_duration("7x").is_err());
        assert!(parse_duration("d").is_err());
    }

    #[test]
    fn instants() {
        assert_eq!(parse_instant("1970-01-01T00:01:00Z"), Ok(60));
        assert_eq!(parse_instant("2000-10-10T13:55:36-07:00"), Ok(971_211_336));
        assert!(parse_instant("yesterday").is_err());
        assert_eq!(parse_instant_or_ago("2h", 10_000), Ok(2800));
        assert_eq!(parse_instant_or_ago("1970-01-01T00:01:00Z", 10_000), Ok(60));
        assert!(parse_instant_or_ago("2x", 10_000).is_err());
    }
}
