//! The rule data (`core/data/classify/*.json`), embedded at compile time and compiled once into
//! matchers. Every category, strategy and red-flag name is checked against the fixed vocabularies.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;

use super::pattern::{Matcher, PTok, parse_phrase};
use super::text::tokenize;
use super::{ClassifyError, Lang, RedFlag};
use crate::event::{ActivityCategory, ReliefStrategy};

pub(crate) const COMMON_JSON: &str = include_str!("../../data/classify/common.json");
pub(crate) const LANG_JSON: [(Lang, &str); 3] = [
    (Lang::En, include_str!("../../data/classify/en.json")),
    (Lang::De, include_str!("../../data/classify/de.json")),
    (Lang::Es, include_str!("../../data/classify/es.json")),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NegatorDef {
    phrase: String,
    #[serde(default)]
    resolution: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeDef {
    phrase: String,
    days: Option<i64>,
    hour: Option<u32>,
    ago_per_number_min: Option<u32>,
    ago_minutes: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrategyDef {
    standalone: bool,
    phrases: Vec<String>,
    #[serde(default)]
    weak: Vec<String>,
    fallback_activity: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    all: Vec<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LangDef {
    lang: String,
    markers: Vec<String>,
    negators: Vec<NegatorDef>,
    resolution: Vec<String>,
    lessening: Vec<String>,
    clause_breaks: Vec<String>,
    first_person: Vec<String>,
    question_words: Vec<String>,
    other_person: Vec<String>,
    numbers: BTreeMap<String, u32>,
    symptom: Vec<String>,
    improve: Vec<String>,
    blockers: Vec<String>,
    intensity: BTreeMap<String, u8>,
    intensifiers: Vec<String>,
    numeric: Vec<String>,
    time_units: Vec<String>,
    time: Vec<TimeDef>,
    strategy: BTreeMap<String, StrategyDef>,
    activity: BTreeMap<String, Vec<String>>,
    neutral: Vec<String>,
    red_flags: BTreeMap<String, Vec<RuleDef>>,
    red_flag_exclude: BTreeMap<String, Vec<String>>,
    safety: Vec<String>,
    safety_exclude: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonDef {
    emoji_symptom: Vec<String>,
    emoji_intensity: BTreeMap<String, u8>,
    emoji_activity: BTreeMap<String, Vec<String>>,
    emoji_strategy: BTreeMap<String, Vec<String>>,
}

/// When a time phrase places the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeSpec {
    pub days: Option<i64>,
    pub hour: Option<u32>,
    pub ago_per_number_min: Option<u32>,
    pub ago_minutes: Option<u32>,
}

/// Roles in the main pass (what the message is about).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Concept {
    Symptom,
    Improve,
    Blocker,
    Negator { resolution: bool },
    Resolution,
    OtherPerson,
    Strategy { strategy: ReliefStrategy, standalone: bool, fallback: Option<ActivityCategory> },
    Activity(ActivityCategory),
    Time(TimeSpec),
    /// Consumes a phrase that would otherwise mislead ("my foot fell asleep").
    Neutral,
}

/// Roles in the intensity pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inten {
    Value { value: u8, emoji: bool },
    Intensifier,
    Numeric,
    /// Time phrases with numbers ("2 hours ago") are consumed so they are not read as a score.
    Time,
}

/// Roles in the red-flag pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    Term { rule: usize, group: usize },
    Exclude,
    Safety,
    SafetyExclude,
    Symptom,
    Negator,
}

/// A red-flag rule: every group needs one unnegated hit.
#[derive(Debug, Clone)]
pub(crate) struct FlagRule {
    pub family: RedFlag,
    pub groups: usize,
    /// The group satisfied by any unnegated symptom phrase (`@symptom`).
    pub symptom_group: Option<usize>,
}

/// One language's compiled rules.
pub(crate) struct LangModel {
    pub lang: Lang,
    pub markers: HashSet<String>,
    pub first_person: HashSet<String>,
    pub question_words: HashSet<String>,
    pub clause_words: HashSet<String>,
    pub negator_words: HashSet<String>,
    pub resolution_words: HashSet<String>,
    /// Words that, inside or right after a symptom phrase, say it is easing ("hurts less").
    pub lessening_words: HashSet<String>,
    pub time_units: HashSet<String>,
    pub concepts: Matcher<Concept>,
    pub intensity: Matcher<Inten>,
    pub flags: Matcher<Flag>,
    pub rules: Vec<FlagRule>,
}

fn phrase(lang: Lang, text: &str) -> Result<Vec<PTok>, ClassifyError> {
    parse_phrase(text).ok_or_else(|| ClassifyError::BadPhrase { lang: lang.as_str(), phrase: text.to_string() })
}

fn category(lang: Lang, name: &str) -> Result<ActivityCategory, ClassifyError> {
    ActivityCategory::parse(name)
        .ok_or_else(|| ClassifyError::UnknownCategory { lang: lang.as_str(), name: name.to_string() })
}

fn strategy(lang: Lang, name: &str) -> Result<ReliefStrategy, ClassifyError> {
    ReliefStrategy::parse(name)
        .ok_or_else(|| ClassifyError::UnknownStrategy { lang: lang.as_str(), name: name.to_string() })
}

fn family(lang: Lang, name: &str) -> Result<RedFlag, ClassifyError> {
    RedFlag::parse(name).ok_or_else(|| ClassifyError::UnknownRedFlag { lang: lang.as_str(), name: name.to_string() })
}

fn word_set(words: &[String]) -> HashSet<String> {
    words.iter().flat_map(|w| tokenize(w)).map(|t| t.text).collect()
}

fn folded_numbers(def: &LangDef) -> HashMap<String, u32> {
    def.numbers
        .iter()
        .filter_map(|(w, n)| tokenize(w).into_iter().next().map(|t| (t.text, *n)))
        .collect()
}

fn add_all<R: Clone>(m: &mut Matcher<R>, lang: Lang, phrases: &[String], role: R, fuzzy: bool) -> Result<(), ClassifyError> {
    for p in phrases {
        m.add(phrase(lang, p)?, role.clone(), fuzzy);
    }
    Ok(())
}

fn time_spec(t: &TimeDef) -> TimeSpec {
    TimeSpec { days: t.days, hour: t.hour.map(|h| h.min(23)), ago_per_number_min: t.ago_per_number_min, ago_minutes: t.ago_minutes }
}

fn build_concepts(lang: Lang, def: &LangDef, common: &CommonDef) -> Result<Matcher<Concept>, ClassifyError> {
    let mut m = Matcher::new(folded_numbers(def));
    add_all(&mut m, lang, &def.symptom, Concept::Symptom, true)?;
    add_all(&mut m, lang, &common.emoji_symptom, Concept::Symptom, false)?;
    add_all(&mut m, lang, &def.improve, Concept::Improve, false)?;
    add_all(&mut m, lang, &def.blockers, Concept::Blocker, false)?;
    for n in &def.negators {
        m.add(phrase(lang, &n.phrase)?, Concept::Negator { resolution: n.resolution }, false);
    }
    add_all(&mut m, lang, &def.resolution, Concept::Resolution, false)?;
    add_all(&mut m, lang, &def.other_person, Concept::OtherPerson, false)?;
    add_all(&mut m, lang, &def.neutral, Concept::Neutral, false)?;
    for t in &def.time {
        m.add(phrase(lang, &t.phrase)?, Concept::Time(time_spec(t)), false);
    }
    for (name, s) in &def.strategy {
        let strat = strategy(lang, name)?;
        let fallback = s.fallback_activity.as_deref().map(|c| category(lang, c)).transpose()?;
        let strong = Concept::Strategy { strategy: strat, standalone: s.standalone, fallback };
        add_all(&mut m, lang, &s.phrases, strong, false)?;
        let weak = Concept::Strategy { strategy: strat, standalone: false, fallback };
        add_all(&mut m, lang, &s.weak, weak, false)?;
    }
    for (name, phrases) in &def.activity {
        add_all(&mut m, lang, phrases, Concept::Activity(category(lang, name)?), false)?;
    }
    for (name, emoji) in &common.emoji_activity {
        add_all(&mut m, lang, emoji, Concept::Activity(category(lang, name)?), false)?;
    }
    for (name, emoji) in &common.emoji_strategy {
        let role = Concept::Strategy { strategy: strategy(lang, name)?, standalone: true, fallback: None };
        add_all(&mut m, lang, emoji, role, false)?;
    }
    Ok(m)
}

fn build_intensity(lang: Lang, def: &LangDef, common: &CommonDef) -> Result<Matcher<Inten>, ClassifyError> {
    let mut m = Matcher::new(folded_numbers(def));
    for (p, v) in &def.intensity {
        m.add(phrase(lang, p)?, Inten::Value { value: (*v).min(10), emoji: false }, false);
    }
    for (p, v) in &common.emoji_intensity {
        m.add(phrase(lang, p)?, Inten::Value { value: (*v).min(10), emoji: true }, false);
    }
    add_all(&mut m, lang, &def.intensifiers, Inten::Intensifier, false)?;
    add_all(&mut m, lang, &def.numeric, Inten::Numeric, false)?;
    for t in def.time.iter().filter(|t| t.ago_per_number_min.is_some()) {
        m.add(phrase(lang, &t.phrase)?, Inten::Time, false);
    }
    Ok(m)
}

fn build_flags(lang: Lang, def: &LangDef) -> Result<(Matcher<Flag>, Vec<FlagRule>), ClassifyError> {
    let mut m = Matcher::new(folded_numbers(def));
    let mut rules = Vec::new();
    for (name, defs) in &def.red_flags {
        let fam = family(lang, name)?;
        for rule in defs {
            let idx = rules.len();
            let mut symptom_group = None;
            for (g, group) in rule.all.iter().enumerate() {
                for p in group {
                    if p == "@symptom" {
                        symptom_group = Some(g);
                    } else {
                        m.add(phrase(lang, p)?, Flag::Term { rule: idx, group: g }, false);
                    }
                }
            }
            if rule.all.is_empty() {
                return Err(ClassifyError::BadPhrase { lang: lang.as_str(), phrase: format!("empty rule in {name}") });
            }
            rules.push(FlagRule { family: fam, groups: rule.all.len(), symptom_group });
        }
    }
    for (name, phrases) in &def.red_flag_exclude {
        family(lang, name)?;
        add_all(&mut m, lang, phrases, Flag::Exclude, false)?;
    }
    add_all(&mut m, lang, &def.safety, Flag::Safety, false)?;
    add_all(&mut m, lang, &def.safety_exclude, Flag::SafetyExclude, false)?;
    add_all(&mut m, lang, &def.symptom, Flag::Symptom, true)?;
    for n in &def.negators {
        m.add(phrase(lang, &n.phrase)?, Flag::Negator, false);
    }
    Ok((m, rules))
}

fn build_lang(lang: Lang, json: &str, common: &CommonDef) -> Result<LangModel, ClassifyError> {
    let def: LangDef = serde_json::from_str(json).map_err(|e| ClassifyError::Data { file: lang.as_str(), reason: e.to_string() })?;
    if def.lang != lang.as_str() {
        return Err(ClassifyError::Data { file: lang.as_str(), reason: format!("declares language {:?}", def.lang) });
    }
    let (flags, rules) = build_flags(lang, &def)?;
    let negator_words = def.negators.iter().filter(|n| !n.phrase.contains(' ')).map(|n| n.phrase.clone()).collect::<Vec<_>>();
    Ok(LangModel {
        lang,
        markers: word_set(&def.markers),
        first_person: word_set(&def.first_person),
        question_words: word_set(&def.question_words),
        clause_words: word_set(&def.clause_breaks),
        negator_words: word_set(&negator_words),
        resolution_words: word_set(&def.resolution),
        lessening_words: word_set(&def.lessening),
        time_units: word_set(&def.time_units),
        concepts: build_concepts(lang, &def, common)?,
        intensity: build_intensity(lang, &def, common)?,
        flags,
        rules,
    })
}

/// Compiles every embedded language; any unknown name or malformed phrase is an error.
pub(crate) fn build_all() -> Result<Vec<LangModel>, ClassifyError> {
    let common: CommonDef =
        serde_json::from_str(COMMON_JSON).map_err(|e| ClassifyError::Data { file: "common", reason: e.to_string() })?;
    LANG_JSON.iter().map(|(lang, json)| build_lang(*lang, json, &common)).collect()
}
