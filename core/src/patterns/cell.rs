//! One hour of one child's life, summarised minute by minute: which minutes were observed and
//! awake, which exposures applied in each minute, and which symptom episodes began when.
//!
//! Minute bitmasks (`u64`, 60 bits used) make exposure exact (a trigger's 2 h window, a sleep
//! episode and a half-hour UTC offset can all cut an hour anywhere) and cheap (`popcount`).

use serde::{Deserialize, Serialize};

use crate::event::{ActivityCategory, ReliefStrategy};

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const FULL: u64 = (1u64 << 60) - 1;

/// Names of the rate-type candidates, in index order (time of day, weekday, day type, weather,
/// then one trigger per activity category).
pub const TIME_OF_DAY: [&str; 4] = ["morning", "afternoon", "evening", "night"];
pub const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
pub const DAY_TYPES: [&str; 2] = ["school_day", "weekend"];
pub const WEATHER: [&str; 4] = ["low_pressure", "pressure_drop", "high_humidity", "heat"];

pub const TOD0: usize = 0;
pub const WEEKDAY0: usize = TOD0 + 4;
pub const DAYTYPE0: usize = WEEKDAY0 + 7;
pub const WEATHER0: usize = DAYTYPE0 + 2;
pub const TRIGGER0: usize = WEATHER0 + 4;
pub const RATE_CANDIDATES: usize = TRIGGER0 + 15;
pub const RELIEF_CANDIDATES: usize = 11;

/// The candidates every rate candidate's counts are also kept within the strata of (exposed,
/// unexposed): the weather conditions, school day and the daytime periods. A candidate found
/// significant is re-tested within the strata of every other discovered stratifier, so a
/// pattern that only rides on another (humid hours are low-pressure hours) is not reported as
/// its own (ADR 0003).
pub const STRATIFIERS: [usize; 8] = [WEATHER0, WEATHER0 + 1, WEATHER0 + 2, WEATHER0 + 3, DAYTYPE0, TOD0, TOD0 + 1, TOD0 + 2];
/// Activities happen at their own times of day (screen time in the evening, homework after
/// school), so a trigger and a time of day can each ride on the other, and two triggers done
/// back to back can too. Times of day and triggers (`TRIGGER_STRATIFIED`, candidates
/// `TOD0..TOD0 + 4` and the 15 triggers) are therefore also kept within the strata of every
/// trigger; these cells follow the `STRATIFIERS` block at
/// `RATE_CANDIDATES * STRATIFIERS.len() + j * 15 + t` (ADR 0003).
pub const TRIGGER_STRATIFIED: usize = 4 + 15;
pub const JOINT_CELLS: usize = RATE_CANDIDATES * STRATIFIERS.len() + TRIGGER_STRATIFIED * 15;

/// Candidate index of the `j`-th trigger-stratified candidate.
pub fn trigger_stratified_candidate(j: usize) -> usize {
    if j < 4 { TOD0 + j } else { TRIGGER0 + j - 4 }
}

/// Where the counts of candidate `i` within the strata of candidate `strat` are kept, if they are.
pub fn joint_index(i: usize, strat: usize) -> Option<usize> {
    if let Some(s) = STRATIFIERS.iter().position(|&x| x == strat) {
        return Some(i * STRATIFIERS.len() + s);
    }
    if !(TRIGGER0..TRIGGER0 + 15).contains(&strat) {
        return None;
    }
    let j = (0..TRIGGER_STRATIFIED).find(|&j| trigger_stratified_candidate(j) == i)?;
    Some(RATE_CANDIDATES * STRATIFIERS.len() + j * 15 + (strat - TRIGGER0))
}

/// Thresholds (documented in ADR 0003).
pub const LOW_PRESSURE_HPA: f64 = 1010.0;
pub const PRESSURE_DROP_HPA: f64 = 5.0;
pub const HIGH_HUMIDITY_PCT: f64 = 80.0;
pub const HEAT_C: f64 = 28.0;

/// The local hour's time-of-day index: morning 05–12, afternoon 12–18, evening 18–23, night 23–05.
pub fn time_of_day(local_hour: u32) -> usize {
    match local_hour {
        5..=11 => 0,
        12..=17 => 1,
        18..=22 => 2,
        _ => 3,
    }
}

/// Monday = 0. The Unix epoch (day 0) was a Thursday.
pub fn weekday(local_day: i64) -> usize {
    (local_day + 3).rem_euclid(7) as usize
}

