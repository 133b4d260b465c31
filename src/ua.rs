//! User-agent classification: owns reducing a raw `User-Agent` value to a bounded, clean
//! class (browser family, major version, OS family, device class, bot flag) and the per-thread
//! cache in front of it. It never writes anything, never keeps a user agent outside its own
//! cache, and never returns any part of one except those bounded family and version strings
//! and a one-way digest.
//!
//! The rules are uap-core's `regexes.yaml` (vendored in `assets/uap/`), turned into JSON by
//! `build.rs` and compiled by the `ua-parser` crate once per process, on first use.
//!
//! # Device classes and the bot flag
//!
//! Rules apply in this order; the first that holds decides.
//!
//! 1. An empty or `-` user agent: browser and OS `(none)`, major `""`, device `other`, not a
//!    bot.
//! 2. **bot** (device `bot`, `bot` true) when uap's device family is `Spider`, when the
//!    browser family names a bot (contains `bot`, `spider` or `crawl`), when the browser
//!    family is a non-browser HTTP client or an automated browser ([`AUTOMATED_FAMILIES`]:
//!    curl, Wget, Python Requests, Go-http-client, Java, libwww-perl, HeadlessChrome, …), or
//!    when the agent starts with the product token of such a client that uap does not name
//!    ([`AUTOMATED_PREFIXES`]: python-httpx, aiohttp, node-fetch, …). The browser family stays
//!    what uap says, `Other` included.
//! 3. **other** for TVs, set-top boxes and game consoles (SmartTV, Android TV, Chromecast,
//!    Fire TV, Xbox, PlayStation, Nintendo), which are neither phones nor desktops.
//! 4. **tablet** when uap's device says so (iPad, Kindle, `Generic Tablet`, an Android tablet
//!    brand), the agent names an iPad, or the OS is BlackBerry Tablet OS.
//! 5. **mobile** when the agent has a `Mobi` token or names an iPhone, iPod or Opera Mini, or
//!    uap's device is a generic feature phone.
//! 6. **tablet** when the OS is Android and the agent is a browser (has a browser engine
//!    token) without a `Mobi` token: Android browsers on phones send `Mobile`, on tablets they
//!    do not.
//! 7. **mobile** when uap's device is a generic smartphone or the OS is a mobile one (iOS,
//!    Android, Windows Phone, BlackBerry OS, KaiOS, …). Native apps land here: Android's
//!    built-in client (`Dalvik/…`) and iOS apps (`App/1.0 CFNetwork/… Darwin/…`) are mobile,
//!    not bots, since a person drives them.
//! 8. **desktop** when the OS is a desktop one (Windows, Mac OS X, Linux and its
//!    distributions, Chrome OS, the BSDs, …) and uap named a browser (family not `Other`).
//! 9. **other** otherwise.
//!
//! Only the first [`MAX_PARSE_BYTES`] bytes of an agent are classified; the digest covers all
//! of it. Invalid UTF-8 is decoded lossily. Family strings are cut to [`MAX_FAMILY_BYTES`],
//! the major version to [`MAX_MAJOR_BYTES`], and both lose control and bidirectional
//! formatting characters.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use rustc_hash::{FxBuildHasher, FxHashMap};
use ua_parser::{Regexes, device, os, user_agent};

/// The rules of `assets/uap/regexes.yaml`, as JSON written by `build.rs`.
static RULES_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/uap_regexes.json"));

/// The family given to an empty or `-` user agent (browser and OS).
pub const NONE: &str = "(none)";
/// uap's family for an agent, OS or device it does not recognise.
pub const OTHER: &str = "Other";
/// Longest browser or OS family kept, in bytes (cut on a character boundary).
pub const MAX_FAMILY_BYTES: usize = 64;
/// Longest major version kept, in bytes.
pub const MAX_MAJOR_BYTES: usize = 16;
/// Bytes of an agent that are classified; the rest is ignored. Real agents are far shorter,
/// and the bound keeps the cost of one agent bounded.
pub const MAX_PARSE_BYTES: usize = 1024;
/// Agents longer than this are classified on every lookup instead of being cached.
pub const MAX_CACHED_BYTES: usize = 512;
/// Slots of a default [`AgentCache`].
/// Agents remembered behind the slots of an [`AgentCache`] (see its `known` map).
pub const MAX_KNOWN: usize = 16 * 1024;
pub const DEFAULT_SLOTS: usize = 4096;
/// Distinct classes a cache interns before new ones lose their browser, major and OS
/// (see [`AgentCache::lookup`]).
pub const MAX_CLASSES: usize = 65_536;

