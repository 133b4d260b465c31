//! User-agent classification on real agent strings: browsers on each kind of device, search
//! and social crawlers, HTTP tools, and hostile input (empty, `-`, invalid UTF-8, control
//! characters, 10 KB). Each expected row says what a reader of the report should see.

use logveil::ua::{
    AgentCache, AgentClass, DeviceClass, MAX_FAMILY_BYTES, MAX_MAJOR_BYTES, NONE, classify, digest,
};

use DeviceClass::{Bot, Desktop, Mobile, Other, Tablet};

/// (agent, browser, major, os, device, bot)
type Row = (
    &'static [u8],
    &'static str,
    &'static str,
    &'static str,
    DeviceClass,
    bool,
);

const DESKTOP: &[Row] = &[
    (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Chrome", "120", "Windows", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Firefox", "121", "Windows", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        "Edge", "120", "Windows", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
        "Opera", "106", "Windows", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 YaBrowser/24.1.0.0 Safari/537.36",
        "Yandex Browser", "24", "Windows", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
        "IE", "11", "Windows", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
        "Safari", "17", "Mac OS X", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Chrome", "120", "Mac OS X", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Firefox", "121", "Mac OS X", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Chrome", "120", "Linux", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
        "Edge", "120", "Linux", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Firefox", "121", "Ubuntu", Desktop, false,
    ),
    (
        b"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Chrome", "120", "Chrome OS", Desktop, false,
    ),
];

const PHONES_AND_TABLETS: &[Row] = &[
    (
        b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        "Mobile Safari", "17", "iOS", Mobile, false,
    ),
    (
        b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
        "Chrome Mobile iOS", "120", "iOS", Mobile, false,
    ),
    (
        b"Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        "Mobile Safari", "17", "iOS", Tablet, false,
    ),
    // Chrome's reduced agent on a phone: model "K", with the Mobile token.
    (
        b"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile", "120", "Android", Mobile, false,
    ),
    // ... and on a tablet: no Mobile token.
    (
        b"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Chrome", "120", "Android", Tablet, false,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 13; SM-S901B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile", "112", "Android", Mobile, false,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 11; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile", "120", "Android", Mobile, false,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        "Samsung Internet", "23", "Android", Mobile, false,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36",
        "Samsung Internet", "23", "Android", Tablet, false,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 12; SM-T870) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Chrome", "120", "Android", Tablet, false,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 13; Lenovo TB-X606F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Chrome", "120", "Android", Tablet, false,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/119.3.1 like Chrome/119.0.6045.193 Safari/537.36",
        "Amazon Silk", "119", "Android", Tablet, false,
    ),
    (
        b"Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
        "Firefox Mobile", "121", "Android", Mobile, false,
    ),
    (
        b"Mozilla/5.0 (Android 14; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0",
        "Firefox Mobile", "121", "Android", Tablet, false,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 10; VOG-L29) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 OPR/79.3.4187.77284",
        "Opera Mobile", "79", "Android", Mobile, false,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/444.0.0.0.111;]",
        "Facebook", "444", "Android", Mobile, false,
    ),
    (
        b"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
        "Edge Mobile", "15", "Windows Phone", Mobile, false,
    ),
    (
        b"Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16",
        "Opera Mini", "36", "Android", Mobile, false,
    ),
    // Apps: Android's built-in client, and an iOS app through CFNetwork. A person drives
    // them, so they are not bots; the device is the phone their OS suggests.
    (
        b"Dalvik/2.1.0 (Linux; U; Android 13; SM-S901B Build/TP1A.220624.014)",
        "Android", "13", "Android", Mobile, false,
    ),
    (
        b"MyApp/3.1 CFNetwork/1408.0.4 Darwin/22.5.0",
        "MyApp", "3", "iOS", Mobile, false,
    ),
];

const TVS_AND_CONSOLES: &[Row] = &[
    (
        b"Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
        "Samsung Internet", "4", "Tizen", Other, false,
    ),
    // An Android TV box sends no Mobile token, yet is no tablet.
    (
        b"Mozilla/5.0 (Linux; Android 11; SHIELD Android TV Build/RQ1A.210105.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.193 Safari/537.36",
        "Chrome Mobile WebView", "120", "Android", Other, false,
    ),
    (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edge/44.18363.8131",
        "Edge", "44", "Windows", Other, false,
    ),
];

