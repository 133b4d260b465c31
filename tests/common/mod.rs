//! The leak scanner shared by integration tests: finds any input address, in any textual
//! form, in the files of an output tree outside `diagnostics/` (Parquet read value by value).

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Every IPv4/IPv6 address written anywhere in `bytes` (tokens of `[0-9a-fA-F:.]`, also with
/// a `:port` or a trailing `.` removed). The unspecified addresses (`0.0.0.0`, `::`) are left
/// out: they identify no one, and `::` also appears in text such as `Foo::bar`.
pub fn addresses_in(bytes: &[u8]) -> Vec<IpAddr> {
    let mut set = BTreeSet::new();
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
            {
                set.insert(ip);
            }
        }
    }
    set.into_iter().collect()
}

/// The textual forms an address could leak in: compressed/dotted, upper case, and for IPv6
/// the exploded form (lower and upper case).
pub fn leak_forms(ip: &IpAddr) -> Vec<String> {
    let mut forms = vec![ip.to_string(), ip.to_string().to_uppercase()];
    if let IpAddr::V6(v6) = ip {
        let s = v6.segments();
        let exploded = s
            .iter()
            .map(|g| format!("{g:04x}"))
            .collect::<Vec<_>>()
            .join(":");
        forms.push(exploded.to_uppercase());
        forms.push(exploded);
    }
    forms.sort();
    forms.dedup();
    forms
}

/// Whether `needle` occurs in `hay` as a whole address (not inside a longer number/address).
pub fn contains_address(hay: &[u8], needle: &[u8], v6: bool) -> bool {
    let extends = |b: u8| {
        if v6 {
            b.is_ascii_hexdigit() || b == b':'
        } else {
            b.is_ascii_digit()
        }
    };
    let mut from = 0;
    while let Some(p) = hay[from..].windows(needle.len()).position(|w| w == needle) {
        let at = from + p;
        let before = at.checked_sub(1).map(|i| hay[i]);
        let after = hay.get(at + needle.len()).copied();
        let before_ok = before.is_none_or(|b| !extends(b) && (v6 || b != b'.'));
        let after_ok = after.is_none_or(|b| !extends(b));
        if before_ok && after_ok {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Every column value (rendered as text) and key-value metadata entry of a Parquet file.
pub fn parquet_texts(path: &Path) -> Vec<String> {
    parquet_texts_with(path, true)
}

/// As [`parquet_texts`]; binary columns (sketches: random-looking bytes) only when asked.
pub fn parquet_texts_with(path: &Path, binary: bool) -> Vec<String> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_schema::{DataType, TimeUnit};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let file = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut texts = Vec::new();
    if let Some(kv) = builder.metadata().file_metadata().key_value_metadata() {
        for e in kv {
            texts.push(e.key.clone());
            texts.extend(e.value.clone());
        }
    }
    for f in builder.schema().fields() {
        texts.push(f.name().clone());
    }
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        for col in batch.columns() {
            macro_rules! prim {
                ($t:ty) => {
                    col.as_primitive::<$t>()
                        .iter()
                        .flatten()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                };
            }
            let vals: Vec<String> = match col.data_type() {
                DataType::Utf8 => col
                    .as_string::<i32>()
                    .iter()
                    .flatten()
                    .map(str::to_string)
                    .collect(),
                DataType::LargeUtf8 => col
                    .as_string::<i64>()
                    .iter()
                    .flatten()
                    .map(str::to_string)
                    .collect(),
                DataType::Binary if !binary => Vec::new(),
                DataType::Binary => col.as_binary::<i32>().iter().flatten().map(lossy).collect(),
                DataType::Boolean => col
                    .as_boolean()
                    .iter()
                    .flatten()
                    .map(|v| v.to_string())
                    .collect(),
                DataType::UInt8 => prim!(UInt8Type),
                DataType::UInt16 => prim!(UInt16Type),
                DataType::UInt32 => prim!(UInt32Type),
                DataType::UInt64 => prim!(UInt64Type),
                DataType::Int8 => prim!(Int8Type),
                DataType::Int16 => prim!(Int16Type),
                DataType::Int32 => prim!(Int32Type),
                DataType::Int64 => prim!(Int64Type),
                DataType::Float32 => prim!(Float32Type),
                DataType::Float64 => prim!(Float64Type),
                DataType::Date32 => prim!(Date32Type),
                DataType::Timestamp(TimeUnit::Second, _) => prim!(TimestampSecondType),
                DataType::Timestamp(TimeUnit::Millisecond, _) => prim!(TimestampMillisecondType),
                DataType::Timestamp(TimeUnit::Microsecond, _) => prim!(TimestampMicrosecondType),
                DataType::Timestamp(TimeUnit::Nanosecond, _) => prim!(TimestampNanosecondType),
                other => panic!(
                    "leak scanner: {}: column type {other} not handled; extend parquet_texts",
                    path.display()
                ),
            };
            texts.extend(vals);
        }
    }
    texts
}

/// The files of `out` that analysts or long-term storage see: everything but `diagnostics/`
/// (raw, expiring, for ops) and `state/` (salts and bookkeeping, private).
pub fn public_files(out: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, skip: &[PathBuf], files: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if skip.contains(&p) {
                continue;
            }
            if p.is_dir() {
                walk(&p, skip, files);
            } else {
                files.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        out,
        &[out.join("diagnostics"), out.join("state")],
        &mut files,
    );
    files
}

/// Percent-decodes once (`+` stays as is); invalid escapes are kept.
pub fn percent_decode(b: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), b.get(i + 2).and_then(|&c| hex(c)))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Every text a file holds, as an analyst could read it: its path, Parquet values and
/// metadata, decompressed contents of `.gz`/`.zst` files, and each of these percent-decoded
/// once and twice.
pub fn file_texts(out: &Path, f: &Path) -> Vec<Vec<u8>> {
    file_texts_with(out, f, true)
}

