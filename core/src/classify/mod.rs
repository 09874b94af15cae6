//! Message text → event: `symptom` / `relief` / `activity` / `message`, with intensity, activity
//! category, relief strategy, the event's time, and red flags.
//!
//! Deterministic and sans I/O: the rules live in `core/data/classify/*.json`, embedded at compile
//! time and compiled once. The method, the precedence and the measured accuracy are documented in
//! `docs/classification.md`.

mod analyse;
mod lexicon;
mod pattern;
mod redflag;
mod text;

use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};
use serde::{Serialize, Serializer};

use crate::event::{ActivityCategory, Body, ReliefStrategy, format_ts};
use lexicon::LangModel;
use text::{Token, tokenize};

pub use redflag::{RedFlagReport, red_flag};

/// Errors in the embedded rule data (found by the tests, never by a user's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    #[error("classification data {file}: {reason}")]
    Data { file: &'static str, reason: String },
    #[error("classification data {lang}: unknown activity category {name:?}")]
    UnknownCategory { lang: &'static str, name: String },
    #[error("classification data {lang}: unknown relief strategy {name:?}")]
    UnknownStrategy { lang: &'static str, name: String },
    #[error("classification data {lang}: unknown red-flag family {name:?}")]
    UnknownRedFlag { lang: &'static str, name: String },
    #[error("classification data {lang}: phrase {phrase:?} has nothing to match")]
    BadPhrase { lang: &'static str, phrase: String },
}

/// Languages with rule data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    En,
    De,
    Es,
}

impl Lang {
    pub const ALL: &'static [Lang] = &[Lang::En, Lang::De, Lang::Es];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Es => "es",
        }
    }

    /// Accepts a BCP 47 tag or its language part ("de", "de-AT", "es_MX"); `None` if unsupported.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.iter().copied().find(|l| l.as_str() == primary)
    }
}

/// The kinds a message can become (a subset of the stored `Kind`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Symptom,
    Relief,
    Activity,
    Message,
}

impl MessageKind {
    pub const ALL: &'static [MessageKind] =
        &[MessageKind::Symptom, MessageKind::Relief, MessageKind::Activity, MessageKind::Message];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Symptom => "symptom",
            MessageKind::Relief => "relief",
            MessageKind::Activity => "activity",
            MessageKind::Message => "message",
        }
    }

    pub fn parse(text: &str) -> Option<MessageKind> {
        MessageKind::ALL.iter().copied().find(|k| k.as_str() == text)
    }
}

/// Red-flag families (PRODUCT.md item 8): each bypasses the insight policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedFlag {
    /// Sudden, worst-ever headache ("thunderclap").
    Thunderclap,
    /// Headache after a blow to the head, a fall on the head, a concussion.
    HeadInjury,
    /// Fever together with a stiff neck.
    FeverStiffNeck,
    /// Weakness, numbness, confusion, trouble speaking or seeing, fainting.
    NeuroDeficit,
}

impl RedFlag {
    /// In order of urgency; the first one found is reported as the message's `red_flag`.
    pub const ALL: &'static [RedFlag] =
        &[RedFlag::Thunderclap, RedFlag::HeadInjury, RedFlag::FeverStiffNeck, RedFlag::NeuroDeficit];

    pub fn as_str(self) -> &'static str {
        match self {
            RedFlag::Thunderclap => "thunderclap",
            RedFlag::HeadInjury => "head_injury",
            RedFlag::FeverStiffNeck => "fever_stiff_neck",
            RedFlag::NeuroDeficit => "neuro_deficit",
        }
    }

    pub fn parse(text: &str) -> Option<RedFlag> {
        RedFlag::ALL.iter().copied().find(|f| f.as_str() == text)
    }
}

/// Where a symptom's intensity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntensitySource {
    /// "7/10", "7 out of 10", "pain level 6".
    Number,
    /// Words ("a little", "really really bad") and intensifiers.
    Words,
    /// Emoji (😫, 🤕) and no stronger words.
    Emoji,
    /// Nothing stated: the documented default (`DEFAULT_INTENSITY`).
    Default,
}

/// The intensity given to a symptom that states none: the middle of the 0–10 scale.
pub const DEFAULT_INTENSITY: u8 = 5;

