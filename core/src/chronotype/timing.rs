//! When Migru speaks: the child's quiet hours and the delivery windows for child insights and
//! parent recommendations, from the chronotype (sans I/O; `docs/timing.md`).
//!
//! The rule, all clock times local:
//! - **Sleep window on free days**: MSFsc ± D/2, with D the child's mean main-sleep duration
//!   (clamped to 7–12 h; 10 h when unknown). A late chronotype therefore moves every window later.
//! - **School nights** (the next day is a school day) share the onset but end at the earlier of
//!   the free-day wake-up and 07:00: school does not wait for a late child.
//! - With a chronotype of confidence `not_yet` the age-neutral school-day defaults apply: MSFsc
//!   02:00 and D = 10 h, i.e. sleep 21:00–07:00, and [`Timing::basis`] says so.
//! - **Quiet hours** (no child insight): from 30 min before the onset (wind-down) to the wake-up.
//! - **School-morning rush** (no child insight): on school days, the 90 min after the wake-up.
//! - **Child window**: any other time. **Parent window**: the 3 h before the child's wind-down,
//!   i.e. [onset − 3 h 30 min, onset − 30 min): the evening before the day it is about, when a
//!   parent can still plan tomorrow and the child is not yet winding down.
//!
//! A night belongs to the day it ends on: before noon the morning of day d ends the night before
//! d, after noon the evening of d starts the night before d + 1.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Timelike, Weekday};
use serde::Serialize;

use super::{Category, Chronotype, Confidence};

/// Mid-sleep of the defaults (free days), minutes after midnight: 21:00–07:00 around it.
pub const DEFAULT_MSF_MIN: f64 = 120.0;
/// Sleep duration when the child's is unknown, minutes.
pub const DEFAULT_SLEEP_MIN: f64 = 600.0;
/// Bounds for the child's own mean sleep duration, minutes.
pub const SLEEP_MIN_RANGE: (f64, f64) = (420.0, 720.0);
/// Latest wake-up on a school day, minutes after midnight (07:00).
pub const SCHOOL_WAKE_MIN: f64 = 420.0;
/// Wind-down before the onset that already counts as quiet, minutes.
pub const WIND_DOWN_MIN: f64 = 30.0;
/// The school-morning rush after the wake-up on school days, minutes.
pub const SCHOOL_RUSH_MIN: f64 = 90.0;
/// Length of the parent window that ends at the wind-down, minutes.
pub const PARENT_WINDOW_MIN: f64 = 180.0;
/// Resolution of the search for the next open window, minutes.
const STEP_MIN: i64 = 5;

const DAY_MIN: f64 = 1440.0;

/// Where the windows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The child's own chronotype (confidence `low` or better).
    Chronotype,
    /// Not enough nights yet: the school-day defaults.
    Default,
}

/// Why a child insight may not be delivered now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Closed {
    /// The child's sleep or the wind-down before it.
    QuietHours,
    /// The school-morning rush.
    SchoolMorning,
}

/// The child's daily windows (minutes after local midnight, in `[0, 1440)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    pub basis: Basis,
    /// Says what the windows rest on ("chronotype late, moderate confidence" or why the
    /// defaults were used).
    pub note: String,
    pub category: Option<Category>,
    pub confidence: Confidence,
    /// Sleep onset, every night.
    pub onset_min: f64,
    /// Wake-up after a free night / after a school night.
    pub wake_free_min: f64,
    pub wake_school_min: f64,
    /// Mean sleep duration used, minutes.
    pub sleep_min: f64,
    /// Extra free days (holidays), besides weekends.
    #[serde(skip)]
    pub free_dates: BTreeSet<NaiveDate>,
}

/// "HH:MM" of minutes after midnight.
pub fn clock(min: f64) -> String {
    let m = (min.round() as i64).rem_euclid(1440);
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn parse_hh_mm(text: &str) -> Option<f64> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then(|| f64::from(h * 60 + m))
}

