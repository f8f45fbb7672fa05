//! The command line shares the API's parameter rules: the same bounds, the same window check.

use std::process::Command;

use crate::processes::ClosedPort;

fn generate(args: &[&str]) -> std::process::Output {
    let closed = ClosedPort::bind();
    Command::new(env!("CARGO_BIN_EXE_linq-datagen"))
        .args(["generate"])
        .args(args)
        // Nothing listens there: a rejected run must fail before it needs the database.
        .env("MONGO_URI", closed.mongo_uri())
        .env("MONGO_TIMEOUT_MS", "200")
        .output()
        .expect("binary runs")
}

#[test]
fn a_window_reaching_before_1970_is_a_usage_error() {
    let out = generate(&["metrics", "--count", "3000", "--step-seconds", "31536000"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--step-seconds"), "{stderr}");
    assert!(stderr.contains("1970-01-01"), "{stderr}");

    let out = generate(&["calls", "--days", "30", "--end", "1970-01-10T00:00:00Z"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--end"), "{stderr}");
}

#[test]
fn flag_bounds_are_the_api_bounds() {
    let out = generate(&["calls", "--days", "3651"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1..=3650"), "{stderr}");
}
