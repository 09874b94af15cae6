//! Chronotype from sleep episodes, by the Munich ChronoType Questionnaire's arithmetic (Roenneberg
//! et al. 2003, 2004), applied to detected or logged sleep instead of questionnaire answers.
//!
//! - A night belongs to the local date it ends on (the wake-up day, in the episode's own offset).
//!   It is a *free* night when that day is free (no school): Saturdays and Sundays by default, plus
//!   any date in [`ChronotypeOptions::free_dates`] (holidays); otherwise a *school* night. Only the
//!   main sleep counts: per wake-up date the longest episode, and only if it lasts ≥ 3 h (naps
//!   excluded).
//! - Mid-sleep = onset + duration / 2 (local clock time); MSW / MSF are the means over school /
//!   free nights (on a clock measured from noon, so nights crossing midnight average correctly);
//!   SDw / SDf the mean durations; SDweek = (5·SDw + 2·SDf) / 7.
//! - MSFsc = MSF − (SDf − SDweek) / 2 when SDf > SDw (oversleep on free days pays back sleep
//!   debt), else MSF. Social jet lag = |MSF − MSW| (Wittmann et al. 2006), in minutes.
//! - Category from MSFsc with age-group thresholds (see [`AgeGroup`]); confidence from how many
//!   nights of each kind were seen ([`Confidence`]).

pub mod timing;

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Weekday};
use serde::Serialize;

const MIN_MAIN_SLEEP_MIN: f64 = 180.0;
const DAY_MIN: f64 = 1440.0;
const NOON_MIN: f64 = 720.0;

/// What was wrong with the sleep episodes given.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ChronotypeError {
    /// An episode that ends before it starts, or lasts more than a day.
    #[error("sleep episode #{index} is invalid: {reason}")]
    InvalidEpisode { index: usize, reason: &'static str },
}

/// Whose norms the category thresholds follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AgeGroup {
    /// 4–12 years: early before 02:30, late after 04:00 (MSFsc).
    #[default]
    Child,
    /// 13–19 years: early before 03:30, late after 05:00.
    Teen,
    /// Adults: early before 03:00, late after 05:00.
    Adult,
}

impl AgeGroup {
    /// (early-before, late-after) in minutes after midnight.
    fn thresholds_min(self) -> (f64, f64) {
        match self {
            AgeGroup::Child => (150.0, 240.0),
            AgeGroup::Teen => (210.0, 300.0),
            AgeGroup::Adult => (180.0, 300.0),
        }
    }
}

/// School calendar and norms.
#[derive(Debug, Clone, PartialEq)]
pub struct ChronotypeOptions {
    /// Saturdays and Sundays are free (default true).
    pub weekends_free: bool,
    /// Extra free dates (holidays, vacation).
    pub free_dates: BTreeSet<NaiveDate>,
    pub age_group: AgeGroup,
}

impl Default for ChronotypeOptions {
    fn default() -> Self {
        Self {
            weekends_free: true,
            free_dates: BTreeSet::new(),
            age_group: AgeGroup::Child,
        }
    }
}

/// Early / intermediate / late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Early,
    Intermediate,
    Late,
}

/// How sure the estimate is, by nights seen: `not_yet` below 2 free or 4 school nights; `low`
/// below 4 free or 8 school nights; `moderate` below 8 free or 16 school nights; else `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    NotYet,
    Low,
    Moderate,
    High,
}

/// The chronotype; keys are the `chronotype` object of `migru sleep --json`. With `not_yet`
/// confidence the estimates are `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chronotype {
    /// Sleep-corrected mid-sleep on free days, local "HH:MM".
    pub msf_sc: Option<String>,
    pub category: Option<Category>,
    pub social_jetlag_min: Option<f64>,
    pub free_days: usize,
    pub school_days: usize,
    pub confidence: Confidence,
}

/// One main sleep: its mid-sleep (minutes after the previous noon) and duration (minutes).
#[derive(Debug, Clone, Copy)]
struct Night {
    mid_from_noon: f64,
    duration: f64,
    free: bool,
}

