//! Red flags (PRODUCT.md item 8) and self-harm statements. A family fires when every phrase group
//! of one of its rules has an unnegated hit anywhere in the message. Self-harm statements are
//! never treated as negated: a false alarm costs a kind check-in, a miss costs far more.

use serde::Serialize;

use super::analyse::{negator_before, segments};
use super::lexicon::{Flag, LangModel};
use super::text::{Token, tokenize};
use super::{Lang, RedFlag, models};

/// Which red-flag families fired, most urgent first, and whether self-harm was mentioned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedFlagReport {
    pub families: Vec<RedFlag>,
    pub safety_concern: bool,
}

impl RedFlagReport {
    /// The most urgent family, the one a `Classification` reports.
    pub fn primary(&self) -> Option<RedFlag> {
        self.families.first().copied()
    }

    /// Whether anything here must bypass the insight policy.
    pub fn any(&self) -> bool {
        !self.families.is_empty() || self.safety_concern
    }
}

pub(crate) fn scan(model: &LangModel, tokens: &[Token]) -> RedFlagReport {
    let hits = model.flags.scan(tokens);
    let seg = segments(model, tokens);
    let live = |k: usize| {
        let h = &hits[k];
        negator_before(&hits, |r| *r == Flag::Negator, &seg, h.start).is_none()
            && !h.gaps.iter().any(|g| model.negator_words.contains(&tokens[*g].text))
    };
    let mut satisfied: Vec<Vec<bool>> = model.rules.iter().map(|r| vec![false; r.groups]).collect();
    let symptom = (0..hits.len()).any(|k| hits[k].role == Flag::Symptom && live(k));
    for (k, h) in hits.iter().enumerate() {
        if let Flag::Term { rule, group } = h.role
            && live(k)
        {
            satisfied[rule][group] = true;
        }
    }
    let mut families: Vec<RedFlag> = model
        .rules
        .iter()
        .zip(&satisfied)
        .filter(|(rule, groups)| {
            groups.iter().enumerate().all(|(g, ok)| *ok || (rule.symptom_group == Some(g) && symptom))
        })
        .map(|(rule, _)| rule.family)
        .collect();
    families.sort();
    families.dedup();
    let safety_concern = hits.iter().any(|h| h.role == Flag::Safety);
    RedFlagReport { families, safety_concern }
}

/// Red flags in one message on their own (the `classify` result carries the same report).
/// `lang` is a hint; without it the language is detected as `classify` does.
pub fn red_flag(text: &str, lang: Option<Lang>) -> RedFlagReport {
    let Ok(models) = models() else {
        tracing::error!("classification rules failed to load; red flags cannot be checked");
        return RedFlagReport::default();
    };
    let tokens = tokenize(text);
    let model = match lang.and_then(|l| models.iter().find(|m| m.lang == l)) {
        Some(m) => m,
        None => super::detect(models, &tokens, text),
    };
    scan(model, &tokens)
}
