//! Migraine-risk outlook for the next 24 h from the child's patterns plus the weather outlook.
//!
//! Method (a Poisson rate model, stated so a parent can follow it):
//! - The child's symptom-episode rate per awake hour, shrunk towards a prior of half an episode
//!   per awake week (98 h): (episodes + 0.5) / (awake hours + 98). With little diary the prior
//!   dominates and `confidence` says so.
//! - For each awake hour of the next 24 h (07:00–21:00 local), the rate is multiplied by the rate
//!   ratio of every *significant* pattern (FDR-controlled, `patterns`) whose exposure holds in
//!   that hour: its time of day, weekday and school day / weekend, and the weather flags of the
//!   outlook's hour with the patterns' thresholds (low pressure < 1010 hPa, a drop ≥ 5 hPa from
//!   24 h before, humidity ≥ 80 %, ≥ 28 °C). Triggers and reliefs are not forecast.
//! - Expected episodes λ = Σ hourly rates; probability of at least one = 1 − e^(−λ); the child's
//!   usual probability is the same without any pattern. Level: low < 0.2 ≤ moderate < 0.5 ≤ high.
//! - Drivers: the patterns that applied (rate ratio, interval, hours), then context the child's
//!   data cannot yet quantify (a forecast stress peak ≥ 70, a pressure drop with no pattern
//!   behind it); those carry no effect and do not change the probability.

use chrono::{DateTime, Datelike, Duration, FixedOffset, Timelike};
use serde::Serialize;

use super::StressPoint;
use super::weather::WeatherOutlook;
use crate::patterns::cell::{
    DAY_TYPES, HEAT_C, HIGH_HUMIDITY_PCT, LOW_PRESSURE_HPA, PRESSURE_DROP_HPA, TIME_OF_DAY, WEATHER, WEEKDAYS,
    time_of_day,
};
use crate::patterns::{PatternKind, Report};

const PRIOR_EPISODES: f64 = 0.5;
const PRIOR_HOURS: f64 = 98.0;
const AWAKE_FROM_H: u32 = 7;
const AWAKE_UNTIL_H: u32 = 21;
const STRESS_PEAK: f64 = 70.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Moderate,
    High,
}

/// Why the outlook is what it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskDriver {
    /// `pattern:<key>` for the child's patterns, `weather:<flag>` / `stress:peak` for context.
    pub key: String,
    /// Rate ratio from the child's diary; `null` for context without an estimate.
    pub effect: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Awake hours of the next 24 h it applies to.
    pub hours: u32,
}

/// `migru forecast --json` → `migraine_risk`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigraineRisk {
    pub level: RiskLevel,
    /// Probability of at least one symptom episode in the next 24 h.
    pub probability: f64,
    /// The same without any pattern (the child's usual day).
    pub usual_probability: f64,
    pub drivers: Vec<RiskDriver>,
    /// Diary behind the rate.
    pub episodes_seen: u64,
    pub awake_hours_seen: f64,
    /// `not_yet` below a week of awake hours (98 h) in the diary, else `ok`.
    pub confidence: &'static str,
    pub weather_source: Option<&'static str>,
}

/// Which exposures hold in one hour.
fn exposed(kind: PatternKind, subject: &str, t: DateTime<FixedOffset>, weather: Option<&WeatherOutlook>) -> bool {
    match kind {
        PatternKind::TimeOfDay => TIME_OF_DAY.get(time_of_day(t.hour())) == Some(&subject),
        PatternKind::Weekday => {
            let day = t.weekday().num_days_from_monday() as usize;
            let weekend = day >= 5;
            WEEKDAYS.get(day) == Some(&subject) || (subject == DAY_TYPES[0] && !weekend) || (subject == DAY_TYPES[1] && weekend)
        }
        PatternKind::Weather => weather.is_some_and(|w| weather_flag(w, t, subject)),
        PatternKind::Trigger | PatternKind::Relief => false,
    }
}

