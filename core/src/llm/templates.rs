//! Template replies: what Migru says when there is no model, when the model's output fails the
//! guardrail, and (always) when the child's message needs the safety response.
//!
//! Texts live in `core/data/llm/fallback_templates.json` so they can be reviewed and translated
//! without touching code. Every template passes the guardrail (a test checks it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::LlmError;
use super::guardrail::SafetyConcern;
use super::prompt::{ChronotypeCategory, Level, ParentRecommendationInput};

const TEMPLATES_JSON: &str = include_str!("../../data/llm/fallback_templates.json");

/// What the child's message is about, for picking a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Situation {
    Greeting,
    Symptom,
    Relief,
    Activity,
    Stress,
    Sleep,
    Message,
}

impl Situation {
    pub const ALL: [Situation; 7] =
        [Self::Greeting, Self::Symptom, Self::Relief, Self::Activity, Self::Stress, Self::Sleep, Self::Message];

    fn key(self) -> &'static str {
        match self {
            Self::Greeting => "greeting",
            Self::Symptom => "symptom",
            Self::Relief => "relief",
            Self::Activity => "activity",
            Self::Stress => "stress",
            Self::Sleep => "sleep",
            Self::Message => "message",
        }
    }

    /// A keyword reading of the child's message (relief before symptom: "my headache is gone").
    pub fn of_message(message: &str) -> Self {
        let lower = format!(" {} ", message.to_lowercase());
        let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
        if has(&["better now", "is gone", "went away", "helped", "feel better", "feeling better", "geholfen", "besser"]) {
            Self::Relief
        } else if has(&["hurt", "headache", "head ache", "pain", "dizzy", "sick", "ache", "kopfschmerz", "weh", "mal à", "duele"]) {
            Self::Symptom
        } else if has(&["worried", "stress", "scared", "nervous", "anxious", "sad", "angry", "upset", "angst", "traurig"]) {
            Self::Stress
        } else if has(&["sleep", "tired", "bed", "nap", "awake", "müde", "schlaf"]) {
            Self::Sleep
        } else if has(&["played", "football", "school", "swim", "ran ", "walk", "game", "homework", "sport", "gespielt"]) {
            Self::Activity
        } else if has(&[" hi ", " hi!", "hello", " hey", "good morning", "hallo", "bonjour", "hola"]) {
            Self::Greeting
        } else {
            Self::Message
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct SafetyTexts {
    red_flag: String,
    self_harm: String,
}

/// The bundled template texts.
#[derive(Debug, Clone, Deserialize)]
pub struct Templates {
    child: BTreeMap<String, Vec<String>>,
    safety: SafetyTexts,
    parent: BTreeMap<String, String>,
}

impl Templates {
    /// The templates shipped in the library.
    pub fn bundled() -> Result<Self, LlmError> {
        let t: Self = serde_json::from_str(TEMPLATES_JSON)
            .map_err(|e| LlmError::Data { name: "fallback_templates.json", reason: e.to_string() })?;
        for s in Situation::ALL {
            if t.child.get(s.key()).is_none_or(Vec::is_empty) {
                return Err(LlmError::Data { name: "fallback_templates.json", reason: format!("no child texts for {}", s.key()) });
            }
        }
        Ok(t)
    }

    /// A child reply for `situation`; `variant` (e.g. a hash of the message) picks among the texts.
    pub fn child(&self, situation: Situation, variant: u64) -> &str {
        let texts = &self.child[situation.key()];
        &texts[(variant % texts.len() as u64) as usize]
    }

    /// Every child template (for tests and the guardrail's labelled set).
    pub fn all_child(&self) -> impl Iterator<Item = &str> {
        self.child.values().flatten().map(String::as_str)
    }

    pub fn safety(&self, concern: SafetyConcern) -> &str {
        match concern {
            SafetyConcern::RedFlag => &self.safety.red_flag,
            SafetyConcern::SelfHarm => &self.safety.self_harm,
        }
    }

    /// A recommendation assembled from the inputs: forecast, chronotype timing, causal finding.
    pub fn parent_recommendation(&self, input: &ParentRecommendationInput) -> String {
        let forecast_key = match input.forecast.stress.max_level(input.forecast.migraine_risk) {
            Level::High => "forecast_high",
            Level::Moderate => "forecast_moderate",
            Level::Low => "forecast_low",
        };
        let timing_key = match input.chronotype.as_ref().map(|c| c.category) {
            Some(ChronotypeCategory::Early) => "timing_early",
            Some(ChronotypeCategory::Late) => "timing_late",
            _ => "timing_intermediate",
        };
        let advice = match &input.causal {
            Some(c) if c.effect_pct > 0.0 && c.interval_pct.0 > 0.0 => self.parent["causal"]
                .replace("{intervention}", &c.intervention)
                .replace("{effect_pct}", &format!("{:.0}", c.effect_pct))
                .replace("{certainty}", &c.certainty),
            _ => self.parent["no_causal"].clone(),
        };
        format!("{} {} {}", self.parent[forecast_key], self.parent[timing_key], advice)
    }
}

impl Level {
    fn max_level(self, other: Level) -> Level {
        let rank = |l: Level| match l {
            Level::Low => 0,
            Level::Moderate => 1,
            Level::High => 2,
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

/// A stable small hash, to vary templates without randomness (FNV-1a).
pub fn variant_of(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::guardrail::{Audience, Guardrail};
    use crate::llm::prompt::{CausalFinding, ChildProfile, ChronotypeSummary, ForecastSummary};

    #[test]
    fn every_template_passes_the_guardrail() {
        let t = Templates::bundled().unwrap();
        let g = Guardrail::default();
        for text in t.all_child() {
            assert!(g.check(text, Audience::Child, "en").passed(), "{text}: {:?}", g.check(text, Audience::Child, "en"));
        }
    }

    #[test]
    fn situations_are_read_from_messages() {
        assert_eq!(Situation::of_message("my head hurts"), Situation::Symptom);
        assert_eq!(Situation::of_message("the headache is gone now"), Situation::Relief);
        assert_eq!(Situation::of_message("I played football"), Situation::Activity);
        assert_eq!(Situation::of_message("hi Migru"), Situation::Greeting);
        assert_eq!(Situation::of_message("I'm worried about the test"), Situation::Stress);
    }

    #[test]
    fn parent_fallback_uses_timing_and_only_credible_findings() {
        let t = Templates::bundled().unwrap();
        let mut input = ParentRecommendationInput {
            profile: ChildProfile::default(),
            chronotype: Some(ChronotypeSummary { category: ChronotypeCategory::Late, msf_sc_hours: None, confidence: 0.8 }),
            patterns: vec![],
            forecast: ForecastSummary { stress: Level::High, migraine_risk: Level::Low, note: None },
            causal: Some(CausalFinding { intervention: "the breathing exercise".into(), effect_pct: 15.0, interval_pct: (5.0, 25.0), certainty: "we are fairly sure".into() }),
            similar_episodes: vec![],
        };
        let text = t.parent_recommendation(&input);
        assert!(text.contains("harder day") && text.contains("late sleeper") && text.contains("about 15 % lower"), "{text}");
        assert!(Guardrail::default().check(&text, Audience::Parent, "en").passed(), "{text}");
        input.causal.as_mut().unwrap().interval_pct = (-3.0, 25.0);
        assert!(!t.parent_recommendation(&input).contains("lower"), "an interval crossing zero is not advice");
    }
}
