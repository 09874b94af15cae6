//! The public error: only the cases an app acts on. The one place core errors are converted
//! and logged. Reasons never carry personal data (message text, user names, file paths).

use migru_core::CompanionError;
use migru_core::exchange::ExchangeError;
use migru_core::insights::pipeline::PipelineError;
use migru_core::llm::assistant::AssistantError;
use migru_core::sync::SyncError;
use migru_core::store::StoreError;

/// What went wrong, in a form the app can branch on. Each variant has a `reason` field because
/// a flat error's message does not reach Kotlin.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum MigruError {
    /// The file at the database path is not a Migru database (foreign, damaged or from a newer
    /// app). It was left exactly as it was: offer to choose another location.
    #[error("not a Migru database: {reason}")]
    NotAMigruDatabase { reason: String },
    /// An argument was refused (empty message, bad timestamp, intensity out of range, …).
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    /// Reading or writing a file failed (missing, no permission, disk full).
    #[error("i/o error: {reason}")]
    Io { reason: String },
    /// The language model could not be used (ONNX Runtime library missing, a model folder that
    /// is incomplete or does not match its configuration). Replies keep coming from templates.
    #[error("model unavailable: {reason}")]
    ModelUnavailable { reason: String },
    /// The server could not be reached or answered with an error; nothing was lost, sync again
    /// later.
    #[error("network: {reason}")]
    Network { reason: String },
    /// The server refused this device's token (revoked or unknown): pair the device again.
    #[error("not authorised: {reason}")]
    Unauthorized { reason: String },
    /// The server needs a newer app.
    #[error("upgrade required: {reason}")]
    UpgradeRequired { reason: String },
    /// The operation was cancelled through its cancel handle.
    #[error("cancelled")]
    Cancelled,
    /// Anything else; the details are in the log.
    #[error("{reason}")]
    Other { reason: String },
}

impl MigruError {
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        let error = MigruError::InvalidInput {
            reason: reason.into(),
        };
        log(&error);
        error
    }
}

impl From<CompanionError> for MigruError {
    fn from(error: CompanionError) -> Self {
        let converted = match error {
            CompanionError::Store(e) => from_store(e),
            CompanionError::Exchange(e) => from_exchange(e),
            CompanionError::File { source, .. } => MigruError::Io {
                reason: format!("cannot open the file: {source}"),
            },
            CompanionError::InvalidInput(reason) => MigruError::InvalidInput { reason },
            CompanionError::Assistant(e) => from_assistant(e),
            CompanionError::Sync(e) => from_sync(e),
            CompanionError::Patterns(migru_core::patterns::PatternsError::Store(e)) => from_store(e),
            CompanionError::Patterns(e) => MigruError::Other { reason: e.to_string() },
            CompanionError::Insights(PipelineError::Refused(reason)) => MigruError::InvalidInput { reason },
            CompanionError::Insights(PipelineError::Store(e)) => from_store(e),
            CompanionError::Insights(e) => MigruError::Other { reason: e.to_string() },
        };
        log(&converted);
        converted
    }
}

fn from_exchange(error: ExchangeError) -> MigruError {
    match error {
        ExchangeError::Read { line, source } => MigruError::Io {
            reason: format!("reading the input failed at line {line}: {source}"),
        },
        ExchangeError::Write(source) => MigruError::Io {
            reason: format!("writing the output failed: {source}"),
        },
        ExchangeError::Store(e) => from_store(e),
    }
}

/// Store errors name the database path; the reasons here leave it out.
fn from_store(error: StoreError) -> MigruError {
    let untouched = "; it was left untouched";
    match error {
        StoreError::NotADatabase(_) => MigruError::NotAMigruDatabase {
            reason: format!("the file is not a SQLite database{untouched}"),
        },
        StoreError::Foreign(_) => MigruError::NotAMigruDatabase {
            reason: format!(
                "the file is a SQLite database that does not belong to Migru{untouched}"
            ),
        },
        StoreError::Corrupt(_, detail) => MigruError::NotAMigruDatabase {
            reason: format!("the database looks damaged ({detail}){untouched}"),
        },
        StoreError::TooNew {
            found, supported, ..
        } => MigruError::NotAMigruDatabase {
            reason: format!(
                "written by a newer Migru (schema {found}, this app reads up to {supported}){untouched}"
            ),
        },
        StoreError::Io(_, source) => MigruError::Io {
            reason: format!("cannot read the database: {source}"),
        },
        StoreError::Open(_, source) => MigruError::Other {
            reason: format!("cannot open the database: {source}"),
        },
        other => MigruError::Other {
            reason: other.to_string(),
        },
    }
}

fn from_assistant(error: AssistantError) -> MigruError {
    match error {
        AssistantError::Store(e) => from_store(e),
        // Model errors name the model folder, never anything the child wrote.
        AssistantError::Llm(e) => MigruError::ModelUnavailable { reason: e.to_string() },
        AssistantError::Poisoned => MigruError::Other { reason: error.to_string() },
    }
}

fn from_sync(error: SyncError) -> MigruError {
    match error {
        SyncError::Store(e) => from_store(e),
        SyncError::Unauthorized => MigruError::Unauthorized { reason: error.to_string() },
        SyncError::UpgradeRequired(reason) => MigruError::UpgradeRequired { reason },
        SyncError::Cancelled => MigruError::Cancelled,
        // A refusal of what was asked (an unknown or used pairing code, a child asking for a
        // parent's route): retrying the same request cannot help.
        SyncError::Server { status: 400..=499, what, message, .. } => {
            MigruError::InvalidInput { reason: format!("{what}: {message}") }
        }
        other => MigruError::Network { reason: other.to_string() },
    }
}

fn log(error: &MigruError) {
    tracing::warn!(%error, "migru-ffi call failed");
}

/// A failed join of blocking work means it panicked or the runtime is shutting down.
impl From<tokio::task::JoinError> for MigruError {
    fn from(error: tokio::task::JoinError) -> Self {
        let converted = MigruError::Other {
            reason: format!("background work did not finish: {error}"),
        };
        log(&converted);
        converted
    }
}
