//! Cole–Kripke and Sadeh labels against pyActigraphy 1.2.2 on its example AWD recordings (60 s
//! epochs; 7 + 7 + 3 + 3 + 3 days). Fixtures: `core/validation/signals/make_fixtures.py`.

use std::path::PathBuf;

use migru_core::signals::sleep::{
    Algorithm, EpisodeOptions, score, sleep_episodes, webster_rescore,
};

const RECORDINGS: [&str; 5] = [
    "example_01",
    "example_02",
    "example_03",
    "example_04",
    "example_05",
];

fn path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/signals")
        .join(file)
}

fn counts(name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(path(&format!("actigraphy_{name}.counts.txt")))
        .expect("counts fixture");
    text.lines()
        .map(|l| l.trim().parse::<f64>().expect("a count"))
        .collect()
}

fn labels(name: &str, key: &str) -> Vec<bool> {
    let text = std::fs::read_to_string(path(&format!("actigraphy_{name}.labels.json")))
        .expect("labels fixture");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    v[key]
        .as_str()
        .expect("label string")
        .chars()
        .map(|c| c == '1')
        .collect()
}

/// (agreeing epochs, total epochs) over every recording.
fn agreement(algorithm: Algorithm, key: &str) -> (usize, usize) {
    let (mut same, mut total) = (0, 0);
    for name in RECORDINGS {
        let theirs = labels(name, key);
        let ours = score(&counts(name), algorithm).unwrap();
        assert_eq!(ours.len(), theirs.len(), "{name}");
        same += ours.iter().zip(&theirs).filter(|(a, b)| a == b).count();
        total += ours.len();
    }
    (same, total)
}

#[test]
fn cole_kripke_agrees_with_pyactigraphy_on_at_least_99_percent_of_epochs() {
    let (same, total) = agreement(Algorithm::ColeKripke, "cole_kripke");
    assert!(total > 30_000);
    assert!(same as f64 >= 0.99 * total as f64, "{same}/{total}");
    // The implementation mirrors pyActigraphy's edges and arithmetic: expect every epoch.
    assert_eq!(same, total, "{} epochs differ", total - same);
}

#[test]
fn sadeh_agrees_with_pyactigraphy_on_at_least_99_percent_of_epochs() {
    let (same, total) = agreement(Algorithm::Sadeh, "sadeh");
    assert!(same as f64 >= 0.99 * total as f64, "{same}/{total}");
    assert_eq!(same, total, "{} epochs differ", total - same);
}

#[test]
fn a_real_week_yields_one_main_sleep_episode_a_night() {
    let c = counts("example_01");
    let rescored = webster_rescore(&score(&c, Algorithm::ColeKripke).unwrap());
    // The AWD header's (anonymised) start.
    let t0 = chrono::DateTime::parse_from_rfc3339("1918-01-23T13:58:00+00:00").unwrap();
    let episodes = sleep_episodes(&rescored, t0, 60, &EpisodeOptions::default()).unwrap();
    let long: Vec<_> = episodes.iter().filter(|e| e.sleep_min >= 180.0).collect();
    assert!(
        (5..=9).contains(&long.len()),
        "{} long episodes in 7 days: {episodes:#?}",
        long.len()
    );
    for e in &episodes {
        assert!(e.efficiency_pct > 0.0 && e.efficiency_pct <= 100.0);
        assert!((e.duration_min - e.sleep_min - e.waso_min).abs() < 1e-9);
    }
}