/// uap browser families of non-browser HTTP clients and automated browsers: always bots.
pub const AUTOMATED_FAMILIES: &[&str] = &[
    "AHC",
    "Apache-HttpClient",
    "Axel",
    "Boto",
    "Boto3",
    "Go-http-client",
    "Google-HTTP-Java-Client",
    "GuzzleHttp",
    "HTTPClient",
    "HTTPie",
    "HeadlessChrome",
    "Java",
    "Jersey",
    "PhantomJS",
    "PostmanRuntime",
    "PycURL",
    "Python Requests",
    "Python aiohttp",
    "Python-urllib",
    "ReactorNetty",
    "Scrapy",
    "Vert.x-WebClient",
    "Wget",
    "WinHTTP",
    "WindowsPowerShell",
    "aria2",
    "akka-http",
    "aws-cli",
    "axios",
    "curl",
    "go-resty",
    "got",
    "insomnia",
    "lftp",
    "libcurl-agent",
    "libwww-perl",
    "okhttp",
    "reqwest",
    "scalaj-http",
    "wget2",
];

/// Leading product tokens (compared ASCII case-insensitively) of HTTP clients that uap leaves
/// as `Other`: always bots.
pub const AUTOMATED_PREFIXES: &[&str] = &[
    "aiohttp/",
    "bun/",
    "dart/",
    "deno/",
    "faraday v",
    "http.rb/",
    "node-fetch",
    "node/",
    "python-httpx/",
    "python/",
    "rest-client/",
    "ruby",
    "undici",
];

/// Lower-case markers of TVs, set-top boxes and consoles.
const NOT_A_COMPUTER: &[&str] = &[
    "smart-tv",
    "smarttv",
    "android tv",
    "googletv",
    "google tv",
    "hbbtv",
    "crkey",
    "bravia",
    "; aft",
    "xbox",
    "playstation",
    "nintendo",
];

/// Tokens of browser engines (to tell an Android browser from an Android app).
const BROWSER_ENGINES: &[&str] = &["AppleWebKit", "Gecko/", "Presto/"];

/// OS families of phones (tablets are told apart first).
const MOBILE_OS: &[&str] = &[
    "Android",
    "Bada",
    "BlackBerry OS",
    "Firefox OS",
    "HarmonyOS",
    "KaiOS",
    "Maemo",
    "MeeGo",
    "Sailfish",
    "Symbian OS",
    "Symbian^3",
    "Ubuntu Touch",
    "Windows Mobile",
    "Windows Phone",
    "iOS",
    "webOS",
];

/// OS families of desktop computers; any other family starting with `Windows` counts too.
const DESKTOP_OS: &[&str] = &[
    "Arch Linux",
    "CentOS",
    "Chrome OS",
    "Chromecast OS",
    "Debian",
    "DragonFly BSD",
    "Fedora",
    "FreeBSD",
    "Gentoo",
    "Haiku",
    "Kubuntu",
    "Linux",
    "Linux Mint",
    "Lubuntu",
    "Mac OS",
    "Mac OS X",
    "Mageia",
    "Mandriva",
    "Mint",
    "NetBSD",
    "OpenBSD",
    "Red Hat",
    "Slackware",
    "Solaris",
    "SUSE",
    "Ubuntu",
    "Xubuntu",
    "openSUSE",
];

/// What kind of device an agent runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceClass {
    Desktop,
    Mobile,
    Tablet,
    Bot,
    Other,
}

