//! The guardrail every generated text passes before anyone sees it, and the check on the child's
//! own message for self-harm and red-flag symptoms (which always get the safety response).
//!
//! Rules, not a model: they are predictable, explainable and testable against the labelled set
//! in `core/data/llm/guardrail_labelled.jsonl`. They err on the side of blocking: a blocked reply
//! costs a template, a bad one could frighten a child or read as medical advice.

use serde::{Deserialize, Serialize};

/// Who will read the text: the child is held to stricter wording than a parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Child,
    Parent,
}

/// Why a text was blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    Empty,
    TooLong,
    Language,
    Markup,
    Repetition,
    Diagnosis,
    Medication,
    Frightening,
    SelfHarm,
    Unkind,
}

/// The guardrail's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Pass,
    Block(Vec<BlockReason>),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Pass)
    }

    fn from_reasons(mut reasons: Vec<BlockReason>) -> Self {
        reasons.dedup();
        if reasons.is_empty() { Verdict::Pass } else { Verdict::Block(reasons) }
    }
}

/// A message from the child that must get the safety response whatever else happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SafetyConcern {
    SelfHarm,
    RedFlag,
}

/// Limits; the defaults suit a phone screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Guardrail {
    pub max_chars_child: usize,
    pub max_chars_parent: usize,
    pub max_sentences: usize,
    pub min_words: usize,
}

impl Default for Guardrail {
    fn default() -> Self {
        Self { max_chars_child: 320, max_chars_parent: 600, max_sentences: 4, min_words: 3 }
    }
}

impl Guardrail {
    /// The full check of a finished text in `language` (`en`, `de`, `fr`, `es`).
    pub fn check(&self, text: &str, audience: Audience, language: &str) -> Verdict {
        let mut reasons = self.content_reasons(text, audience);
        let words = Words::new(text);
        if words.list.len() < self.min_words {
            reasons.insert(0, BlockReason::Empty);
        }
        let max_chars = match audience {
            Audience::Child => self.max_chars_child,
            Audience::Parent => self.max_chars_parent,
        };
        if text.chars().count() > max_chars || sentence_count(text) > self.max_sentences {
            reasons.push(BlockReason::TooLong);
        }
        if !language_ok(&words, text, language) {
            reasons.push(BlockReason::Language);
        }
        Verdict::from_reasons(reasons)
    }

    /// The check for a streamed prefix (whole sentences so far): everything but the minimum
    /// length, which only a finished text can fail.
    pub fn check_prefix(&self, text: &str, audience: Audience, language: &str) -> Verdict {
        match self.check(text, audience, language) {
            Verdict::Block(reasons) => Verdict::from_reasons(reasons.into_iter().filter(|r| *r != BlockReason::Empty).collect()),
            Verdict::Pass => Verdict::Pass,
        }
    }

    /// The checks that hold for any prefix of a text, so streamed sentences can be shown as soon as
    /// they pass: content (diagnosis, medication, frightening, self-harm, unkind) and markup.
    pub fn check_content(&self, text: &str, audience: Audience) -> Verdict {
        Verdict::from_reasons(self.content_reasons(text, audience))
    }

    fn content_reasons(&self, text: &str, audience: Audience) -> Vec<BlockReason> {
        let words = Words::new(text);
        let mut reasons = Vec::new();
        let lower = text.to_lowercase();
        let labelled = LABELS.iter().any(|l| lower.trim_start().starts_with(l) || lower.contains(&format!("\n{l}")));
        if MARKUP.iter().any(|m| lower.contains(m)) || META.iter().any(|m| lower.contains(m)) || labelled {
            reasons.push(BlockReason::Markup);
        }
        if repetitive(&words.list) {
            reasons.push(BlockReason::Repetition);
        }
        if words.any(DIAGNOSIS) || words.claims_condition() {
            reasons.push(BlockReason::Diagnosis);
        }
        if words.any(MEDICATION) || words.has_dose() || MEDICATION_INFIX.iter().any(|m| lower.contains(m)) {
            reasons.push(BlockReason::Medication);
        }
        let frightening = match audience {
            Audience::Child => words.any(FRIGHTENING_CHILD) || words.any(ALARMING),
            Audience::Parent => words.any(ALARMING),
        };
        if frightening {
            reasons.push(BlockReason::Frightening);
        }
        if words.any(SELF_HARM_OUTPUT) || words.any(SELF_HARM_INPUT) {
            reasons.push(BlockReason::SelfHarm);
        }
        if words.any(UNKIND) {
            reasons.push(BlockReason::Unkind);
        }
        reasons
    }
}