/// Estimates the chronotype from sleep episodes `(start, end)` with their local offsets.
pub fn chronotype(
    episodes: &[(DateTime<FixedOffset>, DateTime<FixedOffset>)],
    options: &ChronotypeOptions,
) -> Result<Chronotype, ChronotypeError> {
    let nights = main_sleeps(episodes, options)?;
    let (free, school): (Vec<Night>, Vec<Night>) = nights.into_iter().partition(|n| n.free);
    let confidence = confidence(free.len(), school.len());
    let mut out = Chronotype {
        msf_sc: None,
        category: None,
        social_jetlag_min: None,
        free_days: free.len(),
        school_days: school.len(),
        confidence,
    };
    if confidence == Confidence::NotYet {
        return Ok(out);
    }
    let mean = |v: &[Night], f: fn(&Night) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
    let (msf, msw) = (
        mean(&free, |n| n.mid_from_noon),
        mean(&school, |n| n.mid_from_noon),
    );
    let (sd_f, sd_w) = (mean(&free, |n| n.duration), mean(&school, |n| n.duration));
    let sd_week = (5.0 * sd_w + 2.0 * sd_f) / 7.0;
    let msf_sc = if sd_f > sd_w {
        msf - (sd_f - sd_week) / 2.0
    } else {
        msf
    };
    let clock = (msf_sc + NOON_MIN).rem_euclid(DAY_MIN);
    out.msf_sc = Some(hh_mm(clock));
    out.category = Some(categorise(clock, options.age_group));
    out.social_jetlag_min = Some((msf - msw).abs().round());
    Ok(out)
}

fn main_sleeps(
    episodes: &[(DateTime<FixedOffset>, DateTime<FixedOffset>)],
    options: &ChronotypeOptions,
) -> Result<Vec<Night>, ChronotypeError> {
    let mut longest: std::collections::BTreeMap<NaiveDate, (f64, DateTime<FixedOffset>)> =
        Default::default();
    for (index, &(start, end)) in episodes.iter().enumerate() {
        let duration = (end - start).num_seconds() as f64 / 60.0;
        if duration <= 0.0 {
            return Err(ChronotypeError::InvalidEpisode {
                index,
                reason: "it ends before it starts",
            });
        }
        if duration > DAY_MIN {
            return Err(ChronotypeError::InvalidEpisode {
                index,
                reason: "it lasts more than 24 hours",
            });
        }
        // The wake-up date in the offset the sleep started in (a travel day keeps its night).
        let wake_date = end.with_timezone(start.offset()).date_naive();
        let entry = longest.entry(wake_date).or_insert((0.0, start));
        if duration > entry.0 {
            *entry = (duration, start);
        }
    }
    Ok(longest
        .into_iter()
        .filter(|(_, (duration, _))| *duration >= MIN_MAIN_SLEEP_MIN)
        .map(|(date, (duration, start))| {
            let onset =
                f64::from(start.hour() * 60 + start.minute()) + f64::from(start.second()) / 60.0;
            Night {
                mid_from_noon: (onset + duration / 2.0 - NOON_MIN).rem_euclid(DAY_MIN),
                duration,
                free: is_free(date, options),
            }
        })
        .collect())
}

fn is_free(date: NaiveDate, options: &ChronotypeOptions) -> bool {
    (options.weekends_free && matches!(date.weekday(), Weekday::Sat | Weekday::Sun))
        || options.free_dates.contains(&date)
}

fn confidence(free: usize, school: usize) -> Confidence {
    if free < 2 || school < 4 {
        Confidence::NotYet
    } else if free < 4 || school < 8 {
        Confidence::Low
    } else if free < 8 || school < 16 {
        Confidence::Moderate
    } else {
        Confidence::High
    }
}

fn categorise(clock_min: f64, group: AgeGroup) -> Category {
    let (early, late) = group.thresholds_min();
    // Mid-sleeps in the evening (after noon) are extremely early, not extremely late.
    let t = if clock_min >= NOON_MIN {
        clock_min - DAY_MIN
    } else {
        clock_min
    };
    if t < early {
        Category::Early
    } else if t > late {
        Category::Late
    } else {
        Category::Intermediate
    }
}

