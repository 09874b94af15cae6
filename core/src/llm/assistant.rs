//! Migru's voice for one device: the [`Responder`] (model or templates, guardrail always) fed with
//! the child's own past words from the store and the last turns of the conversation. The
//! `Companion` holds one `Assistant` and exposes it to the apps.
//!
//! One model per device, shared by every child on it (the store may hold several); the last turns
//! are kept per child, in memory only (Migru's replies are not stored: they carry nothing the
//! analyses need, and the child's own words already are).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::Duration;

use super::engine::{LanguageModel, ModelOptions};
use super::prompt::{ChatMessage, ChildProfile, ChildTurnInput, ParentRecommendationInput, Role};
use super::responder::{Reply, ReplyEvent, ReplySource, Responder};
use super::retrieval::recall;
use super::stream::CancelToken;
use super::LlmError;
use crate::event::Kind;
use crate::store::{EventFilter, Store, StoreError, TextHit, now_ms};

/// Similar past episodes put into a prompt.
pub const RECALLED_EPISODES: usize = 3;
/// Turns (child and Migru together) kept per child for the next prompt.
const KEPT_TURNS: usize = 6;
/// The parent's recommendation looks at the child's words of this many recent hours, and
/// recalls similar episodes from before them.
const RECENT_HOURS: i64 = 48;

/// The words shown beside a template reply when no model is installed.
pub const NO_MODEL_NOTICE: &str = "Migru is using its prepared replies: no language model is installed on this device.";

#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the assistant's state was poisoned by a panic in an earlier reply")]
    Poisoned,
}

/// A finished reply with what the app shows beside it.
#[derive(Debug, Clone)]
pub struct AssistantReply {
    pub reply: Reply,
    /// Set when the words came from templates because no model is installed.
    pub notice: Option<String>,
    /// The past texts that went into the prompt, as the prompt showed them.
    pub recalled: Vec<String>,
    /// The caller cancelled; `reply.text` is what had been shown by then.
    pub cancelled: bool,
}

/// The model (if any), the templates and the guardrail, plus each child's last turns.
#[derive(Debug)]
pub struct Assistant {
    responder: Mutex<Responder>,
    turns: Mutex<HashMap<String, Vec<ChatMessage>>>,
}

impl Assistant {
    /// Template replies until a model is installed.
    pub fn new() -> Result<Self, AssistantError> {
        Ok(Self { responder: Mutex::new(Responder::new(None)?), turns: Mutex::default() })
    }

    /// Loads a model folder (genai layout) and uses it from the next reply on. A model that fails
    /// to load leaves the current one (or the templates) in place.
    pub fn load_model(&self, dir: &Path, options: &ModelOptions) -> Result<(), AssistantError> {
        let model = LanguageModel::load(dir, options)?;
        self.responder()?.set_model(Some(model));
        Ok(())
    }

    /// Back to templates (frees the model's memory).
    pub fn unload_model(&self) -> Result<(), AssistantError> {
        self.responder()?.set_model(None);
        Ok(())
    }

    pub fn has_model(&self) -> Result<bool, AssistantError> {
        Ok(self.responder()?.has_model())
    }

    /// Migru's reply to `message` from `user`'s child. Past texts similar to the message (other
    /// than `message` itself, which the app may have stored already) go into the prompt.
    pub fn reply_to_child(
        &self,
        store: &Store,
        user: &str,
        profile: &ChildProfile,
        message: &str,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&ReplyEvent),
    ) -> Result<AssistantReply, AssistantError> {
        let message = message.trim();
        let hits = recall(store, user, message, RECALLED_EPISODES, |h| h.text.trim() != message)?;
        let recalled: Vec<String> = hits.iter().map(|r| r.prompt_line()).collect();
        let recent_turns = self.turns()?.get(user).cloned().unwrap_or_default();
        let input = ChildTurnInput {
            profile: profile.clone(),
            message: message.to_owned(),
            recent_turns,
            similar_episodes: recalled.clone(),
        };
        let mut responder = self.responder()?;
        let has_model = responder.has_model();
        let reply = responder.reply_to_child(&input, cancel, on_event);
        drop(responder);
        let cancelled = cancel.is_cancelled();
        if !cancelled && !reply.text.is_empty() {
            let mut turns = self.turns()?;
            let kept = turns.entry(user.to_owned()).or_default();
            kept.push(ChatMessage::new(Role::User, message));
            kept.push(ChatMessage::new(Role::Assistant, reply.text.clone()));
            let excess = kept.len().saturating_sub(KEPT_TURNS);
            kept.drain(..excess);
        }
        Ok(finish(reply, has_model, recalled, cancelled))
    }

    /// A recommendation for the parents of `user`'s child. `input.similar_episodes` is filled
    /// here: the child's texts of the last 48 hours (and the patterns and forecast note) are the
    /// query, episodes from before then are the candidates.
    pub fn parent_recommendation(
        &self,
        store: &Store,
        user: &str,
        input: &ParentRecommendationInput,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&ReplyEvent),
    ) -> Result<AssistantReply, AssistantError> {
        let recent_from = now_ms() - Duration::hours(RECENT_HOURS).num_milliseconds();
        let query = parent_query(store, user, input, recent_from)?;
        let hits = recall(store, user, &query, RECALLED_EPISODES, |h: &TextHit| h.ts_ms < recent_from)?;
        let recalled: Vec<String> = hits.iter().map(|r| r.prompt_line()).collect();
        let mut input = input.clone();
        input.similar_episodes.clone_from(&recalled);
        let mut responder = self.responder()?;
        let has_model = responder.has_model();
        let reply = responder.parent_recommendation(&input, cancel, on_event);
        drop(responder);
        Ok(finish(reply, has_model, recalled, cancel.is_cancelled()))
    }

    /// Forgets the conversation's last turns for `user` (a new chat).
    pub fn forget_turns(&self, user: &str) -> Result<(), AssistantError> {
        self.turns()?.remove(user);
        Ok(())
    }

    fn responder(&self) -> Result<MutexGuard<'_, Responder>, AssistantError> {
        self.responder.lock().map_err(|_| AssistantError::Poisoned)
    }

    fn turns(&self) -> Result<MutexGuard<'_, HashMap<String, Vec<ChatMessage>>>, AssistantError> {
        self.turns.lock().map_err(|_| AssistantError::Poisoned)
    }
}

fn finish(reply: Reply, has_model: bool, recalled: Vec<String>, cancelled: bool) -> AssistantReply {
    let notice = (!has_model && reply.source == ReplySource::Template).then(|| NO_MODEL_NOTICE.to_owned());
    AssistantReply { reply, notice, recalled, cancelled }
}

/// The parent's query: the child's recent words, the noticed patterns and the forecast note.
fn parent_query(store: &Store, user: &str, input: &ParentRecommendationInput, since_ms: i64) -> Result<String, StoreError> {
    let filter = EventFilter {
        user: Some(user.to_owned()),
        kinds: vec![Kind::Message, Kind::Symptom, Kind::Relief, Kind::Activity],
        since_ms: Some(since_ms),
        ..EventFilter::default()
    };
    let mut parts: Vec<String> = store.events(&filter)?.into_iter().filter_map(|e| e.record.body.text().map(str::to_owned)).collect();
    parts.extend(input.patterns.iter().map(|p| p.description.clone()));
    parts.extend(input.forecast.note.clone());
    Ok(parts.join(" "))
}