/// Whether the child's message needs the safety response (self-harm first: it is the graver).
pub fn safety_concern(message: &str) -> Option<SafetyConcern> {
    let words = Words::new(message);
    if words.any(SELF_HARM_INPUT) {
        return Some(SafetyConcern::SelfHarm);
    }
    let fever_and_neck = words.any(&["fever", "fieber", "fièvre", "fiebre"])
        && words.any(&["stiff neck", "neck is stiff", "neck hurts", "neck feels stiff", "steifer nacken", "nacken"]);
    let head_context = words.any(&["head", "headache*", "kopf*", "migraine*", "dizzy", "tête", "cabeza"]);
    if words.any(RED_FLAGS) || fever_and_neck || (head_context && words.any(RED_FLAGS_WITH_HEAD)) {
        return Some(SafetyConcern::RedFlag);
    }
    None
}

/// Lower-cased words of a text, and a space-joined form for phrase matching.
struct Words {
    list: Vec<String>,
    joined: String,
}

impl Words {
    fn new(text: &str) -> Self {
        let list: Vec<String> = text
            .to_lowercase()
            .replace(['’', '`'], "'")
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .map(|w| w.trim_matches('\'').to_string())
            .filter(|w| !w.is_empty())
            .collect();
        let joined = format!(" {} ", list.join(" "));
        Self { list, joined }
    }

    /// True when any phrase occurs as whole words; a trailing `*` matches any word ending.
    fn any(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|p| match p.strip_suffix('*') {
            Some(stem) => self.joined.contains(&format!(" {stem}")),
            None => self.joined.contains(&format!(" {p} ")),
        })
    }

    /// "your child has migraines", "it sounds like an infection", "he suffers from …".
    fn claims_condition(&self) -> bool {
        const SUBJECTS: &[&str] = &["you", "your child", "she", "he", "they", "it", "this", "that", "your son", "your daughter", "your head"];
        const VERBS: &[&str] = &["have", "has", "suffer from", "suffers from", "are suffering from", "is suffering from", "sounds like", "looks like", "is probably", "is likely", "might have", "may have", "could have", "probably have", "probably has", "is", "'s"];
        const CONDITIONS: &[&str] = &["migraine*", "a migraine", "an illness", "a condition", "a disease", "an infection", "a virus", "an allergy", "a problem with your brain", "something wrong", "sick", "ill", "a neurological*"];
        SUBJECTS.iter().any(|s| {
            VERBS.iter().any(|v| {
                CONDITIONS.iter().any(|c| {
                    let phrase = format!("{s} {v} {c}").replace(" 's", "'s");
                    self.any(&[phrase.as_str()])
                })
            })
        })
    }

    fn has_dose(&self) -> bool {
        const UNITS: &[&str] = &["mg", "ml", "mcg", "µg", "g", "milligram", "milligrams", "millilitre", "millilitres", "milliliter", "milliliters", "tablet", "tablets", "pill", "pills", "drops", "puffs", "capsules", "teaspoon", "teaspoons", "spoonful"];
        self.list.windows(2).any(|w| is_number(&w[0]) && UNITS.contains(&w[1].as_str()))
            || self.list.iter().any(|w| {
                let digits = w.trim_end_matches(|c: char| c.is_alphabetic() || c == 'µ');
                let unit = &w[digits.len()..];
                !digits.is_empty() && is_number(digits) && ["mg", "ml", "mcg", "µg"].contains(&unit)
            })
    }
}

fn is_number(word: &str) -> bool {
    word.chars().all(|c| c.is_ascii_digit()) && !word.is_empty()
        || ["one", "two", "three", "four", "half", "a couple of", "ein", "eine", "zwei"].contains(&word)
}

fn sentence_count(text: &str) -> usize {
    text.split(['.', '!', '?', '\n']).filter(|s| s.chars().filter(|c| c.is_alphabetic()).count() >= 2).count()
}

