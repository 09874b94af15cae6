//! The `migru hrv` and `migru actigraphy` JSON contracts, through the real binary.

use std::path::PathBuf;
use std::process::Command;

fn migru() -> Command {
    Command::new(env!("CARGO_BIN_EXE_migru"))
}

fn fixture(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/signals")
        .join(file)
}

#[test]
fn actigraphy_json_is_pyactigraphys_labels() {
    let out = migru()
        .args([
            "actigraphy",
            "--json",
            "--algorithm",
            "cole-kripke",
            "--counts-file",
        ])
        .arg(fixture("actigraphy_example_04.counts.txt"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours: String = v["sleep"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| if b.as_bool().unwrap() { '1' } else { '0' })
        .collect();
    let labels: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("actigraphy_example_04.labels.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(ours, labels["cole_kripke"].as_str().unwrap());
    assert_eq!(v.as_object().unwrap().len(), 1, "only the `sleep` key");
}

#[test]
fn hrv_json_has_the_contract_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rr.txt");
    // 3 minutes at ~75 bpm with breathing-rate modulation and one ectopic beat.
    let mut text = String::from("# RR intervals in ms\n");
    for i in 0..225 {
        let rr = if i == 100 {
            420.0
        } else {
            800.0 + 30.0 * (i as f64 * 0.8).sin()
        };
        text.push_str(&format!("{rr}\n"));
    }
    std::fs::write(&path, text).unwrap();
    let out = migru()
        .args(["hrv", "--json", "--rr-file"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for key in [
        "n_beats",
        "mean_rr_ms",
        "sdnn_ms",
        "rmssd_ms",
        "pnn50_pct",
        "lf_ms2",
        "hf_ms2",
        "lf_hf",
        "artifacts_corrected",
    ] {
        assert!(keys.contains(&key), "missing {key} in {keys:?}");
    }
    assert_eq!(v["n_beats"], 225);
    assert_eq!(v["artifacts_corrected"], 1);
}

#[test]
fn hrv_without_a_file_reads_the_database_and_bad_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let out = migru().args(["hrv", "--json", "--db"]).arg(&db).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no RR intervals are stored"));
    let path = dir.path().join("bad.txt");
    std::fs::write(&path, "800\n810\nabc\n").unwrap();
    let out = migru()
        .args(["hrv", "--rr-file"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
