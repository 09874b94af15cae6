//! Migru's words across the FFI: replies to the child and recommendations for the parents, with a
//! foreign listener for streamed text and a cancel handle any thread may press. Each method
//! delegates to `migru_core::Companion` (`llm::assistant`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use migru_core::llm::engine::ModelOptions;
use migru_core::llm::guardrail::Verdict;
use migru_core::llm::prompt;
use migru_core::llm::responder::{self, ReplyEvent};
use migru_core::llm::ab;
use migru_core::llm::assistant::{AssistantReply, Served};
use migru_core::llm::CancelToken;

use crate::companion::MigruCompanion;
use crate::error::MigruError;
use crate::runtime::runtime;

/// Stops a reply, a recommendation or a sync from any thread (the stop button, a closed screen).
/// One handle per operation; pressing it twice is harmless.
#[derive(Debug, Default, uniffi::Object)]
pub struct CancelHandle {
    flag: Arc<AtomicBool>,
}

#[uniffi::export]
impl CancelHandle {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

impl CancelHandle {
    pub(crate) fn token(&self) -> CancelToken {
        CancelToken::from_flag(Arc::clone(&self.flag))
    }

    pub(crate) fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }
}

/// Told as a reply is produced, on the thread producing it. Text arrives only after it passed
/// the guardrail, whole sentences at a time.
#[uniffi::export(with_foreign)]
pub trait ReplyListener: Send + Sync {
    /// The model produced another token (`generated` so far); no text yet.
    fn on_token(&self, generated: u32);
    /// Append `text` to what is shown.
    fn on_text(&self, text: String);
    /// Replace everything shown with `text` (the model's words failed the guardrail late).
    fn on_replace(&self, text: String);
}

/// Who the child is, as far as Migru's words need.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct ChildProfile {
    pub name: Option<String>,
    pub age_years: Option<u8>,
    /// `en`, `de`, `fr` or `es`; empty means English.
    pub language: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReplySource {
    /// The model wrote it and it passed the guardrail.
    Model,
    /// A prepared reply: no model, or the model's words were blocked.
    Template,
    /// The safety response to a red flag or self-harm.
    Safety,
}

/// A finished reply or recommendation.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct MigruReply {
    pub text: String,
    pub source: ReplySource,
    /// Shown beside a template reply when no model is installed.
    pub notice: Option<String>,
    /// Why the guardrail blocked the model's words (`diagnosis`, `language`, …); empty otherwise.
    pub blocked: Vec<String>,
    /// Earlier texts of the child recalled into the prompt.
    pub recalled: Vec<String>,
    /// The caller cancelled; `text` is what had been shown by then.
    pub cancelled: bool,
    /// Tokens the model generated (0 without a model).
    pub tokens: u32,
    pub ms_first_token: Option<f64>,
    pub ms_per_token: Option<f64>,
    /// For a parent's recommendation: the A/B arm that wrote it. Keep it with the text and pass
    /// it back to `recommendation_feedback` with the parent's thumbs.
    pub served: Option<ServedRecommendation>,
}

/// Which model wrote a recommendation: the base model or the family's adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Arm {
    Base,
    Adapter,
}

/// How a parent's recommendation was served (the A/B arm and adapter version).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServedRecommendation {
    pub recommendation_id: String,
    pub arm: Arm,
    pub adapter_version: Option<i64>,
    /// The prompt context the server retrains on (chronotype, part of the day).
    pub context: String,
    /// Whether the text may go to the server with the thumbs (false: a chat model was prompted
    /// with the child's recalled words; the thumbs are counted on the phone only).
    pub shareable: bool,
}

impl From<Served> for ServedRecommendation {
    fn from(s: Served) -> Self {
        let arm = match s.arm {
            ab::Arm::Base => Arm::Base,
            ab::Arm::Adapter => Arm::Adapter,
        };
        Self {
            recommendation_id: s.recommendation_id.to_string(),
            arm,
            adapter_version: s.adapter_version,
            context: s.context,
            shareable: s.shareable,
        }
    }
}

impl TryFrom<ServedRecommendation> for Served {
    type Error = MigruError;

