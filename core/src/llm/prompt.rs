//! Prompts for Migru's two tasks, from plain structs, and the chat templates that turn a list of
//! messages into a model family's prompt text.
//!
//! 1. Replying to the child as Migru: warm, short, never clinical.
//! 2. A parent recommendation from profile, chronotype, patterns, forecast and causal finding
//!    (seed 003, section D), with similar past episodes as context.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::LlmError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into() }
    }
}

/// One model family's chat format (`core/data/llm/chat_templates.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatTemplate {
    #[serde(default)]
    pub family: String,
    /// Special tokens whose presence in a tokenizer identifies the family.
    pub detect: Vec<String>,
    pub bos: String,
    pub system: String,
    pub user: String,
    pub assistant: String,
    pub generation_prompt: String,
    /// Strings that end a reply (turn markers); the engine also stops on the EOS ids.
    pub stop: Vec<String>,
}

const TEMPLATES_JSON: &str = include_str!("../../data/llm/chat_templates.json");

fn all_templates() -> &'static BTreeMap<String, ChatTemplate> {
    static TEMPLATES: OnceLock<BTreeMap<String, ChatTemplate>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut map: BTreeMap<String, ChatTemplate> = serde_json::from_str(TEMPLATES_JSON).unwrap_or_default();
        for (name, t) in &mut map {
            t.family = name.clone();
        }
        map
    })
}

impl ChatTemplate {
    /// The template called `family` (`phi3`, `llama3`, `chatml`, `gemma`, `llama2`).
    pub fn named(family: &str) -> Result<Self, LlmError> {
        all_templates().get(family).cloned().ok_or_else(|| LlmError::Data {
            name: "chat_templates.json",
            reason: format!("no chat template called {family:?}"),
        })
    }

    /// Picks the template for a model: first by the tokenizer's special tokens (the surest sign),
    /// then by genai's `model.type`; Phi-3 style otherwise.
    pub fn for_model(model_type: &str, has_token: impl Fn(&str) -> bool) -> Result<Self, LlmError> {
        let detected = all_templates()
            .values()
            .find(|t| !t.detect.is_empty() && t.detect.iter().all(|tok| has_token(tok)))
            .map(|t| t.family.clone());
        let family = detected.unwrap_or_else(|| {
            match model_type {
                "qwen2" | "qwen3" => "chatml",
                t if t.starts_with("gemma") => "gemma",
                "llama" | "mistral" => "llama2",
                _ => "phi3",
            }
            .to_string()
        });
        Self::named(&family)
    }

    /// The prompt text for `messages`, ending with the assistant's generation prompt.
    pub fn render(&self, messages: &[ChatMessage]) -> String {
        let mut out = self.bos.clone();
        for m in messages {
            let pattern = match m.role {
                Role::System => &self.system,
                Role::User => &self.user,
                Role::Assistant => &self.assistant,
            };
            out.push_str(&pattern.replace("{content}", m.content.trim()));
        }
        out.push_str(&self.generation_prompt);
        out
    }
}

/// Who the child is, as far as the prompt needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChildProfile {
    pub name: Option<String>,
    pub age_years: Option<u8>,
    /// BCP 47 primary language tag of replies (`en`, `de`, `fr`, `es`).
    pub language: String,
}

