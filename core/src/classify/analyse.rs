//! From matched phrases to a decision: negation and its scope, the kind by precedence, the
//! strategy and category, secondary mentions, intensity and the event's time.

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, NaiveTime, TimeZone};

use super::lexicon::{Concept, Inten, LangModel, TimeSpec};
use super::pattern::Hit;
use super::redflag::RedFlagReport;
use super::text::{TokKind, Token};
use super::{Classification, DEFAULT_INTENSITY, IntensitySource, MessageKind, RedFlag};
use crate::event::{ActivityCategory, ReliefStrategy};

/// How many tokens before a phrase a negator still reaches ("no real headache", "not a migraine").
pub(crate) const NEGATION_REACH: usize = 3;

/// Clause and sentence numbers for every token.
pub(crate) struct Segments {
    pub clause: Vec<usize>,
    pub sentence: Vec<usize>,
}

pub(crate) fn segments(model: &LangModel, tokens: &[Token]) -> Segments {
    let (mut clause, mut sentence) = (Vec::with_capacity(tokens.len()), Vec::with_capacity(tokens.len()));
    let (mut c, mut s) = (0, 0);
    for t in tokens {
        if t.kind == TokKind::Word && model.clause_words.contains(&t.text) {
            c += 1;
        }
        clause.push(c);
        sentence.push(s);
        if let TokKind::Punct { clause: ends_clause, sentence: ends_sentence, .. } = t.kind {
            c += usize::from(ends_clause);
            s += usize::from(ends_sentence);
        }
    }
    Segments { clause, sentence }
}

/// Whether a negator reaches the hit spanning `start..end` (before it in its clause, or inside a gap).
pub(crate) fn negator_before<R>(
    hits: &[Hit<R>],
    is_negator: impl Fn(&R) -> bool,
    seg: &Segments,
    start: usize,
) -> Option<usize> {
    hits.iter().rposition(|n| {
        is_negator(&n.role)
            && n.end <= start
            && start - n.end <= NEGATION_REACH
            && seg.clause[n.start] == seg.clause[start]
    })
}

pub(crate) fn is_content(role: &Concept) -> bool {
    matches!(role, Concept::Symptom | Concept::Improve | Concept::Strategy { .. } | Concept::Activity(_))
}

/// A concept hit after negation and scope are applied.
struct Reading {
    idx: usize,
    negated: bool,
    /// Negated with "anymore"/"nicht mehr"/"ya no", or easing ("hurts less", "stopped hurting"):
    /// the symptom is ending (a relief signal).
    resolved: bool,
    suppressed: bool,
}

struct Sentences {
    question: Vec<bool>,
    first_person: Vec<bool>,
}

fn sentences(model: &LangModel, tokens: &[Token], seg: &Segments) -> Sentences {
    let n = seg.sentence.last().map_or(0, |s| s + 1);
    let mut question = vec![false; n];
    let mut asks = vec![false; n];
    let mut first_word_seen = vec![false; n];
    let mut first_person = vec![false; n];
    for (i, t) in tokens.iter().enumerate() {
        let s = seg.sentence[i];
        if let TokKind::Punct { question: true, .. } = t.kind {
            question[s] = true;
        }
        if t.kind == TokKind::Word {
            if !first_word_seen[s] {
                first_word_seen[s] = true;
                asks[s] = model.question_words.contains(&t.text);
            }
            first_person[s] |= model.first_person.contains(&t.text);
        }
    }
    let question = question.iter().zip(&asks).map(|(q, a)| *q && *a).collect();
    Sentences { question, first_person }
}