fn repetitive(words: &[String]) -> bool {
    if words.windows(4).any(|w| w.iter().all(|x| x == &w[0])) {
        return true;
    }
    // A word said twice in a row ("ball ball", "the the") is a model stutter, bar a few doubles
    // people write on purpose.
    const DOUBLES: &[&str] = &["very", "bye", "so", "ha", "no", "yes", "knock", "night", "well", "now", "there"];
    if words.windows(2).any(|w| w[0] == w[1] && !DOUBLES.contains(&w[0].as_str()) && !is_number(&w[0])) {
        return true;
    }
    // The same three-word run three times or more.
    let mut seen = std::collections::HashMap::new();
    for w in words.windows(3) {
        let n = seen.entry(w).or_insert(0);
        *n += 1;
        if *n >= 3 {
            return true;
        }
    }
    false
}

/// Readable words in the target language: enough of its common words, more than of any other
/// language, and tokens that look like words (a model's gibberish fails here).
fn language_ok(words: &Words, text: &str, language: &str) -> bool {
    let Some(target) = STOPWORDS.iter().find(|(lang, _)| *lang == language) else {
        return true; // No word list for this language: only the other rules apply.
    };
    let n = words.list.len();
    if n == 0 {
        return false;
    }
    let hits = |list: &[&str]| words.list.iter().filter(|w| list.contains(&w.as_str())).count();
    let own = hits(target.1);
    let best_other = STOPWORDS.iter().filter(|(l, _)| *l != language).map(|(_, list)| hits(list)).max().unwrap_or(0);
    let odd_tokens = text
        .split_whitespace()
        .filter(|t| {
            let core = t.trim_matches(|c: char| !c.is_alphanumeric());
            let inner_upper = core.chars().skip(1).any(char::is_uppercase) && !core.chars().all(char::is_uppercase);
            let mixed = core.chars().any(|c| c.is_ascii_digit()) && core.chars().any(char::is_alphabetic);
            let symbols = t.chars().filter(|c| !c.is_alphanumeric() && !"'’.,!?;:-()\"«»¿¡".contains(*c)).count();
            core.chars().count() > 20 || inner_upper || mixed || symbols > 0
        })
        .count();
    // Word salad made of glue words only ("the and of to in is you that it"), or of word pieces
    // a tokenizer split off ("ing the tion ed").
    let glue = words.list.iter().filter(|w| GLUE.contains(&w.as_str())).count();
    let pieces = words.list.iter().filter(|w| PIECES.contains(&w.as_str())).count();
    let salad = (language == "en" && n >= 5 && glue * 100 > n * 70) || pieces >= 2;
    own * 100 >= n * 15 && own >= best_other && odd_tokens * 10 <= n && !salad
}

/// English words that carry no content on their own.
const GLUE: &[&str] = &["the", "a", "an", "and", "of", "to", "in", "is", "it", "that", "on", "at", "for", "with", "as", "by", "from", "or", "but", "if", "you"];

/// Suffixes standing alone: pieces of words, not words.
const PIECES: &[&str] = &["ing", "tion", "ed", "er", "ly", "ment", "ness", "est", "ous", "ful", "ity", "ies"];

/// A model talking about its reply instead of replying.
const META: &[&str] = &["here is a reply", "here's a reply", "here is my reply", "here is a response", "here's a response"];
/// Labels a model may put before its reply.
const LABELS: &[&str] = &["response:", "reply:", "answer:", "assistant:", "user:", "migru:", "output:", "system:"];

const MARKUP: &[&str] = &[
    "<|", "|>", "```", "http://", "https://", "<s>", "</s>", "[inst]", "[/inst]", "###", "<unk>", "as an ai", "ai language model",
    "i am an ai", "i'm an ai", "language model",
];

