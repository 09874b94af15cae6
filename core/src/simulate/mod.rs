//! A cohort simulator: children with sleep and school routines, weekends, weather with fronts,
//! everyday activities, chatty messages, headaches and reliefs, and (for some) planted effects
//! whose truth is written down so the pattern engine can be scored against it.
//!
//! Symptoms follow a per-minute hazard over awake minutes: a child's baseline rate times the
//! relative risk of every planted effect active that minute (time of day, low pressure, a 24 h
//! pressure drop, 0–2 h after a trigger activity). Reliefs follow an episode with an efficacy
//! (probability of relief within 3 h) per strategy. Exposure in the simulator is defined exactly
//! as the engine measures it (hourly readings, the child's local clock).

pub mod evaluate;
mod phrases;
pub mod rng;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};

use crate::event::{ActivityCategory, Body, Record, ReliefStrategy};
use rng::Rng;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Config {
    pub children: u32,
    pub days: u32,
    pub seed: u64,
    /// Share of children with planted effects (the rest have none).
    pub effect_share: f64,
    /// First local date (a Monday by default).
    pub start: NaiveDate,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            children: 200,
            days: 28,
            seed: 1,
            effect_share: 0.5,
            start: NaiveDate::from_ymd_opt(2026, 10, 5).unwrap_or_default(),
        }
    }
}

/// What was planted, per child (the `--truth` file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    pub days: u32,
    pub start: String,
    pub children: Vec<ChildTruth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildTruth {
    pub user: String,
    pub utc_offset_min: i32,
    pub baseline_episodes_per_awake_hour: f64,
    pub symptom_episodes: u32,
    pub effects: Vec<Planted>,
}

/// One planted effect. `relative_risk` is the hazard ratio (rate patterns) or the ratio of
/// quick-relief probabilities against the child's other strategies (relief).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Planted {
    pub kind: String,
    pub subject: String,
    pub relative_risk: f64,
    /// Symptom episodes that began while exposed (rate patterns), or episodes treated with the
    /// strategy (relief), as realised in this simulation.
    pub exposed_episodes: u32,
}

const MIN_PER_DAY: i64 = 1440;
/// The engine's episode gap in minutes (`patterns::EPISODE_GAP_MS`).
const EPISODE_GAP_MIN: i64 = crate::patterns::EPISODE_GAP_MS / 60_000;
const OFFSETS: [i32; 5] = [60, 0, -300, 120, 330];
const TRIGGER_CHOICES: [ActivityCategory; 6] = [
    ActivityCategory::ScreenTime,
    ActivityCategory::SkippedMeal,
    ActivityCategory::Homework,
    ActivityCategory::Outdoor,
    ActivityCategory::Exercise,
    ActivityCategory::Dehydration,
];