impl DeviceClass {
    /// Every class, in report order.
    pub const ALL: [DeviceClass; 5] = [
        DeviceClass::Desktop,
        DeviceClass::Mobile,
        DeviceClass::Tablet,
        DeviceClass::Bot,
        DeviceClass::Other,
    ];

    /// The name used in reports: `desktop`, `mobile`, `tablet`, `bot` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Desktop => "desktop",
            DeviceClass::Mobile => "mobile",
            DeviceClass::Tablet => "tablet",
            DeviceClass::Bot => "bot",
            DeviceClass::Other => "other",
        }
    }
}

impl fmt::Display for DeviceClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reduced classification of one user agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentClass {
    /// Browser family, e.g. "Chrome", "Firefox", "Googlebot", "curl", "Other"; "(none)" for an
    /// empty agent.
    pub browser: String,
    /// Major version, or "" when unknown.
    pub major: String,
    /// OS family, e.g. "Windows", "Mac OS X", "Android", "iOS", "Linux", "Other"; "(none)" for
    /// an empty agent.
    pub os: String,
    pub device: DeviceClass,
    pub bot: bool,
}

impl AgentClass {
    /// The class of an empty or `-` user agent.
    pub fn none() -> Self {
        AgentClass {
            browser: NONE.to_string(),
            major: String::new(),
            os: NONE.to_string(),
            device: DeviceClass::Other,
            bot: false,
        }
    }
}

/// The compiled uap rules. Building one takes a few hundred milliseconds (see
/// `cargo bench --bench ua`); [`classify`] and [`AgentCache`] share one built on first use.
pub struct Classifier {
    ua: user_agent::Extractor<'static>,
    os: os::Extractor<'static>,
    /// uap's device rules in consecutive parts, compiled in parallel; the first part with a
    /// match answers, which is the first matching rule of the whole list.
    dev: Vec<device::Extractor<'static>>,
}

static GLOBAL: OnceLock<Classifier> = OnceLock::new();

/// The process-wide classifier, built on the first call.
pub fn classifier() -> &'static Classifier {
    GLOBAL.get_or_init(Classifier::build)
}

/// Classifies one user agent with the process-wide classifier.
pub fn classify(ua: &[u8]) -> AgentClass {
    classifier().classify(ua)
}

/// blake3 of the raw agent bytes, cut to 16 bytes.
pub fn digest(ua: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&blake3::hash(ua).as_bytes()[..16]);
    out
}

fn rules() -> Regexes<'static> {
    serde_json::from_str(RULES_JSON).expect("the embedded uap rules are valid JSON")
}

