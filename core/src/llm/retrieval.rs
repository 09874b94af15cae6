//! Similar past episodes for the prompt: Okapi BM25 over candidate messages.
//!
//! On the phone, [`recall`] asks the store's FTS5 index (`message_fts`, schema v3, through
//! `Store::search_text` with a query from [`fts5_query`]) for up to [`FTS_CANDIDATES`] of the
//! child's own texts sharing a word with the query, then ranks those here. The re-ranking matters:
//! FTS5's `bm25()` weighs words by the whole table (every child on the device), while the ranking
//! here uses this child's candidates only, drops repeats of the same words and the episodes the
//! caller excludes (the message being answered). Without a store (the terminal chat) the same
//! BM25 (k1 = 1.2, b = 0.75) runs over recent messages directly, so results do not depend on which
//! path ran.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset};

use crate::store::{Store, StoreError, TextHit};

/// One past message that may be worth recalling.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub id: i64,
    pub text: String,
}

/// A ranked result.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub id: i64,
    pub score: f64,
}

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Words too common to tell episodes apart.
const STOP: &[&str] = &[
    "the", "a", "an", "and", "or", "i", "my", "me", "it", "is", "was", "to", "of", "in", "on", "at", "and", "so",
    "but", "today", "now", "really", "very", "just", "im", "i'm", "am", "be", "have", "had", "has", "with", "for",
];

/// Lower-cased word tokens without stop words (the same split FTS5's unicode61 makes, roughly).
pub fn tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| t.len() > 1 && !STOP.contains(t))
        .map(str::to_owned)
        .collect()
}

/// The `k` episodes most similar to `query`, best first; ties keep the newer (higher id) first.
/// Episodes sharing no word with the query are left out.
pub fn most_similar(query: &str, episodes: &[Episode], k: usize) -> Vec<Scored> {
    let query_terms: Vec<String> = {
        let mut t = tokens(query);
        t.sort();
        t.dedup();
        t
    };
    if query_terms.is_empty() || episodes.is_empty() {
        return Vec::new();
    }
    let docs: Vec<Vec<String>> = episodes.iter().map(|e| tokens(&e.text)).collect();
    let n = docs.len() as f64;
    let avg_len = docs.iter().map(Vec::len).sum::<usize>() as f64 / n;
    let mut df: HashMap<&str, usize> = HashMap::new();
    for doc in &docs {
        let mut seen: Vec<&str> = doc.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *df.entry(t).or_default() += 1;
        }
    }
    let mut scored: Vec<Scored> = episodes
        .iter()
        .zip(&docs)
        .filter_map(|(episode, doc)| {
            let len = doc.len() as f64;
            let score: f64 = query_terms
                .iter()
                .map(|term| {
                    let tf = doc.iter().filter(|t| *t == term).count() as f64;
                    if tf == 0.0 {
                        return 0.0;
                    }
                    let d = df[term.as_str()] as f64;
                    let idf = ((n - d + 0.5) / (d + 0.5) + 1.0).ln();
                    idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg_len.max(1.0)))
                })
                .sum();
            (score > 0.0).then_some(Scored { id: episode.id, score })
        })
        .collect();
    scored.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.id.cmp(&a.id)));
    scored.truncate(k);
    scored
}

/// An FTS5 `MATCH` expression for the query's words (each quoted, OR-ed), safe against FTS syntax
/// in user text; `None` when nothing searchable remains.
pub fn fts5_query(query: &str) -> Option<String> {
    let terms: Vec<String> = tokens(query).into_iter().map(|t| format!("\"{}\"", t.replace('"', ""))).collect();
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

/// Candidates FTS5 hands to the BM25 re-ranking.
pub const FTS_CANDIDATES: usize = 50;

/// A past episode chosen for a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Recalled {
    pub hit: TextHit,
    pub score: f64,
}

impl Recalled {
    /// The line the prompt shows: the local date the child had, then their words
    /// (`"2 Nov: my head hurts after football"`).
    pub fn prompt_line(&self) -> String {
        let offset = FixedOffset::east_opt(self.hit.utc_offset_min * 60).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
        match DateTime::from_timestamp_millis(self.hit.ts_ms) {
            Some(utc) => format!("{}: {}", utc.with_timezone(&offset).format("%-d %b"), self.hit.text.trim()),
            None => self.hit.text.trim().to_string(),
        }
    }
}

/// The `k` past texts of `user` most similar to `query`, best first: FTS5 prefilter in the store,
/// BM25 re-ranking here. `keep` drops candidates (the message being answered, today's messages);
/// texts repeated word for word count once (the newest).
pub fn recall(
    store: &Store,
    user: &str,
    query: &str,
    k: usize,
    keep: impl Fn(&TextHit) -> bool,
) -> Result<Vec<Recalled>, StoreError> {
    let Some(fts) = fts5_query(query) else { return Ok(Vec::new()) };
    let mut hits = store.search_text(user, &fts, FTS_CANDIDATES)?;
    hits.retain(|h| keep(h));
    hits.sort_by_key(|h| std::cmp::Reverse(h.seq));
    let mut seen = HashSet::new();
    hits.retain(|h| seen.insert(tokens(&h.text)));
    let episodes: Vec<Episode> = hits.iter().map(|h| Episode { id: h.seq, text: h.text.clone() }).collect();
    let mut by_seq: HashMap<i64, TextHit> = hits.into_iter().map(|h| (h.seq, h)).collect();
    Ok(most_similar(query, &episodes, k)
        .into_iter()
        .filter_map(|s| by_seq.remove(&s.id).map(|hit| Recalled { hit, score: s.score }))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn episodes() -> Vec<Episode> {
        [
            "my head hurts after football practice",
            "we had pizza for dinner",
            "headache again after football in the sun",
            "I slept badly and felt tired at school",
            "football was fun today",
        ]
        .iter()
        .enumerate()
        .map(|(i, t)| Episode { id: i as i64 + 1, text: t.to_string() })
        .collect()
    }

    #[test]
    fn rare_shared_words_rank_first() {
        let r = most_similar("my head hurts after football", &episodes(), 3);
        assert_eq!(r[0].id, 1, "{r:?}");
        assert!(r.iter().all(|s| s.id != 2), "pizza shares no word");
        assert!(r.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn no_overlap_gives_nothing() {
        assert!(most_similar("the and", &episodes(), 3).is_empty());
        assert!(most_similar("violin", &episodes(), 3).is_empty());
    }

    #[test]
    fn fts5_queries_quote_every_term() {
        assert_eq!(fts5_query("head\" OR x* NEAR"), Some("\"head\" OR \"near\"".into()));
        assert_eq!(fts5_query("!!"), None);
    }
}
