//! Keeping the engine's state across restarts: one row per child in the store's `pattern_state`
//! table (schema v3), holding the serialised engine and the resume cursor (`last_seq`, the
//! local sequence number of the last stored event the engine has seen).
//!
//! The blob is a one-byte format version followed by the engine as JSON. A blob that is missing,
//! of another version or unreadable is rebuilt from the events (all of them are in the store, so
//! a rebuild loses nothing but time).

use super::engine::Engine;
use crate::store::{EventFilter, PatternState, Store, StoreError};

/// Bumped whenever the engine's serialised form or its definitions (what counts as exposure)
/// change, so an old state is rebuilt rather than mixed with new counts.
pub const STATE_FORMAT: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum PatternsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the saved pattern state for this child cannot be read ({0}); it will be rebuilt")]
    BadState(String),
    #[error("cannot save the pattern state: {0}")]
    Encode(serde_json::Error),
}

/// The engine as stored: format byte, then JSON.
pub fn encode(engine: &Engine) -> Result<PatternState, PatternsError> {
    let mut state = vec![STATE_FORMAT];
    serde_json::to_writer(&mut state, engine).map_err(PatternsError::Encode)?;
    Ok(PatternState { last_seq: engine.last_seq, state })
}

/// The engine from a stored state, or why it cannot be used.
pub fn decode(saved: &PatternState) -> Result<Engine, PatternsError> {
    match saved.state.split_first() {
        Some((&STATE_FORMAT, json)) => {
            let mut engine: Engine = serde_json::from_slice(json).map_err(|e| PatternsError::BadState(e.to_string()))?;
            if engine.last_seq != saved.last_seq {
                return Err(PatternsError::BadState(format!(
                    "cursor {} in the row but {} in the state",
                    saved.last_seq, engine.last_seq
                )));
            }
            engine.last_seq = saved.last_seq;
            Ok(engine)
        }
        Some((other, _)) => Err(PatternsError::BadState(format!("format {other}, expected {STATE_FORMAT}"))),
        None => Err(PatternsError::BadState("empty state".into())),
    }
}

/// The saved engine of `user`, or a fresh one when none was saved or it cannot be used.
pub fn load(store: &Store, user: &str) -> Result<Engine, PatternsError> {
    match store.load_pattern_state(user)? {
        None => Ok(Engine::default()),
        Some(saved) => match decode(&saved) {
            Ok(engine) => Ok(engine),
            Err(error) => {
                tracing::warn!(%error, "rebuilding pattern state");
                Ok(Engine::default())
            }
        },
    }
}

/// Feeds every stored event of `user` after the engine's cursor. Returns how many were read.
pub fn catch_up(store: &Store, user: &str, engine: &mut Engine) -> Result<u64, PatternsError> {
    let filter = EventFilter { user: Some(user.to_owned()), after_seq: Some(engine.last_seq), ..EventFilter::default() };
    let mut read = 0u64;
    store.for_each_event(&filter, |event| {
        engine.observe_stored(event.seq, &event.record);
        read += 1;
        Ok(())
    })?;
    Ok(read)
}

/// Saves `user`'s engine and its cursor in one row (replacing the previous one).
pub fn save(store: &Store, user: &str, engine: &Engine) -> Result<(), PatternsError> {
    store.save_pattern_state(user, &encode(engine)?)?;
    Ok(())
}
