//! The facade the apps (through `migru-ffi`) and the `migru` command line use: one child's
//! companion on one device, over one store.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, Local};

use crate::classify::{Classification, IntensitySource, classify};
use crate::event::{Body, LOCAL_USER, Record};
use crate::exchange::{self, ExchangeError, ImportReport};
use crate::insights::{self, Turn};
use crate::patterns::{self, Engine};
use crate::store::{Appended, EventFilter, Store, StoreError, StoreStats, StoredEvent};

#[derive(Debug, thiserror::Error)]
pub enum CompanionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    #[error("cannot open {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Patterns(#[from] crate::patterns::PatternsError),
    #[error(transparent)]
    Insights(#[from] crate::insights::pipeline::PipelineError),
    #[cfg(feature = "llm")]
    #[error(transparent)]
    Assistant(#[from] crate::llm::assistant::AssistantError),
    #[cfg(feature = "sync")]
    #[error(transparent)]
    Sync(#[from] crate::sync::SyncError),
}

/// What `append` stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub event: StoredEvent,
    /// `false` when the identical record was already stored (nothing new was written).
    pub newly_stored: bool,
}

/// What `log_message` stored: the classified record, how it was classified, and any secondary
/// activity records (a trigger mentioned beside a symptom) stored with it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedMessage {
    pub logged: Logged,
    pub classification: Classification,
    pub also_stored: Vec<StoredEvent>,
}

/// One child's companion on one device. Cheap to clone; safe to share across threads.
#[derive(Debug, Clone)]
pub struct Companion {
    store: Arc<Store>,
    user: String,
    /// This child's pattern engine, loaded on the first `converse`.
    patterns: Arc<Mutex<Option<Engine>>>,
    /// The pattern-state save started after a look turn, off the turn's path (`converse`).
    saving: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    /// Migru's replies and the parents' recommendations; shared by every child of the store.
    #[cfg(feature = "llm")]
    assistant: Arc<crate::llm::assistant::Assistant>,
}