const DIAGNOSIS: &[&str] = &[
    "diagnos*", "disorder*", "syndrome*", "epilep*", "meningitis", "tumor*", "tumour*", "aneurysm*", "concussion*",
    "adhd", "depression", "depressive", "chronic migraine", "cluster headache*", "migraine with aura", "hemiplegic",
    "neurological condition", "condition called", "you are suffering from", "is a symptom of", "are symptoms of",
    "pathological", "prognosis", "encephal*", "sinusitis", "hypertension",
    // Added after the independent set (guardrail_holdout.jsonl) showed naming and hedged claims
    // getting through: conditions named outright, and the phrases that attach one to the child.
    "insomnia", "the flu", "influenza", "tension headache*", "tension-type", "tension type", "vestibular",
    "abdominal migraine", "migraine without aura", "aura", "consistent with", "points to", "point to",
    "indicative of", "a case of", "seems to have", "appears to have", "migräne*", "migraña*", "une migraine",
    // Added after the second independent set (guardrail_holdout2.jsonl): everyday illnesses and the
    // language of clinical criteria.
    "a cold", "the cold coming", "a stomach bug", "a bug", "an allergy", "allerg*", "criteria for", "typical of a child",
    "chronic*", "signs of depression", "classic signs", "something is wrong",
];

const MEDICATION: &[&str] = &[
    "ibuprofen", "paracetamol", "acetaminophen", "aspirin", "naproxen", "sumatriptan", "rizatriptan", "zolmitriptan",
    "triptan*", "topiramate", "amitriptyline", "propranolol", "flunarizine", "melatonin", "codeine", "tylenol", "advil",
    "motrin", "nurofen", "excedrin", "aleve", "calpol", "antihistamine*", "diphenhydramine", "magnesium supplement*",
    "riboflavin", "metoclopramide", "ondansetron", "opioid*", "antidepressant*", "beta blocker*", "medicine*",
    "medication*", "medicament*", "painkiller*", "pain killer*", "pain reliever*", "pill", "pills", "tablet", "tablets",
    "capsule*", "dose", "doses", "dosage", "drug", "drugs", "prescription*", "prescribe*", "syrup", "ointment",
    "schmerzmittel", "tablette*", "medikament*", "médicament*", "medicamento*", "pastilla*",
    // Added after the independent set: short forms, where medicines come from, and other spellings.
    "meds", "med", "pharmacy", "pharmacist", "chemist", "supplement*", "inhaler*", "ibuprof*", "paracetam*",
    "paracétam*", "comprimé*", "gélule*", "cachet*", "pilule*", "pille", "pillen", "arznei*", "zäpfchen", "jarabe",
    "remedio*", "dosis",
    // Added after the second independent set.
    "medizin*", "sirop*", "aspirin*",
];

/// Medicine words German builds compounds with ("Schmerztablette", "Hustensaft" aside): matched
/// anywhere inside a word.
const MEDICATION_INFIX: &[&str] = &["tablette", "schmerzmittel", "medizin", "arznei", "medikament", "kopfschmerzmittel"];

const FRIGHTENING_CHILD: &[&str] = &[
    "will die", "could die", "going to die", "die from", "die of", "dying", "dead", "death", "kill", "killed", "blood", "bleeding", "hospital", "ambulance",
    "surgery", "operation", "injection", "needle*", "scary", "scared of dying", "terrifying", "terrible", "horrible",
    "monster*", "serious", "seriously ill", "danger*", "worst", "brain", "migraine*", "pain will get worse",
    "never get better", "forever", "cancer", "seizure*", "stroke", "blind", "paraly*", "coma", "nightmare*",
    "disease*", "illness*", "infection*", "virus*",
    // Added after the independent set: threats that name no illness.
    "very wrong", "something wrong", "faint", "fainting", "pass out", "break something", "break a bone", "broken bone*",
    "worse and worse", "get worse", "can't see", "cant see", "go blind", "injur*",
    "very ill", "really ill", "very sick", "really sick", "brain might", "is hurt", "might be hurt",
];

const ALARMING: &[&str] = &[
    "brain damage", "life threatening", "life-threatening", "fatal", "deadly", "could die", "might die", "will die",
    "cancer", "tumor*", "tumour*", "call an ambulance", "emergency room", "permanent damage", "irreversible",
    "stroke", "brain bleed*", "haemorrhage", "hemorrhage", "seizure*", "at risk of a",
];

const SELF_HARM_INPUT: &[&str] = &[
    "kill myself", "killing myself", "hurt myself", "hurting myself", "harm myself", "harming myself", "cut myself",
    "cutting myself", "want to die", "wanna die", "wish i was dead", "wish i were dead", "end my life", "suicid*",
    "don't want to live", "dont want to live", "do not want to live", "don't want to be alive", "dont want to be alive",
    "better off without me", "better off dead", "no reason to live", "mich umbringen", "will sterben",
    "nicht mehr leben", "me tuer", "veux mourir", "quiero morir", "matarme",
];