    fn try_from(s: ServedRecommendation) -> Result<Self, MigruError> {
        let recommendation_id = uuid::Uuid::parse_str(&s.recommendation_id)
            .map_err(|_| MigruError::InvalidInput { reason: "recommendation_id is not a UUID".into() })?;
        let arm = match s.arm {
            Arm::Base => ab::Arm::Base,
            Arm::Adapter => ab::Arm::Adapter,
        };
        Ok(Served { recommendation_id, arm, adapter_version: s.adapter_version, context: s.context, shareable: s.shareable })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Chronotype {
    Early,
    Intermediate,
    Late,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Level {
    Low,
    Moderate,
    High,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChronotypeSummary {
    pub category: Chronotype,
    /// Sleep-corrected mid-sleep on free days, hours after midnight.
    pub msf_sc_hours: Option<f32>,
    /// 0–1.
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PatternSummary {
    /// Already phrased for parents.
    pub description: String,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Forecast {
    pub stress: Level,
    pub migraine_risk: Level,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CausalFinding {
    pub intervention: String,
    /// Relative reduction of evening stress in percent.
    pub effect_pct: f32,
    pub interval_low_pct: f32,
    pub interval_high_pct: f32,
    /// Plain words: "we are fairly sure".
    pub certainty: String,
}

/// What a parent recommendation is written from.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ParentFacts {
    pub profile: ChildProfile,
    pub chronotype: Option<ChronotypeSummary>,
    pub patterns: Vec<PatternSummary>,
    pub forecast: Forecast,
    pub causal: Option<CausalFinding>,
}

#[uniffi::export]
impl MigruCompanion {
    /// Loads a model folder (onnxruntime-genai layout) for every later reply on this device.
    /// `runtime_library` is the ONNX Runtime library (default: `ORT_DYLIB_PATH`, then beside
    /// the app). Blocks for as long as loading takes; a failure leaves templates in place.
    pub fn load_model(&self, dir: String, runtime_library: Option<String>) -> Result<(), MigruError> {
        let options = ModelOptions { runtime_library: runtime_library.map(PathBuf::from), ..ModelOptions::default() };
        let outcome = self.inner.load_model(std::path::Path::new(&dir), &options)?;
        tracing::info!(?outcome, "model loaded");
        Ok(())
    }

    /// Makes the child's adapter `version` (already received into the store) the active one and
    /// switches the loaded model to it without reloading. `false`: the file failed verification
    /// (size, SHA-256 or parameters) and is now marked refused; the base model answers.
    pub fn activate_adapter(&self, version: i64) -> Result<bool, MigruError> {
        let outcome = self.inner.activate_adapter(version)?;
        tracing::info!(?outcome, "adapter activation");
        Ok(!matches!(outcome, migru_core::llm::assistant::AdapterOutcome::Refused { .. }))
    }

    /// Back to template replies; frees the model's memory.
    pub fn unload_model(&self) -> Result<(), MigruError> {
        Ok(self.inner.unload_model()?)
    }

    pub fn has_model(&self) -> Result<bool, MigruError> {
        Ok(self.inner.has_model()?)
    }

    /// Migru's reply to the child, blocking the calling thread (use `reply_to_child_async` from
    /// the UI). The message is not stored here: `log_message` does that.
    pub fn reply_to_child(
        &self,
        message: String,
        profile: ChildProfile,
        listener: Option<Arc<dyn ReplyListener>>,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<MigruReply, MigruError> {
        reply(&self.inner, &message, &profile, listener.as_deref(), cancel.as_deref())
    }

    /// A recommendation for the parents, blocking the calling thread. The chronotype comes from
    /// the child's stored sleep once it is known; `facts.chronotype` counts only until then.
    /// Schedule it in `delivery_timing`'s parent window.
    pub fn parent_recommendation(
        &self,
        facts: ParentFacts,
        listener: Option<Arc<dyn ReplyListener>>,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<MigruReply, MigruError> {
        recommend(&self.inner, &facts, listener.as_deref(), cancel.as_deref())
    }

    /// The parent's thumbs on a recommendation shown with `text`: counted for its A/B arm and,
    /// when `served.shareable`, queued (with the arm) for the server; the next `sync` sends it.
    /// Returns whether it was queued.
    pub fn recommendation_feedback(&self, served: ServedRecommendation, text: String, up: bool) -> Result<bool, MigruError> {
        Ok(self.inner.recommendation_feedback(&served.try_into()?, &text, up)?)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl MigruCompanion {
    /// `reply_to_child` on this library's runtime: the caller's thread stays free, the listener
    /// is called from a worker thread.
    pub async fn reply_to_child_async(
        &self,
        message: String,
        profile: ChildProfile,
        listener: Option<Arc<dyn ReplyListener>>,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<MigruReply, MigruError> {
        let inner = self.inner.clone();
        runtime()
            .spawn_blocking(move || reply(&inner, &message, &profile, listener.as_deref(), cancel.as_deref()))
            .await?
    }

    /// `parent_recommendation` on this library's runtime.
    pub async fn parent_recommendation_async(
        &self,
        facts: ParentFacts,
        listener: Option<Arc<dyn ReplyListener>>,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<MigruReply, MigruError> {
        let inner = self.inner.clone();
        runtime()
            .spawn_blocking(move || recommend(&inner, &facts, listener.as_deref(), cancel.as_deref()))
            .await?
    }

    /// `load_model` on this library's runtime.
    pub async fn load_model_async(&self, dir: String, runtime_library: Option<String>) -> Result<(), MigruError> {
        let inner = self.inner.clone();
        runtime()
            .spawn_blocking(move || {
                let options = ModelOptions { runtime_library: runtime_library.map(PathBuf::from), ..ModelOptions::default() };
                let outcome = inner.load_model(std::path::Path::new(&dir), &options)?;
                tracing::info!(?outcome, "model loaded");
                Ok(())
            })
            .await?
    }
}

fn reply(
    companion: &migru_core::Companion,
    message: &str,
    profile: &ChildProfile,
    listener: Option<&dyn ReplyListener>,
    cancel: Option<&CancelHandle>,
) -> Result<MigruReply, MigruError> {
    let token = cancel.map(CancelHandle::token).unwrap_or_default();
    let profile = core_profile(profile);
    let done = companion.reply_to_child(message, &profile, &token, &mut |event| forward(listener, event))?;
    Ok(done.into())
}

fn recommend(
    companion: &migru_core::Companion,
    facts: &ParentFacts,
    listener: Option<&dyn ReplyListener>,
    cancel: Option<&CancelHandle>,
) -> Result<MigruReply, MigruError> {
    let token = cancel.map(CancelHandle::token).unwrap_or_default();
    let input = core_facts(facts);
    let done = companion.parent_recommendation(&input, &token, &mut |event| forward(listener, event))?;
    Ok(done.into())
}

fn forward(listener: Option<&dyn ReplyListener>, event: &ReplyEvent) {
    let Some(listener) = listener else { return };
    match event {
        ReplyEvent::Token { generated } => listener.on_token(u32::try_from(*generated).unwrap_or(u32::MAX)),
        ReplyEvent::Text(text) => listener.on_text(text.clone()),
        ReplyEvent::Replace(text) => listener.on_replace(text.clone()),
    }
}

fn core_profile(profile: &ChildProfile) -> prompt::ChildProfile {
    prompt::ChildProfile { name: profile.name.clone(), age_years: profile.age_years, language: profile.language.clone() }
}

fn core_level(level: Level) -> prompt::Level {
    match level {
        Level::Low => prompt::Level::Low,
        Level::Moderate => prompt::Level::Moderate,
        Level::High => prompt::Level::High,
    }
}

fn core_facts(facts: &ParentFacts) -> prompt::ParentRecommendationInput {
    prompt::ParentRecommendationInput {
        profile: core_profile(&facts.profile),
        chronotype: facts.chronotype.as_ref().map(|c| prompt::ChronotypeSummary {
            category: match c.category {
                Chronotype::Early => prompt::ChronotypeCategory::Early,
                Chronotype::Intermediate => prompt::ChronotypeCategory::Intermediate,
                Chronotype::Late => prompt::ChronotypeCategory::Late,
            },
            msf_sc_hours: c.msf_sc_hours,
            confidence: c.confidence,
        }),
        patterns: facts
            .patterns
            .iter()
            .map(|p| prompt::PatternSummary { description: p.description.clone(), confidence: p.confidence })
            .collect(),
        forecast: prompt::ForecastSummary {
            stress: core_level(facts.forecast.stress),
            migraine_risk: core_level(facts.forecast.migraine_risk),
            note: facts.forecast.note.clone(),
        },
        causal: facts.causal.as_ref().map(|c| prompt::CausalFinding {
            intervention: c.intervention.clone(),
            effect_pct: c.effect_pct,
            interval_pct: (c.interval_low_pct, c.interval_high_pct),
            certainty: c.certainty.clone(),
        }),
        similar_episodes: Vec::new(),
    }
}

impl From<AssistantReply> for MigruReply {
    fn from(done: AssistantReply) -> Self {
        let reply = done.reply;
        let blocked = match &reply.verdict {
            Some(Verdict::Block(reasons)) => reasons
                .iter()
                .map(|r| serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
                .collect(),
            _ => Vec::new(),
        };
        let generation = reply.generation.as_ref();
        MigruReply {
            source: match reply.source {
                responder::ReplySource::Model => ReplySource::Model,
                responder::ReplySource::Template => ReplySource::Template,
                responder::ReplySource::Safety => ReplySource::Safety,
            },
            text: reply.text,
            notice: done.notice,
            blocked,
            recalled: done.recalled,
            cancelled: done.cancelled,
            tokens: generation.map_or(0, |g| u32::try_from(g.tokens.len()).unwrap_or(u32::MAX)),
            ms_first_token: generation.filter(|g| !g.tokens.is_empty()).map(|g| g.ms_first_token),
            ms_per_token: generation.filter(|g| g.tokens.len() > 1).map(|g| g.ms_per_token),
            served: done.served.map(Into::into),
        }
    }
}