fn build_devices(parsers: Vec<device::Parser<'static>>) -> device::Extractor<'static> {
    parsers
        .into_iter()
        .try_fold(device::Builder::new(), |b, p| b.push(p))
        .expect("the embedded uap device rules compile")
        .build()
        .expect("the embedded uap device rules build")
}

impl Classifier {
    /// Compiles the embedded rules. The device rules, the costliest part (about twice the
    /// rest), are compiled in two halves on two more threads while this one compiles the rest,
    /// so that every core of a 2-core machine works on them.
    ///
    /// # Panics
    ///
    /// If the embedded rules do not compile, which the tests rule out.
    pub fn build() -> Self {
        let Regexes {
            user_agent_parsers,
            os_parsers,
            mut device_parsers,
        } = rules();
        let second = device_parsers.split_off(device_parsers.len() / 2);
        std::thread::scope(|scope| {
            let spawn = |part: Vec<device::Parser<'static>>| {
                std::thread::Builder::new()
                    .name("ua-rules".into())
                    .spawn_scoped(scope, move || build_devices(part))
            };
            let halves = [spawn(device_parsers), spawn(second)];
            let ua = user_agent_parsers
                .into_iter()
                .try_fold(user_agent::Builder::new(), |b, p| b.push(p))
                .expect("the embedded uap agent rules compile")
                .build()
                .expect("the embedded uap agent rules build");
            let os = os_parsers
                .into_iter()
                .try_fold(os::Builder::new(), |b, p| b.push(p))
                .expect("the embedded uap OS rules compile")
                .build()
                .expect("the embedded uap OS rules build");
            let dev = if halves.iter().all(Result::is_ok) {
                halves
                    .into_iter()
                    .flatten()
                    .map(|handle| match handle.join() {
                        Ok(dev) => dev,
                        Err(panic) => std::panic::resume_unwind(panic),
                    })
                    .collect()
            } else {
                // No thread to be had: compile them here, whole, from a fresh copy of the rules.
                vec![build_devices(rules().device_parsers)]
            };
            Classifier { ua, os, dev }
        })
    }

    /// Classifies one user agent (see the module documentation for the rules).
    pub fn classify(&self, ua: &[u8]) -> AgentClass {
        let raw = ua.trim_ascii();
        if raw.is_empty() || raw == b"-" {
            return AgentClass::none();
        }
        let raw = &raw[..raw.len().min(MAX_PARSE_BYTES)];
        let text = String::from_utf8_lossy(raw);
        let text: &str = &text;

        let agent = self.ua.extract(text);
        let browser = agent
            .as_ref()
            .map(|a| clean(&a.family, MAX_FAMILY_BYTES))
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| OTHER.to_string());
        let major = agent
            .as_ref()
            .and_then(|a| a.major)
            .map(|m| clean(m, MAX_MAJOR_BYTES))
            .unwrap_or_default();
        let os = self
            .os
            .extract(text)
            .map(|o| clean(&o.os, MAX_FAMILY_BYTES))
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| OTHER.to_string());
        let dev = self.dev.iter().find_map(|d| d.extract(text));
        let hints = Hints {
            text,
            lower: text.to_ascii_lowercase(),
            browser: &browser,
            os: &os,
            device: dev.as_ref().map_or("", |d| &d.device),
            brand: dev.as_ref().and_then(|d| d.brand.as_deref()).unwrap_or(""),
        };
        let bot = hints.is_bot();
        let device = if bot {
            DeviceClass::Bot
        } else {
            hints.device_class()
        };
        AgentClass {
            browser,
            major,
            os,
            device,
            bot,
        }
    }
}

/// What the rules look at, besides uap's answers.
struct Hints<'a> {
    text: &'a str,
    /// `text` in ASCII lower case.
    lower: String,
    browser: &'a str,
    os: &'a str,
    /// uap's device family ("" when no device rule matched).
    device: &'a str,
    /// uap's device brand ("" when none).
    brand: &'a str,
}

impl Hints<'_> {
    fn is_bot(&self) -> bool {
        if self.device == "Spider" || AUTOMATED_FAMILIES.contains(&self.browser) {
            return true;
        }
        let family = self.browser.to_ascii_lowercase();
        ["bot", "spider", "crawl"]
            .iter()
            .any(|word| family.contains(word))
            || AUTOMATED_PREFIXES
                .iter()
                .any(|prefix| self.lower.starts_with(prefix))
    }

    fn device_class(&self) -> DeviceClass {
        if NOT_A_COMPUTER.iter().any(|m| self.lower.contains(m)) {
            return DeviceClass::Other;
        }
        let tablet = matches!(self.device, "iPad" | "Generic Tablet")
            || self.device.starts_with("Kindle")
            || self.brand == "Generic_Android_Tablet"
            || self.text.contains("iPad")
            || self.os == "BlackBerry Tablet OS";
        if tablet {
            return DeviceClass::Tablet;
        }
        let phone = ["Mobi", "iPhone", "iPod", "Opera Mini"]
            .iter()
            .any(|t| self.text.contains(t))
            || self.device == "Generic Feature Phone";
        if phone {
            return DeviceClass::Mobile;
        }
        // Android browsers on phones send a Mobile token; on tablets they do not. Android
        // agents without a browser engine are apps (Dalvik), mostly on phones.
        if self.os == "Android" && BROWSER_ENGINES.iter().any(|e| self.text.contains(e)) {
            return DeviceClass::Tablet;
        }
        if self.device == "Generic Smartphone" || MOBILE_OS.contains(&self.os) {
            return DeviceClass::Mobile;
        }
        let desktop_os = DESKTOP_OS.contains(&self.os)
            || (self.os.starts_with("Windows") && !MOBILE_OS.contains(&self.os));
        if desktop_os && self.browser != OTHER {
            return DeviceClass::Desktop;
        }
        DeviceClass::Other
    }
}

