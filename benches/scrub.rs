//! Scrubber micro-benchmarks (divan): targets, user agents and referrer hosts as they come in
//! typical lines, plus a few that take the slow paths. Run with `cargo bench --bench scrub`.

use std::hint::black_box;

use logveil::scrub::{ScrubConfig, Scrubber};

fn main() {
    divan::main();
}

const TARGETS: &[&str] = &[
    "/static/app.js?v=3",
    "/products/1234?ref=mail",
    "/user/12345/profile",
    "/api/v1/orders/550e8400-e29b-41d4-a716-446655440000/items",
    "/search?q=jane%40example.org&page=2",
    "/x/%5B2001:db8::1%5D/reset?token=abc",
];

const TEXTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
    "Mozilla/5.0 (compatible; ExampleBot/2.1; +http://www.example.com/bot.html)",
    "curl/8.5.0 from 203.0.113.195 for jane@example.org",
];

const REFERRERS: &[&str] = &[
    "https://www.example.com/start",
    "https://www.example.org/search?q=something+long&source=hp&ei=abcdef",
    "-",
    "http://[2001:db8::1]:8080/",
];

fn bench_with(bencher: divan::Bencher, input: &str, f: impl Fn(&Scrubber, &[u8], &mut Vec<u8>)) {
    let scrubber = Scrubber::new(ScrubConfig::default());
    let mut out = Vec::with_capacity(512);
    bencher
        .counter(divan::counter::BytesCount::new(input.len()))
        .bench_local(|| {
            out.clear();
            f(&scrubber, black_box(input.as_bytes()), &mut out);
            out.len()
        });
}

#[divan::bench(args = TARGETS)]
fn target(bencher: divan::Bencher, input: &str) {
    bench_with(bencher, input, |s, raw, out| s.target(raw, out));
}

#[divan::bench(args = TEXTS)]
fn text(bencher: divan::Bencher, input: &str) {
    bench_with(bencher, input, |s, raw, out| s.text(raw, out));
}

#[divan::bench(args = REFERRERS)]
fn referrer_host(bencher: divan::Bencher, input: &str) {
    bench_with(bencher, input, |s, raw, out| {
        s.referrer_host(raw, out);
    });
}

#[divan::bench(args = REFERRERS)]
fn referrer(bencher: divan::Bencher, input: &str) {
    bench_with(bencher, input, |s, raw, out| s.referrer(raw, out));
}
