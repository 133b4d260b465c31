//! Client addresses: parsing (ports, brackets, zones stripped), unwrapping of IPv4-embedding
//! IPv6 forms, and truncation. One of the three places that see raw client IPs (with geo and
//! diagnostics); it never writes anything and never returns an untruncated address to an
//! analyst-facing caller except through [`ClientIp::full`], which only geo and diagnostics use.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// Prefix lengths kept by truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Masks {
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
}

impl Default for Masks {
    fn default() -> Self {
        Masks {
            ipv4_prefix: 24,
            ipv6_prefix: 48,
        }
    }
}

impl Masks {
    pub fn new(ipv4_prefix: u8, ipv6_prefix: u8) -> Result<Self, String> {
        if ipv4_prefix > 32 {
            return Err(format!("--ipv4-prefix {ipv4_prefix} is above 32"));
        }
        if ipv6_prefix > 128 {
            return Err(format!("--ipv6-prefix {ipv6_prefix} is above 128"));
        }
        Ok(Masks {
            ipv4_prefix,
            ipv6_prefix,
        })
    }
}

/// Parses a client field: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:443`,
/// `fe80::1%eth0`. Returns `None` for hostnames and anything else that is not an address.
#[inline]
pub fn parse_client(field: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = parse_v4_with_port(field) {
        return Some(IpAddr::V4(v4));
    }
    let inner = match field {
        [b'[', rest @ ..] => {
            let close = memchr::memchr(b']', rest)?;
            let after = &rest[close + 1..];
            if !(after.is_empty()
                || (after[0] == b':'
                    && after.len() > 1
                    && after[1..].iter().all(u8::is_ascii_digit)))
            {
                return None;
            }
            &rest[..close]
        }
        _ => field,
    };
    let inner = match memchr::memchr(b'%', inner) {
        Some(p) => &inner[..p],
        None => inner,
    };
    if inner.len() < 2 || inner.len() > 45 || !inner.contains(&b':') {
        return None;
    }
    parse_v6(inner).map(IpAddr::V6)
}

/// An IPv6 address as `std` parses it (`Ipv6Addr::from_str`), by hand when it is written in
/// hex groups alone, the common case on every IPv6 line's path; through `std` when it has an
/// embedded dotted quad. `tests::parse_v6_is_std` checks that both agree on any text.
#[inline]
pub fn parse_v6(b: &[u8]) -> Option<Ipv6Addr> {
    if b.contains(&b'.') {
        return std::str::from_utf8(b).ok()?.parse().ok();
    }
    let hex = |c: u8| -> u32 {
        match c {
            b'0'..=b'9' => (c - b'0') as u32,
            b'a'..=b'f' => (c - b'a' + 10) as u32,
            b'A'..=b'F' => (c - b'A' + 10) as u32,
            _ => 16,
        }
    };
    // Groups before and after the `::`, if any.
    let (mut head, mut tail) = ([0u16; 8], [0u16; 8]);
    let (mut nh, mut nt) = (0, 0);
    let mut gap = false;
    let mut i = 0;
    if b.starts_with(b"::") {
        gap = true;
        i = 2;
        if i == b.len() {
            return Some(Ipv6Addr::UNSPECIFIED);
        }
    }
    loop {
        let start = i;
        let mut v = 0u32;
        while i < b.len() && i - start < 4 {
            let d = hex(b[i]);
            if d > 15 {
                break;
            }
            v = v << 4 | d;
            i += 1;
        }
        if i == start || (i < b.len() && hex(b[i]) <= 15) {
            return None; // an empty group, or one of five digits or more
        }
        if gap {
            if nt == 8 {
                return None;
            }
            tail[nt] = v as u16;
            nt += 1;
        } else {
            if nh == 8 {
                return None;
            }
            head[nh] = v as u16;
            nh += 1;
        }
        if i == b.len() {
            break;
        }
        if b[i] != b':' {
            return None;
        }
        i += 1;
        if b.get(i) == Some(&b':') {
            if gap {
                return None;
            }
            gap = true;
            i += 1;
            if i == b.len() {
                break;
            }
        } else if i == b.len() {
            return None; // a lone trailing `:`
        }
    }
    // `::` stands for at least one group of zeros.
    if (gap && nh + nt > 7) || (!gap && nh != 8) {
        return None;
    }
    let mut groups = [0u16; 8];
    groups[..nh].copy_from_slice(&head[..nh]);
    groups[8 - nt..].copy_from_slice(&tail[..nt]);
    Some(Ipv6Addr::from(groups))
}

