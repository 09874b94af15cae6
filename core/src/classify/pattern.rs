//! Lexicon phrases compiled to token patterns, and a leftmost-longest matcher over a token list.
//!
//! Phrase syntax (data files): words separated by spaces; `word*` matches any word starting with
//! `word`; `~` skips 0–3 tokens inside one clause; `#` matches a number written in digits; `#n`
//! also matches a number word from the language's `numbers` table ("an hour ago").

use std::collections::HashMap;

use super::text::{TokKind, Token, edit_distance, tokenize};

/// How far a `~` gap may reach.
const MAX_GAP: usize = 3;
/// Typos are forgiven only in long words: short ones have too many real neighbours ("morgen"/"sorgen").
const FUZZY_MIN_CHARS: usize = 7;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PTok {
    Exact(String),
    Prefix(String),
    Gap,
    Digits,
    NumberWord,
}

/// Parses one phrase; `None` when nothing matchable is left (an empty or gap-only phrase).
pub(crate) fn parse_phrase(phrase: &str) -> Option<Vec<PTok>> {
    let mut out = Vec::new();
    for piece in phrase.split_whitespace() {
        match piece {
            "~" => out.push(PTok::Gap),
            "#" => out.push(PTok::Digits),
            "#n" => out.push(PTok::NumberWord),
            p if p.len() > 1 && p.ends_with('*') => {
                let toks = tokenize(&p[..p.len() - 1]);
                let (last, rest) = toks.split_last()?;
                out.extend(rest.iter().map(|t| PTok::Exact(t.text.clone())));
                out.push(PTok::Prefix(last.text.clone()));
            }
            p => out.extend(tokenize(p).into_iter().map(|t| PTok::Exact(t.text))),
        }
    }
    let matchable = out.iter().any(|t| !matches!(t, PTok::Gap));
    let well_formed = !matches!(out.first(), Some(PTok::Gap)) && !matches!(out.last(), Some(PTok::Gap));
    (matchable && well_formed).then_some(out)
}

/// One match of a lexicon entry in a message.
#[derive(Debug, Clone)]
pub(crate) struct Hit<R> {
    pub role: R,
    pub start: usize,
    /// One past the last token.
    pub end: usize,
    /// Token positions skipped by `~` gaps (a negation may hide there: "head doesn't hurt").
    pub gaps: Vec<usize>,
    /// The value of a `#`/`#n` token, when the phrase has one.
    pub number: Option<u32>,
}

struct Entry<R> {
    pattern: Vec<PTok>,
    role: R,
    /// Literal characters: breaks ties between equally long matches toward the more specific.
    specificity: usize,
}

struct Attempt {
    end: usize,
    gaps: Vec<usize>,
    number: Option<u32>,
}

/// A set of phrases with roles, matched leftmost-longest; matched tokens are consumed.
pub(crate) struct Matcher<R> {
    entries: Vec<Entry<R>>,
    by_first: HashMap<String, Vec<usize>>,
    wild_first: Vec<usize>,
    /// Single-word entries (word or prefix) tried with one edit when nothing matches exactly.
    fuzzy: Vec<(Vec<char>, bool, usize)>,
    numbers: HashMap<String, u32>,
}

impl<R: Clone> Matcher<R> {
    pub fn new(numbers: HashMap<String, u32>) -> Self {
        Matcher { entries: Vec::new(), by_first: HashMap::new(), wild_first: Vec::new(), fuzzy: Vec::new(), numbers }
    }

    /// Adds a parsed pattern; `fuzzy` allows one typo for long single words ("hedacke").
    pub fn add(&mut self, pattern: Vec<PTok>, role: R, fuzzy: bool) {
        let idx = self.entries.len();
        let specificity = pattern
            .iter()
            .map(|t| match t {
                PTok::Exact(s) | PTok::Prefix(s) => s.chars().count(),
                _ => 0,
            })
            .sum();
        match &pattern[0] {
            PTok::Exact(s) => self.by_first.entry(s.clone()).or_default().push(idx),
            _ => self.wild_first.push(idx),
        }
        if fuzzy
            && pattern.len() == 1
            && let PTok::Exact(s) | PTok::Prefix(s) = &pattern[0]
        {
            let chars: Vec<char> = s.chars().collect();
            if chars.len() >= FUZZY_MIN_CHARS {
                self.fuzzy.push((chars, matches!(pattern[0], PTok::Prefix(_)), idx));
            }
        }
        self.entries.push(Entry { pattern, role, specificity });
    }

    fn number_value(&self, tok: &Token, words: bool) -> Option<u32> {
        match tok.kind {
            TokKind::Number => tok.text.parse().ok(),
            TokKind::Word if words => self.numbers.get(&tok.text).copied(),
            _ => None,
        }
    }

