//! Making report strings safe to show: control characters and bidi overrides stripped,
//! truncation by display width, HTML escaping. Owns every string transformation between a
//! report value and a screen; never lets a string from a report reach output unescaped.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

/// Characters that are never printed: C0 and C1 controls, DEL, and the bidi embedding,
/// override and isolate controls (which can make a terminal line or a page read differently
/// from what it holds).
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{200e}' | '\u{200f}' | '\u{061c}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` without the characters of [`is_unsafe`]. Tabs and line breaks become one space each, so
/// words they separated stay apart; every other such character is removed.
pub fn strip(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter_map(|c| match c {
                '\t' | '\n' | '\r' => Some(' '),
                c if is_unsafe(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

/// `s` with its percent-encoded UTF-8 characters decoded (`%E6%9D%B1` → `東`), for reading.
/// Encoded ASCII (`%20`, `%3C`, `%1B`) stays encoded, and so does any run of encoded bytes
/// that is not valid UTF-8.
pub fn readable(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let hex = |i: usize| -> Option<u8> {
        let h = b.get(i + 1..i + 3)?;
        u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] == b'%' && hex(i).is_some_and(|v| v >= 0x80) {
            // A run of encoded non-ASCII bytes.
            let start = i;
            let mut bytes = Vec::new();
            while i < b.len() && b[i] == b'%' {
                match hex(i) {
                    Some(v) if v >= 0x80 => {
                        bytes.push(v);
                        i += 3;
                    }
                    _ => break,
                }
            }
            if let Ok(text) = String::from_utf8(bytes) {
                out.push_str(&s[copied..start]);
                out.push_str(&text);
                copied = i;
            }
        } else {
            i += 1;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[copied..]);
    Cow::Owned(out)
}

/// Columns a character takes on a terminal (0 for controls and combining marks).
fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// Columns `s` takes on a terminal.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `s` stripped, then cut to at most `max` columns: a string that does not fit ends with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    let s = strip(s);
    if width(&s) <= max {
        return s.into_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `s` stripped, cut to `cols` columns and padded with spaces to exactly `cols` on the right
/// (`left`) or on the left.
pub fn fit(s: &str, cols: usize, left: bool) -> String {
    let t = truncate(s, cols);
    let pad = " ".repeat(cols.saturating_sub(width(&t)));
    if left { t + &pad } else { pad + &t }
}

/// `s` stripped and escaped for HTML text and for attribute values in either quote.
pub fn html(s: &str) -> String {
    let s = strip(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// [`html`] of `s` truncated to `max` columns.
pub fn html_cut(s: &str, max: usize) -> String {
    html(&truncate(s, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(&str) -> String, cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            assert_eq!(&f(input), expected, "input {input:?}");
        }
    }

    fn strip_s(s: &str) -> String {
        strip(s).into_owned()
    }
    fn cut20(s: &str) -> String {
        truncate(s, 20)
    }
    fn fit8(s: &str) -> String {
        fit(s, 8, true)
    }

    const LONG: &str = "/a/very/long/path/that/goes/on/and/on/and/on/and/on/and/on/index.html";

    #[test]
    fn strips_controls_and_bidi() {
        check(
            strip_s,
            &[
                ("plain /index.html", "plain /index.html"),
                ("\x1b[2J\x1b[31mred", "[2J[31mred"),
                ("a\tb\nc\rd", "a b c d"),
                ("nul\0bell\x07del\x7f", "nulbelldel"),
                ("c1\u{85}\u{9b}31m", "c131m"),
                ("evil\u{202e}txt.exe", "eviltxt.exe"),
                ("\u{2066}iso\u{2069}\u{200f}", "iso"),
                ("東京/ページ", "東京/ページ"),
                ("<script>alert(1)</script>", "<script>alert(1)</script>"),
            ],
        );
    }

    fn readable_s(s: &str) -> String {
        readable(s).into_owned()
    }

    #[test]
    fn decodes_encoded_utf8_only() {
        check(
            readable_s,
            &[
                ("/plain", "/plain"),
                ("/%E6%9D%B1%E4%BA%AC/x", "/東京/x"),
                ("/%1B[2J%20a%3Cb", "/%1B[2J%20a%3Cb"),
                ("/%E6%9D", "/%E6%9D"),
                ("/%FF%FE/%C3%A9", "/%FF%FE/é"),
                ("/evil%E2%80%AEtxt", "/evil\u{202e}txt"),
                ("100%", "100%"),
                ("%e6%9d%b1", "東"),
            ],
        );
        assert_eq!(strip(&readable("/evil%E2%80%AEtxt")), "/eviltxt");
    }

    #[test]
    fn truncates_by_display_width() {
        check(
            cut20,
            &[
                ("short", "short"),
                ("exactly twenty chars", "exactly twenty chars"),
                (LONG, "/a/very/long/path/t…"),
                // CJK characters are two columns wide: 9 of them (18) and the ellipsis.
                ("東京都渋谷区神南一丁目二番", "東京都渋谷区神南一…"),
                ("\x1b[2J\x1b[2J\x1b[2J\x1b[2J\x1b[2J", "[2J[2J[2J[2J[2J"),
                ("ab\u{202e}cdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrs…"),
            ],
        );
        check(
            fit8,
            &[
                ("ab", "ab      "),
                ("東京", "東京    "),
                // The ellipsis takes one column, and a wide character does not fit in one.
                ("東京都渋谷区", "東京都… "),
                ("東京都渋", "東京都渋"),
                ("a東京都渋谷", "a東京都…"),
            ],
        );
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(truncate("abc", 1), "…");
        assert!(width(&truncate(&"界".repeat(1000), 79)) <= 79);
    }

    #[test]
    fn escapes_html_for_text_and_attributes() {
        check(
            html,
            &[
                (
                    "<script>alert(1)</script>",
                    "&lt;script&gt;alert(1)&lt;/script&gt;",
                ),
                (
                    "\"><img src=x onerror=alert(1)>",
                    "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;",
                ),
                ("' onmouseover='x", "&#39; onmouseover=&#39;x"),
                ("a&amp;b", "a&amp;amp;b"),
                ("\x1b[2Jclear", "[2Jclear"),
                ("left\u{202e}right", "leftright"),
                ("東京", "東京"),
            ],
        );
        assert_eq!(html_cut("<b>bold text here</b>", 10), "&lt;b&gt;bold t…");
    }
}