/// Dotted-quad IPv4 with an optional `:port`, by hand: this is on every line's path.
#[inline]
fn parse_v4_with_port(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        let start = i;
        let mut v: u32 = 0;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 3 {
            v = v * 10 + (b[i] - b'0') as u32;
            i += 1;
        }
        if i == start || v > 255 || (i - start > 1 && b[start] == b'0') {
            return None;
        }
        *octet = v as u8;
        if n < 3 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    match &b[i..] {
        [] => Some(Ipv4Addr::from(octets)),
        [b':', port @ ..]
            if !port.is_empty() && port.len() <= 5 && port.iter().all(u8::is_ascii_digit) =>
        {
            Some(Ipv4Addr::from(octets))
        }
        _ => None,
    }
}

/// The client of a request, as nginx's realip module finds it. Without trusted proxies, or
/// when the connecting address is not one, the connecting address is the client. Otherwise
/// the X-Forwarded-For list is read from the right, skipping trusted proxies: the first
/// address that is not one is the client (the left-most, when all are trusted). Entries
/// that are not addresses end the walk at the address before them.
pub fn client_address(
    remote: Option<IpAddr>,
    forwarded_for: Option<&[u8]>,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(&unwrap_embedded(ip)));
    let remote = remote?;
    if trusted.is_empty() || !is_trusted(remote) {
        return Some(remote);
    }
    let Some(list) = forwarded_for.filter(|l| *l != b"-") else {
        return Some(remote);
    };
    let mut client = remote;
    for entry in list.rsplit(|b| *b == b',') {
        let entry = entry.trim_ascii();
        match parse_client(entry) {
            Some(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    Some(client)
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// 6to4 (`2002:AABB:CCDD::/48`) or NAT64 (`64:ff9b::a.b.c.d`, `64:ff9b:1::/48`) address.
pub fn unwrap_embedded(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    let s = v6.segments();
    let o = v6.octets();
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    // IPv4-compatible (deprecated), but not :: or ::1.
    if s[..6] == [0; 6] && (s[6] != 0 || s[7] > 1) {
        return IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if s[0] == 0x2002 {
        return IpAddr::V4(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0; 4] || s[2] == 1) {
        return IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    ip
}

/// Truncates an address to the configured prefix, after unwrapping embedded IPv4.
#[inline]
pub fn truncate(ip: IpAddr, masks: Masks) -> IpAddr {
    match unwrap_embedded(ip) {
        IpAddr::V4(v4) => IpAddr::V4(
            Ipv4Net::new(v4, masks.ipv4_prefix)
                .map(|n| n.network())
                .unwrap_or(v4),
        ),
        IpAddr::V6(v6) => IpAddr::V6(
            Ipv6Net::new(v6, masks.ipv6_prefix)
                .map(|n| n.network())
                .unwrap_or(v6),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Text made of what addresses are made of, with a few bytes that they are not.
    fn v6ish() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(prop::sample::select(b"0123456789abcdefABCDEF:.g x%".to_vec()), 0..48),
            prop::collection::vec(
                prop_oneof![
                    4 => prop::sample::select(
                        ["", "0", "1", "ff", "FFFF", "fffff", "0000", "00000", "db8", "1.2.3.4", "255.0.0.1", "01.2.3.4"].to_vec()),
                    1 => prop::sample::select([":", "::", ":::", "."].to_vec()),
                ],
                0..10,
            )
            .prop_map(|parts| parts.join(":").into_bytes()),
            any::<[u16; 8]>().prop_map(|g| Ipv6Addr::from(g).to_string().into_bytes()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn parse_v6_is_std(text in v6ish()) {
            let by_std = std::str::from_utf8(&text).ok().and_then(|s| s.parse::<Ipv6Addr>().ok());
            prop_assert_eq!(parse_v6(&text), by_std, "{:?}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn parse_v6_table() {
        for text in [
            "::",
            "::1",
            "1::",
            "1::2",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6::8",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":1::2",
            "1::2:",
            "12345::",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "",
            ":",
            ":::",
            "1:2:3:4:5:6:7",
            "g::",
            "2001:DB8::A",
            "fe80::1%eth0",
            "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8",
        ] {
            assert_eq!(
                parse_v6(text.as_bytes()),
                text.parse::<Ipv6Addr>().ok(),
                "{text}"
            );
        }
    }

    fn check(input: &str, masks: (u8, u8), expected: Option<&str>) {
        let got = parse_client(input.as_bytes())
            .map(|ip| truncate(ip, Masks::new(masks.0, masks.1).unwrap()).to_string());
        assert_eq!(got.as_deref(), expected, "{input}");
    }

    #[test]
    fn cases() {
        check("192.168.100.200", (24, 48), Some("192.168.100.0"));
        check("192.168.100.200:80", (24, 48), Some("192.168.100.0"));
        check("192.168.100.200", (20, 48), Some("192.168.96.0"));
        check("192.168.100.200", (32, 48), Some("192.168.100.200"));
        check("192.168.100.200", (0, 48), Some("0.0.0.0"));
        check(
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            (24, 48),
            Some("2001:db8:85a3::"),
        );
        check(
            "[2001:0db8:85a3::8a2e:0370:7334]:443",
            (24, 44),
            Some("2001:db8:85a0::"),
        );
        check(
            "[2001:db8:1::ab9:C0A8:102]:8080",
            (24, 44),
            Some("2001:db8::"),
        );
        check("[2001:db8::1]", (24, 48), Some("2001:db8::"));
        check("fe80::822a:a8ff:fe49:470c%eth0", (24, 64), Some("fe80::"));
        check("::ffff:203.0.113.9", (24, 48), Some("203.0.113.0"));
        check("::FFFF:cb00:7109", (24, 48), Some("203.0.113.0"));
        check("2002:cb00:7109::1", (24, 48), Some("203.0.113.0"));
        check("64:ff9b::203.0.113.9", (24, 48), Some("203.0.113.0"));
        check("::1", (24, 48), Some("::"));
        check("example.com", (24, 48), None);
        check("host-1.2.3.4.example", (24, 48), None);
        check("1.2.3", (24, 48), None);
        check("1.2.3.4.5", (24, 48), None);
        check("01.2.3.4", (24, 48), None);
        check("256.2.3.4", (24, 48), None);
        check("1.2.3.4:", (24, 48), None);
        check("-", (24, 48), None);
        check("[::1", (24, 48), None);
    }

    #[test]
    fn forwarded_for_with_trusted_proxies() {
        let nets: Vec<ipnet::IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let check = |remote: &str, xff: &str, trusted: &[ipnet::IpNet], expected: &str| {
            let got = client_address(ip(remote), Some(xff.as_bytes()), trusted);
            assert_eq!(got, ip(expected), "remote {remote}, xff {xff}");
        };
        check("10.0.0.1", "203.0.113.9, 10.0.0.2", &nets, "203.0.113.9");
        check(
            "10.0.0.1",
            "198.51.100.1, 203.0.113.9, 10.0.0.2",
            &nets,
            "203.0.113.9",
        );
        check("10.0.0.1", "10.0.0.3, 10.0.0.2", &nets, "10.0.0.3");
        check("203.0.113.5", "198.51.100.1", &nets, "203.0.113.5");
        check("10.0.0.1", "198.51.100.1", &[], "10.0.0.1");
        check("10.0.0.1", "-", &nets, "10.0.0.1");
        check("10.0.0.1", "unknown, 10.0.0.2", &nets, "10.0.0.2");
        check("2001:db8::1", "[2001:db9::5]:443", &nets, "2001:db9::5");
        check("10.0.0.1", "203.0.113.9:5678", &nets, "203.0.113.9");
    }

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(|o| IpAddr::V4(o.into())),
            any::<[u8; 16]>().prop_map(|o| IpAddr::V6(o.into())),
        ]
    }

    proptest! {
        #[test]
        fn truncation_is_idempotent(ip in any_ip(), v4 in 0u8..=32, v6 in 0u8..=128) {
            let m = Masks::new(v4, v6).unwrap();
            let once = truncate(ip, m);
            prop_assert_eq!(truncate(once, m), once);
        }

        #[test]
        fn parses_what_std_prints(ip in any_ip(), port in proptest::option::of(any::<u16>())) {
            let text = match (ip, port) {
                (IpAddr::V4(v4), Some(p)) => format!("{v4}:{p}"),
                (IpAddr::V6(v6), Some(p)) => format!("[{v6}]:{p}"),
                (ip, None) => ip.to_string(),
            };
            prop_assert_eq!(parse_client(text.as_bytes()), Some(ip));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..60)) {
            let _ = parse_client(&bytes);
        }
    }
}