fn file_texts_with(out: &Path, f: &Path, binary: bool) -> Vec<Vec<u8>> {
    let rel = f.strip_prefix(out).unwrap().display().to_string();
    let mut hays: Vec<Vec<u8>> = vec![rel.into_bytes()];
    let name = f.to_string_lossy();
    if name.ends_with(".parquet") {
        hays.extend(
            parquet_texts_with(f, binary)
                .into_iter()
                .map(String::into_bytes),
        );
    } else if name.ends_with(".gz") {
        let mut v = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(f).unwrap()),
            &mut v,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        hays.push(v);
    } else if name.ends_with(".zst") {
        hays.push(zstd::decode_all(std::fs::File::open(f).unwrap()).unwrap());
    } else {
        hays.push(read(f));
    }
    // Decoded views only of the texts that have something to decode.
    let once: Vec<Vec<u8>> = hays
        .iter()
        .filter(|h| h.contains(&b'%'))
        .map(|h| percent_decode(h))
        .collect();
    let twice: Vec<Vec<u8>> = once
        .iter()
        .filter(|h| h.contains(&b'%'))
        .map(|h| percent_decode(h))
        .collect();
    hays.extend(once);
    hays.extend(twice);
    hays
}

/// Scans every public file under `out` (see [`public_files`]) for any of `addrs`. Returns the
/// number of files scanned and the leaks found.
pub fn scan_for_leaks(out: &Path, addrs: &[IpAddr]) -> (usize, Vec<String>) {
    let files = public_files(out);
    let needles: Vec<(IpAddr, Vec<String>)> =
        addrs.iter().map(|ip| (*ip, leak_forms(ip))).collect();
    let mut leaks = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(out).unwrap().display().to_string();
        // Sketch columns hold keyed hashes, not text: skipping them keeps the scan fast.
        let hays = file_texts_with(out, f, false);
        for (ip, forms) in &needles {
            for form in forms {
                if hays
                    .iter()
                    .any(|h| contains_address(h, form.as_bytes(), ip.is_ipv6()))
                {
                    leaks.push(format!("{rel}: {form} (address {ip})"));
                }
            }
        }
    }
    (files.len(), leaks)
}

/// Scans every public file under `out` for each secret string, case-insensitively.
pub fn scan_for_secrets(out: &Path, secrets: &[&str]) -> Vec<String> {
    let mut leaks = Vec::new();
    for f in public_files(out) {
        let rel = f.strip_prefix(out).unwrap().display().to_string();
        let hays: Vec<Vec<u8>> = file_texts(out, &f)
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        for s in secrets {
            let needle = s.to_ascii_lowercase().into_bytes();
            if hays
                .iter()
                .any(|h| h.windows(needle.len()).any(|w| w == needle.as_slice()))
            {
                leaks.push(format!("{rel}: {s}"));
            }
        }
    }
    leaks
}

/// Every address found in any public file under `out` that is not its own truncation (by
/// the default /24 and /48): an address that survived untruncated, whatever its origin.
pub fn untruncated_addresses(out: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for f in public_files(out) {
        let rel = f.strip_prefix(out).unwrap().display().to_string();
        // Sketch bytes are random and could spell an address by chance: text columns only.
        for h in file_texts_with(out, &f, false) {
            for ip in addresses_in(&h) {
                if truncate(ip) != ip {
                    found.push(format!("{rel}: {ip}"));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The default truncation (/24, /48; IPv4-mapped addresses by their IPv4 part).
pub fn truncate(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & 0xffff_ff00).into()),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V6(
                    std::net::Ipv4Addr::from(u32::from(v4) & 0xffff_ff00).to_ipv6_mapped(),
                );
            }
            IpAddr::V6((u128::from(v6) & !((1u128 << 80) - 1)).into())
        }
    }
}

/// Asserts that no public file under `out` (outside `diagnostics/` and `state/`) holds any of `addrs`, in
/// dotted/compressed, upper-case or exploded IPv6 form (Parquet files are read as values).
pub fn assert_no_leak(out: &Path, addrs: &[IpAddr]) {
    let (files, leaks) = scan_for_leaks(out, addrs);
    assert!(files > 0, "leak check: no file under {}", out.display());
    assert!(
        leaks.is_empty(),
        "{} address leak(s) outside diagnostics/:\n  {}",
        leaks.len(),
        leaks.join("\n  ")
    );
    eprintln!(
        "leak check: {} addresses, {files} files, no leak",
        addrs.len()
    );
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The bytes of `path`, gunzipped when its name ends in `.gz`.
pub fn read_maybe_gz(path: &Path) -> Vec<u8> {
    if path.extension().is_some_and(|e| e == "gz") {
        let mut v = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()),
            &mut v,
        )
        .unwrap();
        v
    } else {
        std::fs::read(path).unwrap()
    }
}
