//! Timing of what Migru says, over the store: the child's windows from the stored sleep
//! (`chronotype::timing` holds the rule), insights deferred out of the child's quiet hours, and
//! the chronotype filled into parent recommendations (`docs/timing.md`).
//!
//! - [`timing`]: the chronotype of the last 28 days of sleep (`readings::sleep_report`) and the
//!   mean duration of its main sleeps (per wake-up date the longest episode of ≥ 3 h).
//! - [`time_insight`]: a `share` decision made while the child's window is closed (quiet hours,
//!   school-morning rush) becomes `quiet` with reason `quiet_hours` and is queued in the store's
//!   settings; the next conversation inside a child window delivers the oldest queued insight
//!   (a new `share` decided then is queued behind it, one insight per turn). Red flags are never
//!   deferred. The queue holds at most [`MAX_QUEUED`] insights (the oldest is dropped).
//! - [`fill_parent_input`]: the recommendation's `chronotype` from the store's estimate when it
//!   is at least `low` confidence; with `not_yet` the caller's value stays.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::chronotype::timing::{Closed, Timing};
use crate::chronotype::{ChronotypeOptions, Confidence};
use crate::insights::{Decision, Quiet, Turn};
use crate::readings::{ReadingsError, sleep_report};
use crate::store::{Store, StoreError};

/// Days of sleep the timing looks back on.
pub const TIMING_WINDOW_DAYS: u32 = 28;
/// Insights kept waiting at most.
pub const MAX_QUEUED: usize = 5;
const MIN_MAIN_SLEEP_MIN: f64 = 180.0;

/// What went wrong timing a message.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("reading the store: {0}")]
    Store(#[from] StoreError),
    #[error("reading the child's sleep: {0}")]
    Readings(#[from] ReadingsError),
    #[error("the queue of deferred insights in the settings cannot be read: {0}")]
    Queue(#[from] serde_json::Error),
}

/// An insight waiting for the child's next window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deferred {
    pub key: String,
    pub message_child: String,
    pub message_parent: String,
    /// When the policy decided it (RFC 3339).
    pub decided_at: String,
    /// `quiet_hours` or `school_morning`.
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

fn queue_key(user: &str) -> String {
    format!("delivery.deferred_insights.{user}")
}

/// The insights waiting for the child's next window, oldest first.
pub fn deferred_insights(store: &Store, user: &str) -> Result<Vec<Deferred>, DeliveryError> {
    match store.setting(&queue_key(user))? {
        Some(json) => Ok(serde_json::from_str(&json)?),
        None => Ok(Vec::new()),
    }
}

fn save_queue(store: &Store, user: &str, queue: &[Deferred]) -> Result<(), DeliveryError> {
    Ok(store.set_setting(&queue_key(user), &serde_json::to_string(queue)?)?)
}

/// Defers or delivers the turn's insight by the child's windows (see the module docs).
pub fn time_insight(store: &Store, user: &str, now: DateTime<FixedOffset>, mut turn: Turn) -> Result<Turn, DeliveryError> {
    if matches!(turn.decision, Decision::RedFlag { .. }) {
        return Ok(turn);
    }
    let mut queue = deferred_insights(store, user)?;
    let sharing = matches!(turn.decision, Decision::Share { .. });
    if queue.is_empty() && !sharing {
        return Ok(turn);
    }
    let timing = timing(store, user, now)?;
    match timing.child_closed(now) {
        Some(closed) => {
            if let Decision::Share { key, message_child, message_parent } = turn.decision {
                queue.push(Deferred {
                    key,
                    message_child,
                    message_parent,
                    decided_at: crate::event::format_ts(&now),
                    reason: match closed {
                        Closed::QuietHours => "quiet_hours",
                        Closed::SchoolMorning => "school_morning",
                    }
                    .to_owned(),
                });
                let drop = queue.len().saturating_sub(MAX_QUEUED);
                queue.drain(..drop);
                tracing::info!(?closed, basis = ?timing.basis, next = %timing.next_child_window(now), "insight deferred");
                turn.decision = Decision::Quiet { reason: Quiet::QuietHours };
                save_queue(store, user, &queue)?;
            }
        }
        None if !queue.is_empty() => {
            if let Decision::Share { key, message_child, message_parent } = turn.decision {
                let decided_at = crate::event::format_ts(&now);
                queue.push(Deferred { key, message_child, message_parent, decided_at, reason: "one_per_turn".into() });
            }
            let next = queue.remove(0);
            tracing::info!(waited_from = %next.decided_at, "deferred insight delivered");
            turn.decision = Decision::Share { key: next.key, message_child: next.message_child, message_parent: next.message_parent };
            save_queue(store, user, &queue)?;
        }
        None => {}
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
