//! Localised message templates (`core/data/insights/<lang>.json`), embedded at build time.
//!
//! The child's voice never carries numbers or clinical words; the parent's always carries the
//! counts, the interval and the method.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::InsightsError;
use crate::patterns::{Candidate, FDR_Q, PatternKind};

const SOURCES: &[(&str, &str)] =
    &[("en", include_str!("../../data/insights/en.json")), ("de", include_str!("../../data/insights/de.json"))];

/// One language's templates.
#[derive(Debug, Clone, Deserialize)]
pub struct Templates {
    pub lang: String,
    child: HashMap<String, String>,
    child_subjects: HashMap<String, String>,
    parent: HashMap<String, String>,
    parent_subjects: HashMap<String, String>,
    unbounded: String,
    red_flags: HashMap<String, Pair>,
}

/// A message in both voices.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Pair {
    pub child: String,
    pub parent: String,
}

static LOADED: OnceLock<Result<Vec<Templates>, InsightsError>> = OnceLock::new();

fn parse_all() -> Result<Vec<Templates>, InsightsError> {
    SOURCES
        .iter()
        .map(|(lang, text)| {
            serde_json::from_str::<Templates>(text).map_err(|e| InsightsError::Templates { lang, reason: e.to_string() })
        })
        .collect()
}

/// The templates for `lang` (a BCP 47 prefix such as `en` or `de-AT`), English when unknown.
pub fn for_lang(lang: &str) -> Result<&'static Templates, InsightsError> {
    let all = LOADED.get_or_init(parse_all).as_ref().map_err(Clone::clone)?;
    let prefix = lang.split(['-', '_']).next().unwrap_or("en");
    all.iter()
        .find(|t| t.lang == prefix)
        .or_else(|| all.iter().find(|t| t.lang == "en"))
        .ok_or(InsightsError::Templates { lang: "en", reason: "missing".into() })
}

/// Every language available.
pub fn languages() -> Vec<&'static str> {
    SOURCES.iter().map(|(lang, _)| *lang).collect()
}

/// Fills `{name}` placeholders.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

fn number(x: f64) -> String {
    if x >= 10.0 { format!("{x:.0}") } else { format!("{x:.1}") }
}

impl Templates {
    /// The child's message for a candidate: warm, short, no numbers.
    pub fn child_message(&self, c: &Candidate) -> String {
        let template = self.child.get(c.kind.as_str()).map_or("", String::as_str);
        let subject = self.child_subjects.get(&c.subject).cloned().unwrap_or_else(|| c.subject.replace('_', " "));
        fill(template, &[("subject", subject)])
    }

    /// The parent's message: the effect, its interval, the counts and the method.
    pub fn parent_message(&self, c: &Candidate) -> String {
        let subject = self.parent_subject(&c.subject);
        let ci_high = c.ci_high.map_or_else(|| self.unbounded.clone(), number);
        let mut values = vec![
            ("subject", subject),
            ("effect", number(c.effect)),
            ("ci_low", number(c.ci_low)),
            ("ci_high", ci_high),
            ("exposed_events", c.counts.exposed_events.to_string()),
            ("unexposed_events", c.counts.unexposed_events.to_string()),
            ("fdr_pct", format!("{:.0}", FDR_Q * 100.0)),
            ("confidence_pct", format!("{:.0}", c.confidence * 100.0)),
        ];
        let key = if c.kind == PatternKind::Relief {
            let (n1, n2) = (c.counts.exposed_episodes.unwrap_or(0), c.counts.unexposed_episodes.unwrap_or(0));
            let pct = |k: u32, n: u32| if n == 0 { "0".to_owned() } else { format!("{:.0}", 100.0 * f64::from(k) / f64::from(n)) };
            values.push(("exposed_episodes", n1.to_string()));
            values.push(("unexposed_episodes", n2.to_string()));
            values.push(("quick_pct", pct(c.counts.exposed_events, n1)));
            values.push(("other_pct", pct(c.counts.unexposed_events, n2)));
            values.push(("median_minutes", c.median_minutes_to_relief.map_or_else(|| "–".into(), |m| format!("{m:.0}"))));
            "relief"
        } else {
            values.push(("exposed_hours", format!("{:.0}", c.counts.exposed_hours.unwrap_or(0.0))));
            values.push(("unexposed_hours", format!("{:.0}", c.counts.unexposed_hours.unwrap_or(0.0))));
            "rate"
        };
        fill(self.parent.get(key).map_or("", String::as_str), &values)
    }

    fn parent_subject(&self, subject: &str) -> String {
        if let Some(text) = self.parent_subjects.get(subject) {
            return text.clone();
        }
        let (family, name) = subject.split_once(':').unwrap_or(("", subject));
        let pattern = self.parent_subjects.get(&format!("{family}:*")).map_or("{category}", String::as_str);
        fill(pattern, &[("category", name.replace('_', " ")), ("strategy", name.replace('_', " "))])
    }

    /// The red-flag (or safety) message in both voices; `None` for an unknown family.
    pub fn red_flag(&self, family: &str) -> Option<&Pair> {
        self.red_flags.get(family)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_parses_and_covers_every_key_english_has() {
        let en = for_lang("en").expect("english");
        for lang in languages() {
            let t = for_lang(lang).expect("parses");
            assert_eq!(t.lang, lang);
            for key in en.child.keys() {
                assert!(t.child.contains_key(key), "{lang} child {key}");
            }
            for key in en.child_subjects.keys() {
                assert!(t.child_subjects.contains_key(key), "{lang} subject {key}");
            }
            for key in en.red_flags.keys() {
                assert!(t.red_flags.contains_key(key), "{lang} red flag {key}");
            }
            for key in en.parent.keys().chain(en.parent_subjects.keys()) {
                assert!(t.parent.contains_key(key) || t.parent_subjects.contains_key(key), "{lang} parent {key}");
            }
        }
        assert_eq!(for_lang("de-AT").expect("de").lang, "de");
        assert_eq!(for_lang("xx").expect("fallback").lang, "en");
    }

    #[test]
    fn child_subjects_cover_every_candidate() {
        let en = for_lang("en").expect("english");
        for c in crate::event::ActivityCategory::ALL {
            assert!(en.child_subjects.contains_key(&format!("activity:{c}")));
        }
        for s in crate::event::ReliefStrategy::ALL {
            assert!(en.child_subjects.contains_key(&format!("strategy:{s}")));
        }
    }
}
