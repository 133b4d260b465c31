//! The scrubber: whatever the text, no address found in it (by a detector independent of the
//! scrubber, also after percent-decoding) comes out untruncated, from any of its entry points.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use logveil::anon::{self, Masks};
use logveil::scrub::{ScrubConfig, Scrubber};

/// Every IPv4/IPv6 address written in `bytes`: tokens of `[0-9a-fA-F:.]`, also without a
/// `:port` or a trailing `.` (the unspecified addresses are left out).
fn addresses_in(bytes: &[u8]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let is_addr_char = |b: &u8| b.is_ascii_hexdigit() || *b == b':' || *b == b'.';
    for tok in bytes.split(|b| !is_addr_char(b)) {
        let Ok(tok) = std::str::from_utf8(tok) else {
            continue;
        };
        let tok = tok.trim_end_matches('.');
        let mut candidates = vec![tok];
        if let Some((a, port)) = tok.rsplit_once(':')
            && !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
        {
            candidates.push(a);
        }
        for c in candidates {
            if let Ok(ip) = c.parse::<IpAddr>()
                && !ip.is_unspecified()
                && (ip.is_ipv4() || says_enough(c))
            {
                out.push(ip);
            }
        }
    }
    out
}

/// The scrubber's documented threshold for IPv6 literals in free text: an embedded dotted
/// quad or at least three written groups (`fe80::1`, `::1` or `a::b` are left alone, as
/// they also stand for times, C++ names and the like).
fn says_enough(c: &str) -> bool {
    c.contains('.') || c.split(':').filter(|g| !g.is_empty()).count() >= 3
}

fn percent_decode(b: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn views(b: &[u8]) -> [Vec<u8>; 3] {
    let once = percent_decode(b);
    let twice = percent_decode(&once);
    [b.to_vec(), once, twice]
}

fuzz_target!(|data: &[u8]| {
    let masks = Masks::default();
    let scrubber = Scrubber::new(ScrubConfig::default());
    let inputs: Vec<IpAddr> = views(data)
        .iter()
        .flat_map(|v| addresses_in(v))
        .map(anon::unwrap_embedded)
        .collect();
    let mut out = Vec::new();
    for which in 0..3 {
        out.clear();
        match which {
            0 => scrubber.target(data, &mut out),
            1 => scrubber.referrer(data, &mut out),
            _ => scrubber.text(data, &mut out),
        }
        for view in views(&out) {
            for found in addresses_in(&view) {
                let leaked = anon::truncate(found, masks) != found
                    && inputs.contains(&anon::unwrap_embedded(found));
                assert!(
                    !leaked,
                    "entry point {which}: {found} in {:?} from {:?}",
                    String::from_utf8_lossy(&view),
                    String::from_utf8_lossy(data)
                );
            }
        }
    }
});