fn read(model: &LangModel, tokens: &[Token], hits: &[Hit<Concept>], seg: &Segments) -> Vec<Reading> {
    let sents = sentences(model, tokens, seg);
    let mut out = Vec::new();
    for (idx, h) in hits.iter().enumerate() {
        if !is_content(&h.role) {
            continue;
        }
        let before = negator_before(hits, |r| matches!(r, Concept::Negator { .. }), seg, h.start);
        let in_gap = h.gaps.iter().any(|g| model.negator_words.contains(&tokens[*g].text));
        let negated = before.is_some() || in_gap;
        let resolution_marker = before.is_some_and(|b| matches!(hits[b].role, Concept::Negator { resolution: true }))
            || h.gaps.iter().any(|g| model.resolution_words.contains(&tokens[*g].text))
            || hits.iter().any(|r| {
                r.role == Concept::Resolution && r.start >= h.end && seg.clause[r.start] == seg.clause[h.start]
            });
        let other_person = hits.iter().any(|o| {
            o.role == Concept::OtherPerson && o.end <= h.start && seg.clause[o.start] == seg.clause[h.start]
        });
        let s = seg.sentence[h.start];
        let in_question = sents.question[s];
        let suppressed = match h.role {
            Concept::Symptom => other_person || (in_question && !sents.first_person[s]),
            Concept::Improve => other_person || in_question,
            _ => in_question,
        };
        let eases = |i: &usize| model.lessening_words.contains(&tokens[*i].text);
        let lessened = h.role == Concept::Symptom && (h.gaps.iter().any(eases) || (h.end < tokens.len() && eases(&h.end)));
        let resolved = (negated && resolution_marker) || (!negated && lessened);
        out.push(Reading { idx, negated, resolved, suppressed });
    }
    out
}

/// Strategies named, most specific first: `rest` and `other` only when nothing else was named.
fn pick_strategy(found: &[ReliefStrategy]) -> Option<ReliefStrategy> {
    found
        .iter()
        .copied()
        .find(|s| !matches!(s, ReliefStrategy::Rest | ReliefStrategy::Other))
        .or_else(|| found.first().copied())
}

struct Decision {
    kind: MessageKind,
    category: Option<ActivityCategory>,
    strategy: Option<ReliefStrategy>,
    activities: Vec<ActivityCategory>,
}

/// Precedence: relief (an improvement) > symptom > a self-care action > activity > message.
fn decide(hits: &[Hit<Concept>], readings: &[Reading]) -> Decision {
    let live = || readings.iter().filter(|r| !r.negated && !r.suppressed).map(|r| &hits[r.idx].role);
    let symptoms = live().filter(|r| **r == Concept::Symptom).count();
    let resolved = readings.iter().any(|r| r.resolved && !r.suppressed && hits[r.idx].role == Concept::Symptom);
    let improves = live().filter(|r| **r == Concept::Improve).count() + usize::from(resolved);
    let blocked = hits.iter().any(|h| h.role == Concept::Blocker) && symptoms > 0;
    let mut strategies = Vec::new();
    let mut standalone = Vec::new();
    let mut activities = Vec::new();
    for role in live() {
        match *role {
            Concept::Strategy { strategy, standalone: s, fallback } => {
                strategies.push(strategy);
                if s {
                    standalone.push(strategy);
                } else if let Some(c) = fallback {
                    activities.push(c);
                }
            }
            Concept::Activity(c) => activities.push(c),
            _ => {}
        }
    }
    let (kind, category, strategy) = if improves > 0 && !blocked {
        (MessageKind::Relief, None, Some(pick_strategy(&strategies).unwrap_or(ReliefStrategy::Other)))
    } else if symptoms > 0 {
        (MessageKind::Symptom, None, None)
    } else if let Some(s) = pick_strategy(&standalone) {
        (MessageKind::Relief, None, Some(s))
    } else if let Some(c) = activities.first() {
        (MessageKind::Activity, Some(*c), None)
    } else {
        (MessageKind::Message, None, None)
    };
    Decision { kind, category, strategy, activities }
}