impl Companion {
    /// Opens (creating or upgrading) the database at `path` for the local child.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CompanionError> {
        Ok(Companion {
            store: Arc::new(Store::open(path)?),
            user: LOCAL_USER.to_owned(),
            patterns: Arc::default(),
            saving: Arc::default(),
            #[cfg(feature = "llm")]
            assistant: Arc::new(crate::llm::assistant::Assistant::new()?),
        })
    }

    /// The same store, seen as another child (a database may hold several).
    pub fn for_user(&self, user: &str) -> Result<Self, CompanionError> {
        if user.is_empty() || user.len() > 128 {
            return Err(CompanionError::InvalidInput("user must be 1 to 128 characters".into()));
        }
        Ok(Companion {
            store: Arc::clone(&self.store),
            user: user.to_owned(),
            patterns: Arc::default(),
            saving: Arc::default(),
            #[cfg(feature = "llm")]
            assistant: Arc::clone(&self.assistant),
        })
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store itself, for work that outlives a borrow (the wearable ingest of the apps).
    pub fn shared_store(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }

    /// Classifies and stores a message the child wrote at `at` (default: now, in the device's
    /// time zone). A time word ("yesterday", "this morning") dates the event accordingly. The
    /// classifier's labels that the record format has no field for (`red_flag`,
    /// `safety_concern`, whether an intensity was stated) are kept as extra fields.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn log_message(&self, text: &str, at: Option<DateTime<FixedOffset>>) -> Result<LoggedMessage, CompanionError> {
        let stored = store_message(&self.store, &self.user, text, at.unwrap_or_else(now_local))?;
        let mut events = Vec::with_capacity(stored.records.len());
        for (appended, _) in &stored.records {
            events.push(self.logged(appended)?);
        }
        let mut events = events.into_iter();
        let logged = events.next().ok_or_else(|| CompanionError::InvalidInput("nothing was stored".into()))?;
        Ok(LoggedMessage { logged, classification: stored.classification, also_stored: events.map(|l| l.event).collect() })
    }

    /// One conversation turn: the message is classified and stored exactly as `log_message`
    /// does, the child's pattern engine (loaded from `pattern_state` and caught up on first use)
    /// is updated, and the insight policy decides (red flags first). The engine's state is saved
    /// on every turn the policy looks (every 3rd conversation), so a restart re-reads at most a
    /// few events. A `share` decided in the child's quiet hours waits for the next turn inside a
    /// child window (`delivery`, `docs/timing.md`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn converse(&self, text: &str, at: Option<DateTime<FixedOffset>>, lang: &str) -> Result<Turn, CompanionError> {
        let mut slot = self.patterns.lock().map_err(|_| CompanionError::InvalidInput("pattern engine lock poisoned".into()))?;
        if slot.is_none() {
            let mut engine = patterns::load(&self.store, &self.user)?;
            patterns::catch_up(&self.store, &self.user, &mut engine)?;
            *slot = Some(engine);
        }
        let engine = slot.as_mut().ok_or_else(|| CompanionError::InvalidInput("pattern engine missing".into()))?;
        let now = at.unwrap_or_else(now_local);
        let turn = insights::on_message(&self.store, engine, &self.user, text, now, lang)?;
        let conversations = engine.child(&self.user).map_or(0, |c| c.conversations);
        drop(slot);
        if conversations % insights::LOOK_EVERY == 0 {
            self.save_in_background();
        }
        // Insights wait out the child's quiet hours (`delivery`); a timing failure never
        // withholds one.
        let fallback = turn.clone();
        Ok(crate::delivery::time_insight(&self.store, &self.user, now, turn).unwrap_or_else(|error| {
            tracing::warn!(%error, "insight timing unavailable; decided as is");
            fallback
        }))
    }

    /// Saves the engine's state on its own thread: serialising it and writing the blob cost
    /// milliseconds, which the turn must not wait for (ADR 0003, "Latency"). The state is derived
    /// data (rebuilt from the events, which the turn has committed), so a save lost to a crash
    /// costs only a longer catch-up. The next save waits for this one; `save_patterns` too.
    fn save_in_background(&self) {
        let mut saving = self.saving.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(previous) = saving.take() {
            let _ = previous.join();
        }
        let (store, user, patterns) = (Arc::clone(&self.store), self.user.clone(), Arc::clone(&self.patterns));
        let spawned = std::thread::Builder::new().name("migru-pattern-save".into()).spawn(move || {
            let slot = patterns.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(engine) = slot.as_ref()
                && let Err(error) = patterns::save(&store, &user, engine)
            {
                tracing::warn!(%error, "pattern state not saved; it is rebuilt from the events");
            }
        });
        match spawned {
            Ok(handle) => *saving = Some(handle),
            Err(error) => tracing::warn!(%error, "no thread for the pattern-state save"),
        }
    }

    /// Waits for a pattern-state save started by `converse`, if one is running.
    pub fn wait_for_pattern_save(&self) {
        let pending = self.saving.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(handle) = pending {
            let _ = handle.join();
        }
    }

    /// Saves the pattern engine's state now (for an app going to the background).
    pub fn save_patterns(&self) -> Result<(), CompanionError> {
        self.wait_for_pattern_save();
        let slot = self.patterns.lock().map_err(|_| CompanionError::InvalidInput("pattern engine lock poisoned".into()))?;
        if let Some(engine) = slot.as_ref() {
            patterns::save(&self.store, &self.user, engine)?;
        }
        Ok(())
    }

    /// The stored event an append refers to (a conflict is an error).
    pub fn logged(&self, appended: &Appended) -> Result<Logged, CompanionError> {
        let (id, newly_stored) = match *appended {
            Appended::Stored { id, .. } => (id, true),
            Appended::Duplicate { id } => (id, false),
            Appended::Conflict { .. } => {
                return Err(CompanionError::InvalidInput("a different record with this id is already stored".into()));
            }
        };
        let event = self
            .store
            .event_by_id(id)?
            .ok_or_else(|| CompanionError::InvalidInput("the record vanished after it was stored".into()))?;
        Ok(Logged { event, newly_stored })
    }

    /// Appends any record for this companion's child.
    pub fn append(&self, mut record: Record) -> Result<Logged, CompanionError> {
        record.user = self.user.clone();
        let appended = self.store.append(&record)?;
        self.logged(&appended)
    }

    /// Imports a JSONL file, reporting progress after each stored batch.
    pub fn import_file(
        &self,
        path: &Path,
        progress: impl FnMut(&ImportReport),
    ) -> Result<ImportReport, CompanionError> {
        let file = File::open(path).map_err(|source| CompanionError::File { path: path.to_owned(), source })?;
        Ok(exchange::import_jsonl(&self.store, BufReader::with_capacity(1 << 16, file), progress)?)
    }

    /// Exports every record of every user to `path` (created or truncated). Returns the count.
    pub fn export_file(&self, path: &Path) -> Result<u64, CompanionError> {
        let file = File::create(path).map_err(|source| CompanionError::File { path: path.to_owned(), source })?;
        Ok(exchange::export_jsonl(&self.store, &EventFilter::default(), BufWriter::new(file))?)
    }

    pub fn stats(&self) -> Result<StoreStats, CompanionError> {
        Ok(self.store.stats()?)
    }

    /// Applies the retention window now; returns rows deleted.
    pub fn purge_expired(&self) -> Result<u64, CompanionError> {
        Ok(self.store.purge_expired(crate::store::now_ms())?)
    }

    /// Deletes everything on this device.
    pub fn delete_all(&self) -> Result<(), CompanionError> {
        Ok(self.store.delete_all()?)
    }
}