fn hh_mm(clock_min: f64) -> String {
    let m = (clock_min.round() as i64).rem_euclid(1440);
    format!("{:02}:{:02}", m / 60, m % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDateTime, TimeZone};

    fn at(s: &str) -> DateTime<FixedOffset> {
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        FixedOffset::east_opt(3600)
            .unwrap()
            .from_local_datetime(&naive)
            .unwrap()
    }

    /// Two weeks from Monday 2026-03-02: school nights 21:00–07:00 (10 h, mid 02:00), free nights
    /// (waking Sat/Sun) 22:00–09:00 (11 h, mid 03:30).
    fn two_weeks() -> Vec<(DateTime<FixedOffset>, DateTime<FixedOffset>)> {
        let sunday = at("2026-03-01 00:00");
        (0..14)
            .map(|d| {
                let wake_day = sunday + Duration::days(d + 1);
                let free = matches!(wake_day.weekday(), Weekday::Sat | Weekday::Sun);
                let (bed_h, wake_h) = if free { (22, 9) } else { (21, 7) };
                let evening = wake_day - Duration::days(1);
                (
                    evening + Duration::hours(bed_h),
                    wake_day + Duration::hours(wake_h),
                )
            })
            .collect()
    }

    #[test]
    fn msf_sc_and_social_jetlag_by_hand() {
        let c = chronotype(&two_weeks(), &ChronotypeOptions::default()).unwrap();
        // SDw = 600, SDf = 660, SDweek = (3000 + 1320)/7 = 617.14; MSFsc = 03:30 − (42.86/2) min
        // = 03:08.6 → "03:09"; SJL = 90 min.
        assert_eq!(c.msf_sc.as_deref(), Some("03:09"));
        assert_eq!(c.social_jetlag_min, Some(90.0));
        assert_eq!((c.free_days, c.school_days), (4, 10));
        assert_eq!(c.category, Some(Category::Intermediate));
        assert_eq!(c.confidence, Confidence::Moderate);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["confidence"], "moderate");
        assert_eq!(json["category"], "intermediate");
    }

    #[test]
    fn too_few_free_nights_is_not_yet_and_naps_do_not_count() {
        let mut eps: Vec<_> = two_weeks().into_iter().take(5).collect(); // Mon–Fri wake-ups only
        eps.push((at("2026-03-07 14:00"), at("2026-03-07 15:00"))); // a Saturday nap
        let c = chronotype(&eps, &ChronotypeOptions::default()).unwrap();
        assert_eq!(
            (c.free_days, c.school_days, c.confidence),
            (0, 5, Confidence::NotYet)
        );
        assert_eq!(c.msf_sc, None);
        assert!(serde_json::to_value(&c).unwrap()["msf_sc"].is_null());
    }

    #[test]
    fn holidays_make_free_days_and_teens_are_judged_later() {
        let mut options = ChronotypeOptions {
            age_group: AgeGroup::Child,
            ..Default::default()
        };
        options
            .free_dates
            .insert(NaiveDate::from_ymd_opt(2026, 3, 4).unwrap());
        let c = chronotype(&two_weeks(), &options).unwrap();
        // Wednesday 4 March is a holiday: 5 free nights (it was slept like a school night), 9 school.
        assert_eq!((c.free_days, c.school_days), (5, 9));
        // A late sleeper: free nights 01:00–11:00 (mid 06:00) is late for any age.
        let eps: Vec<_> = two_weeks()
            .into_iter()
            .map(|(s, e)| {
                if matches!(e.weekday(), Weekday::Sat | Weekday::Sun) {
                    (s + Duration::hours(3), e + Duration::hours(2))
                } else {
                    (s, e)
                }
            })
            .collect();
        let c = chronotype(
            &eps,
            &ChronotypeOptions {
                age_group: AgeGroup::Teen,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.category, Some(Category::Late));
    }

    #[test]
    fn impossible_episodes_are_errors() {
        let bad = [(at("2026-03-02 07:00"), at("2026-03-01 21:00"))];
        assert_eq!(
            chronotype(&bad, &ChronotypeOptions::default()),
            Err(ChronotypeError::InvalidEpisode {
                index: 0,
                reason: "it ends before it starts"
            })
        );
    }
}
