//! Migru's shared core: everything a phone does, offline.
//!
//! Layers, with one direction of dependency (see `ARCHITECTURE.md`):
//! `event` (the record model and JSONL contract) → `store` (SQLite) →
//! sans-I/O computation (`classify`, `signals`) → `companion` (the facade the apps and the CLI use).

pub mod classify;
pub mod chronotype;
pub mod companion;
pub mod delivery;
pub mod event;
pub mod insights;
pub mod signals;
pub mod simulate;
pub mod exchange;
pub mod forecast;
pub mod llm;
pub mod patterns;
pub mod readings;
pub mod sample;
pub mod store;
#[cfg(feature = "sync")]
pub mod sync;
pub mod wearable;

pub use companion::{Companion, CompanionError};