const CRAWLERS: &[Row] = &[
    (
        b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot", "2", "Other", Bot, true,
    ),
    (
        b"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/120.0.6099.129 Safari/537.36",
        "Googlebot", "2", "Other", Bot, true,
    ),
    // Googlebot Smartphone claims Android; the OS column says what the agent claims.
    (
        b"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot", "2", "Android", Bot, true,
    ),
    (b"Googlebot-Image/1.0", "Googlebot-Image", "1", "Other", Bot, true),
    (
        b"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "bingbot", "2", "Other", Bot, true,
    ),
    (
        b"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        "bingbot", "2", "Other", Bot, true,
    ),
    (
        b"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "YandexBot", "3", "Other", Bot, true,
    ),
    (
        b"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Baiduspider", "2", "Other", Bot, true,
    ),
    (
        b"DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "DuckDuckBot", "1", "Other", Bot, true,
    ),
    (
        b"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "AhrefsBot", "7", "Other", Bot, true,
    ),
    (
        b"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        "SemrushBot", "7", "Other", Bot, true,
    ),
    (
        b"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "FacebookBot", "1", "Other", Bot, true,
    ),
    (b"Twitterbot/1.0", "Twitterbot", "1", "Other", Bot, true),
    (
        b"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Slackbot-LinkExpanding", "1", "Other", Bot, true,
    ),
    (
        b"Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        "Yahoo! Slurp", "", "Other", Bot, true,
    ),
    (
        b"Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        "UptimeRobot", "2", "Other", Bot, true,
    ),
];

const TOOLS: &[Row] = &[
    (b"curl/8.5.0", "curl", "8", "Other", Bot, true),
    (b"Wget/1.21.4", "Wget", "1", "Other", Bot, true),
    (b"Wget/1.21.2 (linux-gnu)", "Wget", "1", "Linux", Bot, true),
    (b"python-requests/2.31.0", "Python Requests", "2", "Other", Bot, true),
    (b"Python-urllib/3.11", "Python-urllib", "3", "Other", Bot, true),
    (b"python-httpx/0.26.0", "Other", "", "Other", Bot, true),
    (b"Python/3.11 aiohttp/3.9.1", "Python aiohttp", "3", "Other", Bot, true),
    (b"aiohttp/3.9.1", "Other", "", "Other", Bot, true),
    (b"Go-http-client/1.1", "Go-http-client", "1", "Other", Bot, true),
    (b"Go-http-client/2.0", "Go-http-client", "2", "Other", Bot, true),
    (b"Java/17.0.9", "Java", "17", "Other", Bot, true),
    (b"Java/1.8.0_392", "Java", "8", "Other", Bot, true),
    (
        b"Apache-HttpClient/4.5.14 (Java/17.0.9)",
        "Apache-HttpClient", "4", "Other", Bot, true,
    ),
    (b"okhttp/4.12.0", "okhttp", "4", "Other", Bot, true),
    (b"libwww-perl/6.72", "libwww-perl", "6", "Other", Bot, true),
    (b"PostmanRuntime/7.36.0", "PostmanRuntime", "7", "Other", Bot, true),
    (b"axios/1.6.2", "axios", "1", "Other", Bot, true),
    (
        b"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        "Other", "", "Other", Bot, true,
    ),
    (b"Scrapy/2.11.0 (+https://scrapy.org)", "Scrapy", "2", "Other", Bot, true),
    (
        b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.71 Safari/537.36",
        "HeadlessChrome", "120", "Mac OS X", Bot, true,
    ),
    (
        b"Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
        "PhantomJS", "2", "Linux", Bot, true,
    ),
];

const ODD_INPUT: &[Row] = &[
    (b"", NONE, "", NONE, Other, false),
    (b"-", NONE, "", NONE, Other, false),
    (b"   ", NONE, "", NONE, Other, false),
    (b"\xff\xfe\x00\x01\x80garbage\xc3", "Other", "", "Other", Other, false),
    (b"Mozilla/5.0", "Other", "", "Other", Other, false),
    // Invalid UTF-8 after a sound agent does not spoil it.
    (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 \xff\xfe\xc3",
        "Chrome", "120", "Windows", Desktop, false,
    ),
    // Surrounding blanks are ignored.
    (
        b"  curl/8.5.0\t",
        "curl", "8", "Other", Bot, true,
    ),
];