/// Replying to the child.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChildTurnInput {
    pub profile: ChildProfile,
    pub message: String,
    /// The last few turns, oldest first.
    pub recent_turns: Vec<ChatMessage>,
    /// Similar past episodes (already retrieved and shortened), most similar first.
    pub similar_episodes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChronotypeCategory {
    Early,
    Intermediate,
    Late,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChronotypeSummary {
    pub category: ChronotypeCategory,
    /// Sleep-corrected mid-sleep on free days, hours after midnight.
    pub msf_sc_hours: Option<f32>,
    /// 0–1: how sure the chronotype estimate is.
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternSummary {
    /// Already phrased for parents, e.g. "headaches are more common on days after short sleep".
    pub description: String,
    pub confidence: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Moderate,
    High,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastSummary {
    pub stress: Level,
    pub migraine_risk: Level,
    /// e.g. "air pressure falls by 8 hPa in the afternoon".
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalFinding {
    /// e.g. "the breathing exercise".
    pub intervention: String,
    /// Relative reduction of evening stress in percent (positive = lower stress).
    pub effect_pct: f32,
    pub interval_pct: (f32, f32),
    /// Plain words: "we are fairly sure".
    pub certainty: String,
}

/// Writing a recommendation for the parents (seed 003, section D).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentRecommendationInput {
    pub profile: ChildProfile,
    pub chronotype: Option<ChronotypeSummary>,
    pub patterns: Vec<PatternSummary>,
    pub forecast: ForecastSummary,
    pub causal: Option<CausalFinding>,
    pub similar_episodes: Vec<String>,
}

const CHILD_SYSTEM: &str = "You are Migru, a kind and cheerful companion for a child who sometimes has \
headaches or feels stressed. Reply in one to three short, simple sentences. Be warm and encouraging. \
Never name illnesses, never mention medicines or doses, never say anything scary. If the child feels \
very unwell, gently suggest telling a grown-up.";

const PARENT_SYSTEM: &str = "You are Migru, writing a short, practical suggestion for a parent. Write two \
sentences in plain, calm words. Base it only on the facts given. Do not diagnose, do not mention \
medicines or doses, and do not promise results.";

/// Prompt messages for replying to the child.
pub fn child_reply_messages(input: &ChildTurnInput) -> Vec<ChatMessage> {
    let mut system = CHILD_SYSTEM.to_string();
    if let Some(age) = input.profile.age_years {
        system.push_str(&format!(" The child is {age} years old."));
    }
    if let Some(name) = &input.profile.name {
        system.push_str(&format!(" Their name is {name}."));
    }
    if let Some(language) = language_name(&input.profile.language) {
        system.push_str(&format!(" Always reply in {language}."));
    }
    if !input.similar_episodes.is_empty() {
        system.push_str(" Earlier, the child said:");
        for episode in input.similar_episodes.iter().take(3) {
            system.push_str(&format!("\n- {}", shorten(episode, 160)));
        }
    }
    let mut messages = vec![ChatMessage::new(Role::System, system)];
    let recent = input.recent_turns.len().saturating_sub(6);
    messages.extend(input.recent_turns[recent..].iter().cloned());
    messages.push(ChatMessage::new(Role::User, shorten(&input.message, 600)));
    messages
}

/// Prompt messages for a parent recommendation.
pub fn parent_recommendation_messages(input: &ParentRecommendationInput) -> Vec<ChatMessage> {
    let mut facts = String::from("Child profile:\n");
    if let Some(age) = input.profile.age_years {
        facts.push_str(&format!("- Age: {age}\n"));
    }
    if let Some(c) = &input.chronotype {
        let category = match c.category {
            ChronotypeCategory::Early => "early riser",
            ChronotypeCategory::Intermediate => "intermediate",
            ChronotypeCategory::Late => "late sleeper",
        };
        facts.push_str(&format!("- Chronotype: {category} ({})\n", certainty_words(c.confidence)));
    }
    if let Some(causal) = &input.causal {
        facts.push_str(&format!(
            "- What helped: on days with {}, evening stress was about {:.0} % lower ({:.0} to {:.0} %; {}).\n",
            causal.intervention, causal.effect_pct, causal.interval_pct.0, causal.interval_pct.1, causal.certainty
        ));
    }
    facts.push_str(&format!(
        "\nOutlook for the next 24 hours:\n- Stress: {}\n- Headache risk: {}\n",
        level_word(input.forecast.stress),
        level_word(input.forecast.migraine_risk)
    ));
    if let Some(note) = &input.forecast.note {
        facts.push_str(&format!("- Note: {note}\n"));
    }
    let confident: Vec<_> = input.patterns.iter().filter(|p| p.confidence >= 0.5).take(4).collect();
    if !confident.is_empty() {
        facts.push_str("\nPatterns noticed:\n");
        for p in confident {
            facts.push_str(&format!("- {} ({})\n", p.description, certainty_words(p.confidence)));
        }
    }
    if !input.similar_episodes.is_empty() {
        facts.push_str("\nSimilar days before:\n");
        for e in input.similar_episodes.iter().take(3) {
            facts.push_str(&format!("- {}\n", shorten(e, 160)));
        }
    }
    let mut task = String::from("\nWrite a two-sentence recommendation for the parent.");
    match input.chronotype.as_ref().map(|c| c.category) {
        Some(ChronotypeCategory::Late) => task.push_str(" The child is a late sleeper: suggest afternoon or evening activities."),
        Some(ChronotypeCategory::Early) => task.push_str(" The child is an early riser: suggest morning activities."),
        _ => {}
    }
    if input.causal.is_some() {
        task.push_str(" Use what helped before.");
    }
    if let Some(language) = language_name(&input.profile.language) {
        task.push_str(&format!(" Write in {language}."));
    }
    vec![ChatMessage::new(Role::System, PARENT_SYSTEM), ChatMessage::new(Role::User, facts + &task)]
}

fn language_name(tag: &str) -> Option<&'static str> {
    match tag {
        "en" => Some("English"),
        "de" => Some("German"),
        "fr" => Some("French"),
        "es" => Some("Spanish"),
        _ => None,
    }
}

pub(crate) fn level_word(level: Level) -> &'static str {
    match level {
        Level::Low => "low",
        Level::Moderate => "moderate",
        Level::High => "high",
    }
}

pub(crate) fn certainty_words(confidence: f32) -> &'static str {
    match confidence {
        c if c >= 0.9 => "we are quite sure",
        c if c >= 0.7 => "we are fairly sure",
        _ => "an early hint",
    }
}