impl Timing {
    /// The windows of a child with this chronotype and mean main-sleep duration (minutes).
    pub fn new(chronotype: &Chronotype, mean_sleep_min: Option<f64>, free_dates: BTreeSet<NaiveDate>) -> Timing {
        let msf = chronotype.msf_sc.as_deref().and_then(parse_hh_mm);
        let (basis, msf, note) = match (chronotype.confidence, msf) {
            (Confidence::NotYet, _) | (_, None) => (
                Basis::Default,
                DEFAULT_MSF_MIN,
                format!(
                    "chronotype not yet known ({} free and {} school nights seen); school-day defaults used (sleep 21:00–07:00)",
                    chronotype.free_days, chronotype.school_days
                ),
            ),
            (confidence, Some(msf)) => {
                let category = chronotype.category.map_or("unknown", |c| match c {
                    Category::Early => "early",
                    Category::Intermediate => "intermediate",
                    Category::Late => "late",
                });
                let confidence = match confidence {
                    Confidence::Low => "low",
                    Confidence::Moderate => "moderate",
                    _ => "high",
                };
                (Basis::Chronotype, msf, format!("chronotype {category} (MSFsc {}, {confidence} confidence)", clock(msf)))
            }
        };
        let sleep_min = match basis {
            Basis::Chronotype => mean_sleep_min
                .filter(|d| d.is_finite())
                .map_or(DEFAULT_SLEEP_MIN, |d| d.clamp(SLEEP_MIN_RANGE.0, SLEEP_MIN_RANGE.1)),
            Basis::Default => DEFAULT_SLEEP_MIN,
        };
        let onset = (msf - sleep_min / 2.0).rem_euclid(DAY_MIN);
        let wake_free = (msf + sleep_min / 2.0).rem_euclid(DAY_MIN);
        // Wake-ups are mornings; compare on a clock from noon so 23:00 counts as before 07:00.
        let from_noon = |m: f64| (m - 720.0).rem_euclid(DAY_MIN);
        let wake_school = if from_noon(wake_free) < from_noon(SCHOOL_WAKE_MIN) { wake_free } else { SCHOOL_WAKE_MIN };
        Timing {
            basis,
            note,
            category: (basis == Basis::Chronotype).then_some(chronotype.category).flatten(),
            confidence: chronotype.confidence,
            onset_min: onset,
            wake_free_min: wake_free,
            wake_school_min: wake_school,
            sleep_min,
            free_dates,
        }
    }

    fn is_school_day(&self, date: NaiveDate) -> bool {
        !(matches!(date.weekday(), Weekday::Sat | Weekday::Sun) || self.free_dates.contains(&date))
    }

    /// Whether a child insight may be delivered at `t`, and if not, why.
    pub fn child_closed(&self, t: DateTime<FixedOffset>) -> Option<Closed> {
        let minute = f64::from(t.hour() * 60 + t.minute());
        let date = t.date_naive();
        // The night around t ends on `wake_day`.
        let wake_day = if t.hour() < 12 { date } else { date.succ_opt().unwrap_or(date) };
        let wake = if self.is_school_day(wake_day) { self.wake_school_min } else { self.wake_free_min };
        let quiet_from = (self.onset_min - WIND_DOWN_MIN).rem_euclid(DAY_MIN);
        if in_span(minute, quiet_from, wake) {
            return Some(Closed::QuietHours);
        }
        if t.hour() < 12 && self.is_school_day(date) && in_span(minute, self.wake_school_min, self.wake_school_min + SCHOOL_RUSH_MIN) {
            return Some(Closed::SchoolMorning);
        }
        None
    }

    /// The first moment at or after `t` (5-minute resolution) when a child insight may be
    /// delivered.
    pub fn next_child_window(&self, t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        let mut at = t;
        for _ in 0..(2 * 1440 / STEP_MIN) {
            if self.child_closed(at).is_none() {
                return at;
            }
            at += Duration::minutes(STEP_MIN);
            at = at.with_second(0).unwrap_or(at).with_nanosecond(0).unwrap_or(at);
        }
        at
    }

    /// The parent window `[start, end)` containing `t`, or else the next one.
    pub fn parent_window(&self, t: DateTime<FixedOffset>) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
        let end_min = (self.onset_min - WIND_DOWN_MIN).rem_euclid(DAY_MIN);
        let midnight = t.date_naive().and_hms_opt(0, 0, 0).and_then(|n| n.and_local_timezone(*t.offset()).single()).unwrap_or(t);
        for day in -1..=1 {
            let end = midnight + Duration::days(day) + Duration::minutes(end_min.round() as i64);
            let start = end - Duration::minutes(PARENT_WINDOW_MIN as i64);
            if t < end {
                return (start, end);
            }
        }
        let end = midnight + Duration::days(2) + Duration::minutes(end_min.round() as i64);
        (end - Duration::minutes(PARENT_WINDOW_MIN as i64), end)
    }
}