fn check_rows(rows: &[Row]) {
    let mut wrong = Vec::new();
    for &(ua, browser, major, os, device, bot) in rows {
        let want = AgentClass {
            browser: browser.into(),
            major: major.into(),
            os: os.into(),
            device,
            bot,
        };
        let got = classify(ua);
        if got != want {
            wrong.push(format!(
                "{}\n   want {want:?}\n    got {got:?}",
                String::from_utf8_lossy(ua)
            ));
        }
        assert!(
            clean_and_bounded(&got),
            "{}: {got:?}",
            String::from_utf8_lossy(ua)
        );
    }
    assert!(
        wrong.is_empty(),
        "{} of {} wrong:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
}

fn clean_and_bounded(c: &AgentClass) -> bool {
    let clean = |s: &str| !s.chars().any(char::is_control);
    c.browser.len() <= MAX_FAMILY_BYTES
        && c.os.len() <= MAX_FAMILY_BYTES
        && c.major.len() <= MAX_MAJOR_BYTES
        && clean(&c.browser)
        && clean(&c.os)
        && clean(&c.major)
        && c.bot == (c.device == Bot)
}

#[test]
fn desktop_browsers() {
    check_rows(DESKTOP);
}

#[test]
fn phones_and_tablets() {
    check_rows(PHONES_AND_TABLETS);
}

#[test]
fn tvs_and_consoles_are_other() {
    check_rows(TVS_AND_CONSOLES);
}

#[test]
fn crawlers_are_bots() {
    check_rows(CRAWLERS);
}

#[test]
fn http_tools_are_bots() {
    check_rows(TOOLS);
}

#[test]
fn odd_input() {
    check_rows(ODD_INPUT);
}

#[test]
fn ten_kilobyte_agents() {
    let mut padded = DESKTOP[0].0.to_vec();
    padded.extend(std::iter::repeat_n(b'A', 10 * 1024));
    let got = classify(&padded);
    assert_eq!(
        (got.browser.as_str(), got.major.as_str()),
        ("Chrome", "120")
    );
    assert_eq!((got.os.as_str(), got.device), ("Windows", Desktop));

    let junk = vec![b'x'; 10 * 1024];
    let got = classify(&junk);
    assert_eq!(
        (got.browser.as_str(), got.device, got.bot),
        ("Other", Other, false)
    );

    let mut cache = AgentCache::new();
    let hit = cache.lookup(&padded);
    assert_eq!(hit.digest, digest(&padded));
    assert_eq!(cache.class(hit.class), &classify(&padded));
}

#[test]
fn captured_families_lose_control_characters_and_length() {
    // uap takes an iOS app's family from whatever precedes "/version CFNetwork".
    let got = classify(b"My\x07App\x1b[31m/3.1 CFNetwork/1408.0.4 Darwin/22.5.0");
    assert_eq!(got.browser, "MyApp[31m");
    assert_eq!(got.major, "3");
    assert!(clean_and_bounded(&got), "{got:?}");

    let mut long = vec![b'A'; 150];
    long.extend_from_slice(b"/3.1 CFNetwork/1408.0.4 Darwin/22.5.0");
    let got = classify(&long);
    assert_eq!(got.browser, "A".repeat(MAX_FAMILY_BYTES));
    assert!(clean_and_bounded(&got), "{got:?}");
}

#[test]
fn cache_agrees_with_classify_on_every_row() {
    let rows = [
        DESKTOP,
        PHONES_AND_TABLETS,
        TVS_AND_CONSOLES,
        CRAWLERS,
        TOOLS,
        ODD_INPUT,
    ]
    .concat();
    // A small cache, so that rows evict each other.
    let mut cache = AgentCache::with_slots(16);
    let mut first = Vec::new();
    for &(ua, ..) in &rows {
        let hit = cache.lookup(ua);
        assert_eq!(cache.class(hit.class), &classify(ua));
        assert_eq!(hit.digest, digest(ua));
        first.push(hit);
    }
    for (&(ua, ..), hit) in rows.iter().zip(&first) {
        assert_eq!(cache.lookup(ua), *hit);
    }
    // Ids index the class table, and the table holds each class once.
    let classes = cache.classes();
    for (i, c) in classes.iter().enumerate() {
        assert_eq!(cache.class(i as u32), c);
        assert_eq!(classes.iter().filter(|d| *d == c).count(), 1);
    }
}