/// Migru's words: replies to the child and recommendations for the parents (`llm::assistant`).
#[cfg(feature = "llm")]
impl Companion {
    /// Loads a model folder (onnxruntime-genai layout) for every later reply on this device, with
    /// the store's active adapter (the child's personalisation) when there is one.
    pub fn load_model(
        &self,
        dir: &Path,
        options: &crate::llm::engine::ModelOptions,
    ) -> Result<crate::llm::assistant::AdapterOutcome, CompanionError> {
        self.assistant.load_model(dir, options)?;
        let active = self.store.active_adapter()?;
        Ok(self.assistant.apply_adapter(&self.store, active.as_ref())?)
    }

    /// Makes adapter `version` (already received into the store) the active one, and switches the
    /// loaded model to it without reloading. A refused adapter is an error from the store; one that
    /// fails verification now is marked refused and reported in the outcome.
    pub fn activate_adapter(&self, version: i64) -> Result<crate::llm::assistant::AdapterOutcome, CompanionError> {
        self.store.activate_adapter(version)?;
        let active = self.store.active_adapter()?;
        Ok(self.assistant.apply_adapter(&self.store, active.as_ref())?)
    }

    /// The adapter version active on the loaded model (`None`: no model, or the base model).
    pub fn adapter_in_use(&self) -> Result<Option<i64>, CompanionError> {
        Ok(self.assistant.active_adapter_version()?)
    }

    /// Back to template replies.
    pub fn unload_model(&self) -> Result<(), CompanionError> {
        Ok(self.assistant.unload_model()?)
    }

    pub fn has_model(&self) -> Result<bool, CompanionError> {
        Ok(self.assistant.has_model()?)
    }

    /// Migru's reply to the child's `message`: the model when one is installed (templates and a
    /// notice otherwise), the guardrail always, the safety response for a red flag or self-harm.
    /// Text streams to `on_event` as it passes the guardrail; `cancel` stops it from any thread.
    /// The message is not stored here (`log_message` does that).
    pub fn reply_to_child(
        &self,
        message: &str,
        profile: &crate::llm::prompt::ChildProfile,
        cancel: &crate::llm::CancelToken,
        on_event: &mut dyn FnMut(&crate::llm::responder::ReplyEvent),
    ) -> Result<crate::llm::assistant::AssistantReply, CompanionError> {
        if message.trim().is_empty() {
            return Err(CompanionError::InvalidInput("the message is empty".into()));
        }
        Ok(self.assistant.reply_to_child(&self.store, &self.user, profile, message, cancel, on_event)?)
    }

    /// A recommendation for the parents from the child's profile, chronotype, patterns,
    /// forecast and causal finding, with similar earlier days recalled from the store. The
    /// chronotype is the store's once it is at least `low` confidence (`delivery`).
    pub fn parent_recommendation(
        &self,
        input: &crate::llm::prompt::ParentRecommendationInput,
        cancel: &crate::llm::CancelToken,
        on_event: &mut dyn FnMut(&crate::llm::responder::ReplyEvent),
    ) -> Result<crate::llm::assistant::AssistantReply, CompanionError> {
        // The chronotype (the recommendation's timing) comes from the stored sleep when known.
        let mut input = input.clone();
        if let Err(error) = crate::delivery::fill_parent_input(&self.store, &self.user, now_local(), &mut input) {
            tracing::warn!(%error, "chronotype unavailable; the caller's is used");
        }
        Ok(self.assistant.parent_recommendation(&self.store, &self.user, &input, cancel, on_event)?)
    }

