//! Apache `LogFormat` and nginx `log_format` compilers: the first line of the input is the
//! format string, the other lines are parsed with whatever it compiles to (and explained).
#![no_main]

use libfuzzer_sys::fuzz_target;
use logveil::parse::logformat::LogFormat;
use logveil::source::lines;

fuzz_target!(|data: &[u8]| {
    let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(fmt) = std::str::from_utf8(&data[..end]) else {
        return;
    };
    let body = &data[(end + 1).min(data.len())..];
    for compiled in [LogFormat::apache(fmt), LogFormat::nginx(fmt)]
        .into_iter()
        .flatten()
    {
        let _ = compiled.secrets_fit();
        for line in lines(body) {
            let _ = compiled.parse(line);
            let _ = compiled.explain(line);
        }
    }
});