/// Per-minute calendar masks for the hour starting at absolute minute `start_min` (UTC) seen
/// from a clock `offset_min` ahead of UTC.
pub fn calendar_masks(start_min: i64, offset_min: i32) -> ([u64; 4], [u64; 7], [u64; 2]) {
    let (mut tod, mut wd, mut dt) = ([0u64; 4], [0u64; 7], [0u64; 2]);
    for m in 0..60 {
        let local = start_min + m + i64::from(offset_min);
        let day = local.div_euclid(1440);
        let hour = (local.rem_euclid(1440) / 60) as u32;
        let bit = 1u64 << m;
        tod[time_of_day(hour)] |= bit;
        let w = weekday(day);
        wd[w] |= bit;
        dt[usize::from(w >= 5)] |= bit;
    }
    (tod, wd, dt)
}

/// Bits for the absolute minutes `[from_min, to_min]` that fall inside the hour at `start_min`.
pub fn span_mask(start_min: i64, from_min: i64, to_min: i64) -> u64 {
    let lo = (from_min - start_min).clamp(0, 60);
    let hi = (to_min - start_min + 1).clamp(0, 60);
    if hi <= lo {
        return 0;
    }
    let width = (hi - lo) as u32;
    let ones = if width >= 64 { u64::MAX } else { (1u64 << width) - 1 };
    (ones << lo) & FULL
}

/// Counts behind one rate-type candidate: symptom episodes and awake minutes, exposed and not.
/// Serialised as `[exposed_events, exposed_min, unexposed_events, unexposed_min]`: a child's
/// state holds ~1,100 of them and is saved every third turn, so field names would triple it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "[u64; 4]", into = "[u64; 4]")]
pub struct RateCounts {
    pub exposed_events: u32,
    pub exposed_min: u64,
    pub unexposed_events: u32,
    pub unexposed_min: u64,
}

impl From<RateCounts> for [u64; 4] {
    fn from(c: RateCounts) -> Self {
        [u64::from(c.exposed_events), c.exposed_min, u64::from(c.unexposed_events), c.unexposed_min]
    }
}

impl From<[u64; 4]> for RateCounts {
    fn from(a: [u64; 4]) -> Self {
        let events = |x: u64| u32::try_from(x).unwrap_or(u32::MAX);
        RateCounts { exposed_events: events(a[0]), exposed_min: a[1], unexposed_events: events(a[2]), unexposed_min: a[3] }
    }
}

impl RateCounts {
    /// `self` less `part`, where `part` counts a subset of the same minutes and episodes.
    fn minus(&self, part: &RateCounts) -> RateCounts {
        RateCounts {
            exposed_events: self.exposed_events - part.exposed_events,
            exposed_min: self.exposed_min - part.exposed_min,
            unexposed_events: self.unexposed_events - part.unexposed_events,
            unexposed_min: self.unexposed_min - part.unexposed_min,
        }
    }

    pub fn add(&mut self, other: &RateCounts) {
        self.exposed_events += other.exposed_events;
        self.exposed_min += other.exposed_min;
        self.unexposed_events += other.unexposed_events;
        self.unexposed_min += other.unexposed_min;
    }
}

/// Counts behind one relief strategy: first reliefs after a symptom (episodes), how many came
/// within 3 h, and each time to relief in minutes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReliefCounts {
    pub episodes: u32,
    pub quick: u32,
    pub minutes_to_relief: Vec<u32>,
}

/// What one hour contributes to a child's aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSummary {
    pub hour: i64,
    pub local_day: i64,
    pub awake_min: u32,
    pub onsets: u32,
    pub rate: [RateCounts; RATE_CANDIDATES],
    /// Per (candidate, stratifier) at `candidate * STRATIFIERS.len() + s` (then the trigger
    /// block, `joint_index`): the candidate's counts within the stratifier's exposed and
    /// unexposed minutes. Empty when the hour has no at-risk minute (all counts zero).
    pub joint: Vec<[RateCounts; 2]>,
    pub reliefs: Vec<(ReliefStrategy, u32)>,
}

/// The inputs of one hour, gathered by the engine from its recent-event index.
#[derive(Debug, Clone, Default)]
pub struct CellInputs {
    pub hour: i64,
    pub offset_min: i32,
    /// Minutes inside the child's observation span.
    pub valid: u64,
    pub asleep: u64,
    /// Minutes inside an episode (the 3 h after any symptom report, and from an episode's onset
    /// to its first relief): by the episode definition no new episode can begin then.
    pub in_episode: u64,
    pub pressure_hpa: Option<f64>,
    pub pressure_24h_ago_hpa: Option<f64>,
    pub temp_c: Option<f64>,
    pub humidity_pct: Option<f64>,
    /// Per activity category, minutes within 0–2 h after an activity of that category.
    pub trigger: [u64; 15],
    /// Minute of each symptom episode onset.
    pub onset_minutes: Vec<u32>,
    pub reliefs: Vec<(ReliefStrategy, u32)>,
}