/// Cuts text to at most `max` characters at a word boundary.
pub fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    match cut.rfind(' ') {
        Some(i) if i > max / 2 => format!("{}…", &cut[..i]),
        _ => format!("{cut}…"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_detected_from_special_tokens() {
        let llama3 = ChatTemplate::for_model("llama", |t| t == "<|start_header_id|>" || t == "<|eot_id|>").unwrap();
        assert_eq!(llama3.family, "llama3");
        let phi3 = ChatTemplate::for_model("llama", |t| ["<|assistant|>", "<|end|>"].contains(&t)).unwrap();
        assert_eq!(phi3.family, "phi3");
        assert_eq!(ChatTemplate::for_model("qwen2", |_| false).unwrap().family, "chatml");
        assert_eq!(ChatTemplate::for_model("mistral", |_| false).unwrap().family, "llama2");
    }

    #[test]
    fn phi3_rendering_matches_the_published_format() {
        let t = ChatTemplate::named("phi3").unwrap();
        let text = t.render(&[ChatMessage::new(Role::System, "Be kind."), ChatMessage::new(Role::User, "Hi ")]);
        assert_eq!(text, "<|system|>\nBe kind.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n");
    }

    #[test]
    fn child_prompt_carries_age_language_and_context() {
        let input = ChildTurnInput {
            profile: ChildProfile { name: Some("Lea".into()), age_years: Some(9), language: "de".into() },
            message: "Mein Kopf tut weh".into(),
            recent_turns: vec![],
            similar_episodes: vec!["headache after football".into()],
        };
        let m = child_reply_messages(&input);
        assert_eq!(m.len(), 2);
        assert!(m[0].content.contains("9 years old") && m[0].content.contains("German"));
        assert!(m[0].content.contains("headache after football"));
        assert_eq!(m[1].content, "Mein Kopf tut weh");
    }

    #[test]
    fn parent_prompt_follows_seed_d() {
        let input = ParentRecommendationInput {
            profile: ChildProfile { name: None, age_years: Some(11), language: "en".into() },
            chronotype: Some(ChronotypeSummary { category: ChronotypeCategory::Late, msf_sc_hours: Some(5.2), confidence: 0.8 }),
            patterns: vec![
                PatternSummary { description: "headaches follow short nights".into(), confidence: 0.75 },
                PatternSummary { description: "weak hint".into(), confidence: 0.2 },
            ],
            forecast: ForecastSummary { stress: Level::High, migraine_risk: Level::Moderate, note: None },
            causal: Some(CausalFinding { intervention: "the breathing exercise".into(), effect_pct: 15.0, interval_pct: (6.0, 24.0), certainty: "we are fairly sure".into() }),
            similar_episodes: vec![],
        };
        let m = parent_recommendation_messages(&input);
        let user = &m[1].content;
        for needle in ["Age: 11", "late sleeper", "about 15 % lower", "Stress: high", "headaches follow short nights", "evening activities", "two-sentence"] {
            assert!(user.contains(needle), "missing {needle:?} in {user}");
        }
        assert!(!user.contains("weak hint"), "low-confidence patterns stay out");
    }

    #[test]
    fn shorten_cuts_at_words() {
        assert_eq!(shorten("one two three four", 9), "one two…");
        assert_eq!(shorten("short", 9), "short");
    }
}
