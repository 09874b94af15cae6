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

use super::ab::{self, Arm, ArmCounts};
use super::adapter::AdapterFile;
use super::engine::{LanguageModel, ModelOptions, StopReason};
use super::prompt::{ChatMessage, ChildProfile, ChronotypeCategory, ChildTurnInput, ParentRecommendationInput, Role};
use super::responder::{Reply, ReplyEvent, ReplySource, Responder};
use super::retrieval::recall;
use super::sampling::Rng;
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

/// Settings key of this phone's thumbs the server has not acknowledged yet (or that stay on the
/// phone), by recommendation id, for the A/B counts.
pub const PENDING_THUMBS_KEY: &str = "ab.pending_thumbs";
/// Pulled changes read for the A/B counts (recommendations and feedback acknowledgements).
const MAX_COUNTED_CHANGES: usize = 100_000;

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

/// Whether an adapter fits the installed model's adapter inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelCheck {
    /// No model is loaded: the check runs when one is (`apply_adapter`).
    NoModel,
    Fits,
    /// Why it does not fit (a parameter the model lacks, a wrong type or shape).
    Mismatch(String),
}

/// How a parent's recommendation was served, for the A/B: kept by the app with the text it shows
/// and sent back with the parent's thumbs (`Companion::recommendation_feedback`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// A fresh UUIDv7: the recommendation's id on the server once the thumbs are sent.
    pub recommendation_id: uuid::Uuid,
    pub arm: Arm,
    /// The adapter version that wrote it (`Arm::Adapter` only).
    pub adapter_version: Option<i64>,
    /// The prompt context the server retrains on ([`ab::recommendation_context`]): chronotype and
    /// part of the day, never the child's words.
    pub context: String,
    /// Whether the text may go to the server with the thumbs: it came from templates, or from a
    /// model whose prompt carried none of the child's words (the recommendation model's context
    /// prompt, or a chat prompt that recalled nothing). A chat model prompted with the child's
    /// recalled words could repeat them, so its text stays on the phone.
    pub shareable: bool,
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
    /// For a parent's recommendation: the A/B arm it was served from.
    pub served: Option<Served>,
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

    /// Checks a (downloaded) adapter against the installed model's adapter inputs, before it is
    /// activated: the same check `apply_adapter` runs when the model loads.
    pub fn check_adapter(&self, file: &AdapterFile) -> Result<ModelCheck, AssistantError> {
        let mut responder = self.responder()?;
        Ok(match responder.model_mut() {
            None => ModelCheck::NoModel,
            Some(model) => match model.check_adapter(file) {
                Ok(()) => ModelCheck::Fits,
                Err(e) => ModelCheck::Mismatch(e.to_string()),
            },
        })
    }

    /// The adapter active on the loaded model (`None` without a model or adapter).
    pub fn active_adapter_version(&self) -> Result<Option<i64>, AssistantError> {
        let mut responder = self.responder()?;
        Ok(responder.model_mut().and_then(|m| m.active_adapter()).and_then(|n| n.strip_prefix('v')).and_then(|v| v.parse().ok()))
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
        let recommendation_id = uuid::Uuid::now_v7();
        let chronotype = match input.chronotype.as_ref().map(|c| c.category) {
            Some(ChronotypeCategory::Early) => "early bird",
            Some(ChronotypeCategory::Late) => "night owl",
            _ => "in-between",
        };
        let hour = chrono::Timelike::hour(&crate::companion::now_local());
        let context = ab::recommendation_context(chronotype, ab::day_part(hour));
        let mut responder = self.responder()?;
        let has_model = responder.has_model();
        // The A/B arm: Thompson sampling between the base model and the active adapter (the
        // server's rule), 50/50 while neither arm has thumbs. Serving the base arm switches the
        // adapter off for this one generation, without reloading the model.
        let context_prompted = responder.model_mut().is_some_and(|m| m.is_context_prompted());
        let active = responder.model_mut().and_then(|m| m.active_adapter().map(str::to_owned));
        let version = active.as_deref().and_then(|n| n.strip_prefix('v')).and_then(|v| v.parse::<i64>().ok());
        let counts = arm_counts(store, version)?;
        let mut rng = Rng::new(seed_of(&recommendation_id));
        let arm = ab::choose_arm(counts.base, version.map(|v| counts.adapter_for(v)), &mut rng);
        let switched_off = match (arm, &active, responder.model_mut()) {
            (Arm::Base, Some(_), Some(model)) => {
                model.set_active_adapter(None)?;
                true
            }
            _ => false,
        };
        let reply = responder.parent_recommendation(&input, Some(&context), cancel, on_event);
        if let (true, Some(name), Some(model)) = (switched_off, &active, responder.model_mut()) {
            model.set_active_adapter(Some(name))?;
        }
        drop(responder);
        let cancelled = was_cancelled(&reply);
        let shareable = reply.source != ReplySource::Model || context_prompted || recalled.is_empty();
        let served =
            Served { recommendation_id, arm, adapter_version: if arm == Arm::Adapter { version } else { None }, context, shareable };
        let mut finished = finish(reply, has_model, recalled, cancelled);
        finished.served = Some(served);
        Ok(finished)
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
    let bytes = std::fs::read(&record.path).map_err(|e| format!("cannot read {}: {e}", record.path))?;
    verify_bytes(&bytes, record.size_bytes, &record.sha256)?;
    Ok(bytes)
}

