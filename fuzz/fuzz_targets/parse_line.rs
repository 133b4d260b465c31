//! Every line parser on arbitrary bytes: each named format, and W3C under the input's own
//! `#Fields:` header (its first line) or a default one. Parsers must return a record or a
//! reject, never panic, and a record's fields must be slices of the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logveil::parse::Format;
use logveil::parse::w3c::W3cFields;
use logveil::source::lines;

const DEFAULT_W3C: &[u8] = b"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken";

fn within(line: &[u8], field: &[u8]) -> bool {
    let (l, f) = (line.as_ptr() as usize, field.as_ptr() as usize);
    field.is_empty() || (f >= l && f + field.len() <= l + line.len())
}

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.strip_prefix(b"#Fields:") {
        Some(_) => {
            let end = memchr_newline(data);
            (&data[..end], &data[(end + 1).min(data.len())..])
        }
        None => (DEFAULT_W3C, data),
    };
    let w3c = W3cFields::from_header(header);
    for line in lines(body) {
        for format in Format::NAMED {
            if let Ok(rec) = format.parse(line, w3c.as_ref()) {
                for f in [
                    rec.client,
                    rec.request,
                    rec.method,
                    rec.target,
                    rec.protocol,
                ] {
                    assert!(within(line, f), "{format:?}: a field outside the line");
                }
            }
        }
    }
});

fn memchr_newline(data: &[u8]) -> usize {
    data.iter().position(|&b| b == b'\n').unwrap_or(data.len())
}