/// Whether `minute` lies in the clock span `[from, to)` (which may cross midnight).
fn in_span(minute: f64, from: f64, to: f64) -> bool {
    let (from, to) = (from.rem_euclid(DAY_MIN), to.rem_euclid(DAY_MIN));
    if from <= to { (from..to).contains(&minute) } else { minute >= from || minute < to }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chronotype(msf: Option<&str>, category: Option<Category>, confidence: Confidence) -> Chronotype {
        Chronotype {
            msf_sc: msf.map(str::to_owned),
            category,
            social_jetlag_min: Some(60.0),
            free_days: 4,
            school_days: 10,
            confidence,
        }
    }

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn defaults_are_21_to_7_with_a_school_rush_and_say_so() {
        let t = Timing::new(&chronotype(None, None, Confidence::NotYet), Some(500.0), BTreeSet::new());
        assert_eq!(t.basis, Basis::Default);
        assert!(t.note.contains("not yet known"), "{}", t.note);
        assert_eq!((clock(t.onset_min), clock(t.wake_free_min), clock(t.wake_school_min)), ("21:00".into(), "07:00".into(), "07:00".into()));
        // Monday 2026-03-02.
        assert_eq!(t.child_closed(at("2026-03-02T20:29:00+01:00")), None);
        assert_eq!(t.child_closed(at("2026-03-02T20:30:00+01:00")), Some(Closed::QuietHours));
        assert_eq!(t.child_closed(at("2026-03-03T03:00:00+01:00")), Some(Closed::QuietHours));
        assert_eq!(t.child_closed(at("2026-03-03T07:45:00+01:00")), Some(Closed::SchoolMorning));
        assert_eq!(t.child_closed(at("2026-03-03T08:30:00+01:00")), None);
        // Saturday: no rush.
        assert_eq!(t.child_closed(at("2026-03-07T07:45:00+01:00")), None);
        assert_eq!(t.next_child_window(at("2026-03-02T23:10:00+01:00")), at("2026-03-03T08:30:00+01:00"));
        assert_eq!(t.parent_window(at("2026-03-02T12:00:00+01:00")), (at("2026-03-02T17:30:00+01:00"), at("2026-03-02T20:30:00+01:00")));
        assert_eq!(t.parent_window(at("2026-03-02T21:00:00+01:00")).0, at("2026-03-03T17:30:00+01:00"));
    }

    #[test]
    fn a_late_child_gets_later_windows_but_school_still_starts_at_seven() {
        let late = Timing::new(&chronotype(Some("05:00"), Some(Category::Late), Confidence::Moderate), Some(600.0), BTreeSet::new());
        let early = Timing::new(&chronotype(Some("01:30"), Some(Category::Early), Confidence::Moderate), Some(600.0), BTreeSet::new());
        assert_eq!(late.basis, Basis::Chronotype);
        assert_eq!((clock(late.onset_min), clock(late.wake_free_min), clock(late.wake_school_min)), ("00:00".into(), "10:00".into(), "07:00".into()));
        assert_eq!((clock(early.onset_min), clock(early.wake_free_min), clock(early.wake_school_min)), ("20:30".into(), "06:30".into(), "06:30".into()));
        // 22:00 on a Monday: the early child is asleep, the late one can still be told.
        let evening = at("2026-03-02T22:00:00+01:00");
        assert_eq!(early.child_closed(evening), Some(Closed::QuietHours));
        assert_eq!(late.child_closed(evening), None);
        // Saturday 09:00: the late child sleeps in.
        assert_eq!(late.child_closed(at("2026-03-07T09:00:00+01:00")), Some(Closed::QuietHours));
        let noon = at("2026-03-02T12:00:00+01:00");
        assert_eq!(early.parent_window(noon), (at("2026-03-02T17:00:00+01:00"), at("2026-03-02T20:00:00+01:00")));
        assert_eq!(late.parent_window(noon), (at("2026-03-02T20:30:00+01:00"), at("2026-03-02T23:30:00+01:00")));
    }
}