impl CellInputs {
    /// Turns an hour's inputs into its contribution. Pure.
    pub fn summarise(&self) -> CellSummary {
        let (observed, onset_bits, features) = self.exposure();
        let mut rate = [RateCounts::default(); RATE_CANDIDATES];
        // An hour with no at-risk minute (asleep, unobserved: ~40 % of a child's hours) adds
        // nothing to any rate or joint count: no allocation, and `Aggregates::absorb` skips it.
        let mut joint = if observed == 0 { Vec::new() } else { vec![[RateCounts::default(); 2]; JOINT_CELLS] };
        // The unexposed stratum of a joint cell is the candidate's own counts less the exposed
        // stratum (the two strata partition `observed`), so only the exposed one is counted.
        let onset_counts = OnsetCounts::new(&self.onset_minutes, onset_bits);
        if observed != 0 {
            for (i, feature) in features.iter().enumerate() {
                let Some(feature) = *feature else { continue };
                rate[i] = onset_counts.of(feature, observed);
                for (s, &strat) in STRATIFIERS.iter().enumerate() {
                    if let Some(within) = features[strat] {
                        let cell = &mut joint[i * STRATIFIERS.len() + s];
                        cell[0] = onset_counts.of(feature, observed & within);
                        cell[1] = rate[i].minus(&cell[0]);
                    }
                }
            }
            for j in 0..TRIGGER_STRATIFIED {
                let i = trigger_stratified_candidate(j);
                let Some(feature) = features[i] else { continue };
                for (t, &within) in self.trigger.iter().enumerate() {
                    let cell = &mut joint[RATE_CANDIDATES * STRATIFIERS.len() + j * 15 + t];
                    cell[0] = onset_counts.of(feature, observed & within);
                    cell[1] = rate[i].minus(&cell[0]);
                }
            }
        }
        self.summary(observed, rate, joint)
    }

    /// The hour's at-risk minutes (observed, awake and not inside an episode; a child reporting
    /// a new episode is at risk then, whatever the sleep log says), its onset minutes as a mask,
    /// and each rate candidate's exposure mask, or `None` where it is undefined this hour.
    fn exposure(&self) -> (u64, u64, [Option<u64>; RATE_CANDIDATES]) {
        let (tod, wd, dt) = calendar_masks(self.hour * 60, self.offset_min);
        let onset_bits = self.onset_minutes.iter().fold(0u64, |acc, m| acc | (1u64 << m));
        let observed = self.valid & (!(self.asleep | self.in_episode) | onset_bits) & FULL;
        let flag = |cond: bool| if cond { FULL } else { 0 };
        let mut features: [Option<u64>; RATE_CANDIDATES] = [None; RATE_CANDIDATES];
        for (i, mask) in tod.iter().enumerate() {
            features[TOD0 + i] = Some(*mask);
        }
        for (i, mask) in wd.iter().enumerate() {
            features[WEEKDAY0 + i] = Some(*mask);
        }
        for (i, mask) in dt.iter().enumerate() {
            features[DAYTYPE0 + i] = Some(*mask);
        }
        features[WEATHER0] = self.pressure_hpa.map(|p| flag(p < LOW_PRESSURE_HPA));
        if let (Some(now), Some(before)) = (self.pressure_hpa, self.pressure_24h_ago_hpa) {
            features[WEATHER0 + 1] = Some(flag(before - now >= PRESSURE_DROP_HPA));
        }
        features[WEATHER0 + 2] = self.humidity_pct.map(|h| flag(h >= HIGH_HUMIDITY_PCT));
        features[WEATHER0 + 3] = self.temp_c.map(|t| flag(t >= HEAT_C));
        for (i, mask) in self.trigger.iter().enumerate() {
            features[TRIGGER0 + i] = Some(*mask);
        }
        (observed, onset_bits, features)
    }

    fn summary(&self, observed: u64, rate: [RateCounts; RATE_CANDIDATES], joint: Vec<[RateCounts; 2]>) -> CellSummary {
        let local_start = self.hour * 60 + i64::from(self.offset_min);
        CellSummary {
            hour: self.hour,
            local_day: local_start.div_euclid(1440),
            awake_min: observed.count_ones(),
            onsets: self.onset_minutes.len() as u32,
            rate,
            joint,
            reliefs: self.reliefs.clone(),
        }
    }
}

