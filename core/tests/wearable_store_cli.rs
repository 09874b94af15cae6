//! The wearable → store path through the real binary: simulated band minutes and detected sleep
//! land in the database, `migru sleep --json` reports them, `migru hrv --json` reads stored RR.

use std::path::Path;
use std::process::{Command, Output};

fn migru(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_migru")).arg("--db").arg(db).args(args).output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn simulated_nights_become_minutes_episodes_and_a_sleep_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    // Fri 12:00 → Sun 12:00: two nights of the simulator's child (bed ≈ 22:15, up ≈ 08:15).
    let stored = json(&migru(
        &db,
        &["wearable", "simulate", "--hours", "48", "--start", "2026-03-06T12:00:00+01:00", "--json"],
    ));
    // 48 h of minutes (the last packet may reach into one more minute).
    let minutes = stored["minutes_stored"].as_u64().unwrap();
    assert!((2880..=2881).contains(&minutes), "{stored}");
    assert_eq!(stored["sleep_episodes_stored"], 2, "{stored}");
    let report = json(&migru(&db, &["sleep", "--json", "--days", "3650"]));
    let episodes = report["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 2, "{report}");
    for e in episodes {
        for key in ["start", "end", "duration_min", "efficiency_pct"] {
            assert!(e.get(key).is_some(), "missing {key}: {e}");
        }
        let d = e["duration_min"].as_f64().unwrap();
        assert!((480.0..=720.0).contains(&d), "{e}");
        assert!(e["efficiency_pct"].as_f64().unwrap() > 85.0, "{e}");
    }
    let c = &report["chronotype"];
    for key in ["msf_sc", "category", "social_jetlag_min", "free_days", "confidence"] {
        assert!(c.get(key).is_some(), "missing {key}: {c}");
    }
    // Two weekend nights and no school night: not yet, honestly.
    assert_eq!(c["free_days"], 2);
    assert_eq!(c["confidence"], "not_yet");
    assert!(c["msf_sc"].is_null());
    // Replaying the same data again updates the same episodes instead of adding new ones.
    json(&migru(&db, &["wearable", "simulate", "--hours", "48", "--start", "2026-03-06T12:00:00+01:00", "--json"]));
    let again = json(&migru(&db, &["sleep", "--json", "--days", "3650"]));
    assert_eq!(again["episodes"].as_array().unwrap().len(), 2);
}

#[test]
fn hrv_reads_the_newest_stored_rr_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let file = dir.path().join("rr.jsonl");
    // 10 minutes of RR records, 4 beats each (900/950 ms), stamped at their last beat.
    let mut lines = String::new();
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-02T08:00:00+01:00").unwrap();
    let mut t = t0;
    while t < t0 + chrono::Duration::minutes(10) {
        t += chrono::Duration::milliseconds(3700);
        lines.push_str(&format!(
            "{{\"ts\":\"{}\",\"kind\":\"rr\",\"rr_ms\":[900,950,900,950]}}\n",
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
        ));
    }
    std::fs::write(&file, lines).unwrap();
    json(&migru(&db, &["import", "--json", file.to_str().unwrap()]));
    let v = json(&migru(&db, &["hrv", "--json"]));
    for key in ["n_beats", "mean_rr_ms", "sdnn_ms", "rmssd_ms", "pnn50_pct", "lf_ms2", "hf_ms2", "lf_hf", "artifacts_corrected"] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert!((v["mean_rr_ms"].as_f64().unwrap() - 925.0).abs() < 1e-9);
    assert!((v["rmssd_ms"].as_f64().unwrap() - 50.0).abs() < 1e-9);
    // The default window is 5 minutes: 81 records of 4 beats.
    let n = v["n_beats"].as_u64().unwrap();
    assert!((320..=328).contains(&n), "{n}");
    let wide = json(&migru(&db, &["hrv", "--json", "--minutes", "60"]));
    assert!(wide["n_beats"].as_u64().unwrap() > 600);
}
