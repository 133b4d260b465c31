//! Decoding of the escapes servers write inside quoted fields: nginx `\xHH`, Apache `\"`, `\\`,
//! `\xhh` and C-style `\n \t \r \b \v`. Borrowed when there is nothing to decode.

use std::borrow::Cow;

/// Decodes a field by the escape convention of its record.
pub fn decode(raw: &[u8], escaping: super::Escaping) -> Cow<'_, [u8]> {
    match escaping {
        super::Escaping::Log => unescape(raw),
        super::Escaping::Json => super::json::unescape_json(raw),
        super::Escaping::Raw => Cow::Borrowed(raw),
    }
}

/// Decodes escapes in a field as written by Apache or nginx. Unknown escapes are kept as is.
pub fn unescape(raw: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'\\', raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' || i + 1 >= raw.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let (decoded, used) = match raw[i + 1] {
            b'"' => (b'"', 2),
            b'\\' => (b'\\', 2),
            b'n' => (b'\n', 2),
            b't' => (b'\t', 2),
            b'r' => (b'\r', 2),
            b'b' => (0x08, 2),
            b'v' => (0x0b, 2),
            b'x' => match (hex(raw.get(i + 2)), hex(raw.get(i + 3))) {
                (Some(h), Some(l)) => (h << 4 | l, 4),
                _ => (b'\\', 1),
            },
            _ => (b'\\', 1),
        };
        out.push(decoded);
        i += used;
    }
    Cow::Owned(out)
}

fn hex(c: Option<&u8>) -> Option<u8> {
    let c = *c?;
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &[u8], expected: &[u8]) {
        assert_eq!(
            &*unescape(input),
            expected,
            "{}",
            String::from_utf8_lossy(input)
        );
    }

    #[test]
    fn cases() {
        check(b"plain", b"plain");
        check(br#"Gh0st\xad"#, b"Gh0st\xad");
        check(br#"/wsgi/t\xc3\xa9st"#, "/wsgi/tést".as_bytes());
        check(br#"\xC3\xA9"#, "é".as_bytes());
        check(br#"say \"hi\" \\ there"#, br#"say "hi" \ there"#);
        check(br#"a\tb\nc"#, b"a\tb\nc");
        check(br#"bad \xZZ end\"#, br#"bad \xZZ end\"#);
        check(br#"\x2"#, br#"\x2"#);
    }

    #[test]
    fn decodes_by_the_records_convention() {
        use crate::parse::Escaping;
        assert_eq!(
            &*decode(br#"caf\u00e9 \"x\""#, Escaping::Json),
            "café \"x\"".as_bytes()
        );
        assert_eq!(
            &*decode(br#"caf\xc3\xa9"#, Escaping::Log),
            "café".as_bytes()
        );
        assert_eq!(&*decode(br#"a+b\x"#, Escaping::Raw), br#"a+b\x"#);
    }

    proptest! {
        #[test]
        fn never_panics_and_never_grows(bytes in proptest::collection::vec(prop_oneof![Just(b'\\'), Just(b'x'), any::<u8>()], 0..64)) {
            prop_assert!(unescape(&bytes).len() <= bytes.len());
        }
    }
}
