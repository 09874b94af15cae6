//! Text normalisation and tokenisation shared by the message text and the lexicon phrases, so both
//! sides are folded the same way (case, diacritics, apostrophes, stretched letters).

/// What a token is; matching and clause splitting depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    Word,
    Number,
    /// Punctuation; `clause` ends a clause (`,` `.` `!` …), `sentence` also ends a sentence.
    Punct { clause: bool, sentence: bool, question: bool },
    /// A pictograph (emoji) or other symbol, one per token.
    Symbol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub text: String,
    pub kind: TokKind,
    /// Letters were stretched ("soooo"), a sign of emphasis.
    pub elongated: bool,
    /// Written in capitals in the original ("HEADACHE"), another sign of emphasis.
    pub shouted: bool,
}

impl Token {
    pub fn is_clause_end(&self) -> bool {
        matches!(self.kind, TokKind::Punct { clause: true, .. })
    }
}

/// Folds one lower-case character: diacritics removed (`ä`→`a`, `ñ`→`n`), `ß`→`ss`.
/// German spellings with and without umlauts then meet in the middle (`migräne`, `migrane`).
fn fold_char(c: char, out: &mut String) {
    let mapped = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        'ß' => {
            out.push_str("ss");
            return;
        }
        other => other,
    };
    out.push(mapped);
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | '`' | '´' | 'ʼ')
}

/// Emoji presentation selectors, joiners and skin tones carry no meaning for classification.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}' | '\u{200D}' | '\u{20E3}') || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

fn punct_kind(c: char) -> Option<TokKind> {
    let (clause, sentence, question) = match c {
        '.' | '!' | '…' | '¡' => (true, true, false),
        '?' | '¿' => (true, true, true),
        ',' | ';' | ':' | '(' | ')' | '"' | '“' | '”' | '„' | '«' | '»' | '\n' => (true, false, false),
        '/' | '-' | '–' | '—' | '+' | '*' | '&' | '%' | '#' | '~' | '_' | '=' | '<' | '>' | '[' | ']' => {
            (false, false, false)
        }
        _ => return None,
    };
    Some(TokKind::Punct { clause, sentence, question })
}

/// Collapses runs of three or more equal letters to one ("sooo" → "so"); reports whether it did.
fn collapse_stretch(word: &str) -> (String, bool) {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut stretched = false;
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && chars[j] == chars[i] {
            j += 1;
        }
        if j - i >= 3 && chars[i].is_alphabetic() {
            stretched = true;
            out.push(chars[i]);
        } else {
            chars[i..j].iter().for_each(|c| out.push(*c));
        }
        i = j;
    }
    (out, stretched)
}

struct Builder {
    tokens: Vec<Token>,
    word: String,
    upper: usize,
    letters: usize,
    digits: bool,
}

impl Builder {
    fn flush(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let raw = std::mem::take(&mut self.word);
        let kind = if self.digits { TokKind::Number } else { TokKind::Word };
        let (text, elongated) = if self.digits { (raw, false) } else { collapse_stretch(&raw) };
        let shouted = self.letters >= 4 && self.upper == self.letters;
        self.tokens.push(Token { text, kind, elongated, shouted });
        self.upper = 0;
        self.letters = 0;
    }

    fn push_alnum(&mut self, c: char) {
        let digit = c.is_ascii_digit();
        if !self.word.is_empty() && digit != self.digits {
            self.flush();
        }
        self.digits = digit;
        if c.is_alphabetic() {
            self.letters += 1;
            if c.is_uppercase() {
                self.upper += 1;
            }
        }
        for lower in c.to_lowercase() {
            fold_char(lower, &mut self.word);
        }
    }
}

/// Splits text into folded tokens: letter runs, digit runs, punctuation and single symbols.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let mut b = Builder { tokens: Vec::new(), word: String::new(), upper: 0, letters: 0, digits: false };
    for c in text.chars() {
        if c.is_alphanumeric() {
            b.push_alnum(c);
        } else if is_apostrophe(c) || is_invisible(c) {
            // "don't" → "dont": apostrophes join, they never split.
        } else if c.is_whitespace() && c != '\n' {
            b.flush();
        } else {
            b.flush();
            let kind = punct_kind(c).unwrap_or(TokKind::Symbol);
            b.tokens.push(Token { text: c.to_string(), kind, elongated: false, shouted: false });
        }
    }
    b.flush();
    b.tokens
}

/// Optimal string alignment distance, capped: returns `limit + 1` as soon as it is exceeded.
pub(crate) fn edit_distance(a: &[char], b: &[char], limit: usize) -> usize {
    if a.len().abs_diff(b.len()) > limit {
        return limit + 1;
    }
    let (n, m) = (a.len(), b.len());
    let mut prev2 = vec![0usize; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur = vec![0usize; m + 1];
    for i in 1..=n {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > limit {
            return limit + 1;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn folds_case_diacritics_and_apostrophes() {
        assert_eq!(texts("My head DOESN'T hurt"), ["my", "head", "doesnt", "hurt"]);
        assert_eq!(texts("Migräne, Fuß"), ["migrane", ",", "fuss"]);
        assert_eq!(texts("pain 7/10!!"), ["pain", "7", "/", "10", "!", "!"]);
        assert_eq!(texts("sooooo bad 😫"), ["so", "bad", "😫"]);
    }

    #[test]
    fn marks_emphasis() {
        let t = tokenize("HEADACHE soooo");
        assert!(t[0].shouted && !t[0].elongated);
        assert!(t[1].elongated && !t[1].shouted);
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        let d = |a: &str, b: &str| {
            edit_distance(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>(), 2)
        };
        assert_eq!(d("headache", "haedache"), 1);
        assert_eq!(d("headache", "headace"), 1);
        assert_eq!(d("headache", "hedake"), 3, "capped at limit + 1");
        assert_eq!(d("migraine", "migraine"), 0);
    }
}
