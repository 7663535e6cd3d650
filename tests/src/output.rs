//! Reading what a `haid-models` run printed, as the integration tests do.

use std::process::Output;

use serde_json::Value;

/// Its stderr, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts exit 0, saying the exit code and stderr otherwise.
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        stderr(out)
    );
}

/// Its stdout as one JSON document, whatever the exit code.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// Asserts exit 0, then reads stdout as one JSON document.
pub fn json_ok(out: &Output) -> Value {
    assert_ok(out);
    json(out)
}

/// Its stdout as NDJSON: one JSON value a line.
pub fn ndjson(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}