fn also(d: &Decision) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in &d.activities {
        let tag = format!("activity:{}", c.as_str());
        if Some(*c) != d.category && !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

/// Places the event: "N hours ago" wins; else a day offset and an hour of day combine
/// ("yesterday" + "after school" → yesterday 15:00). Never later than `now`.
fn event_time(now: DateTime<FixedOffset>, hits: &[Hit<Concept>]) -> (DateTime<FixedOffset>, bool) {
    let specs: Vec<(TimeSpec, Option<u32>)> = hits
        .iter()
        .filter_map(|h| match h.role {
            Concept::Time(t) => Some((t, h.number)),
            _ => None,
        })
        .collect();
    let ago = specs.iter().find_map(|(t, n)| t.ago_minutes.or_else(|| Some(t.ago_per_number_min? * (*n)?)));
    if let Some(minutes) = ago {
        return (now - Duration::minutes(i64::from(minutes.min(7 * 24 * 60))), true);
    }
    let days = specs.iter().find_map(|(t, _)| t.days);
    let hour = specs.iter().find_map(|(t, _)| t.hour);
    if days.is_none() && hour.is_none() {
        return (now, false);
    }
    let date = now.date_naive() + Duration::days(days.unwrap_or(0));
    let time = hour.and_then(|h| NaiveTime::from_hms_opt(h, 0, 0)).unwrap_or_else(|| now.time());
    let local = NaiveDateTime::new(date, time);
    let at = now.offset().from_local_datetime(&local).single().unwrap_or(now);
    (at.min(now), true)
}

/// Intensity of a symptom message; see `docs/classification.md` for the scale.
fn intensity(model: &LangModel, tokens: &[Token], thunderclap: bool) -> (u8, IntensitySource) {
    let hits = model.intensity.scan(tokens);
    for h in hits.iter().filter(|h| h.role == Inten::Numeric) {
        let unit_follows = tokens.get(h.end).is_some_and(|t| model.time_units.contains(&t.text));
        if let Some(n) = h.number.filter(|n| *n <= 10)
            && !unit_follows
        {
            return (n as u8, IntensitySource::Number);
        }
    }
    let (mut words, mut emoji, mut chained) = (None::<u8>, None::<u8>, vec![false; hits.len()]);
    for (k, h) in hits.iter().enumerate() {
        let Inten::Value { value, emoji: is_emoji } = h.role else { continue };
        let mut first = k;
        while first > 0 && hits[first - 1].role == Inten::Intensifier && hits[first - 1].end == hits[first].start {
            first -= 1;
            chained[first] = true;
        }
        let stretched = tokens[hits[first].start..h.end].iter().any(|t| t.elongated);
        let v = value + (k - first) as u8 + u8::from(stretched);
        let slot = if is_emoji { &mut emoji } else { &mut words };
        *slot = Some(slot.map_or(v, |old| old.max(v)));
    }
    let free: Vec<&Hit<Inten>> =
        hits.iter().enumerate().filter(|(k, h)| h.role == Inten::Intensifier && !chained[*k]).map(|(_, h)| h).collect();
    let (mut value, source) = match (words, emoji) {
        (Some(w), Some(e)) if e > w => (e, IntensitySource::Emoji),
        (Some(w), _) => (w, IntensitySource::Words),
        (None, Some(e)) => (e, IntensitySource::Emoji),
        (None, None) if !free.is_empty() => {
            let stretched = free.iter().any(|h| tokens[h.start].elongated);
            (DEFAULT_INTENSITY + free.len().min(2) as u8 + u8::from(stretched), IntensitySource::Words)
        }
        (None, None) => (DEFAULT_INTENSITY, IntensitySource::Default),
    };
    let bangs = tokens.iter().filter(|t| t.text == "!").count();
    if bangs >= 2 || tokens.iter().any(|t| t.shouted) {
        value += 1;
    }
    if thunderclap {
        value = value.max(9);
    }
    (value.min(10), source)
}

pub(crate) fn classify_tokens(
    model: &LangModel,
    tokens: &[Token],
    now: DateTime<FixedOffset>,
    flags: RedFlagReport,
) -> Classification {
    let hits = model.concepts.scan(tokens);
    let seg = segments(model, tokens);
    let readings = read(model, tokens, &hits, &seg);
    let mut d = decide(&hits, &readings);
    let thunderclap = flags.families.contains(&RedFlag::Thunderclap);
    let implies_symptom = thunderclap || flags.families.contains(&RedFlag::FeverStiffNeck);
    if implies_symptom && d.kind == MessageKind::Message {
        d.kind = MessageKind::Symptom;
    }
    let (event_ts, time_stated) = event_time(now, &hits);
    let (intensity, intensity_source) = if d.kind == MessageKind::Symptom {
        let (v, s) = intensity(model, tokens, thunderclap);
        (Some(v), Some(s))
    } else {
        (None, None)
    };
    Classification {
        kind: d.kind,
        intensity,
        intensity_source,
        category: d.category,
        strategy: d.strategy,
        red_flag: flags.primary(),
        safety_concern: flags.safety_concern,
        event_ts,
        time_stated,
        also: also(&d),
        lang: model.lang,
    }
}
