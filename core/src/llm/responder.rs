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
    /// The model produced another token (`generated` so far). No text: the words come with
    /// `Text` once whole sentences passed the guardrail. Lets the UI show that Migru is writing,
    /// and a caller stop a long generation early.
    Token { generated: usize },
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

    /// Installs (or, with `None`, removes) the model; templates answer while there is none.
    pub fn set_model(&mut self, model: Option<LanguageModel>) -> Option<LanguageModel> {
        std::mem::replace(&mut self.model, model)
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
        let language = language_or_english(&input.profile.language);
        let Some(model) = self.model.as_mut() else {
            on_event(&ReplyEvent::Text(fallback.clone()));
            return Reply { text: fallback, source: ReplySource::Template, verdict: None, generation: None };
        };
        let prompt = model.render(&child_reply_messages(input));
        let task = Task { audience: Audience::Child, language: &language, options: &self.child_options, guardrail: &self.guardrail };
        guarded(model, &prompt, &task, fallback, cancel, on_event)
    }

    /// A recommendation for the parents, streamed through `on_event` sentence by sentence (each
    /// checked for a parent reader) like the child's reply. A Migru recommendation model (trained
    /// by the server) is prompted with `context`, the prompt it was trained and retrained on; other
    /// models get the chat template's rendering of `input`.
    pub fn parent_recommendation(
        &mut self,
        input: &ParentRecommendationInput,
        context: Option<&str>,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&ReplyEvent),
    ) -> Reply {
        let fallback = self.templates.parent_recommendation(input);
        let language = language_or_english(&input.profile.language);
        let Some(model) = self.model.as_mut() else {
            on_event(&ReplyEvent::Text(fallback.clone()));
            return Reply { text: fallback, source: ReplySource::Template, verdict: None, generation: None };
        };
        let prompt = match context {
            Some(context) if model.is_context_prompted() => context.to_owned(),
            _ => model.render(&parent_recommendation_messages(input)),
        };
        let task = Task { audience: Audience::Parent, language: &language, options: &self.parent_options, guardrail: &self.guardrail };
        guarded(model, &prompt, &task, fallback, cancel, on_event)
    }
}

fn language_or_english(tag: &str) -> String {
    if tag.is_empty() { "en".to_string() } else { tag.to_string() }
}

/// Who reads the generated text and how it is generated.
struct Task<'a> {
    audience: Audience,
    language: &'a str,
    options: &'a GenerateOptions,
    guardrail: &'a Guardrail,
}

/// Generates, showing whole sentences as soon as the text so far passes the guardrail; a failing
/// sentence stops generation and the template takes over. Cancelled: what was shown stays, and
/// nothing more comes.
fn guarded(
    model: &mut LanguageModel,
    prompt: &str,
    task: &Task<'_>,
    fallback: String,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&ReplyEvent),
) -> Reply {
    let inner = CancelToken::new();
    let mut pending = String::new();
    let mut shown = String::new();
    let mut blocked = None;
    let mut generated = 0;
    let result = model.generate(prompt, task.options, &inner, &mut |event| {
        generated += 1;
        on_event(&ReplyEvent::Token { generated });
        if cancel.is_cancelled() {
            inner.cancel();
            return;
        }
        pending.push_str(&event.text);
        let Some(end) = pending.rfind(['.', '!', '?', '\n']) else { return };
        let sentences: String = pending.drain(..=end).collect();
        let candidate = format!("{shown}{sentences}");
        match task.guardrail.check_prefix(&candidate, task.audience, task.language) {
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
    let verdict = blocked.unwrap_or_else(|| task.guardrail.check(&text, task.audience, task.language));
    if verdict.passed() {
        let rest = generation.text.get(shown.len()..).unwrap_or("").to_string();
        if !rest.is_empty() {
            on_event(&ReplyEvent::Text(rest));
        }
        return Reply { text, source: ReplySource::Model, verdict: Some(verdict), generation: Some(generation) };
    }
    tracing::info!(?verdict, tokens = generation.tokens.len(), "model text blocked; using the template");
    emit_fallback(on_event, &shown, &fallback);
    Reply { text: fallback, source: ReplySource::Template, verdict: Some(verdict), generation: Some(generation) }
}

fn emit_fallback(on_event: &mut dyn FnMut(&ReplyEvent), shown: &str, fallback: &str) {
    if shown.is_empty() {
        on_event(&ReplyEvent::Text(fallback.to_string()));
    } else {
        on_event(&ReplyEvent::Replace(fallback.to_string()));
    }
}
