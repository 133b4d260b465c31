//! Formats built on the CLF parser (Debian vhost_combined, Traefik CLF) and format detection
//! from a sample of lines. Never allocates per line; detection looks only at the sample.

use memchr::memchr;

use super::w3c::{self, W3cFields};
use super::{Format, Record, Reject, RejectReason, clf};

/// `%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"` (Debian's vhost_combined).
pub fn parse_vhost_combined(line: &[u8]) -> Result<Record<'_>, Reject> {
    let Some(sp) = memchr(b' ', line) else {
        return Err(Reject {
            reason: RejectReason::BadRequest,
            offset: 0,
        });
    };
    let host_port = &line[..sp];
    let vhost = match memchr::memrchr(b':', host_port) {
        Some(c) if c > 0 && host_port[c + 1..].iter().all(u8::is_ascii_digit) => &host_port[..c],
        _ => {
            return Err(Reject {
                reason: RejectReason::BadRequest,
                offset: 0,
            });
        }
    };
    let rest = &line[sp + 1..];
    let mut rec = clf::parse(rest).map_err(|r| Reject {
        reason: r.reason,
        offset: r.offset + sp + 1,
    })?;
    if rec.user_agent.is_none() || rec.forwarded_for.is_some() {
        return Err(Reject {
            reason: RejectReason::TrailingData,
            offset: line.len(),
        });
    }
    rec.vhost = Some(vhost);
    Ok(rec)
}

/// Traefik's CLF access log: Combined, then `<requests> "<router>" "<backend URL>" <n>ms`.
pub fn parse_traefik_clf(line: &[u8]) -> Result<Record<'_>, Reject> {
    let (mut rec, rest) = clf::parse_prefix(line, false)?;
    let bad = |rest: &[u8]| Reject {
        reason: RejectReason::TrailingData,
        offset: line.len() - rest.len(),
    };
    if rec.user_agent.is_none() {
        return Err(bad(rest));
    }
    // ` 12 "router@docker" "http://10.0.0.2:80" 3ms`
    let r = rest.strip_prefix(b" ").ok_or_else(|| bad(rest))?;
    let sp = memchr(b' ', r).ok_or_else(|| bad(rest))?;
    if !r[..sp].iter().all(u8::is_ascii_digit) || sp == 0 {
        return Err(bad(r));
    }
    let r = &r[sp + 1..];
    let (r, _router) = clf::quoted(r).map_err(|_| bad(r))?;
    let r = r.strip_prefix(b" ").ok_or_else(|| bad(r))?;
    let (r, _backend) = clf::quoted(r).map_err(|_| bad(r))?;
    let r = r.strip_prefix(b" ").ok_or_else(|| bad(r))?;
    let ms = r.strip_suffix(b"ms").ok_or_else(|| bad(r))?;
    if ms.is_empty() || !ms.iter().all(u8::is_ascii_digit) || ms.len() > 15 {
        return Err(bad(r));
    }
    let ms: u64 = ms.iter().fold(0, |n, d| n * 10 + (d - b'0') as u64);
    rec.duration_us = Some(ms.saturating_mul(1000));
    Ok(rec)
}

/// What detection found for one input.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Detection {
    pub format: Format,
    /// Sample lines (not blank, not directives) the chosen format parsed.
    pub fit: usize,
    /// Sample lines considered.
    pub sampled: usize,
    /// Every named format with the sample lines it parsed, best first.
    pub ranking: Vec<(Format, usize)>,
}

/// Lines of a sample, at most `max`, without the last one when the sample was cut mid-line.
fn sample_lines(sample: &[u8], max: usize, complete: bool) -> Vec<&[u8]> {
    let body = if complete {
        sample
    } else {
        match memchr::memrchr(b'\n', sample) {
            Some(p) => &sample[..p + 1],
            None => sample,
        }
    };
    crate::source::lines(body).take(max).collect()
}

/// Counts the sample lines each format parses. W3C lines are read under the `#Fields:` header
/// in effect at each of them.
pub fn rank(sample: &[u8], complete: bool, max_lines: usize) -> (Vec<(Format, usize)>, usize) {
    let lines = sample_lines(sample, max_lines, complete);
    let data_lines = lines
        .iter()
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace) && !w3c::is_directive(l))
        .count();
    let mut ranking: Vec<(Format, usize)> = Format::NAMED
        .iter()
        .map(|&f| {
            let mut header: Option<W3cFields> = None;
            let mut n = 0;
            for l in &lines {
                if l.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if w3c::is_directive(l) {
                    if f == Format::W3c
                        && let Some(h) = W3cFields::from_header(l)
                    {
                        header = Some(h);
                    }
                    continue;
                }
                n += f.parse(l, header.as_ref()).is_ok() as usize;
            }
            (f, n)
        })
        .collect();
    // Stable sort keeps the preference order of `Format::NAMED` among equals.
    ranking.sort_by_key(|r| std::cmp::Reverse(r.1));
    (ranking, data_lines)
}

/// Picks the format that parses the most sample lines. `Clf` wins over the strict Common,
/// Combined and Combined-XFF shapes only when no one of them parses as many lines.
pub fn detect(sample: &[u8], complete: bool) -> Detection {
    let (ranking, sampled) = rank(sample, complete, 200);
    let (format, fit) = ranking[0];
    Detection {
        format,
        fit,
        sampled,
        ranking,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sample: &str, expected: Format, fit: usize) {
        let d = detect(sample.as_bytes(), true);
        assert_eq!((d.format, d.fit), (expected, fit), "{:?}", d.ranking);
    }

    #[test]
    fn detects_each_family() {
        let combined =
            r#"203.0.113.9 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8""#;
        let common = r#"203.0.113.9 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10"#;
        let xff = r#"203.0.113.9 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8" "198.51.100.1""#;
        check(&format!("{combined}\n{combined}\n"), Format::Combined, 2);
        check(&format!("{common}\n{common}\n"), Format::Common, 2);
        check(&format!("{xff}\n{xff}\n"), Format::CombinedXff, 2);
        check(&format!("{combined}\n{common}\n{xff}\n"), Format::Clf, 3);
        check(
            &format!("www.example.org:443 {combined}\n"),
            Format::VhostCombined,
            1,
        );
        check(
            &format!("{combined} 17 \"web@docker\" \"http://10.0.0.2:80\" 3ms\n"),
            Format::TraefikClf,
            1,
        );
        check(
            "#Software: IIS\n#Fields: date time c-ip cs-method cs-uri-stem sc-status\n2016-01-10 00:00:05 203.0.113.9 GET /a 200\n",
            Format::W3c,
            1,
        );
        check("garbage\nmore garbage\n", Format::Combined, 0);
    }

    #[test]
    fn vhost_and_traefik_fields() {
        let l = br#"www.example.org:80 203.0.113.9 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 301 539 "-" "curl/8""#;
        let r = parse_vhost_combined(l).unwrap();
        assert_eq!(
            (r.vhost, r.client, r.status),
            (Some(&b"www.example.org"[..]), &b"203.0.113.9"[..], 301)
        );
        let l = br#"203.0.113.9 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8" 17 "web@docker" "http://10.0.0.2:80" 31ms"#;
        assert_eq!(parse_traefik_clf(l).unwrap().duration_us, Some(31_000));
        assert!(parse_traefik_clf(&l[..l.len() - 2]).is_err());
    }
}
