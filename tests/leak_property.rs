//! Property: whatever addresses a log holds, and wherever in the line they stand (client,
//! user, target, referer, agent, X-Forwarded-For, malformed lines), none of them appears in
//! any output outside `diagnostics/`.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use logveil::anon::Masks;
use logveil::diag::DiagMode;
use logveil::geo::GeoDb;
use logveil::parse::Format;
use logveil::pipeline::{self, Options};
use logveil::source::InputSpec;
use proptest::prelude::*;

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        3 => any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        1 => any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
        1 => any::<[u8; 4]>().prop_map(|o| IpAddr::V6(Ipv4Addr::from(o).to_ipv6_mapped())),
    ]
}

/// One line with addresses in every field; `broken` lines lose their closing quote.
fn line(ips: &[IpAddr; 5], status: u16, broken: bool) -> String {
    let client = match ips[0] {
        IpAddr::V6(v6) if status.is_multiple_of(2) => format!("[{v6}]:443"),
        ip => ip.to_string(),
    };
    let mut l = format!(
        "{client} - user{} [05/Oct/2026:10:00:00 +0000] \"GET /login?ip={}&next=/ HTTP/1.1\" {status} 10 \"http://{}/ref\" \"Mozilla/5.0 (from {})\" \"{}, {}\"",
        status % 7,
        ips[1],
        ips[2],
        ips[3],
        ips[4],
        ips[0],
    );
    if broken {
        l.pop();
    }
    l
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn no_input_address_reaches_any_output_outside_diagnostics(
        rows in proptest::collection::vec((proptest::array::uniform5(any_ip()), 100u16..600, proptest::bool::weighted(0.2)), 1..60),
        diagnostics in prop_oneof![Just(DiagMode::Errors), Just(DiagMode::All), Just(DiagMode::Off)],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        let text: String = rows.iter().map(|(ips, status, broken)| line(ips, *status, *broken) + "\n").collect();
        std::fs::write(&log, &text).unwrap();
        let out = dir.path().join("out");
        let opts = Options {
            inputs: vec![InputSpec::Path(log)],
            out: out.clone(),
            format: Format::Clf,
            masks: Masks::default(),
            diagnostics,
            retention_secs: 7 * 86_400,
            max_reject_rate: 1.0,
            threads: 2,
            use_mmap: true,
            keep_going: false,
            trusted_proxies: Vec::new(),
            custom_format: None,
            max_line_bytes: 64 * 1024,
            chunk_size: 512,
            ..Options::new(Vec::new(), PathBuf::new(), 1_759_700_000)
        };
        let outcome = pipeline::process(&opts, &GeoDb::embedded().unwrap()).unwrap();
        prop_assert_eq!(outcome.summary.lines, rows.len() as u64);
        let addrs: Vec<IpAddr> = rows.iter().flat_map(|(ips, _, _)| ips.iter().copied()).collect();
        common::assert_no_leak(&out, &addrs);
    }
}
