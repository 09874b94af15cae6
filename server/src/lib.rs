//! Migru's server: a library so tests can drive it; `main.rs` only bootstraps.

pub mod causal;
pub mod cli;

// Serving, pairing, sync and live alerts (issue 6).
pub mod alerts;
pub mod api;
pub mod auth;
pub mod error;
pub mod http;
pub mod jobs;
pub mod state;
pub mod storage;

// Retraining the recommendation model from parents' feedback (issue 8).
pub mod training;

pub use http::{app, serve};
pub use state::{AppState, Limits};