/// `s` trimmed, without control or bidirectional formatting characters, cut to at most `max`
/// bytes on a character boundary.
fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.trim().chars() {
        if c.is_control() || is_invisible_format(c) {
            continue;
        }
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out
}

/// Zero-width and bidirectional formatting characters, which can reorder or hide text in a
/// report viewer.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}'
        | '\u{FEFF}')
}

/// One lookup's answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AgentHit {
    /// Id of the agent's class in the cache that answered ([`AgentCache::class`]).
    pub class: u32,
    /// [`digest`] of the raw agent bytes.
    pub digest: [u8; 16],
}

#[derive(Default)]
struct Slot {
    filled: bool,
    key: Vec<u8>,
    hit: AgentHit,
}

/// A per-thread cache in front of [`classify`], keyed by the raw agent bytes.
///
/// Direct-mapped: an agent has one slot, chosen by a hash of its bytes, and a miss overwrites
/// it, so memory stays bounded (at most [`MAX_CACHED_BYTES`] of key per slot) however many
/// distinct agents go by. Agents longer than [`MAX_CACHED_BYTES`] are not cached. Classes are
/// interned: each distinct [`AgentClass`] gets a small id, stable for the life of the cache.
pub struct AgentCache {
    slots: Box<[Slot]>,
    /// Every agent classified lately, behind the slots: two frequent agents that share a slot
    /// then cost a map lookup each, not a classification. Cleared when it reaches
    /// [`MAX_KNOWN`] entries.
    known: FxHashMap<Box<[u8]>, AgentHit>,
    classes: Vec<AgentClass>,
    ids: FxHashMap<AgentClass, u32>,
    max_classes: usize,
    /// False when only digests are wanted: every agent then gets the class of no agent, and
    /// the classifier is never built.
    classify: bool,
}

impl Default for AgentCache {
    fn default() -> Self {
        AgentCache::new()
    }
}

impl fmt::Debug for AgentCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentCache")
            .field("slots", &self.slots.len())
            .field("classes", &self.classes.len())
            .finish()
    }
}

impl AgentCache {
    /// A cache of [`DEFAULT_SLOTS`] slots.
    pub fn new() -> Self {
        AgentCache::with_slots(DEFAULT_SLOTS)
    }

    /// A cache of `slots` slots, rounded up to a power of two (at least one).
    pub fn with_slots(slots: usize) -> Self {
        let n = slots.max(1).next_power_of_two();
        AgentCache {
            slots: (0..n).map(|_| Slot::default()).collect(),
            known: FxHashMap::default(),
            classes: Vec::new(),
            ids: FxHashMap::default(),
            max_classes: MAX_CLASSES,
            classify: true,
        }
    }

    /// A cache that gives digests only (for visitors, when no report shows agent classes):
    /// every class is [`AgentClass::none`], and the classifier is never built.
    pub fn digests_only() -> Self {
        AgentCache {
            classify: false,
            ..AgentCache::new()
        }
    }

    /// The class id and digest of `ua`. Classifies (and builds the process-wide classifier, the
    /// first time) only on a miss.
    ///
    /// Once [`MAX_CLASSES`] distinct classes are interned, a new class is recorded with browser
    /// and OS `Other` and no major version (device class and bot flag kept), so that a flood
    /// of made-up agents cannot grow the table without bound.
    pub fn lookup(&mut self, ua: &[u8]) -> AgentHit {
        if ua.len() > MAX_CACHED_BYTES {
            return self.miss(ua);
        }
        let i = self.slot_of(ua);
        let slot = &self.slots[i];
        if slot.filled && slot.key == ua {
            return slot.hit;
        }
        let hit = match self.known.get(ua) {
            Some(h) => *h,
            None => {
                let h = self.miss(ua);
                if self.known.len() >= MAX_KNOWN {
                    self.known.clear();
                }
                self.known.insert(ua.into(), h);
                h
            }
        };
        let slot = &mut self.slots[i];
        slot.key.clear();
        slot.key.extend_from_slice(ua);
        slot.hit = hit;
        slot.filled = true;
        hit
    }