/// Checks adapter bytes against the size and SHA-256 they were published with (the one check used
/// for a download and for the stored file before each use).
pub fn verify_bytes(bytes: &[u8], size_bytes: i64, sha256: &str) -> Result<(), String> {
    use sha2::Digest;
    if i64::try_from(bytes.len()).ok() != Some(size_bytes) {
        return Err(format!("the file has {} bytes, the record says {size_bytes}", bytes.len()));
    }
    let digest: String = sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    if !digest.eq_ignore_ascii_case(sha256.trim()) {
        return Err("the file's SHA-256 differs from the record's".into());
    }
    Ok(())
}

/// The caller's cancel ended the model's text (a guardrail stop also cancels generation, but
/// then the template answers).
fn was_cancelled(reply: &Reply) -> bool {
    reply.source == ReplySource::Model && reply.generation.as_ref().is_some_and(|g| g.stop_reason == StopReason::Cancelled)
}

fn finish(reply: Reply, has_model: bool, recalled: Vec<String>, cancelled: bool) -> AssistantReply {
    let notice = (!has_model && reply.source == ReplySource::Template).then(|| NO_MODEL_NOTICE.to_owned());
    AssistantReply { reply, notice, recalled, cancelled, served: None }
}

/// One of this phone's thumbs, kept until the server acknowledges it.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct PendingThumb {
    arm: Arm,
    adapter_version: Option<i64>,
    up: bool,
}

/// The family's thumbs per arm as this phone knows them, the adapter arm's for `adapter_version`:
/// every recommendation and feedback acknowledgement pulled from the server (all the family's
/// parent devices, with the thumbs the server holds in force), plus this phone's thumbs not
/// acknowledged yet. So each parent device draws from the counts the server's A/B sees.
pub fn arm_counts(store: &Store, adapter_version: Option<i64>) -> Result<ArmCounts, StoreError> {
    let payloads = |topic: &str| -> Result<Vec<serde_json::Value>, StoreError> {
        Ok(store
            .pulled_changes(Some(topic), MAX_COUNTED_CHANGES)?
            .into_iter()
            .filter_map(|c| serde_json::from_str::<serde_json::Value>(&c.payload).ok())
            .collect())
    };
    let served: HashMap<String, (Arm, Option<i64>)> = payloads("recommendation")?
        .into_iter()
        .filter_map(|c| {
            let arm = Arm::parse(c["body"]["arm"].as_str()?)?;
            Some((c["id"].as_str()?.to_owned(), (arm, c["body"]["adapter_version"].as_i64())))
        })
        .collect();
    let mut acked: HashMap<String, (i64, bool)> = HashMap::new();
    for c in payloads("feedback_ack")? {
        let (Some(id), Some(value), Some(at)) = (c["body"]["recommendation_id"].as_str(), c["body"]["value"].as_str(), c["created_at_ms"].as_i64())
        else {
            continue;
        };
        let entry = acked.entry(id.to_owned()).or_insert((at, value == "up"));
        if at >= entry.0 {
            *entry = (at, value == "up");
        }
    }
    let mut counts = ArmCounts { adapter_version, ..ArmCounts::default() };
    let mut count = |arm: Arm, version: Option<i64>, up: bool| match arm {
        Arm::Base => counts.base.add(up),
        Arm::Adapter if version.is_some() && version == adapter_version => counts.adapter.add(up),
        Arm::Adapter => {}
    };
    for (id, (_, up)) in &acked {
        if let Some((arm, version)) = served.get(id) {
            count(*arm, *version, *up);
        }
    }
    for (id, thumb) in pending_thumbs(store)? {
        if !acked.contains_key(&id) {
            count(thumb.arm, thumb.adapter_version, thumb.up);
        }
    }
    Ok(counts)
}

fn pending_thumbs(store: &Store) -> Result<HashMap<String, PendingThumb>, StoreError> {
    Ok(store.setting(PENDING_THUMBS_KEY)?.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default())
}

/// Keeps one of the parent's thumbs for the A/B counts until the server acknowledges it (a later
/// thumbs on the same recommendation replaces it); acknowledged ones are dropped here.
pub fn count_thumbs(store: &Store, recommendation_id: &uuid::Uuid, arm: Arm, adapter_version: Option<i64>, up: bool) -> Result<(), StoreError> {
    let mut pending = pending_thumbs(store)?;
    if !pending.is_empty() {
        let acked: std::collections::HashSet<String> = store
            .pulled_changes(Some("feedback_ack"), MAX_COUNTED_CHANGES)?
            .into_iter()
            .filter_map(|c| serde_json::from_str::<serde_json::Value>(&c.payload).ok())
            .filter_map(|c| c["body"]["recommendation_id"].as_str().map(str::to_owned))
            .collect();
        pending.retain(|id, _| !acked.contains(id));
    }
    pending.insert(recommendation_id.to_string(), PendingThumb { arm, adapter_version, up });
    let json = serde_json::to_string(&pending).map_err(|e| StoreError::BadRow { seq: 0, reason: e.to_string() })?;
    store.set_setting(PENDING_THUMBS_KEY, &json)
}

/// A seed for one Thompson draw from the recommendation's fresh UUIDv7 (random low bits).
fn seed_of(id: &uuid::Uuid) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(id.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]))
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
