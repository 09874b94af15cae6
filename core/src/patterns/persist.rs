//! Keeping the engine's state across restarts: one JSON document per child in the store's
//! settings (`patterns.state.<user>`), holding the resume cursor (`last_seq`).

use super::engine::Engine;
use crate::store::{EventFilter, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PatternsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the saved pattern state for this child cannot be read ({0}); it will be rebuilt")]
    BadState(serde_json::Error),
    #[error("cannot save the pattern state: {0}")]
    Encode(serde_json::Error),
}

fn key(user: &str) -> String {
    format!("patterns.state.{user}")
}

/// The saved engine of `user`, or a fresh one when none was saved or it cannot be read (the
/// events are all in the store, so a rebuild loses nothing but time).
pub fn load(store: &Store, user: &str) -> Result<Engine, PatternsError> {
    match store.setting(&key(user))? {
        None => Ok(Engine::default()),
        Some(text) => match serde_json::from_str(&text) {
            Ok(engine) => Ok(engine),
            Err(error) => {
                tracing::warn!(error = %PatternsError::BadState(error), "rebuilding pattern state");
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

pub fn save(store: &Store, user: &str, engine: &Engine) -> Result<(), PatternsError> {
    let text = serde_json::to_string(engine).map_err(PatternsError::Encode)?;
    store.set_setting(&key(user), &text)?;
    Ok(())
}
