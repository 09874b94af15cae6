//! `migru ble …` as a user runs it. This machine (and CI) has no Bluetooth: the commands must
//! fail fast and clearly. The system bus is pointed at a socket that does not exist, so the test
//! means the same on a desktop that does have an adapter.
#![cfg(feature = "cli")]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::DateTime;
use migru_core::event::encode_line;
use migru_core::wearable::{SimConfig, Simulator};

fn migru(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_migru"))
        .args(args)
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            "unix:path=/nonexistent/migru-test-system-bus",
        )
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run migru");
    while child.try_wait().expect("poll migru").is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("migru {args:?} hung for 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (
        child.wait_with_output().expect("collect output"),
        started.elapsed(),
    )
}

fn check_no_adapter(args: &[&str]) {
    let (out, took) = migru(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{args:?} succeeded without Bluetooth"
    );
    assert!(
        stderr.contains("no Bluetooth adapter found"),
        "{args:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} wrote to stdout");
    assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
}

#[test]
fn scan_without_an_adapter_fails_fast() {
    check_no_adapter(&["ble", "scan", "--seconds", "30"]);
    check_no_adapter(&["--json", "ble", "scan"]);
}

#[test]
fn record_without_an_adapter_fails_fast() {
    check_no_adapter(&[
        "ble",
        "record",
        "--device",
        "AA:BB:CC:DD:EE:FF",
        "--seconds",
        "60",
    ]);
    check_no_adapter(&["ble", "record", "--device", "hci0/dev_AA_BB_CC_DD_EE_FF"]);
}

/// What `record` writes (samples → records → `encode_line`) is what `migru import` stores.
#[test]
fn recorded_samples_import() {
    let dir = tempfile::tempdir().unwrap();
    let start = DateTime::parse_from_rfc3339("2026-03-02T12:00:00+01:00").unwrap();
    let samples = Simulator::new(SimConfig::new(5, start, chrono::Duration::minutes(2)));
    let lines: Vec<String> = samples
        .filter_map(|s| s.to_record("local"))
        .map(|r| encode_line(&r))
        .collect();
    let file = dir.path().join("band.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let db = dir.path().join("migru.db");
    let (out, _) = migru(&[
        "--db",
        db.to_str().unwrap(),
        "--json",
        "import",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["imported"].as_u64(),
        Some(lines.len() as u64),
        "{report}"
    );
    assert_eq!(report["skipped"].as_u64(), Some(0), "{report}");
}
