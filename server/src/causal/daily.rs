//! From synced records to one row per child-day (sans I/O: records in, table out).
//!
//! A day is a calendar date in the child's own clock (each record's offset). Only days with at
//! least one record are "active"; a day the app was not used says nothing either way.
//!
//! Columns:
//! - `treated`: the named intervention happened that day (an `intervention` record with that
//!   name, or a `relief`/`activity` record of the matching strategy/category);
//! - outcome, one of
//!   * `evening_stress`: the highest symptom intensity (0–10) logged from `evening_from_hour`
//!     (default 17:00) to midnight — the record model's only 0–10 distress score; days with no
//!     evening log have no value;
//!   * `symptom`: 1 if any symptom was logged that day, else 0;
//! - common causes: `sleep_h` (sleep episodes ending that day, hours),
//!   `chronotype_misalignment_h` (see below), `school_day` (Mon–Fri), `pressure_hpa` (mean of that
//!   day's `env` readings) and `prior_<outcome>` (yesterday's outcome).
//!
//! Chronotype misalignment: how far last night's sleep sat from the child's own rhythm. The
//! night's mid-sleep (the midpoint of the longest episode ending that day, in hours from that
//! day's local midnight, so 23:30 is −0.5) is compared with the child's usual mid-sleep, the
//! median over all of the child's nights in the data; the column is the absolute difference in
//! hours. It is the per-night version of social jetlag (Wittmann et al. 2006: mid-sleep on free
//! days minus school days): a late night before school and a lie-in both count, in either
//! direction. A sleep disturbance can raise both stress and the chance that a parent tries an
//! intervention, so it is adjusted for. The usual mid-sleep is a fixed per-child reference; it
//! uses every night, so with few nights it is itself uncertain (another reason for the gate's
//! minimum of 14 days).
//!
//! Rows missing a value are left out with the reason (complete cases); a common cause missing on
//! every day is left out as a column instead, so one absent sensor does not empty the table.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Timelike, Weekday};
use migru_core::event::{ActivityCategory, Body, Record, ReliefStrategy};
use serde::Serialize;

use super::table::Table;

/// What counts as "the intervention happened".
#[derive(Debug, Clone, PartialEq)]
pub enum Treatment {
    /// `intervention` records with this name (compared case-insensitively).
    Intervention(String),
    Relief(ReliefStrategy),
    Activity(ActivityCategory),
}

/// Which outcome to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeChoice {
    /// Evening stress when at least half the active days (and at least `min_days`) have it,
    /// otherwise whether a symptom occurred.
    Auto { min_days: usize },
    EveningStress,
    SymptomOccurred,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    EveningStress,
    SymptomOccurred,
}