    /// The class with id `id`.
    ///
    /// # Panics
    ///
    /// If `id` did not come from this cache.
    pub fn class(&self, id: u32) -> &AgentClass {
        &self.classes[id as usize]
    }

    /// The distinct classes seen, by id (for merging per-thread results by value).
    pub fn classes(&self) -> &[AgentClass] {
        &self.classes
    }

    fn slot_of(&self, ua: &[u8]) -> usize {
        // Fibonacci hashing on top of Fx: the top bits of the product index the table.
        let h = FxBuildHasher
            .hash_one(ua)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let bits = self.slots.len().trailing_zeros();
        if bits == 0 {
            0
        } else {
            (h >> (64 - bits)) as usize
        }
    }

    fn miss(&mut self, ua: &[u8]) -> AgentHit {
        let class = if self.classify {
            classify(ua)
        } else {
            AgentClass::none()
        };
        AgentHit {
            class: self.intern(class),
            digest: digest(ua),
        }
    }

    fn intern(&mut self, class: AgentClass) -> u32 {
        if let Some(&id) = self.ids.get(&class) {
            return id;
        }
        let class = if self.classes.len() >= self.max_classes {
            let capped = AgentClass {
                browser: OTHER.to_string(),
                major: String::new(),
                os: OTHER.to_string(),
                ..class
            };
            if let Some(&id) = self.ids.get(&capped) {
                return id;
            }
            capped
        } else {
            class
        };
        let id = u32::try_from(self.classes.len()).expect("class ids fit in u32");
        self.ids.insert(class.clone(), id);
        self.classes.push(class);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &[u8] = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const IPHONE: &[u8] = b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";

    #[test]
    fn clean_drops_controls_and_bounds_length() {
        assert_eq!(clean("  Chrome\t\u{1}\u{7f}  ", 64), "Chrome");
        assert_eq!(clean("a\u{202E}b\u{200B}c\u{FEFF}", 64), "abc");
        assert_eq!(clean(&"x".repeat(100), 64).len(), 64);
        // Cut on a character boundary: "é" is two bytes.
        assert_eq!(clean("ééé", 5), "éé");
        assert_eq!(clean("\u{0}\u{1}", 64), "");
    }

    #[test]
    fn empty_and_dash_are_none() {
        for ua in [&b""[..], b"-", b"  ", b" - "] {
            assert_eq!(classify(ua), AgentClass::none(), "{ua:?}");
        }
        let none = AgentClass::none();
        assert_eq!(
            (none.browser.as_str(), none.os.as_str(), none.device),
            (NONE, NONE, DeviceClass::Other)
        );
    }

    #[test]
    fn device_class_names() {
        let names: Vec<_> = DeviceClass::ALL.iter().map(|d| d.as_str()).collect();
        assert_eq!(names, ["desktop", "mobile", "tablet", "bot", "other"]);
        assert_eq!(DeviceClass::Tablet.to_string(), "tablet");
    }

    #[test]
    fn digest_is_truncated_blake3() {
        assert_eq!(&digest(CHROME)[..], &blake3::hash(CHROME).as_bytes()[..16]);
        assert_ne!(digest(CHROME), digest(IPHONE));
    }

    #[test]
    fn hit_equals_miss() {
        let mut cache = AgentCache::new();
        let first = cache.lookup(CHROME);
        let second = cache.lookup(CHROME);
        assert_eq!(first, second);
        assert_eq!(first.digest, digest(CHROME));
        assert_eq!(cache.class(first.class), &classify(CHROME));
        let phone = cache.lookup(IPHONE);
        assert_ne!(phone.class, first.class);
        assert_eq!(cache.lookup(CHROME), first);
        assert_eq!(cache.classes().len(), 2);
    }

    #[test]
    fn digests_only_gives_the_same_digests_and_no_classes() {
        let mut full = AgentCache::new();
        let mut bare = AgentCache::digests_only();
        for ua in [CHROME, IPHONE, b"curl/8.5.0", b"-", b""] {
            let (f, b) = (full.lookup(ua), bare.lookup(ua));
            assert_eq!(f.digest, b.digest, "{ua:?}");
            assert_eq!(bare.class(b.class), &AgentClass::none(), "{ua:?}");
        }
        assert_eq!(bare.classes().len(), 1);
    }

    #[test]
    fn same_class_shares_an_id() {
        let mut cache = AgentCache::new();
        let a = cache.lookup(b"curl/8.5.0");
        let b = cache.lookup(b"curl/8.4.0");
        assert_eq!(a.class, b.class);
        assert_ne!(a.digest, b.digest);
    }

    #[test]
    fn more_agents_than_slots() {
        // 8 slots, 200 agents of 3 classes: every answer must still be right, twice over.
        let mut cache = AgentCache::with_slots(8);
        let agents: Vec<Vec<u8>> = (0..200)
            .map(|i| match i % 3 {
                0 => format!("curl/7.{i}.0").into_bytes(),
                1 => format!("Wget/1.{i}").into_bytes(),
                _ => format!(
                    "Mozilla/5.0 (X11; Linux x86_64; rv:{i}.0) Gecko/20100101 Firefox/{i}.0"
                )
                .into_bytes(),
            })
            .collect();
        for _ in 0..2 {
            for ua in &agents {
                let hit = cache.lookup(ua);
                assert_eq!(hit.digest, digest(ua));
                assert_eq!(cache.class(hit.class), &classify(ua), "{ua:?}");
            }
        }
        // curl, Wget, and one Firefox class per major version (66 of them).
        assert_eq!(cache.classes().len(), 2 + 66);
    }

    #[test]
    fn one_slot_cache_still_answers() {
        let mut cache = AgentCache::with_slots(0);
        assert_eq!(cache.slots.len(), 1);
        let a = cache.lookup(CHROME);
        let b = cache.lookup(IPHONE);
        assert_eq!(cache.lookup(CHROME), a);
        assert_eq!(cache.lookup(IPHONE), b);
    }

    #[test]
    fn long_agents_bypass_the_cache() {
        let mut long = CHROME.to_vec();
        long.resize(MAX_CACHED_BYTES + 1, b'x');
        let mut cache = AgentCache::with_slots(4);
        let a = cache.lookup(&long);
        assert!(cache.slots.iter().all(|s| !s.filled));
        let b = cache.lookup(&long);
        assert_eq!(a, b);
        assert_eq!(a.digest, digest(&long));
        assert_eq!(cache.class(a.class).browser, "Chrome");
        // One byte shorter fits and is cached.
        long.pop();
        cache.lookup(&long);
        assert_eq!(cache.slots.iter().filter(|s| s.filled).count(), 1);
    }

    #[test]
    fn class_table_is_capped() {
        let mut cache = AgentCache::with_slots(4);
        cache.max_classes = 2;
        let a = cache.lookup(CHROME);
        let b = cache.lookup(IPHONE);
        let c =
            cache.lookup(b"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0");
        assert_eq!((a.class, b.class, c.class), (0, 1, 2));
        assert_eq!(
            cache.class(c.class),
            &AgentClass {
                browser: OTHER.into(),
                major: String::new(),
                os: OTHER.into(),
                device: DeviceClass::Desktop,
                bot: false,
            }
        );
        // Another desktop class lands on the same capped class.
        let d = cache.lookup(
            b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0",
        );
        assert_eq!(d.class, c.class);
        assert_eq!(cache.classes().len(), 3);
    }
}
