//! Prompt → model → guardrail → template: what the app calls to get Migru's words.
//!
//! Streaming and the guardrail meet here. Text reaches the child sentence by sentence, and only
//! after the sentences so far pass the guardrail (content, language, length); a failing sentence
//! stops generation. The full check runs again on the finished text; if it fails after something
//! was shown (too short, or an unfinished last sentence that fails), a `Replace` event swaps the
//! shown text for the template. A self-harm or red-flag message never reaches the model.

use serde::Serialize;

use super::engine::{GenerateOptions, Generation, LanguageModel, StopReason};
use super::guardrail::{Audience, Guardrail, Verdict, safety_concern};
use super::prompt::{ChildTurnInput, ParentRecommendationInput, child_reply_messages, parent_recommendation_messages};
use super::sampling::SamplingParams;
use super::stream::CancelToken;
use super::templates::{Situation, Templates, variant_of};
use super::LlmError;

/// Where a reply came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplySource {
    Model,
    Template,
    Safety,
}

/// What the UI receives while a reply is produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyEvent {
    /// Append this text.
    Text(String),
    /// Replace everything shown so far with this text.
    Replace(String),
}

/// A finished reply.
#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    pub text: String,
    pub source: ReplySource,
    /// The guardrail's verdict on the model's text, when a model ran.
    pub verdict: Option<Verdict>,
    pub generation: Option<Generation>,
}

/// The app's entry point for generated text; works with or without a model.
#[derive(Debug)]
pub struct Responder {
    model: Option<LanguageModel>,
    templates: Templates,
    guardrail: Guardrail,
    pub child_options: GenerateOptions,
    pub parent_options: GenerateOptions,
}

impl Responder {
    pub fn new(model: Option<LanguageModel>) -> Result<Self, LlmError> {
        let budget = Some(std::time::Duration::from_secs(10));
        Ok(Self {
            model,
            templates: Templates::bundled()?,
            guardrail: Guardrail::default(),
            child_options: GenerateOptions { max_new_tokens: 60, sampling: SamplingParams::chat(0), stop_strings: vec![], time_budget: budget },
            parent_options: GenerateOptions { max_new_tokens: 96, sampling: SamplingParams::chat(0), stop_strings: vec![], time_budget: budget },
        })
    }

    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    pub fn model_mut(&mut self) -> Option<&mut LanguageModel> {
        self.model.as_mut()
    }

    /// Migru's reply to the child, streamed through `on_event`.
    pub fn reply_to_child(&mut self, input: &ChildTurnInput, cancel: &CancelToken, on_event: &mut dyn FnMut(&ReplyEvent)) -> Reply {
        if let Some(concern) = safety_concern(&input.message) {
            let text = self.templates.safety(concern).to_string();
            on_event(&ReplyEvent::Text(text.clone()));
            return Reply { text, source: ReplySource::Safety, verdict: None, generation: None };
        }
        let fallback = self.templates.child(Situation::of_message(&input.message), variant_of(&input.message)).to_string();
        let language = if input.profile.language.is_empty() { "en".to_string() } else { input.profile.language.clone() };
        let Some(model) = self.model.as_mut() else {
            on_event(&ReplyEvent::Text(fallback.clone()));
            return Reply { text: fallback, source: ReplySource::Template, verdict: None, generation: None };
        };
        let prompt = model.render(&child_reply_messages(input));
        let guardrail = &self.guardrail;
        let inner = CancelToken::new();
        let mut pending = String::new();
        let mut shown = String::new();
        let mut blocked = None;
        let result = model.generate(&prompt, &self.child_options, &inner, &mut |event| {
            if cancel.is_cancelled() {
                inner.cancel();
            }
            pending.push_str(&event.text);
            let Some(end) = pending.rfind(['.', '!', '?', '\n']) else { return };
            let sentences: String = pending.drain(..=end).collect();
            let candidate = format!("{shown}{sentences}");
            match guardrail.check_prefix(&candidate, Audience::Child, &language) {
                Verdict::Pass => {
                    on_event(&ReplyEvent::Text(sentences));
                    shown = candidate;
                }
                verdict => {
                    blocked = Some(verdict);
                    inner.cancel();
                }
            }
        });
        let generation = match result {
            Ok(g) => g,
            Err(error) => {
                tracing::warn!(%error, "generation failed; using the template");
                emit_fallback(on_event, &shown, &fallback);
                return Reply { text: fallback, source: ReplySource::Template, verdict: None, generation: None };
            }
        };
        if generation.stop_reason == StopReason::Cancelled && blocked.is_none() {
            return Reply { text: shown.trim().to_string(), source: ReplySource::Model, verdict: None, generation: Some(generation) };
        }
        let text = generation.text.trim().to_string();
        let verdict = blocked.unwrap_or_else(|| guardrail.check(&text, Audience::Child, &language));
        if verdict.passed() {
            let rest = generation.text.get(shown.len()..).unwrap_or("").to_string();
            if !rest.is_empty() {
                on_event(&ReplyEvent::Text(rest));
            }
            return Reply { text, source: ReplySource::Model, verdict: Some(verdict), generation: Some(generation) };
        }
        tracing::info!(?verdict, tokens = generation.tokens.len(), "model reply blocked; using the template");
        emit_fallback(on_event, &shown, &fallback);
        Reply { text: fallback, source: ReplySource::Template, verdict: Some(verdict), generation: Some(generation) }
    }

    /// A recommendation for the parents (not streamed: parents see finished text).
    pub fn parent_recommendation(&mut self, input: &ParentRecommendationInput, cancel: &CancelToken) -> Reply {
        let fallback = self.templates.parent_recommendation(input);
        let language = if input.profile.language.is_empty() { "en".to_string() } else { input.profile.language.clone() };
        let Some(model) = self.model.as_mut() else {
            return Reply { text: fallback, source: ReplySource::Template, verdict: None, generation: None };
        };
        let prompt = model.render(&parent_recommendation_messages(input));
        match model.generate(&prompt, &self.parent_options, cancel, &mut |_| {}) {
            Ok(generation) => {
                let text = generation.text.trim().to_string();
                let verdict = self.guardrail.check(&text, Audience::Parent, &language);
                if verdict.passed() && generation.stop_reason != StopReason::Cancelled {
                    Reply { text, source: ReplySource::Model, verdict: Some(verdict), generation: Some(generation) }
                } else {
                    Reply { text: fallback, source: ReplySource::Template, verdict: Some(verdict), generation: Some(generation) }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "generation failed; using the template");
                Reply { text: fallback, source: ReplySource::Template, verdict: None, generation: None }
            }
        }
    }
}

fn emit_fallback(on_event: &mut dyn FnMut(&ReplyEvent), shown: &str, fallback: &str) {
    if shown.is_empty() {
        on_event(&ReplyEvent::Text(fallback.to_string()));
    } else {
        on_event(&ReplyEvent::Replace(fallback.to_string()));
    }
}