#[cfg(test)]
impl CellInputs {
    /// `summarise`'s counting as first written: both strata of every joint cell counted minute
    /// by minute. The reference `summarise` is tested against (the exposure masks are shared).
    pub(crate) fn summarise_reference(&self) -> CellSummary {
        let (observed, _, features) = self.exposure();
        let mut rate = [RateCounts::default(); RATE_CANDIDATES];
        // An hour with no at-risk minute (asleep, unobserved: ~40 % of a child's hours) adds
        // nothing to any rate or joint count: no allocation, and `Aggregates::absorb` skips it.
        let mut joint = if observed == 0 { Vec::new() } else { vec![[RateCounts::default(); 2]; JOINT_CELLS] };
        if observed != 0 {
            for (i, feature) in features.iter().enumerate() {
                let Some(feature) = *feature else { continue };
                rate[i] = counts(feature, observed, &self.onset_minutes);
                for (s, &strat) in STRATIFIERS.iter().enumerate() {
                    if let Some(within) = features[strat] {
                        let cell = &mut joint[i * STRATIFIERS.len() + s];
                        cell[0] = counts(feature, observed & within, &self.onset_minutes);
                        cell[1] = counts(feature, observed & !within & FULL, &self.onset_minutes);
                    }
                }
            }
            for j in 0..TRIGGER_STRATIFIED {
                let Some(feature) = features[trigger_stratified_candidate(j)] else { continue };
                for (t, &within) in self.trigger.iter().enumerate() {
                    let cell = &mut joint[RATE_CANDIDATES * STRATIFIERS.len() + j * 15 + t];
                    cell[0] = counts(feature, observed & within, &self.onset_minutes);
                    cell[1] = counts(feature, observed & !within & FULL, &self.onset_minutes);
                }
            }
        }
        self.summary(observed, rate, joint)
    }
}

/// `counts` for one hour's onsets. Episodes begin at least `EPISODE_GAP_MS` (3 h) apart, so an
/// hour's onset minutes are distinct and the episode counts are popcounts of its onset mask;
/// the per-onset loop remains for inputs that break that (built by hand).
struct OnsetCounts<'a> {
    onsets: &'a [u32],
    bits: u64,
    distinct: bool,
}

impl<'a> OnsetCounts<'a> {
    fn new(onsets: &'a [u32], bits: u64) -> Self {
        let distinct = onsets.len() == bits.count_ones() as usize && onsets.iter().all(|&m| m < 64);
        OnsetCounts { onsets, bits, distinct }
    }

    fn of(&self, feature: u64, observed: u64) -> RateCounts {
        if !self.distinct {
            return counts(feature, observed, self.onsets);
        }
        let exposed = feature & observed;
        let unexposed = !feature & observed & FULL;
        RateCounts {
            exposed_events: (exposed & self.bits).count_ones(),
            exposed_min: u64::from(exposed.count_ones()),
            unexposed_events: (unexposed & self.bits).count_ones(),
            unexposed_min: u64::from(unexposed.count_ones()),
        }
    }
}

/// Counts within the minutes of `observed` (episodes whose onset minute is outside it are not
/// counted).
fn counts(feature: u64, observed: u64, onsets: &[u32]) -> RateCounts {
    let mut c = RateCounts {
        exposed_min: u64::from((feature & observed).count_ones()),
        unexposed_min: u64::from((!feature & observed & FULL).count_ones()),
        ..RateCounts::default()
    };
    for m in onsets {
        if observed & (1u64 << m) == 0 {
            continue;
        }
        if feature & (1u64 << m) != 0 {
            c.exposed_events += 1;
        } else {
            c.unexposed_events += 1;
        }
    }
    c
}

/// Index of an activity category in the trigger block.
pub fn category_index(category: ActivityCategory) -> usize {
    ActivityCategory::ALL.iter().position(|c| *c == category).unwrap_or(ActivityCategory::ALL.len() - 1)
}

/// Index of a relief strategy in the relief block.
pub fn strategy_index(strategy: ReliefStrategy) -> usize {
    ReliefStrategy::ALL.iter().position(|s| *s == strategy).unwrap_or(ReliefStrategy::ALL.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_day_boundaries() {
        assert_eq!(time_of_day(4), 3);
        assert_eq!(time_of_day(5), 0);
        assert_eq!(time_of_day(11), 0);
        assert_eq!(time_of_day(12), 1);
        assert_eq!(time_of_day(18), 2);
        assert_eq!(time_of_day(22), 2);
        assert_eq!(time_of_day(23), 3);
    }

    #[test]
    fn half_hour_offset_splits_an_hour() {
        // 2026-11-16 is a Monday; 11:00 UTC with +05:30 is 16:30 local (afternoon throughout),
        // 06:00 UTC with +05:30 is 11:30–12:30 local: half morning, half afternoon.
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 16).unwrap().signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days();
        let (tod, wd, dt) = calendar_masks((day * 24 + 6) * 60, 330);
        assert_eq!(tod[0].count_ones(), 30);
        assert_eq!(tod[1].count_ones(), 30);
        assert_eq!(wd[0].count_ones(), 60);
        assert_eq!(dt[0].count_ones(), 60);
    }

    #[test]
    fn span_mask_clips_to_the_hour() {
        assert_eq!(span_mask(600, 590, 605), 0b11_1111);
        assert_eq!(span_mask(600, 500, 700), FULL);
        assert_eq!(span_mask(600, 661, 700), 0);
        assert_eq!(span_mask(600, 659, 700), 1u64 << 59);
    }
}
