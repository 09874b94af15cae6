//! Migru's UniFFI layer: a thin adapter from `migru-core` to Kotlin and Swift.
//!
//! It owns what only an FFI boundary needs: the tokio runtime for async exports, logging set-up
//! for a process the apps start, the small public error the apps act on, and flat records for
//! results. Every behaviour lives in `migru-core`; each exported method delegates in one line.

mod assistant;
mod body;
mod companion;
mod error;
mod logging;
mod records;
mod runtime;
mod sync;
mod wearable;

pub use assistant::{
    Arm, CancelHandle, CausalFinding, ChildProfile, Chronotype, ChronotypeSummary, Forecast, Level,
    MigruReply, ParentFacts, PatternSummary, ReplyListener, ReplySource, ServedRecommendation,
};
pub use body::{
    Backtest, ChronotypeConfidence, ChronotypeReport, DeliveryTiming, HrvReport, MigraineRisk, Outlook, RiskDriver,
    SleepEpisodeReport, SleepReport, SleepTiming, StressPoint, WindowClosed,
};
pub use companion::{ImportProgress, MigruCompanion};
pub use error::MigruError;
pub use logging::{LogSink, init_logging};
pub use records::{ConversationTurn, ImportReport, LineError, LoggedEvent, Stats, TurnDecision};
pub use sync::{
    Enrolment, FamilyDevice, PairingCode, PulledChange, SyncListener, SyncProgress, create_family, create_pairing_code, list_devices,
    pair_device, revoke_device,
};
pub use wearable::{DropCount, NotificationOutcome, WearableSession, WearableStats, WearableSummary};

uniffi::setup_scaffolding!();