    fn try_at(&self, pat: &[PTok], toks: &[Token], pos: usize, acc: &mut Attempt) -> bool {
        let Some((first, rest)) = pat.split_first() else {
            acc.end = pos;
            return true;
        };
        if let PTok::Gap = first {
            for skip in 0..=MAX_GAP {
                if skip > 0 && (pos + skip > toks.len() || toks[pos + skip - 1].is_clause_end()) {
                    break;
                }
                let mark = acc.gaps.len();
                acc.gaps.extend(pos..pos + skip);
                if self.try_at(rest, toks, pos + skip, acc) {
                    return true;
                }
                acc.gaps.truncate(mark);
            }
            return false;
        }
        let Some(tok) = toks.get(pos) else { return false };
        let ok = match first {
            PTok::Exact(s) => tok.text == *s,
            PTok::Prefix(p) => tok.kind == TokKind::Word && tok.text.starts_with(p.as_str()),
            PTok::Digits | PTok::NumberWord => {
                let value = self.number_value(tok, matches!(first, PTok::NumberWord));
                if value.is_some() {
                    acc.number = value;
                }
                value.is_some()
            }
            PTok::Gap => false,
        };
        ok && self.try_at(rest, toks, pos + 1, acc)
    }

    /// The best entry matching at `pos`: longest, then most specific, then first defined.
    fn best_at(&self, toks: &[Token], pos: usize) -> Option<(usize, Attempt)> {
        let exact = self.by_first.get(&toks[pos].text).map(Vec::as_slice).unwrap_or(&[]);
        let mut best: Option<(usize, Attempt)> = None;
        for &idx in exact.iter().chain(self.wild_first.iter()) {
            let mut acc = Attempt { end: pos, gaps: Vec::new(), number: None };
            if !self.try_at(&self.entries[idx].pattern, toks, pos, &mut acc) {
                continue;
            }
            let better = match &best {
                None => true,
                Some((b, a)) => {
                    (acc.end, self.entries[idx].specificity, std::cmp::Reverse(idx))
                        > (a.end, self.entries[*b].specificity, std::cmp::Reverse(*b))
                }
            };
            if better {
                best = Some((idx, acc));
            }
        }
        best
    }

    fn fuzzy_at(&self, tok: &Token) -> Option<usize> {
        if tok.kind != TokKind::Word || tok.text.chars().count() < FUZZY_MIN_CHARS {
            return None;
        }
        let word: Vec<char> = tok.text.chars().collect();
        self.fuzzy.iter().find_map(|(target, prefix, idx)| {
            let close = if *prefix {
                let p = target.len();
                (p.saturating_sub(1)..=p + 1)
                    .filter(|k| *k <= word.len())
                    .any(|k| edit_distance(&word[..k], target, 1) <= 1)
            } else {
                edit_distance(&word, target, 1) <= 1
            };
            close.then_some(*idx)
        })
    }

    /// All non-overlapping matches, scanning left to right.
    pub fn scan(&self, toks: &[Token]) -> Vec<Hit<R>> {
        let mut hits = Vec::new();
        let mut pos = 0;
        while pos < toks.len() {
            if let Some((idx, a)) = self.best_at(toks, pos) {
                hits.push(Hit { role: self.entries[idx].role.clone(), start: pos, end: a.end, gaps: a.gaps, number: a.number });
                pos = a.end.max(pos + 1);
            } else if let Some(idx) = self.fuzzy_at(&toks[pos]) {
                hits.push(Hit { role: self.entries[idx].role.clone(), start: pos, end: pos + 1, gaps: Vec::new(), number: None });
                pos += 1;
            } else {
                pos += 1;
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(phrases: &[(&str, u8)]) -> Matcher<u8> {
        let mut m = Matcher::new(HashMap::from([("an".to_string(), 1)]));
        for (p, r) in phrases {
            m.add(parse_phrase(p).expect("phrase"), *r, true);
        }
        m
    }

    fn roles(m: &Matcher<u8>, text: &str) -> Vec<(u8, usize, usize)> {
        m.scan(&tokenize(text)).into_iter().map(|h| (h.role, h.start, h.end)).collect()
    }

    #[test]
    fn longest_match_wins_and_consumes() {
        let m = matcher(&[("exercise", 1), ("mindfulness exercise", 2)]);
        assert_eq!(roles(&m, "a mindfulness exercise"), [(2, 1, 3)]);
    }

    #[test]
    fn gaps_stay_inside_a_clause_and_are_reported() {
        let m = matcher(&[("head ~ hurt*", 1)]);
        let hits = m.scan(&tokenize("my head doesn't hurt"));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].gaps, [2]);
        assert!(roles(&m, "head, and then it hurts").is_empty());
    }

    #[test]
    fn numbers_and_number_words_are_captured() {
        let m = matcher(&[("# / 10", 1), ("#n hours ago", 2)]);
        let hits = m.scan(&tokenize("7/10 since an hours ago"));
        assert_eq!(hits[0].number, Some(7));
        assert_eq!(hits[1].number, Some(1));
    }

    #[test]
    fn one_typo_is_forgiven_for_long_words() {
        let m = matcher(&[("headache*", 1), ("migraine", 2)]);
        assert_eq!(roles(&m, "headahce"), [(1, 0, 1)]);
        assert_eq!(roles(&m, "migrain"), [(2, 0, 1)]);
        assert!(roles(&m, "heated").is_empty());
    }

    #[test]
    fn bad_phrases_are_refused() {
        assert!(parse_phrase("~").is_none());
        assert!(parse_phrase("~ head").is_none());
        assert!(parse_phrase("").is_none());
    }
}