const SELF_HARM_OUTPUT: &[&str] = &[
    "kill yourself", "killing yourself", "hurt yourself", "hurting yourself", "harm yourself", "harming yourself",
    "cut yourself", "cutting yourself", "self harm", "self-harm", "end your life", "you should die", "starve yourself",
    "end it all", "ending it all", "take your own life", "not worth living", "cut when", "cutting when",
    "hurt themselves", "hurting themselves", "harm themselves", "harming themselves", "cut themselves",
    "kill themselves", "killing themselves",
];

const RED_FLAGS: &[&str] = &[
    "worst headache", "worst head*", "worst pain ever", "worst pain of my life", "worst ever", "sudden headache",
    "suddenly my head", "headache came suddenly", "head exploded", "like a thunderclap", "thunderclap",
    "hit my head", "bumped my head", "banged my head", "fell on my head", "head injury", "hurt my head when",
    "knocked my head", "can't move my arm", "cant move my arm", "can't move my leg", "cant move my leg",
    "arm feels weak", "leg feels weak", "one side feels weak", "weak on one side", "face is drooping", "face feels droopy",
    "can't talk properly", "cant talk properly", "words come out wrong", "went blind",
    "schlimmste kopfschmerz*", "kopf gestoßen",
];

/// Red flags only together with a head or headache word ("confused about homework" is not one).
const RED_FLAGS_WITH_HEAD: &[&str] = &[
    "confused", "can't think straight", "seeing double", "double vision", "can't see", "cant see", "numb", "fainted",
    "passed out", "stiff neck", "verwirrt", "threw up again and again",
];

const UNKIND: &[&str] = &[
    "stupid", "idiot", "dumb", "shut up", "lazy", "it's your fault", "it is your fault", "all your fault",
    "was your fault", "you're weak", "cry baby", "crybaby", "silly you",
    "stop whining", "nobody cares", "pathetic",
    // Added after the independent set: scolding without a swear word.
    "dummy", "silly thing", "know better", "being a baby", "such a baby", "complainer", "own fault", "grow up",
    "toughen up", "ridiculous", "annoying", "nobody likes",
    // Added after the second independent set.
    "stop complaining", "complaining so much", "quit crying", "stop crying", "not a big deal", "big deal",
];