/// The result for one message. JSON keys are part of the `migru log --json` contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub kind: MessageKind,
    /// 0–10, symptoms only.
    pub intensity: Option<u8>,
    pub intensity_source: Option<IntensitySource>,
    /// Activities only.
    pub category: Option<ActivityCategory>,
    /// Relief only (`other` when no strategy was named).
    pub strategy: Option<ReliefStrategy>,
    /// The most urgent red-flag family found, if any.
    pub red_flag: Option<RedFlag>,
    /// A self-harm statement: route to a grown-up / crisis message, never to the model.
    pub safety_concern: bool,
    /// When the event happened (the message time unless a time word moved it).
    #[serde(serialize_with = "ser_ts")]
    pub event_ts: DateTime<FixedOffset>,
    /// Whether a time word set `event_ts`.
    pub time_stated: bool,
    /// Secondary mentions the pattern engine should also record, e.g. `activity:screen_time`.
    pub also: Vec<String>,
    pub lang: Lang,
}

fn ser_ts<S: Serializer>(ts: &DateTime<FixedOffset>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_ts(ts))
}

impl Classification {
    /// The record body to store for this message (`text` is kept as the record's own words).
    pub fn to_body(&self, text: &str) -> Body {
        let text = text.to_string();
        match self.kind {
            MessageKind::Symptom => {
                Body::Symptom { intensity: self.intensity.unwrap_or(DEFAULT_INTENSITY), text: Some(text) }
            }
            MessageKind::Relief => {
                Body::Relief { strategy: self.strategy.unwrap_or(ReliefStrategy::Other), text: Some(text) }
            }
            MessageKind::Activity => {
                Body::Activity { category: self.category.unwrap_or(ActivityCategory::Other), text: Some(text) }
            }
            MessageKind::Message => Body::Message { text },
        }
    }

    /// The activity categories named in `also`.
    pub fn also_activities(&self) -> Vec<ActivityCategory> {
        self.also.iter().filter_map(|a| a.strip_prefix("activity:")).filter_map(ActivityCategory::parse).collect()
    }
}

static MODELS: OnceLock<Result<Vec<LangModel>, ClassifyError>> = OnceLock::new();

fn models() -> Result<&'static [LangModel], &'static ClassifyError> {
    MODELS.get_or_init(lexicon::build_all).as_deref()
}

/// Compiles the embedded rule data and reports the first problem (used by tests and at start-up).
pub fn check_data() -> Result<(), ClassifyError> {
    models().map(|_| ()).map_err(Clone::clone)
}

/// Guesses the language from function words and lexicon hits; English when nothing decides.
fn detect<'m>(models: &'m [LangModel], tokens: &[Token], raw: &str) -> &'m LangModel {
    let mut best = (i64::MIN, 0usize);
    for (i, m) in models.iter().enumerate() {
        let markers = tokens.iter().filter(|t| m.markers.contains(&t.text)).count() as i64;
        let hits = m.concepts.scan(tokens).iter().filter(|h| analyse::is_content(&h.role)).count() as i64;
        let letters = match m.lang {
            Lang::De => raw.chars().filter(|c| matches!(c, 'ä' | 'ö' | 'ü' | 'ß' | 'Ä' | 'Ö' | 'Ü')).count(),
            Lang::Es => raw.chars().filter(|c| matches!(c, 'ñ' | '¿' | '¡' | 'á' | 'í' | 'ó' | 'ú')).count(),
            Lang::En => 0,
        } as i64;
        let score = markers + 2 * hits + 3 * letters;
        if score > best.0 {
            best = (score, i);
        }
    }
    &models[best.1]
}

/// Classifies one message written at `now` (the child's local time). `lang` is a hint; without it
/// the language is detected. Never fails: if the embedded data were broken (a test guards it),
/// every message is a plain `message`.
pub fn classify(text: &str, now: DateTime<FixedOffset>, lang: Option<Lang>) -> Classification {
    let plain = Classification {
        kind: MessageKind::Message,
        intensity: None,
        intensity_source: None,
        category: None,
        strategy: None,
        red_flag: None,
        safety_concern: false,
        event_ts: now,
        time_stated: false,
        also: Vec::new(),
        lang: lang.unwrap_or(Lang::En),
    };
    let models = match models() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "classification rules failed to load; storing messages unclassified");
            return plain;
        }
    };
    let tokens = tokenize(text);
    let model = match lang.and_then(|l| models.iter().find(|m| m.lang == l)) {
        Some(m) => m,
        None => detect(models, &tokens, text),
    };
    let flags = redflag::scan(model, &tokens);
    analyse::classify_tokens(model, &tokens, now, flags)
}
