//! Turning a growing token sequence into streamed text: stop strings, held-back partial
//! characters, and cancellation from another thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Cancels a generation from any thread (the UI's "stop" button, a closed screen).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The shared flag, for callers that already hold an `Arc<AtomicBool>` (bindings).
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        Self(flag)
    }
}

/// What the stream decided after a new piece of decoded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStep {
    /// Text that is now safe to show (no partial character, no possible start of a stop string).
    pub emit: String,
    /// A stop string was found; the text before it is final.
    pub stopped: bool,
}

/// Tracks the full decoded text and how much of it has been emitted.
#[derive(Debug, Clone, Default)]
pub struct TextStream {
    stop_strings: Vec<String>,
    emitted: usize,
    final_text: Option<String>,
}

impl TextStream {
    pub fn new(stop_strings: Vec<String>) -> Self {
        Self { stop_strings: stop_strings.into_iter().filter(|s| !s.is_empty()).collect(), emitted: 0, final_text: None }
    }

    /// Feeds the whole text decoded so far; returns what may be shown now.
    pub fn update(&mut self, decoded: &str) -> StreamStep {
        if let Some((cut, _)) = self.stop_strings.iter().filter_map(|s| decoded.find(s.as_str()).map(|i| (i, s))).min() {
            let text = &decoded[..cut];
            let emit = text.get(self.emitted.min(cut)..).unwrap_or("").to_string();
            self.emitted = cut;
            self.final_text = Some(text.to_string());
            return StreamStep { emit, stopped: true };
        }
        // A byte-level decoder shows an unfinished UTF-8 sequence as U+FFFD: wait for the rest.
        let mut safe_end = decoded.trim_end_matches('\u{FFFD}').len();
        safe_end -= self.held_back_len(&decoded[..safe_end]);
        let emit = if safe_end > self.emitted { decoded[self.emitted..safe_end].to_string() } else { String::new() };
        self.emitted = self.emitted.max(safe_end);
        StreamStep { emit, stopped: false }
    }

    /// Text not yet emitted at the end of generation (the held-back tail, without stop strings).
    pub fn finish(&mut self, decoded: &str) -> String {
        if self.final_text.is_some() {
            return String::new();
        }
        let text = decoded.trim_end_matches('\u{FFFD}');
        let rest = text.get(self.emitted..).unwrap_or("").to_string();
        self.emitted = text.len();
        rest
    }

    /// The final text when a stop string ended the stream.
    pub fn stopped_text(&self) -> Option<&str> {
        self.final_text.as_deref()
    }

    /// Length of the longest suffix of `text` that is a proper prefix of a stop string.
    fn held_back_len(&self, text: &str) -> usize {
        let mut longest = 0;
        for stop in &self.stop_strings {
            for (i, _) in stop.char_indices().skip(1) {
                if i > longest && text.ends_with(&stop[..i]) {
                    longest = i;
                }
            }
        }
        longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_strings_end_the_stream_and_are_not_shown() {
        let mut s = TextStream::new(vec!["<|end|>".into()]);
        assert_eq!(s.update("Hello").emit, "Hello");
        let step = s.update("Hello there<|en");
        assert_eq!(step.emit, " there", "the possible start of a stop string is held back");
        let step = s.update("Hello there<|end|> more");
        assert_eq!(step, StreamStep { emit: String::new(), stopped: true });
        assert_eq!(s.stopped_text(), Some("Hello there"));
    }

    #[test]
    fn held_back_text_is_released_when_it_is_not_a_stop() {
        let mut s = TextStream::new(vec!["\nUser:".into()]);
        assert_eq!(s.update("Hi\nUs").emit, "Hi");
        assert_eq!(s.update("Hi\nUsually").emit, "\nUsually");
        assert_eq!(s.finish("Hi\nUsually"), "");
    }

    #[test]
    fn partial_characters_wait() {
        let mut s = TextStream::new(vec![]);
        assert_eq!(s.update("caf\u{FFFD}").emit, "caf");
        assert_eq!(s.update("café").emit, "é");
    }

    #[test]
    fn cancel_is_seen_from_another_thread() {
        let token = CancelToken::new();
        let other = token.clone();
        std::thread::spawn(move || other.cancel()).join().unwrap();
        assert!(token.is_cancelled());
    }
}
