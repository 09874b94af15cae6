//! Timing of what Migru says, over the store: the child's windows from the stored sleep
//! (`chronotype::timing` holds the rule), insights deferred out of the child's quiet hours, and
//! the chronotype filled into parent recommendations (`docs/timing.md`).
//!
//! - [`timing`]: the chronotype of the last 28 days of sleep (`readings::sleep_report`) and the
//!   mean duration of its main sleeps (per wake-up date the longest episode of ≥ 3 h).
//! - [`time_insight`]: the policy records each decided insight as waiting (`insights_shared`
//!   with no `delivered_ms`); this step tells the oldest waiting one when the child's window is
//!   open and nothing was told yet that local day, and marks it delivered then. A `share` decided
//!   while the window is closed (quiet hours, school-morning rush) becomes `quiet` and waits;
//!   one per turn, one per day. Nothing waiting is ever dropped. Red flags are never deferred.
//! - [`fill_parent_input`]: the recommendation's `chronotype` from the store's estimate when it
//!   is at least `low` confidence; with `not_yet` the caller's value stays.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::chronotype::timing::{Closed, Timing};
use crate::chronotype::{ChronotypeOptions, Confidence};
use crate::insights::{Decision, Quiet, Turn};
use crate::readings::{ReadingsError, sleep_report};
use crate::store::{SharedInsight, Store, StoreError};

/// Days of sleep the timing looks back on.
pub const TIMING_WINDOW_DAYS: u32 = 28;
const MIN_MAIN_SLEEP_MIN: f64 = 180.0;

/// What went wrong timing a message.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("reading the store: {0}")]
    Store(#[from] StoreError),
    #[error("reading the child's sleep: {0}")]
    Readings(#[from] ReadingsError),
}

/// An insight waiting for the child's next window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deferred {
    pub key: String,
    pub message_child: String,
    pub message_parent: String,
    /// When the policy decided it (RFC 3339).
    pub decided_at: String,
    /// `quiet_hours`, `school_morning`, `one_per_turn`, `one_per_day`, or `pending` (decided,
    /// and no delivery step has looked at it yet).
    pub reason: String,
}

/// The child's windows from the store's sleep episodes (see the module docs).
pub fn timing(store: &Store, user: &str, now: DateTime<FixedOffset>) -> Result<Timing, DeliveryError> {
    Ok(timing_with_msf(store, user, now)?.0)
}

/// The timing and the "HH:MM" MSFsc it rests on (`None` while `not_yet`).
fn timing_with_msf(store: &Store, user: &str, now: DateTime<FixedOffset>) -> Result<(Timing, Option<String>), DeliveryError> {
    let options = ChronotypeOptions::default();
    let report = sleep_report(store, user, now, TIMING_WINDOW_DAYS, &options)?;
    let mut longest: std::collections::BTreeMap<NaiveDate, f64> = Default::default();
    for e in &report.episodes {
        let (Ok(start), Ok(end)) = (DateTime::parse_from_rfc3339(&e.start), DateTime::parse_from_rfc3339(&e.end)) else {
            continue;
        };
        let wake_date = end.with_timezone(start.offset()).date_naive();
        let entry = longest.entry(wake_date).or_insert(0.0);
        *entry = entry.max(e.duration_min);
    }
    let main: Vec<f64> = longest.into_values().filter(|d| *d >= MIN_MAIN_SLEEP_MIN).collect();
    let mean = (!main.is_empty()).then(|| main.iter().sum::<f64>() / main.len() as f64);
    Ok((Timing::new(&report.chronotype, mean, options.free_dates), report.chronotype.msf_sc))
}

/// The insights waiting for the child's next window, oldest first.
pub fn deferred_insights(store: &Store, user: &str) -> Result<Vec<Deferred>, DeliveryError> {
    Ok(store
        .shared_insights(user)?
        .into_iter()
        .filter(|s| s.delivered_at.is_none())
        .map(|s| Deferred {
            decided_at: crate::event::format_ts(&s.shared_at),
            reason: s.deferred_reason.unwrap_or_else(|| "pending".to_owned()),
            key: s.key,
            message_child: s.message,
            message_parent: s.message_parent,
        })
        .collect())
}

