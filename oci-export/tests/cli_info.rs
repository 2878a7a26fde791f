//! End-to-end tests of `isolution info`: text and `--json` (namespaces, El Torito, sizes) on
//! every fixture.
//!
//! The real executable, run on the committed fixtures (`tests/fixtures/*.iso`) and checked
//! against their reference listings (`.tsv`), hard-link groups (`.links`) and source tree
//! (`tree/`); see `tests/fixtures/README.md`. Exit codes (see `src/bin/isolution/main.rs`): 0
//! success, 1 ran but reported problems (refused entries), 2 bad input or usage, with one
//! `isolution: ...` line on stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use common::fixtures::*;
use common::run;

// ---------------------------------------------------------------------------------------------
// info

#[test]
fn info_on_every_fixture() {
    for name in FIXTURES {
        let text = run(&["info", &iso(name)]);
        let text = String::from_utf8(ok(&text).to_vec()).unwrap();
        assert!(text.contains("Namespaces:"), "{name}: {text}");

        let out = run(&["info", "--json", &iso(name)]);
        let v: serde_json::Value =
            serde_json::from_slice(ok(&out)).unwrap_or_else(|e| panic!("info --json {name}: {e}"));
        let namespaces: Vec<&str> = v["namespaces"]
            .as_array()
            .expect("namespaces")
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        let (want_ns, default, el_torito): (&[&str], &str, bool) = match name {
            "joliet-only" => (&["joliet", "primary"], "joliet", false),
            "plain-l1" | "plain-l3" => (&["primary"], "primary", false),
            "rr-only" => (&["rr", "primary"], "rr", false),
            "rr-joliet" | "xorriso-rr" => (&["rr", "joliet", "primary"], "rr", true),
            _ => unreachable!(),
        };
        assert_eq!(namespaces, want_ns, "{name}");
        assert_eq!(v["default_namespace"], default, "{name}");
        assert_eq!(!v["el_torito"].is_null(), el_torito, "{name}: {v}");
        assert!(v["el_torito_error"].is_null(), "{name}: {v}");
        assert_eq!(
            v["image_bytes"].as_u64(),
            Some(std::fs::metadata(iso(name)).unwrap().len()),
            "{name}"
        );
        assert_eq!(v["block_size"], 2048, "{name}");
    }
}