    /// The parent's thumbs on a recommendation this phone showed: counted for its A/B arm (the
    /// next arm choices follow it) and, when the text is `shareable`, queued for the server with
    /// the arm, the adapter version, the prompt context and the exact text shown, so the server's
    /// A/B, rollback and retraining see it (sent by the next `sync`). Returns whether it was queued.
    pub fn recommendation_feedback(
        &self,
        served: &crate::llm::assistant::Served,
        text: &str,
        up: bool,
    ) -> Result<bool, CompanionError> {
        if text.trim().is_empty() {
            return Err(CompanionError::InvalidInput("the recommendation's text is empty".into()));
        }
        crate::llm::assistant::count_thumbs(&self.store, &served.recommendation_id, served.arm, served.adapter_version, up)?;
        if !served.shareable {
            tracing::info!("thumbs counted on the phone only: the recommendation may repeat the child's words");
            return Ok(false);
        }
        let payload = serde_json::json!({
            "recommendation_id": served.recommendation_id.to_string(),
            "value": if up { "up" } else { "down" },
            "device_ts": now_local().to_rfc3339(),
            "served": {
                "prompt": served.context,
                "text": text,
                "arm": served.arm.as_str(),
                "adapter_version": served.adapter_version,
            },
        });
        self.store.outbox_push("feedback", &payload.to_string())?;
        Ok(true)
    }
}

/// Sync with the family's server (`sync`).
#[cfg(feature = "sync")]
impl Companion {
    /// Pushes the outbox and pulls the family's changes into `pulled_changes`, resuming from the
    /// stored cursor. Async: the apps run it on the bindings' runtime, never on the thread that
    /// talks with the child. Setting `cancel` ends it between requests with nothing lost.
    pub async fn sync(
        &self,
        config: crate::sync::SyncConfig,
        cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
        on_progress: impl FnMut(&crate::sync::SyncProgress),
    ) -> Result<crate::sync::SyncProgress, CompanionError> {
        let mut client = crate::sync::SyncClient::new(config)?;
        if let Some(flag) = cancel {
            client = client.with_cancel_flag(flag);
        }
        #[cfg(feature = "llm")]
        {
            let installer = crate::sync::adapters::AdapterInstaller::beside(&self.store, Some(Arc::clone(&self.assistant)));
            client = client.with_adapters(installer);
        }
        Ok(client.sync(&self.store, on_progress, |_| Ok(())).await?)
    }
}

/// A message classified and appended, with any secondary activity records (the message's own
/// record first). Each record carries its id; `Appended` says whether it was new and its `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub classification: Classification,
    pub records: Vec<(Appended, Record)>,
}

/// Classify → store: the one path every message takes (`Companion::log_message`,
/// `Companion::converse`, `insights::on_message`). Refuses an empty message and a record whose id
/// is already stored with different content.
pub fn store_message(store: &Store, user: &str, text: &str, written_at: DateTime<FixedOffset>) -> Result<StoredMessage, CompanionError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CompanionError::InvalidInput("the message is empty".into()));
    }
    let classification = classify(text, written_at, None);
    let mut record = Record::new(classification.event_ts, classification.to_body(text));
    annotate(&mut record, &classification);
    let mut bodies = vec![record];
    for category in classification.also_activities() {
        bodies.push(Record::new(classification.event_ts, Body::Activity { category, text: None }));
    }
    for record in &mut bodies {
        record.user = user.to_owned();
    }
    // One transaction (one commit) for the message and the activities it names.
    let outcomes = store.append_batch(&bodies)?;
    let mut records = Vec::with_capacity(bodies.len());
    for (mut record, appended) in bodies.into_iter().zip(outcomes) {
        match appended {
            Appended::Stored { id, .. } | Appended::Duplicate { id } => record.id = Some(id),
            Appended::Conflict { .. } => {
                return Err(CompanionError::InvalidInput("a different record with this id is already stored".into()));
            }
        }
        records.push((appended, record));
    }
    Ok(StoredMessage { classification, records })
}

fn annotate(record: &mut Record, classification: &Classification) {
    if let Some(flag) = classification.red_flag {
        record.extra.insert("red_flag".into(), flag.as_str().into());
    }
    if classification.safety_concern {
        record.extra.insert("safety_concern".into(), true.into());
    }
    if classification.intensity_source == Some(IntensitySource::Default) {
        record.extra.insert("intensity_stated".into(), false.into());
    }
}

/// Now, with the device's current UTC offset.
pub fn now_local() -> DateTime<FixedOffset> {
    let now = Local::now();
    let ms = now.timestamp_subsec_millis() * 1_000_000;
    let now = now.fixed_offset();
    chrono::Timelike::with_nanosecond(&now, ms).unwrap_or(now)
}