fn weather_flag(w: &WeatherOutlook, t: DateTime<FixedOffset>, flag: &str) -> bool {
    let Some(hour) = w.at(t) else { return false };
    match flag {
        f if f == WEATHER[0] => hour.pressure_hpa.is_some_and(|p| p < LOW_PRESSURE_HPA),
        f if f == WEATHER[1] => match (w.at(t - Duration::hours(24)).and_then(|h| h.pressure_hpa), hour.pressure_hpa) {
            (Some(before), Some(now)) => before - now >= PRESSURE_DROP_HPA,
            _ => false,
        },
        f if f == WEATHER[2] => hour.humidity_pct.is_some_and(|h| h >= HIGH_HUMIDITY_PCT),
        f if f == WEATHER[3] => hour.temp_c.is_some_and(|c| c >= HEAT_C),
        _ => false,
    }
}

/// The outlook for the 24 h after `now` (module docs).
pub fn migraine_risk(
    now: DateTime<FixedOffset>,
    patterns: Option<&Report>,
    weather: Option<&WeatherOutlook>,
    stress: &[StressPoint],
) -> MigraineRisk {
    let (episodes, awake) = patterns.map_or((0, 0.0), |r| (r.symptom_episodes, r.awake_hours));
    let rate = (episodes as f64 + PRIOR_EPISODES) / (awake + PRIOR_HOURS);
    let significant: Vec<_> = patterns
        .map(|r| r.candidates.iter().filter(|c| c.significant && c.effect.is_finite()).collect())
        .unwrap_or_default();
    let mut hours_applied = vec![0u32; significant.len()];
    let (mut lambda, mut usual) = (0.0, 0.0);
    let mut drop_hours = 0;
    for k in 1..=24 {
        let t = now + Duration::hours(k);
        if !(AWAKE_FROM_H..AWAKE_UNTIL_H).contains(&t.hour()) {
            continue;
        }
        let mut multiplier = 1.0;
        for (i, c) in significant.iter().enumerate() {
            if exposed(c.kind, &c.subject, t, weather) {
                multiplier *= c.effect;
                hours_applied[i] += 1;
            }
        }
        if weather.is_some_and(|w| weather_flag(w, t, WEATHER[1])) {
            drop_hours += 1;
        }
        lambda += rate * multiplier;
        usual += rate;
    }
    let mut drivers: Vec<RiskDriver> = significant
        .iter()
        .zip(&hours_applied)
        .filter(|(_, h)| **h > 0)
        .map(|(c, &hours)| RiskDriver {
            key: format!("pattern:{}", c.key),
            effect: Some(c.effect),
            ci_low: Some(c.ci_low),
            ci_high: c.ci_high,
            hours,
        })
        .collect();
    drivers.sort_by(|a, b| {
        let weight = |d: &RiskDriver| (d.effect.unwrap_or(1.0).ln().abs()) * f64::from(d.hours);
        weight(b).total_cmp(&weight(a))
    });
    let pattern_drop = drivers.iter().any(|d| d.key.ends_with(WEATHER[1]));
    if drop_hours > 0 && !pattern_drop {
        drivers.push(RiskDriver { key: format!("weather:{}", WEATHER[1]), effect: None, ci_low: None, ci_high: None, hours: drop_hours });
    }
    let peak_hours = stress
        .iter()
        .filter(|p| p.value >= STRESS_PEAK)
        .filter(|p| {
            DateTime::parse_from_rfc3339(&p.ts).is_ok_and(|t| (AWAKE_FROM_H..AWAKE_UNTIL_H).contains(&t.hour()))
        })
        .count() as u32;
    if peak_hours > 0 {
        drivers.push(RiskDriver { key: "stress:peak".into(), effect: None, ci_low: None, ci_high: None, hours: peak_hours });
    }
    let probability = 1.0 - (-lambda).exp();
    MigraineRisk {
        level: if probability < 0.2 {
            RiskLevel::Low
        } else if probability < 0.5 {
            RiskLevel::Moderate
        } else {
            RiskLevel::High
        },
        probability: (probability * 1000.0).round() / 1000.0,
        usual_probability: ((1.0 - (-usual).exp()) * 1000.0).round() / 1000.0,
        drivers,
        episodes_seen: episodes,
        awake_hours_seen: (awake * 10.0).round() / 10.0,
        confidence: if awake < PRIOR_HOURS { "not_yet" } else { "ok" },
        weather_source: weather.map(|w| w.source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::weather::WeatherHour;
    use crate::patterns::{Candidate, Counts, Windows};

    fn candidate(kind: PatternKind, subject: &str, effect: f64, significant: bool) -> Candidate {
        Candidate {
            key: format!("{}:{subject}", kind.as_str()),
            kind,
            subject: subject.into(),
            effect,
            ci_low: effect / 2.0,
            ci_high: Some(effect * 2.0),
            support: 10,
            counts: Counts { exposed_events: 10, unexposed_events: 10, exposed_hours: None, unexposed_hours: None, exposed_episodes: None, unexposed_episodes: None },
            tested: true,
            p_value: 0.001,
            p_unadjusted: 0.001,
            adjusted_for: Vec::new(),
            q_value: 0.01,
            confidence: 0.99,
            significant,
            method: "test",
            median_minutes_to_relief: None,
        }
    }

    fn report(episodes: u64, awake: f64, candidates: Vec<Candidate>) -> Report {
        Report {
            user: "kid".into(),
            observed_from: String::new(),
            observed_until: String::new(),
            awake_hours: awake,
            symptom_episodes: episodes,
            conversations: 0,
            duplicates: 0,
            too_late: 0,
            fdr_q: 0.05,
            candidates,
            windows: Windows { six_hour: vec![], seven_day: vec![], trend_7d: None },
        }
    }

    #[test]
    fn significant_weather_patterns_raise_the_risk_when_the_outlook_has_them() {
        let now = DateTime::parse_from_rfc3339("2026-03-02T06:00:00+01:00").unwrap();
        // 20 episodes in 400 awake hours: ≈ 0.6 expected in 14 awake hours.
        let r = report(
            20,
            400.0,
            vec![
                candidate(PatternKind::Weather, "low_pressure", 3.0, true),
                candidate(PatternKind::Weather, "heat", 5.0, false),
                candidate(PatternKind::TimeOfDay, "afternoon", 2.0, true),
            ],
        );
        let none = migraine_risk(now, Some(&r), None, &[]);
        let weather = WeatherOutlook {
            source: "open-meteo",
            hours: (-24..=24)
                .map(|k| WeatherHour { ts: now + Duration::hours(k), pressure_hpa: Some(if k > 0 { 1002.0 } else { 1015.0 }), temp_c: Some(35.0), humidity_pct: None })
                .collect(),
        };
        let low_p = migraine_risk(now, Some(&r), Some(&weather), &[]);
        assert!(low_p.probability > none.probability);
        assert_eq!(low_p.usual_probability, none.usual_probability);
        assert_eq!(low_p.level, RiskLevel::High);
        assert_eq!(low_p.drivers[0].key, "pattern:weather:low_pressure");
        assert_eq!(low_p.drivers[0].hours, 14);
        assert!(low_p.drivers.iter().all(|d| !d.key.contains("heat")), "not significant");
        // The drop (1015 → 1002) is context here: no pattern of this child quantifies it.
        assert!(low_p.drivers.iter().any(|d| d.key == "weather:pressure_drop" && d.effect.is_none()));
        assert_eq!(low_p.confidence, "ok");
    }

    #[test]
    fn without_a_diary_the_prior_speaks_and_says_not_yet() {
        let now = DateTime::parse_from_rfc3339("2026-03-02T06:00:00+01:00").unwrap();
        let r = migraine_risk(now, None, None, &[]);
        assert_eq!(r.level, RiskLevel::Low);
        assert_eq!(r.confidence, "not_yet");
        assert!((r.probability - (1.0 - (-14.0 * 0.5 / 98.0f64).exp())).abs() < 1e-3);
        assert!(r.drivers.is_empty());
    }
}
