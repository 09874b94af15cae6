//! The `migru` binary's store commands and their JSON contract, run as a user would.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn migru(db: &Path, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_migru")).arg("--db").arg(db).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), value, String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn log_import_export_stats_purge_delete_all() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");

    let (ok, logged, _) = migru(&db, &["log", "--json", "my head hurts", "--at", "2026-03-01T09:00:00+01:00"]);
    assert!(ok);
    assert_eq!(logged["ts"], "2026-03-01T09:00:00+01:00");
    assert!(logged["id"].as_str().unwrap().len() == 36);
    assert!(logged["kind"].is_string());

    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, concat!(
        r#"{"ts":"2026-03-01T10:00:00+01:00","kind":"hr","bpm":80}"#, "\n",
        r#"{"ts":"yesterday","kind":"hr","bpm":80}"#, "\n",
        r#"{"ts":"2026-03-01T11:00:00+01:00","kind":"env","pressure_hpa":1004.5}"#, "\n",
    )).unwrap();
    let (ok, report, _) = migru(&db, &["import", "--json", file.to_str().unwrap()]);
    assert!(ok);
    assert_eq!(report["imported"], 2);
    assert_eq!(report["skipped"], 1);
    assert_eq!(report["errors"][0]["line"], 2);
    assert!(report["errors"][0]["reason"].as_str().unwrap().starts_with("ts:"));
    let (_, again, _) = migru(&db, &["import", "--json", file.to_str().unwrap()]);
    assert_eq!(again["imported"], 0);

    let (ok, stats, _) = migru(&db, &["stats", "--json"]);
    assert!(ok);
    assert_eq!(stats["events"], 3);
    assert_eq!(stats["by_kind"]["hr"], 1);
    assert_eq!(stats["retention_days"], 30);

    let out = Command::new(env!("CARGO_BIN_EXE_migru")).arg("--db").arg(&db).arg("export").output().unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["id"].is_string() && l["ts"].is_string() && l["kind"].is_string()));

    let (ok, purged, _) = migru(&db, &["purge", "--json"]);
    assert!(ok);
    assert_eq!(purged["deleted"], 3, "records from March are outside 30 days of today");

    let (ok, _, stderr) = migru(&db, &["delete-all"]);
    assert!(!ok);
    assert!(stderr.contains("--yes"));
    let (ok, deleted, _) = migru(&db, &["delete-all", "--yes", "--json"]);
    assert!(ok);
    assert_eq!(deleted["deleted_all"], true);
}

#[test]
fn a_foreign_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("photo.jpg");
    std::fs::write(&db, b"\xFF\xD8\xFF\xE0 not a database").unwrap();
    let (ok, _, stderr) = migru(&db, &["stats"]);
    assert!(!ok);
    assert!(stderr.contains("not a SQLite database") && stderr.contains("left untouched"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), b"\xFF\xD8\xFF\xE0 not a database");
}

#[test]
fn demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, summary, stderr) = migru(&dir.path().join("demo.db"), &["demo", "--json", "--days", "5"]);
    assert!(ok, "{stderr}");
    assert_eq!(summary["export_round_trip_identical"], true);
    assert_eq!(summary["import"]["skipped"], 2);
    assert_eq!(summary["reimport"]["imported"], 0);
    // The conversation ends with a red flag, told at once in both voices.
    let turns = summary["conversation"].as_array().unwrap();
    assert_eq!(turns.len(), 5);
    let last = &turns[4]["decision"];
    assert_eq!(last["decision"], "red_flag", "{last}");
    assert!(last["message_child"].as_str().is_some_and(|m| !m.is_empty()) && last["message_parent"].as_str().is_some_and(|m| !m.is_empty()));
    // Three days of band minutes, and the outlook from them.
    assert_eq!(summary["body"]["band"]["minutes_stored"], 3 * 24 * 60 + 1, "{}", summary["body"]["band"]);
    assert!(summary["body"]["outlook"]["stress"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(["template", "model"].contains(&summary["assistant"]["source"].as_str().unwrap()));
    // The family step needs migru-server beside migru (a workspace build has it).
    let server = std::path::Path::new(env!("CARGO_BIN_EXE_migru")).with_file_name("migru-server");
    let family = &summary["family"];
    if server.is_file() {
        assert!(family["pushed"]["accepted"].as_u64().unwrap() > 0, "{family}");
        assert_eq!(family["pushed"]["refused"], 0);
        let kinds: Vec<&str> = family["parent_pulled"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "alert").count(), 1, "{kinds:?}");
        assert!(kinds.contains(&"analysis_result"), "{kinds:?}");
        // The alert carries no words of the child.
        let alert = family["parent_pulled"].as_array().unwrap().iter().find(|c| c["kind"] == "alert").unwrap();
        assert!(!alert.to_string().contains("worst headache"), "{alert}");
    } else {
        assert!(family["skipped"].is_string(), "{family}");
    }
    // The thumbs retrain the family's adapter, which the parent's phone verifies and applies
    // (with the server and ONNX Runtime; CI has both).
    let retrain = &summary["retrain"];
    if server.is_file() && std::env::var_os("ORT_DYLIB_PATH").is_some() {
        assert_eq!((retrain["feedback_sent"].as_u64(), retrain["adapter_version"].as_i64()), (Some(10), Some(1)), "{retrain}");
        assert_eq!(retrain["applied"], true, "{retrain}");
    } else {
        assert!(retrain["skipped"].is_string(), "{retrain}");
    }
}