/// Why nothing can be told at `now`, if so: the child's closed window, or one told today.
fn held_back(timing: &Timing, decided: &[SharedInsight], now: DateTime<FixedOffset>) -> Option<&'static str> {
    match timing.child_closed(now) {
        Some(Closed::QuietHours) => Some("quiet_hours"),
        Some(Closed::SchoolMorning) => Some("school_morning"),
        None => {
            let today = now.date_naive();
            let told_today = decided
                .iter()
                .filter_map(|s| s.delivered_at)
                .any(|at| at.with_timezone(now.offset()).date_naive() == today);
            told_today.then_some("one_per_day")
        }
    }
}

/// Delivers or defers the waiting insights by the child's windows (see the module docs).
pub fn time_insight(store: &Store, user: &str, now: DateTime<FixedOffset>, mut turn: Turn) -> Result<Turn, DeliveryError> {
    if matches!(turn.decision, Decision::RedFlag { .. }) {
        return Ok(turn);
    }
    let decided = store.shared_insights(user)?;
    let waiting: Vec<&SharedInsight> = decided.iter().filter(|s| s.delivered_at.is_none()).collect();
    let Some(oldest) = waiting.first() else {
        return Ok(turn);
    };
    let timing = timing(store, user, now)?;
    let (delivered, rest, rest_reason) = match held_back(&timing, &decided, now) {
        Some(reason) => {
            tracing::info!(reason, basis = ?timing.basis, next = %timing.next_child_window(now), waiting = waiting.len(), "insight waits");
            if matches!(turn.decision, Decision::Share { .. }) {
                let quiet = if reason == "one_per_day" { Quiet::AlreadySharedToday } else { Quiet::QuietHours };
                turn.decision = Decision::Quiet { reason: quiet };
            }
            (None, &waiting[..], reason)
        }
        None => {
            tracing::info!(waited_from = %oldest.shared_at, "insight delivered");
            turn.decision = Decision::Share {
                key: oldest.key.clone(),
                message_child: oldest.message.clone(),
                message_parent: oldest.message_parent.clone(),
            };
            (Some((oldest.key.as_str(), now)), &waiting[1..], "one_per_turn")
        }
    };
    // Only reasons that changed are written: a turn with nothing new to note stays read-only.
    let notes: Vec<(&str, &str)> = rest
        .iter()
        .filter(|s| s.deferred_reason.as_deref() != Some(rest_reason))
        .map(|s| (s.key.as_str(), rest_reason))
        .collect();
    if delivered.is_some() || !notes.is_empty() {
        store.settle_insight_delivery(user, delivered, &notes)?;
    }
    Ok(turn)
}

/// Hours after midnight of an "HH:MM" mid-sleep.
fn hours(text: &str) -> Option<f32> {
    let (h, m) = text.split_once(':')?;
    Some(h.parse::<f32>().ok()? + m.parse::<f32>().ok()? / 60.0)
}

/// The store's chronotype in the recommendation's terms; `None` while it is `not_yet`.
#[cfg(feature = "llm")]
pub fn chronotype_summary(timing: &Timing, msf_sc: Option<&str>) -> Option<crate::llm::prompt::ChronotypeSummary> {
    use crate::chronotype::Category;
    use crate::llm::prompt::{ChronotypeCategory, ChronotypeSummary};
    let category = match timing.category? {
        Category::Early => ChronotypeCategory::Early,
        Category::Intermediate => ChronotypeCategory::Intermediate,
        Category::Late => ChronotypeCategory::Late,
    };
    let confidence = match timing.confidence {
        Confidence::NotYet => return None,
        Confidence::Low => 0.5,
        Confidence::Moderate => 0.75,
        Confidence::High => 0.9,
    };
    Some(ChronotypeSummary { category, msf_sc_hours: msf_sc.and_then(hours), confidence })
}

/// Fills the recommendation's chronotype from the store (see the module docs); returns the
/// timing used, for the parent window.
#[cfg(feature = "llm")]
pub fn fill_parent_input(
    store: &Store,
    user: &str,
    now: DateTime<FixedOffset>,
    input: &mut crate::llm::prompt::ParentRecommendationInput,
) -> Result<Timing, DeliveryError> {
    let (timing, msf_sc) = timing_with_msf(store, user, now)?;
    if let Some(summary) = chronotype_summary(&timing, msf_sc.as_deref()) {
        input.chronotype = Some(summary);
    }
    Ok(timing)
}
