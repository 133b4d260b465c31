//! Build step: converts the vendored user-agent rules (`assets/uap/regexes.yaml`) to compact
//! JSON in `OUT_DIR`, which `src/ua.rs` embeds. Parsing JSON at first use is about ten times
//! cheaper than parsing the YAML, and the binary carries no YAML parser.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SOURCE: &str = "assets/uap/regexes.yaml";
const SECTIONS: [&str; 3] = ["user_agent_parsers", "os_parsers", "device_parsers"];

/// One rule: every field of every rule in the file is a string (`regex`, replacements, flags).
/// Reading them as strings also turns any plain scalar (`8`) into the text the rules mean.
type Rule = BTreeMap<String, String>;

fn main() {
    println!("cargo::rerun-if-changed={SOURCE}");
    println!("cargo::rerun-if-changed=build.rs");

    let yaml =
        std::fs::read_to_string(SOURCE).unwrap_or_else(|e| panic!("cannot read {SOURCE}: {e}"));
    let doc: BTreeMap<String, Vec<Rule>> =
        serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| panic!("{SOURCE} is not valid: {e}"));

    for key in doc.keys() {
        assert!(
            SECTIONS.contains(&key.as_str()),
            "{SOURCE}: unexpected section {key}"
        );
    }
    for section in SECTIONS {
        let rules = doc
            .get(section)
            .unwrap_or_else(|| panic!("{SOURCE}: missing section {section}"));
        assert!(!rules.is_empty(), "{SOURCE}: section {section} is empty");
        for (i, rule) in rules.iter().enumerate() {
            assert!(
                rule.contains_key("regex"),
                "{SOURCE}: {section}[{i}] has no regex"
            );
        }
    }

    let json = serde_json::to_string(&doc).expect("rules serialise to JSON");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    write_if_changed(&out.join("uap_regexes.json"), json.as_bytes());
}

fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return;
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