impl OutcomeKind {
    pub fn column(self) -> &'static str {
        match self {
            OutcomeKind::EveningStress => "evening_stress",
            OutcomeKind::SymptomOccurred => "symptom",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DailySpec {
    /// Whose records (`Record::user`).
    pub user: String,
    pub treatment: Treatment,
    pub outcome: OutcomeChoice,
    pub evening_from_hour: u32,
}

impl DailySpec {
    pub fn new(user: &str, treatment: Treatment) -> Self {
        DailySpec {
            user: user.to_owned(),
            treatment,
            outcome: OutcomeChoice::Auto { min_days: 14 },
            evening_from_hour: 17,
        }
    }
}

/// A day left out and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedDay {
    pub date: NaiveDate,
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DailyTable {
    /// Columns `treated`, the outcome, then the common causes that are present.
    pub table: Table,
    pub dates: Vec<NaiveDate>,
    pub outcome: OutcomeKind,
    pub common_causes: Vec<String>,
    /// Common causes absent on every day, so left out.
    pub omitted_common_causes: Vec<String>,
    pub skipped: Vec<SkippedDay>,
}

impl DailyTable {
    pub const TREATMENT: &'static str = "treated";
}

#[derive(Debug, Default, Clone)]
struct Day {
    treated: bool,
    any_symptom: bool,
    evening_max: Option<u8>,
    sleep_h: Option<f64>,
    /// Mid-sleep of the longest episode ending this day: (hours from local midnight, episode hours).
    mid_sleep: Option<(f64, f64)>,
    pressure: Vec<f64>,
}

pub const CHRONOTYPE_MISALIGNMENT: &str = "chronotype_misalignment_h";

/// The median of the nights' mid-sleep times (the child's usual), `None` without nights.
fn usual_mid_sleep(days: &BTreeMap<NaiveDate, Day>) -> Option<f64> {
    let mut mids: Vec<f64> = days.values().filter_map(|d| d.mid_sleep.map(|(mid, _)| mid)).collect();
    if mids.is_empty() {
        return None;
    }
    mids.sort_by(f64::total_cmp);
    let n = mids.len();
    Some(if n % 2 == 1 { mids[n / 2] } else { 0.5 * (mids[n / 2 - 1] + mids[n / 2]) })
}

/// Builds the per-day table for one child.
pub fn build(records: &[Record], spec: &DailySpec) -> DailyTable {
    let days = collect_days(records, spec);
    let outcome = choose_outcome(&days, spec.outcome);
    let value = |d: &Day| match outcome {
        OutcomeKind::EveningStress => d.evening_max.map(f64::from),
        OutcomeKind::SymptomOccurred => Some(f64::from(u8::from(d.any_symptom))),
    };
    let has_sleep = days.values().any(|d| d.sleep_h.is_some());
    let usual_mid = usual_mid_sleep(&days);
    let has_pressure = days.values().any(|d| !d.pressure.is_empty());
    let prior_name = format!("prior_{}", outcome.column());
    let mut cols: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let (mut dates, mut skipped) = (Vec::new(), Vec::new());
    for (&date, day) in &days {
        let skip = |reason| SkippedDay { date, reason };
        let Some(y) = value(day) else {
            skipped.push(skip("no evening stress logged"));
            continue;
        };
        let prior = date.pred_opt().and_then(|p| days.get(&p)).and_then(value);
        let Some(prior) = prior else {
            skipped.push(skip("no outcome the day before"));
            continue;
        };
        if has_sleep && day.sleep_h.is_none() {
            skipped.push(skip("no sleep logged"));
            continue;
        }
        if has_pressure && day.pressure.is_empty() {
            skipped.push(skip("no pressure reading"));
            continue;
        }
        dates.push(date);
        push(&mut cols, DailyTable::TREATMENT, f64::from(u8::from(day.treated)));
        push(&mut cols, outcome.column(), y);
        if let Some(s) = day.sleep_h {
            push(&mut cols, "sleep_h", s);
        }
        if let (Some((mid, _)), Some(usual)) = (day.mid_sleep, usual_mid) {
            push(&mut cols, CHRONOTYPE_MISALIGNMENT, (mid - usual).abs());
        }
        push(&mut cols, "school_day", f64::from(u8::from(is_school_day(date))));
        if !day.pressure.is_empty() {
            push(&mut cols, "pressure_hpa", day.pressure.iter().sum::<f64>() / day.pressure.len() as f64);
        }
        push(&mut cols, &prior_name, prior);
    }
    assemble(cols, dates, outcome, &prior_name, has_sleep, has_pressure, skipped)
}

fn push(cols: &mut BTreeMap<String, Vec<f64>>, name: &str, v: f64) {
    cols.entry(name.to_owned()).or_default().push(v);
}

fn assemble(
    mut cols: BTreeMap<String, Vec<f64>>,
    dates: Vec<NaiveDate>,
    outcome: OutcomeKind,
    prior_name: &str,
    has_sleep: bool,
    has_pressure: bool,
    skipped: Vec<SkippedDay>,
) -> DailyTable {
    let mut common_causes = Vec::new();
    let mut omitted = Vec::new();
    for (name, present) in [
        ("sleep_h", has_sleep),
        (CHRONOTYPE_MISALIGNMENT, has_sleep),
        ("school_day", true),
        ("pressure_hpa", has_pressure),
        (prior_name, true),
    ] {
        if present { common_causes.push(name.to_owned()) } else { omitted.push(name.to_owned()) }
    }
    let mut table = Table::new();
    for name in std::iter::once(DailyTable::TREATMENT).chain([outcome.column()]).chain(common_causes.iter().map(String::as_str)) {
        // Every column has one value per kept date, so lengths agree.
        let _ = table.insert(name, cols.remove(name).unwrap_or_default());
    }
    DailyTable { table, dates, outcome, common_causes, omitted_common_causes: omitted, skipped }
}

fn is_school_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn matches_treatment(body: &Body, t: &Treatment) -> bool {
    match (body, t) {
        (Body::Intervention { name }, Treatment::Intervention(want)) => name.trim().eq_ignore_ascii_case(want.trim()),
        (Body::Relief { strategy, .. }, Treatment::Relief(want)) => strategy == want,
        (Body::Activity { category, .. }, Treatment::Activity(want)) => category == want,
        _ => false,
    }
}

fn collect_days(records: &[Record], spec: &DailySpec) -> BTreeMap<NaiveDate, Day> {
    let mut days: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    for r in records.iter().filter(|r| r.user == spec.user) {
        if let Body::Sleep { start, end } = &r.body {
            // Sleep belongs to the day the child wakes up on; it does not make its start day active.
            if end > start {
                let hours = (*end - *start).num_seconds() as f64 / 3600.0;
                let wake_date = end.date_naive();
                // In the clock the child fell asleep by, measured from the wake day's midnight.
                let mid = (*start + (*end - *start) / 2).naive_local();
                let mid_h = (mid - wake_date.and_time(chrono::NaiveTime::MIN)).num_seconds() as f64 / 3600.0;
                let wake = days.entry(wake_date).or_default();
                wake.sleep_h = Some(wake.sleep_h.unwrap_or(0.0) + hours);
                if wake.mid_sleep.is_none_or(|(_, longest)| hours > longest) {
                    wake.mid_sleep = Some((mid_h, hours));
                }
            }
            continue;
        }
        let day = days.entry(r.ts.date_naive()).or_default();
        day.treated |= matches_treatment(&r.body, &spec.treatment);
        match &r.body {
            Body::Symptom { intensity, .. } => {
                day.any_symptom = true;
                if r.ts.hour() >= spec.evening_from_hour {
                    day.evening_max = Some(day.evening_max.map_or(*intensity, |m| m.max(*intensity)));
                }
            }
            Body::Env { pressure_hpa: Some(p), .. } => day.pressure.push(*p),
            _ => {}
        }
    }
    days
}

fn choose_outcome(days: &BTreeMap<NaiveDate, Day>, choice: OutcomeChoice) -> OutcomeKind {
    match choice {
        OutcomeChoice::EveningStress => OutcomeKind::EveningStress,
        OutcomeChoice::SymptomOccurred => OutcomeKind::SymptomOccurred,
        OutcomeChoice::Auto { min_days } => {
            let with = days.values().filter(|d| d.evening_max.is_some()).count();
            if with >= min_days && 2 * with >= days.len() {
                OutcomeKind::EveningStress
            } else {
                OutcomeKind::SymptomOccurred
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, FixedOffset};

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn rec(ts: &str, body: Body) -> Record {
        Record::new(at(ts), body)
    }

    fn symptom(ts: &str, intensity: u8) -> Record {
        rec(ts, Body::Symptom { intensity, text: None })
    }

    fn sleep(start: &str, end: &str) -> Record {
        rec(start, Body::Sleep { start: at(start), end: at(end) })
    }

    fn env(ts: &str, p: f64) -> Record {
        rec(ts, Body::Env { pressure_hpa: Some(p), temp_c: None, humidity_pct: None })
    }

    /// Three days (Fri 2026-03-06 … Sun 03-08) of a child in UTC+01:00.
    fn three_days() -> Vec<Record> {
        vec![
            sleep("2026-03-05T21:00:00+01:00", "2026-03-06T07:00:00+01:00"),
            env("2026-03-06T08:00:00+01:00", 1010.0),
            env("2026-03-06T18:00:00+01:00", 1012.0),
            symptom("2026-03-06T19:00:00+01:00", 6),
            sleep("2026-03-06T22:00:00+01:00", "2026-03-07T06:30:00+01:00"),
            rec("2026-03-07T17:30:00+01:00", Body::Intervention { name: "Breathing exercise".into() }),
            env("2026-03-07T09:00:00+01:00", 1001.0),
            symptom("2026-03-07T20:00:00+01:00", 3),
            symptom("2026-03-07T21:00:00+01:00", 4),
            symptom("2026-03-07T10:00:00+01:00", 9),
            sleep("2026-03-07T23:00:00+01:00", "2026-03-08T09:00:00+01:00"),
            env("2026-03-08T09:00:00+01:00", 1003.0),
            rec("2026-03-08T11:00:00+01:00", Body::Relief { strategy: ReliefStrategy::Breathing, text: None }),
            symptom("2026-03-08T18:00:00+01:00", 2),
        ]
    }

    #[test]
    fn builds_rows_with_prior_day_and_covariates() {
        let mut spec = DailySpec::new("local", Treatment::Intervention("breathing exercise".into()));
        spec.outcome = OutcomeChoice::EveningStress;
        let d = build(&three_days(), &spec);
        assert_eq!(d.outcome, OutcomeKind::EveningStress);
        assert_eq!(d.dates, vec![NaiveDate::from_ymd_opt(2026, 3, 7).unwrap(), NaiveDate::from_ymd_opt(2026, 3, 8).unwrap()]);
        assert_eq!(d.skipped, vec![SkippedDay { date: NaiveDate::from_ymd_opt(2026, 3, 6).unwrap(), reason: "no outcome the day before" }]);
        let col = |n: &str| d.table.column(n).unwrap().to_vec();
        assert_eq!(col("treated"), vec![1.0, 0.0]);
        assert_eq!(col("evening_stress"), vec![4.0, 2.0]); // the 10:00 intensity 9 is not evening
        assert_eq!(col("prior_evening_stress"), vec![6.0, 4.0]);
        assert_eq!(col("sleep_h"), vec![8.5, 10.0]);
        // Mid-sleep 02:00, 02:15, 04:00: usual (median) 02:15.
        assert_eq!(col(CHRONOTYPE_MISALIGNMENT), vec![0.0, 1.75]);
        assert_eq!(col("school_day"), vec![0.0, 0.0]); // Saturday, Sunday
        assert_eq!(col("pressure_hpa"), vec![1001.0, 1003.0]);
        assert_eq!(
            d.common_causes,
            ["sleep_h", CHRONOTYPE_MISALIGNMENT, "school_day", "pressure_hpa", "prior_evening_stress"]
        );
    }

    #[test]
    fn relief_strategy_counts_as_treatment_and_symptom_outcome_is_binary() {
        let mut spec = DailySpec::new("local", Treatment::Relief(ReliefStrategy::Breathing));
        spec.outcome = OutcomeChoice::SymptomOccurred;
        let d = build(&three_days(), &spec);
        assert_eq!(d.table.column("treated").unwrap(), &[0.0, 1.0]);
        assert_eq!(d.table.column("symptom").unwrap(), &[1.0, 1.0]);
        // Auto with too few evening days falls back to the binary outcome.
        let auto = build(&three_days(), &DailySpec::new("local", Treatment::Relief(ReliefStrategy::Breathing)));
        assert_eq!(auto.outcome, OutcomeKind::SymptomOccurred);
    }

    #[test]
    fn absent_sensors_drop_columns_not_days_and_other_users_are_ignored() {
        let mut records: Vec<Record> =
            three_days().into_iter().filter(|r| !matches!(r.body, Body::Env { .. })).collect();
        let mut other = symptom("2026-03-09T19:00:00+01:00", 8);
        other.user = "sibling".into();
        records.push(other);
        let mut spec = DailySpec::new("local", Treatment::Activity(ActivityCategory::Meditation));
        spec.outcome = OutcomeChoice::EveningStress;
        let d = build(&records, &spec);
        assert_eq!(d.omitted_common_causes, ["pressure_hpa"]);
        assert_eq!(d.dates.len(), 2);
        assert_eq!(d.table.column("treated").unwrap(), &[0.0, 0.0]);
    }

    #[test]
    fn mid_sleep_before_midnight_counts_as_negative_and_naps_do_not_set_it() {
        let records = vec![
            sleep("2026-03-09T20:00:00+01:00", "2026-03-10T03:00:00+01:00"), // mid 23:30 → −0.5
            sleep("2026-03-10T13:00:00+01:00", "2026-03-10T14:00:00+01:00"), // nap, shorter
            sleep("2026-03-10T22:00:00+01:00", "2026-03-11T08:00:00+01:00"), // mid 03:00
            sleep("2026-03-11T21:00:00+01:00", "2026-03-12T07:00:00+01:00"), // mid 02:00
        ];
        let days = collect_days(&records, &DailySpec::new("local", Treatment::Intervention("x".into())));
        let mids: Vec<f64> = days.values().filter_map(|d| d.mid_sleep.map(|m| m.0)).collect();
        assert_eq!(mids, vec![-0.5, 3.0, 2.0]);
        assert_eq!(usual_mid_sleep(&days), Some(2.0));
    }
}