/// Daily probability, local window (hours) and which days, per activity category.
fn activity_plan(category: ActivityCategory) -> (f64, (i64, i64), Days) {
    use ActivityCategory::*;
    match category {
        ScreenTime => (0.7, (15, 21), Days::All),
        Exercise => (0.4, (15, 19), Days::All),
        SkippedMeal => (0.15, (7, 13), Days::All),
        PoorSleep => (0.1, (7, 10), Days::All),
        SchoolStress => (0.3, (9, 15), Days::School),
        SocialConflict => (0.1, (10, 20), Days::All),
        Caffeine => (0.1, (13, 19), Days::All),
        BrightLight => (0.1, (10, 17), Days::All),
        LoudNoise => (0.1, (10, 20), Days::All),
        Dehydration => (0.15, (11, 18), Days::All),
        Travel => (0.25, (9, 18), Days::Weekend),
        Outdoor => (0.5, (10, 19), Days::All),
        Homework => (0.6, (16, 20), Days::School),
        Meditation => (0.1, (19, 21), Days::All),
        Other => (0.05, (10, 20), Days::All),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Days {
    All,
    School,
    Weekend,
}

/// Simulates the cohort: records of every child, time-ordered, and the truth.
pub fn cohort(config: &Config) -> (Vec<Record>, Truth) {
    let mut records = Vec::new();
    let mut children = Vec::new();
    for index in 0..config.children {
        let mut rng = Rng::new(config.seed.wrapping_mul(0x9E37_79B9).wrapping_add(u64::from(index)));
        let with_effects = (index as f64) < config.effect_share * config.children as f64;
        let (mut child_records, truth) = Child::new(config, index, with_effects, &mut rng).simulate(&mut rng);
        records.append(&mut child_records);
        children.push(truth);
    }
    records.sort_by_key(|r| (r.ts_utc_ms(), r.user.clone()));
    (records, Truth { seed: config.seed, days: config.days, start: config.start.to_string(), children })
}

#[derive(Debug, Clone)]
struct Child {
    user: String,
    offset_min: i32,
    start_min: i64,
    days: i64,
    lambda_per_min: f64,
    tod: Option<(usize, f64)>,
    low_pressure: Option<f64>,
    pressure_drop: Option<f64>,
    trigger: Option<(ActivityCategory, f64)>,
    relief: Option<(ReliefStrategy, f64)>,
    activity_mult: Vec<f64>,
    strategies: Vec<(ReliefStrategy, f64)>,
    base_efficacy: f64,
    climate_c: f64,
}

impl Child {
    fn new(config: &Config, index: u32, with_effects: bool, rng: &mut Rng) -> Self {
        let offset_min = *rng.pick(&OFFSETS);
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let start_day = config.start.signed_duration_since(epoch).num_days();
        let episodes = rng.uniform(8.0, 16.0) * f64::from(config.days) / 28.0;
        let awake_hours = f64::from(config.days) * 14.0;
        let mut child = Child {
            user: format!("child-{index:03}"),
            offset_min,
            start_min: start_day * MIN_PER_DAY - i64::from(offset_min),
            days: i64::from(config.days),
            lambda_per_min: episodes / awake_hours / 60.0,
            tod: None,
            low_pressure: None,
            pressure_drop: None,
            trigger: None,
            relief: None,
            activity_mult: ActivityCategory::ALL.iter().map(|_| rng.uniform(0.5, 1.5)).collect(),
            strategies: Vec::new(),
            base_efficacy: rng.uniform(0.25, 0.4),
            climate_c: rng.uniform(8.0, 22.0),
        };
        let habits = [ReliefStrategy::Rest, ReliefStrategy::DarkRoom, ReliefStrategy::Water, ReliefStrategy::Nap,
            ReliefStrategy::Medication, ReliefStrategy::ColdCompress, ReliefStrategy::Breathing, ReliefStrategy::Music];
        while child.strategies.len() < 4 {
            let s = *rng.pick(&habits);
            if !child.strategies.iter().any(|(h, _)| *h == s) {
                child.strategies.push((s, rng.uniform(0.5, 1.5)));
            }
        }
        if with_effects {
            child.plant(rng);
        }
        child
    }

    /// One or two effects of different kinds, relative risks from 2 to 6.
    fn plant(&mut self, rng: &mut Rng) {
        let count = if rng.chance(0.4) { 2 } else { 1 };
        let mut kinds = vec![0usize, 1, 2, 3, 4];
        for _ in 0..count {
            let k = kinds.remove(rng.int(0, kinds.len() as i64 - 1) as usize);
            let rr = rng.uniform(2.0, 6.0);
            match k {
                0 => self.tod = Some((rng.int(0, 2) as usize, rr)),
                1 => self.low_pressure = Some(rr),
                2 => self.pressure_drop = Some(rr),
                3 => {
                    let c = *rng.pick(&TRIGGER_CHOICES);
                    // A child with a trigger meets it on most days.
                    self.activity_mult[crate::patterns::cell::category_index(c)] = 0.85 / activity_plan(c).0;
                    self.trigger = Some((c, rr));
                }
                _ => {
                    let i = rng.int(0, self.strategies.len() as i64 - 1) as usize;
                    self.strategies[i].1 = 3.0;
                    let efficacy = (self.base_efficacy * rng.uniform(2.0, 3.0)).min(0.95);
                    self.relief = Some((self.strategies[i].0, efficacy / self.base_efficacy));
                }
            }
        }
        if self.low_pressure.is_some() && self.pressure_drop.is_some() {
            // Keep weather effects apart: a child has one weather sensitivity at most.
            self.pressure_drop = None;
        }
    }

    fn ts(&self, utc_min: i64) -> DateTime<FixedOffset> {
        let offset = FixedOffset::east_opt(self.offset_min * 60).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero"));
        offset.timestamp_millis_opt(utc_min * 60_000).single().unwrap_or_else(|| offset.timestamp_millis_opt(0).single().expect("epoch"))
    }

    fn record(&self, utc_min: i64, body: Body) -> Record {
        let mut r = Record::new(self.ts(utc_min), body);
        r.user = self.user.clone();
        r
    }

    /// Local day index (from the start) and minute of day of an absolute UTC minute.
    fn local(&self, utc_min: i64) -> (i64, i64) {
        let local = utc_min - self.start_min;
        (local.div_euclid(MIN_PER_DAY), local.rem_euclid(MIN_PER_DAY))
    }

    fn weekday(&self, day: i64) -> usize {
        // The start date's weekday is folded into `start_min`'s local day number.
        crate::patterns::cell::weekday((self.start_min + i64::from(self.offset_min)).div_euclid(MIN_PER_DAY) + day)
    }

    fn simulate(self, rng: &mut Rng) -> (Vec<Record>, ChildTruth) {
        let mut out = Vec::new();
        let weather = self.weather(rng, &mut out);
        let (wake, bed) = self.sleep(rng, &mut out);
        let activities = self.activities(rng, &wake, &bed, &mut out);
        self.chat(rng, &wake, &bed, &mut out);
        let mut truth = ChildTruth {
            user: self.user.clone(),
            utc_offset_min: self.offset_min,
            baseline_episodes_per_awake_hour: self.lambda_per_min * 60.0,
            symptom_episodes: 0,
            effects: self.planted(),
        };
        let onsets = self.symptoms(rng, &weather, &wake, &bed, &activities, &mut truth, &mut out);
        truth.symptom_episodes = onsets.len() as u32;
        out.sort_by_key(Record::ts_utc_ms);
        (out, truth)
    }

    fn planted(&self) -> Vec<Planted> {
        let mut out = Vec::new();
        let mut add = |kind: &str, subject: String, rr: f64| {
            out.push(Planted { kind: kind.into(), subject, relative_risk: (rr * 100.0).round() / 100.0, exposed_episodes: 0 });
        };
        if let Some((tod, rr)) = self.tod {
            add("time_of_day", crate::patterns::cell::TIME_OF_DAY[tod].into(), rr);
        }
        if let Some(rr) = self.low_pressure {
            add("weather", "low_pressure".into(), rr);
        }
        if let Some(rr) = self.pressure_drop {
            add("weather", "pressure_drop".into(), rr);
        }
        if let Some((c, rr)) = self.trigger {
            add("trigger", format!("activity:{c}"), rr);
        }
        if let Some((s, rr)) = self.relief {
            add("relief", format!("strategy:{s}"), rr);
        }
        out
    }

    /// Hourly pressure with fronts (regimes of high and low pressure, 1.5–5 days each),
    /// temperature with a daily cycle, humidity; one `env` record an hour. Returns pressure by
    /// hour index from `start_min - 48 h`.
    fn weather(&self, rng: &mut Rng, out: &mut Vec<Record>) -> Vec<f64> {
        let hours = (self.days + 2) * 24;
        let first_hour = self.start_min.div_euclid(60) - 48;
        let mut pressure = Vec::with_capacity(hours as usize);
        let mut p = rng.normal(1013.0, 5.0);
        let mut low = rng.chance(0.5);
        let mut left = rng.int(12, 96);
        let mut target = if low { rng.normal(1002.0, 3.0) } else { rng.normal(1019.0, 3.0) };
        let mut anomaly = 0.0;
        for i in 0..hours {
            if left == 0 {
                low = !low;
                left = rng.int(36, 120);
                target = if low { rng.normal(1002.0, 3.0) } else { rng.normal(1019.0, 3.0) };
            }
            left -= 1;
            p += (0.08 * (target - p)).clamp(-1.5, 1.5) + rng.normal(0.0, 0.3);
            pressure.push(p);
            let utc_min = (first_hour + i) * 60;
            let (_, minute) = self.local(utc_min);
            if minute < 60 {
                anomaly = rng.normal(0.0, 3.0);
            }
            let hour = (minute / 60) as f64;
            let temp = self.climate_c + anomaly + 6.0 * ((hour - 9.0) / 24.0 * std::f64::consts::TAU).sin() - if low { 2.0 } else { 0.0 };
            let humidity = (60.0 + 25.0 * (1015.0 - p) / 15.0 - 1.5 * (temp - self.climate_c) + rng.normal(0.0, 5.0)).clamp(20.0, 100.0);
            let round1 = |x: f64| (x * 10.0).round() / 10.0;
            out.push(self.record(utc_min, Body::Env {
                pressure_hpa: Some(round1(p)),
                temp_c: Some(round1(temp)),
                humidity_pct: Some(round1(humidity)),
            }));
            // The engine reads the rounded value; the simulator uses the same.
            if let Some(last) = pressure.last_mut() {
                *last = round1(p);
            }
        }
        pressure
    }

    fn pressure_at(&self, weather: &[f64], utc_min: i64) -> (Option<f64>, Option<f64>) {
        let first_hour = self.start_min.div_euclid(60) - 48;
        let i = utc_min.div_euclid(60) - first_hour;
        let get = |i: i64| usize::try_from(i).ok().and_then(|i| weather.get(i)).copied();
        (get(i), get(i - 24))
    }

    /// Wake and bed times (absolute UTC minutes) per day; one `sleep` record per night.
    fn sleep(&self, rng: &mut Rng, out: &mut Vec<Record>) -> (Vec<i64>, Vec<i64>) {
        let (mut wake, mut bed) = (Vec::new(), Vec::new());
        let mut last_bed = self.start_min - 3 * 60 + rng.int(-20, 20);
        for day in 0..self.days {
            let weekend = self.weekday(day) >= 5;
            let day0 = self.start_min + day * MIN_PER_DAY;
            let w = day0 + if weekend { rng.int(8 * 60, 9 * 60 + 30) } else { rng.int(6 * 60 + 45, 7 * 60 + 15) };
            let free_tomorrow = self.weekday(day + 1) >= 5;
            let b = day0 + if free_tomorrow { rng.int(21 * 60 + 45, 22 * 60 + 45) } else { rng.int(20 * 60 + 45, 21 * 60 + 30) };
            let mut r = self.record(w, Body::Sleep { start: self.ts(last_bed), end: self.ts(w) });
            r.ts = self.ts(w);
            out.push(r);
            wake.push(w);
            bed.push(b);
            last_bed = b;
        }
        (wake, bed)
    }

    fn activities(&self, rng: &mut Rng, wake: &[i64], bed: &[i64], out: &mut Vec<Record>) -> Vec<(i64, ActivityCategory)> {
        let mut acts = Vec::new();
        for day in 0..self.days {
            let weekend = self.weekday(day) >= 5;
            let day0 = self.start_min + day * MIN_PER_DAY;
            for (i, c) in ActivityCategory::ALL.iter().enumerate() {
                let (p, (from, to), days) = activity_plan(*c);
                let allowed = match days {
                    Days::All => true,
                    Days::School => !weekend,
                    Days::Weekend => weekend,
                };
                if !allowed || !rng.chance((p * self.activity_mult[i]).min(0.95)) {
                    continue;
                }
                let lo = (day0 + from * 60).max(wake[day as usize] + 5);
                let hi = (day0 + to * 60).min(bed[day as usize] - 5);
                if hi <= lo {
                    continue;
                }
                let t = rng.int(lo, hi);
                acts.push((t, *c));
                out.push(self.record(t, Body::Activity { category: *c, text: Some((*rng.pick(phrases::activity(*c))).into()) }));
            }
        }
        acts.sort_unstable();
        acts
    }

    fn chat(&self, rng: &mut Rng, wake: &[i64], bed: &[i64], out: &mut Vec<Record>) {
        for day in 0..self.days as usize {
            for _ in 0..rng.int(1, 3) {
                let t = rng.int(wake[day] + 10, bed[day] - 10);
                out.push(self.record(t, Body::Message { text: (*rng.pick(phrases::CHAT)).into() }));
            }
        }
    }

    /// Relative risk of a new episode at minute `t`, and which planted rate effects are active.
    fn hazard_ratio(&self, t: i64, weather: &[f64], acts: &[(i64, ActivityCategory)]) -> (f64, [bool; 4]) {
        let mut rr = 1.0;
        let mut active = [false; 4];
        if let Some((tod, r)) = self.tod {
            let (_, minute) = self.local(t);
            if crate::patterns::cell::time_of_day((minute / 60) as u32) == tod {
                rr *= r;
                active[0] = true;
            }
        }
        let (now, before) = self.pressure_at(weather, t);
        if let (Some(r), Some(p)) = (self.low_pressure, now)
            && p < crate::patterns::cell::LOW_PRESSURE_HPA
        {
            rr *= r;
            active[1] = true;
        }
        if let (Some(r), Some(p), Some(b)) = (self.pressure_drop, now, before)
            && b - p >= crate::patterns::cell::PRESSURE_DROP_HPA
        {
            rr *= r;
            active[2] = true;
        }
        if let Some((c, r)) = self.trigger {
            let start = acts.partition_point(|(a, _)| *a < t - 120);
            if acts[start..].iter().take_while(|(a, _)| *a <= t).any(|(_, ac)| *ac == c) {
                rr *= r;
                active[3] = true;
            }
        }
        (rr, active)
    }

    #[allow(clippy::too_many_arguments)]
    fn symptoms(
        &self,
        rng: &mut Rng,
        weather: &[f64],
        wake: &[i64],
        bed: &[i64],
        acts: &[(i64, ActivityCategory)],
        truth: &mut ChildTruth,
        out: &mut Vec<Record>,
    ) -> Vec<i64> {
        let mut onsets = Vec::new();
        let mut quiet_until = i64::MIN;
        for day in 0..self.days as usize {
            for t in wake[day]..bed[day] {
                if t < quiet_until {
                    continue;
                }
                let (rr, active) = self.hazard_ratio(t, weather, acts);
                if !rng.chance(self.lambda_per_min * rr) {
                    continue;
                }
                onsets.push(t);
                for (effect, on) in truth.effects.iter_mut().zip(self.effect_flags(active)) {
                    effect.exposed_episodes += u32::from(on);
                }
                let text = (*rng.pick(phrases::SYMPTOM)).to_owned();
                out.push(self.record(t, Body::Symptom { intensity: rng.int(3, 8) as u8, text: Some(text) }));
                let mut last_symptom = t;
                if rng.chance(0.25) {
                    last_symptom = t + rng.int(30, 150);
                    let text = (*rng.pick(phrases::FOLLOW_UP)).to_owned();
                    out.push(self.record(last_symptom, Body::Symptom { intensity: rng.int(3, 7) as u8, text: Some(text) }));
                }
                let relief = self.relief(rng, t, truth, out);
                // The episode lasts until 3 h after its last symptom report or until its relief,
                // whichever is later (the engine's definition: a symptom within 3 h continues
                // an episode); no new episode can begin inside it.
                quiet_until = (last_symptom + EPISODE_GAP_MIN + 1).max(relief.unwrap_or(i64::MIN));
            }
        }
        onsets
    }

    /// Which of `truth.effects` (in `planted()` order) were active, given the rate flags.
    fn effect_flags(&self, active: [bool; 4]) -> Vec<bool> {
        let mut flags = Vec::new();
        if self.tod.is_some() {
            flags.push(active[0]);
        }
        if self.low_pressure.is_some() {
            flags.push(active[1]);
        }
        if self.pressure_drop.is_some() {
            flags.push(active[2]);
        }
        if self.trigger.is_some() {
            flags.push(active[3]);
        }
        if self.relief.is_some() {
            flags.push(false);
        }
        flags
    }

    /// The first relief of the episode that began at `onset` (85 % of episodes), with the
    /// strategy's efficacy deciding whether it comes within 3 h. Returns its minute.
    fn relief(&self, rng: &mut Rng, onset: i64, truth: &mut ChildTruth, out: &mut Vec<Record>) -> Option<i64> {
        if !rng.chance(0.85) {
            return None;
        }
        let weights: Vec<f64> = self.strategies.iter().map(|s| s.1).collect();
        let (strategy, _) = self.strategies[rng.weighted(&weights)];
        let efficacy = match self.relief {
            Some((s, ratio)) if s == strategy => {
                if let Some(e) = truth.effects.iter_mut().find(|e| e.kind == "relief") {
                    e.exposed_episodes += 1;
                }
                self.base_efficacy * ratio
            }
            _ => self.base_efficacy,
        };
        let minutes = if rng.chance(efficacy) { rng.int(15, 170) } else { rng.int(190, 330) };
        let text = (*rng.pick(phrases::relief(strategy))).to_owned();
        out.push(self.record(onset + minutes, Body::Relief { strategy, text: Some(text) }));
        Some(onset + minutes)
    }
}

#[cfg(test)]
mod tests;
