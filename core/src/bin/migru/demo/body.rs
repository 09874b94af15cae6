//! Demo step: the body. A simulated wrist band (32 Hz motion, 4 Hz EDA, heart rate and RR) streams
//! three days through the same ingest as the apps' BLE layer; then sleep, chronotype, the band's
//! HRV and the 24 h outlook are read back from the store.

use chrono::{DateTime, Duration, FixedOffset};
use migru_core::Companion;
use migru_core::chronotype::ChronotypeOptions;
use migru_core::forecast::{self, weather::Barometer};
use migru_core::readings::sleep_report;
use migru_core::wearable::{IngestConfig, SimConfig, Simulator, StoreSink};
use serde_json::{Value, json};

/// Days of band data: the stress forecast needs at least three.
const BAND_DAYS: i64 = 3;

/// Streams the band's last [`BAND_DAYS`] days before `until`, then reads everything back.
pub fn run(companion: &Companion, until: DateTime<FixedOffset>, seed: u64) -> anyhow::Result<Value> {
    let (store, user) = (companion.store(), companion.user());
    let start = until - Duration::days(BAND_DAYS);
    let mut sink = StoreSink::new(store, user, IngestConfig::default());
    for sample in Simulator::new(SimConfig::new(seed, start, Duration::days(BAND_DAYS))) {
        sink.push(sample)?;
    }
    let band = sink.finish()?;
    let sleep = sleep_report(store, user, until, 28, &ChronotypeOptions::default())?;
    let minutes = store.sensor_minutes(user, start.timestamp_millis(), until.timestamp_millis())?;
    let mut rmssd: Vec<f64> = minutes.iter().filter_map(|m| m.rmssd_ms).collect();
    rmssd.sort_by(f64::total_cmp);
    let weather = Barometer::new(store, user).outlook_now(until).ok();
    let outlook = forecast::outlook(store, user, until, 14, weather.as_ref(), false)?;
    Ok(json!({
        "band": band,
        "sleep_episodes": sleep.episodes.len(),
        "chronotype": sleep.chronotype,
        "rmssd_ms_median": rmssd.get(rmssd.len() / 2),
        "rmssd_minutes": rmssd.len(),
        "outlook": outlook,
    }))
}

/// The prose lines of the step.
pub fn describe(body: &Value) -> Vec<String> {
    let band = &body["band"];
    let chronotype = &body["chronotype"];
    let risk = &body["outlook"]["migraine_risk"];
    let mut lines = vec![
        format!(
            "     band: {} samples → {} minutes stored, {} sleep episodes detected (raw samples are never stored)",
            band["samples"], band["minutes_stored"], band["sleep_episodes_stored"]
        ),
        format!(
            "     sleep: {} episodes in 28 days; chronotype {} (mid-sleep on free days {}, confidence {})",
            body["sleep_episodes"],
            chronotype["category"].as_str().unwrap_or("not yet known"),
            chronotype["msf_sc"].as_str().unwrap_or("-"),
            chronotype["confidence"].as_str().unwrap_or("-")
        ),
        format!(
            "     HRV: median RMSSD {:.1} ms over {} minutes with clean beats",
            body["rmssd_ms_median"].as_f64().unwrap_or(f64::NAN),
            body["rmssd_minutes"]
        ),
    ];
    match body["outlook"]["stress"].as_array().and_then(|s| s.first()) {
        Some(next) => lines.push(format!(
            "     stress next hour: {:.0} of 100 (50 = usual; 95% interval {:.0} to {:.0})",
            next["value"].as_f64().unwrap_or(f64::NAN),
            next["lo"].as_f64().unwrap_or(f64::NAN),
            next["hi"].as_f64().unwrap_or(f64::NAN)
        )),
        None => lines.push(format!("     stress: {}", body["outlook"]["stress_note"].as_str().unwrap_or("no forecast"))),
    }
    if let Some(sleep) = body["outlook"]["sleep"].as_object() {
        let clock = |key: &str| sleep[key].as_str().and_then(|t| t.get(11..16)).unwrap_or("-").to_owned();
        lines.push(format!(
            "     the night of {}: asleep about {} ({} to {}), awake about {} ({} to {}); from {} similar nights",
            sleep["night_of"].as_str().unwrap_or("-"),
            clock("onset"),
            clock("onset_lo"),
            clock("onset_hi"),
            clock("wake"),
            clock("wake_lo"),
            clock("wake_hi"),
            sleep["nights"]
        ));
    }
    lines.push(format!(
        "     headache risk next 24 h: {} ({:.0}% vs {:.0}% on a usual day; {} episodes over {:.0} awake hours; confidence {})",
        risk["level"].as_str().unwrap_or("-"),
        risk["probability"].as_f64().unwrap_or(f64::NAN) * 100.0,
        risk["usual_probability"].as_f64().unwrap_or(f64::NAN) * 100.0,
        risk["episodes_seen"],
        risk["awake_hours_seen"].as_f64().unwrap_or(f64::NAN),
        risk["confidence"].as_str().unwrap_or("-")
    ));
    lines
}
