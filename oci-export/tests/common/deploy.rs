//! Helpers of the `render` and `upgrade-plan` tests (`render*.rs`, `upgrade_plan.rs`): the
//! Solution fixtures of `tests/solutions/` by name, and rendered YAML streams.

use serde_json::Value;

use super::{run, show, solution};

/// `tests/solutions/NAME.iso`.
pub fn iso(name: &str) -> String {
    solution(&format!("{name}.iso"))
        .to_str()
        .expect("UTF-8 path")
        .to_string()
}

/// Runs `isolution ARGS` and returns its stdout, asserting exit 0 (stderr may hold warnings).
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The documents of a YAML stream, as JSON values.
pub fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).expect("valid YAML document"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// `Kind/name` of an object.
pub fn kind_name(v: &Value) -> String {
    format!(
        "{}/{}",
        v["kind"].as_str().unwrap_or("?"),
        v["metadata"]["name"].as_str().unwrap_or("?")
    )
}
