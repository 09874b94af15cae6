//! The streaming pattern engine (issue 3): per child, time of day, weekday and school day,
//! weather, activity triggers and relief strategies, each with an effect size, an exact
//! interval, the counts behind it and a confidence controlled for false discoveries.
//!
//! Sans I/O: `Engine::observe` takes records, `report` gives numbers. `persist` is the only part
//! that touches the store (the engine's state and resume cursor live in `pattern_state`).
//! The method and why: `docs/adr/0003-pattern-statistics.md`.

pub mod cell;
mod engine;
pub mod persist;
mod report;
pub mod stats;

pub use engine::{
    Aggregates, ChildState, DEFAULT_LATENESS_MS, EPISODE_GAP_MS, Engine, Obs, Observed, QUICK_RELIEF_MS,
    RELIEF_LOOKBACK_MS, TRIGGER_WINDOW_MS,
};
pub use persist::{PatternsError, STATE_FORMAT, catch_up, decode, encode, load, save};
pub use report::{Candidate, Counts, FDR_Q, PatternKind, Report, Trend, WindowCount, Windows};

impl Engine {
    /// The full report for one child, or `None` when the engine has seen nothing of them.
    pub fn report(&self, user: &str) -> Option<Report> {
        self.child(user).map(|child| report::build(user, child))
    }

    /// Every child the engine has seen.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.children.keys().map(String::as_str)
    }
}
