//! User-agent micro-benchmarks (divan): building the classifier (the one-time cost paid on
//! first use), classifying typical agents without a cache, and a cache hit. Run with
//! `cargo bench --bench ua`.

use std::hint::black_box;

use logveil::ua::{AgentCache, Classifier, classifier};

fn main() {
    divan::main();
}

/// A typical agent, shown by a short name in the results.
#[derive(Clone, Copy)]
struct Agent {
    name: &'static str,
    ua: &'static [u8],
}

impl std::fmt::Display for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

const AGENTS: &[Agent] = &[
    Agent {
        name: "chrome-windows",
        ua: b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    },
    Agent {
        name: "safari-iphone",
        ua: b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    },
    Agent {
        name: "chrome-android",
        ua: b"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    },
    Agent {
        name: "googlebot",
        ua: b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    },
    Agent {
        name: "curl",
        ua: b"curl/8.5.0",
    },
];

/// Deserialising the embedded rules and compiling them.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn init() -> Classifier {
    Classifier::build()
}

/// One uncached classification.
#[divan::bench(args = AGENTS)]
fn classify(bencher: divan::Bencher, agent: Agent) {
    let c = classifier();
    bencher.bench(|| c.classify(black_box(agent.ua)));
}

/// A cache lookup that hits.
#[divan::bench(args = AGENTS)]
fn cache_hit(bencher: divan::Bencher, agent: Agent) {
    let mut cache = AgentCache::new();
    cache.lookup(agent.ua);
    bencher.bench_local(|| cache.lookup(black_box(agent.ua)));
}