/// Common function words per language, for the language check.
const STOPWORDS: &[(&str, &[&str])] = &[
    ("en", &[
        "the", "a", "an", "and", "you", "your", "to", "is", "it", "of", "in", "for", "that", "this", "with", "be", "are",
        "i", "i'm", "me", "my", "we", "can", "do", "let's", "on", "at", "some", "have", "so", "was", "what", "how", "if",
        "or", "like", "just", "will", "not", "it's", "you're", "that's", "about", "maybe", "more", "after", "before",
        "try", "there", "here", "when", "they", "them", "their", "our", "us", "by", "from", "as", "up", "out", "too",
        "very", "much", "all", "keep", "plan", "may", "days", "day", "today", "tomorrow", "feel", "feeling", "good",
        "help", "helps", "could", "would", "should", "am", "its", "into", "over", "than", "then", "again", "no", "yes",
        "well", "great", "glad", "sorry", "thanks", "thank", "okay", "ok", "hi", "hello", "hey", "nice", "those",
        "these", "while", "little", "bit", "one", "also", "lot", "let", "yourself", "together", "been", "had", "has",
    ]),
    ("de", &[
        "der", "die", "das", "und", "ist", "du", "dein", "deine", "ich", "nicht", "ein", "eine", "zu", "mit", "es",
        "wir", "auf", "für", "sie", "wie", "was", "mal", "auch", "dich", "dir", "heute", "gut", "sehr", "kannst",
        "vielleicht", "den", "dem", "ein", "bist", "hast", "mir", "mich", "schön", "danke", "hallo", "noch", "aber",
        "oder", "wenn", "dass", "im", "am", "zum", "lass", "uns", "ruhig", "morgen", "tag", "geht", "fühlst",
    ]),
    ("fr", &[
        "le", "la", "les", "et", "est", "tu", "ton", "ta", "tes", "je", "ne", "pas", "un", "une", "des", "du", "avec",
        "pour", "que", "qui", "il", "elle", "nous", "vous", "c'est", "bien", "aujourd'hui", "merci", "bonjour", "toi",
        "te", "moi", "mon", "ma", "mes", "dans", "sur", "au", "aux", "on", "très", "peut", "être", "fais", "demain",
    ]),
    ("es", &[
        "el", "los", "las", "y", "es", "tú", "tu", "yo", "no", "un", "una", "con", "para", "que", "por", "muy", "hoy",
        "bien", "te", "está", "estás", "mi", "me", "en", "del", "al", "lo", "pero", "como", "gracias", "hola", "puedes",
        "quizás", "mañana", "nosotros", "sí", "eres", "tienes", "algo", "poco",
    ]),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, audience: Audience) -> Verdict {
        Guardrail::default().check(text, audience, "en")
    }

    fn blocked_for(text: &str, audience: Audience, reason: BlockReason) {
        match check(text, audience) {
            Verdict::Block(reasons) => assert!(reasons.contains(&reason), "{text:?}: {reasons:?}"),
            Verdict::Pass => panic!("{text:?} passed, expected {reason:?}"),
        }
    }

    #[test]
    fn warm_short_replies_pass() {
        for text in [
            "I'm sorry your head hurts. Let's rest in a quiet room and drink some water.",
            "That sounds like a fun day! How are you feeling now?",
        ] {
            assert_eq!(check(text, Audience::Child), Verdict::Pass, "{text}");
        }
        let parent = "Tomorrow may be a harder day, so plan a calm morning. On days with the breathing exercise, stress was about 15 % lower.";
        assert_eq!(check(parent, Audience::Parent), Verdict::Pass);
    }

    #[test]
    fn medical_content_is_blocked() {
        blocked_for("You could take 200 mg of ibuprofen for that.", Audience::Parent, BlockReason::Medication);
        blocked_for("Give her two tablets after dinner and rest.", Audience::Parent, BlockReason::Medication);
        blocked_for("Take 500mg and lie down for a while.", Audience::Parent, BlockReason::Medication);
        blocked_for("Your child has migraines with aura, so see a doctor.", Audience::Parent, BlockReason::Diagnosis);
        blocked_for("It sounds like an infection, you should rest today.", Audience::Child, BlockReason::Diagnosis);
    }

    #[test]
    fn frightening_words_are_blocked_for_children_only_where_meant() {
        blocked_for("That could be something serious in your brain.", Audience::Child, BlockReason::Frightening);
        blocked_for("This pattern could cause permanent damage if ignored.", Audience::Parent, BlockReason::Frightening);
    }

    #[test]
    fn gibberish_and_other_languages_fail_the_language_check() {
        blocked_for("zq ĠxkÃ ĳw fjorp Ġblik snaw trell", Audience::Child, BlockReason::Language);
        blocked_for("Das ist heute ein schöner Tag für dich und mich.", Audience::Child, BlockReason::Language);
        assert!(Guardrail::default().check("Das ist heute ein schöner Tag für dich.", Audience::Child, "de").passed());
    }

    #[test]
    fn length_is_bounded() {
        let long = "You are doing really well today and I am proud of you. ".repeat(8);
        blocked_for(&long, Audience::Child, BlockReason::TooLong);
        blocked_for("Okay.", Audience::Child, BlockReason::Empty);
    }

    #[test]
    fn safety_concerns_are_found_in_the_childs_message() {
        assert_eq!(safety_concern("sometimes I want to die"), Some(SafetyConcern::SelfHarm));
        assert_eq!(safety_concern("This is the worst headache I have ever had"), Some(SafetyConcern::RedFlag));
        assert_eq!(safety_concern("I have a fever and my neck hurts a lot"), Some(SafetyConcern::RedFlag));
        assert_eq!(safety_concern("I hit my head on the door and now it hurts"), Some(SafetyConcern::RedFlag));
        assert_eq!(safety_concern("my head hurts a bit after school"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_text_gets_a_verdict(text in "\\PC{0,200}") {
            let g = Guardrail::default();
            let _ = g.check(&text, Audience::Child, "en");
            let _ = safety_concern(&text);
        }
    }
}
