//! Migru's voice for one device: the [`Responder`] (model or templates, guardrail always) fed with
//! the child's own past words from the store and the last turns of the conversation. The
//! `Companion` holds one `Assistant` and exposes it to the apps.
//!
//! One model per device, shared by every child on it (the store may hold several); the last turns
//! are kept per child, in memory only (Migru's replies are not stored: they carry nothing the
//! analyses need, and the child's own words already are).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::Duration;

use super::engine::{LanguageModel, ModelOptions, StopReason};
use super::prompt::{ChatMessage, ChildProfile, ChildTurnInput, ParentRecommendationInput, Role};
use super::responder::{Reply, ReplyEvent, ReplySource, Responder};
use super::retrieval::recall;
use super::stream::CancelToken;
use super::LlmError;
use crate::event::Kind;
use crate::store::{AdapterRecord, AdapterStatus, EventFilter, Store, StoreError, TextHit, now_ms};

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

/// What became of the child's adapter when a model was loaded or an adapter activated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterOutcome {
    /// No model is installed: the store's active adapter is applied when one is loaded.
    NoModel,
    /// The store has no active adapter: the base model answers.
    NoneActive,
    /// This version is active on the model.
    Active { version: i64 },
    /// This version failed verification (size, SHA-256, or parameters that do not fit the model);
    /// it is marked `refused` in the store with the reason, and the base model answers.
    Refused { version: i64, reason: String },
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
    /// Whether a model is installed, readable while a generation holds the responder (the UI
    /// asks this on its own thread and must not wait for a reply to finish).
    installed: AtomicBool,
    turns: Mutex<HashMap<String, Vec<ChatMessage>>>,
}

impl Assistant {
    /// Template replies until a model is installed.
    pub fn new() -> Result<Self, AssistantError> {
        Ok(Self { responder: Mutex::new(Responder::new(None)?), installed: AtomicBool::new(false), turns: Mutex::default() })
    }

    /// Loads a model folder (genai layout) and uses it from the next reply on. A model that fails
    /// to load leaves the current one (or the templates) in place.
    pub fn load_model(&self, dir: &Path, options: &ModelOptions) -> Result<(), AssistantError> {
        let model = LanguageModel::load(dir, options)?;
        self.responder()?.set_model(Some(model));
        self.installed.store(true, Ordering::Release);
        Ok(())
    }

    /// Applies `record` (the store's active adapter, if any) to the installed model, switching
    /// adapters without reloading the model. The file must have the size and SHA-256 the record
    /// names and parameters that fit the model's adapter inputs; otherwise the record is marked
    /// `refused` in the store and the base model answers.
    pub fn apply_adapter(&self, store: &Store, record: Option<&AdapterRecord>) -> Result<AdapterOutcome, AssistantError> {
        let mut responder = self.responder()?;
        let Some(model) = responder.model_mut() else { return Ok(AdapterOutcome::NoModel) };
        let Some(record) = record else {
            model.set_active_adapter(None)?;
            return Ok(AdapterOutcome::NoneActive);
        };
        let name = format!("v{}", record.version);
        let loaded = verified_bytes(record).and_then(|bytes| model.load_adapter_bytes(&name, &bytes).map_err(|e| e.to_string()));
        match loaded.and_then(|()| model.set_active_adapter(Some(&name)).map_err(|e| e.to_string())) {
            Ok(()) => {
                tracing::info!(version = record.version, "adapter active");
                Ok(AdapterOutcome::Active { version: record.version })
            }
            Err(reason) => {
                tracing::warn!(version = record.version, %reason, "adapter refused");
                model.unload_adapter(&name);
                model.set_active_adapter(None)?;
                drop(responder);
                let refused = AdapterRecord { status: AdapterStatus::Refused, reason: Some(reason.clone()), ..record.clone() };
                store.put_adapter(&refused)?;
                Ok(AdapterOutcome::Refused { version: record.version, reason })
            }
        }
    }

    /// Back to templates (frees the model's memory).
    pub fn unload_model(&self) -> Result<(), AssistantError> {
        self.responder()?.set_model(None);
        self.installed.store(false, Ordering::Release);
        Ok(())
    }

    /// Never waits for a reply in progress.
    pub fn has_model(&self) -> Result<bool, AssistantError> {
        Ok(self.installed.load(Ordering::Acquire))
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
        let cancelled = was_cancelled(&reply);
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
        let cancelled = was_cancelled(&reply);
        Ok(finish(reply, has_model, recalled, cancelled))
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

/// The adapter file's bytes, when its size and SHA-256 are the ones the record names.
fn verified_bytes(record: &AdapterRecord) -> Result<Vec<u8>, String> {
    use sha2::Digest;
    let bytes = std::fs::read(&record.path).map_err(|e| format!("cannot read {}: {e}", record.path))?;
    if i64::try_from(bytes.len()).ok() != Some(record.size_bytes) {
        return Err(format!("the file has {} bytes, the record says {}", bytes.len(), record.size_bytes));
    }
    let digest: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    if !digest.eq_ignore_ascii_case(record.sha256.trim()) {
        return Err("the file's SHA-256 differs from the record's".into());
    }
    Ok(bytes)
}

/// The caller's cancel ended the model's text (a guardrail stop also cancels generation, but
/// then the template answers).
fn was_cancelled(reply: &Reply) -> bool {
    reply.source == ReplySource::Model && reply.generation.as_ref().is_some_and(|g| g.stop_reason == StopReason::Cancelled)
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
