//! The generated pretraining corpus: short, kind, concrete recommendations for parents, each timed
//! for the child's chronotype and the time of day, and the prompts the model answers.
//!
//! Seeded and deterministic: the same seed gives the same lines. Every recommendation is about one
//! topic (`Topic`), which the simulated parents and the A/B reports use to describe what was shown.

use migru_core::llm::sampling::Rng;

/// What a recommendation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Sleep,
    Breathing,
    Hydration,
    Screens,
    Outdoor,
    Morning,
}

impl Topic {
    pub const ALL: [Topic; 6] = [Topic::Sleep, Topic::Breathing, Topic::Hydration, Topic::Screens, Topic::Outdoor, Topic::Morning];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Sleep => "sleep",
            Topic::Breathing => "breathing",
            Topic::Hydration => "hydration",
            Topic::Screens => "screens",
            Topic::Outdoor => "outdoor",
            Topic::Morning => "morning",
        }
    }

    /// Words that mark a text as being about this topic (lower case, whole words).
    fn keywords(self) -> &'static [&'static str] {
        match self {
            Topic::Sleep => &["bedtime", "sleep", "story", "lights", "bed", "pillow", "nap", "wake-up"],
            Topic::Breathing => &["breaths", "breathe", "breathing", "bubbles", "belly", "exhale"],
            Topic::Hydration => &["water", "drink", "bottle", "sips", "glass", "cup"],
            Topic::Screens => &["screen", "screens", "tablet", "phone", "tv", "cartoons", "games"],
            Topic::Outdoor => &["outside", "outdoors", "park", "walk", "daylight", "garden", "bike", "fresh"],
            Topic::Morning => &["clothes", "schoolbag", "breakfast", "unhurried", "alarm", "shoes", "lunchbox"],
        }
    }
}

/// The child's chronotype as the prompt names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chronotype {
    Lark,
    Owl,
    Between,
}

impl Chronotype {
    pub const ALL: [Chronotype; 3] = [Chronotype::Lark, Chronotype::Owl, Chronotype::Between];

    pub fn as_str(self) -> &'static str {
        match self {
            Chronotype::Lark => "early bird",
            Chronotype::Owl => "night owl",
            Chronotype::Between => "in-between",
        }
    }
}

/// The part of the day the recommendation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayPart {
    Morning,
    Afternoon,
    Evening,
}

impl DayPart {
    pub const ALL: [DayPart; 3] = [DayPart::Morning, DayPart::Afternoon, DayPart::Evening];

    pub fn as_str(self) -> &'static str {
        match self {
            DayPart::Morning => "morning",
            DayPart::Afternoon => "afternoon",
            DayPart::Evening => "evening",
        }
    }
}

/// The context a recommendation is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub chronotype: Chronotype,
    pub day_part: DayPart,
}

impl Context {
    /// All nine contexts.
    pub fn all() -> Vec<Context> {
        Chronotype::ALL
            .iter()
            .flat_map(|&chronotype| DayPart::ALL.iter().map(move |&day_part| Context { chronotype, day_part }))
            .collect()
    }

    /// The prompt text (Phi-3 style markers, as the on-device chat template renders them).
    pub fn prompt(&self) -> String {
        migru_core::llm::ab::recommendation_context(self.chronotype.as_str(), self.day_part.as_str())
    }
}

/// The marker that ends a recommendation.
pub const END: &str = "<|end|>";

/// One generated line: its context, topic and text.
#[derive(Debug, Clone)]
pub struct Example {
    pub context: Context,
    pub topic: Topic,
    pub text: String,
}

impl Example {
    /// Prompt, text and end marker: what the model is trained on.
    pub fn training_text(&self) -> String {
        format!("{}{}{END}", self.context.prompt(), self.text)
    }
}

fn actions(topic: Topic, ctx: Context) -> &'static [&'static str] {
    use Chronotype::*;
    use DayPart::*;
    match (topic, ctx.day_part) {
        (Topic::Sleep, Evening) => match ctx.chronotype {
            Owl => &["Move bedtime ten minutes earlier tonight", "Dim the lights an hour before bed", "Read a calm story together in bed"],
            _ => &["Keep bedtime at the same time tonight", "Dim the lights half an hour before bed", "Read a calm story together in bed"],
        },
        (Topic::Sleep, _) => match ctx.chronotype {
            Lark => &["Plan a quiet rest after lunch, not a long nap", "Keep the bedtime routine the same every day"],
            _ => &["Keep the wake-up time steady, even at the weekend", "Skip a late nap so sleep comes at bedtime"],
        },
        (Topic::Breathing, _) => &[
            "Try five slow breaths together",
            "Breathe in for four and out for six, three times",
            "Blow bubbles slowly to practise calm breathing",
            "Put a hand on the belly and breathe slowly together",
        ],
        (Topic::Hydration, Morning) => &["Offer a glass of water with breakfast", "Pack a full water bottle in the schoolbag"],
        (Topic::Hydration, Afternoon) => &["Offer a cup of water after school", "Keep a water bottle close while playing"],
        (Topic::Hydration, Evening) => &["Offer small sips of water with dinner", "Offer a glass of water before the evening play"],
        (Topic::Screens, Evening) => &["Switch off screens an hour before bed", "Keep the tablet out of the bedroom tonight", "Swap evening cartoons for a board game"],
        (Topic::Screens, _) => &["Take a screen break every half hour", "Put the phone away during meals", "Agree on a screen time limit together"],
        (Topic::Outdoor, Morning) => match ctx.chronotype {
            Owl => &["Open the curtains and have breakfast in the daylight", "Walk part of the way to school in the daylight"],
            _ => &["Walk to school together in the fresh air", "Play outside for ten minutes before school"],
        },
        (Topic::Outdoor, Afternoon) => &["Go for a short walk in the park after school", "Play outside in the daylight this afternoon", "Ride a bike outdoors before homework"],
        (Topic::Outdoor, Evening) => &["Take a slow walk outside before dinner", "Spend a few minutes in the garden before dinner"],
        (Topic::Morning, Morning) => match ctx.chronotype {
            Owl => &["Set the alarm ten minutes earlier for an unhurried start", "Lay out clothes and shoes the night before"],
            _ => &["Keep the morning calm and unhurried", "Pack the schoolbag together before breakfast"],
        },
        (Topic::Morning, _) => &["Lay out clothes and shoes for tomorrow", "Pack the schoolbag and lunchbox tonight"],
    }
}

fn reasons(topic: Topic) -> &'static [&'static str] {
    match topic {
        Topic::Sleep => &["A steady rhythm helps the body get ready for sleep.", "Calm evenings make falling asleep easier."],
        Topic::Breathing => &["Slow breathing helps a busy body settle.", "It is a small calm moment you can share."],
        Topic::Hydration => &["Enough water helps with energy and headaches.", "Small sips through the day add up."],
        Topic::Screens => &["Rested eyes and a quiet mind help the evening.", "Breaks from screens help the head rest."],
        Topic::Outdoor => &["Daylight helps the body clock and the mood.", "Fresh air and movement help to unwind."],
        Topic::Morning => &["A calm start makes the school day easier.", "Less rushing means fewer tense mornings."],
    }
}

const OPENERS: [&str; 4] = ["", "", "Gently, ", "If it suits you, "];
const CLOSERS: [&str; 3] = ["You are doing great.", "Small steps count.", "Go at your own pace."];

/// `count` lines drawn with `seed`: topic, context and length (short: one sentence; long: with a
/// reason and sometimes a kind closing line) chosen uniformly.
pub fn generate(count: usize, seed: u64) -> Vec<Example> {
    let mut rng = Rng::new(seed);
    let contexts = Context::all();
    let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
    (0..count)
        .map(|_| {
            let context = contexts[pick(contexts.len())];
            let topic = Topic::ALL[pick(Topic::ALL.len())];
            let acts = actions(topic, context);
            let action = acts[pick(acts.len())];
            let opener = OPENERS[pick(OPENERS.len())];
            let mut text = if opener.is_empty() {
                format!("{action}.")
            } else {
                let mut chars = action.chars();
                let first = chars.next().map(|c| c.to_lowercase().to_string()).unwrap_or_default();
                format!("{opener}{first}{}.", chars.as_str())
            };
            if pick(2) == 1 {
                let why = reasons(topic);
                text.push(' ');
                text.push_str(why[pick(why.len())]);
                if pick(2) == 1 {
                    text.push(' ');
                    text.push_str(CLOSERS[pick(CLOSERS.len())]);
                }
            }
            Example { context, topic, text }
        })
        .collect()
}

/// The topics a text mentions (by keyword), in `Topic::ALL` order.
pub fn topics_of(text: &str) -> Vec<Topic> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    Topic::ALL.iter().copied().filter(|t| t.keywords().iter().any(|k| words.iter().any(|w| w == k))).collect()
}

/// Number of words in a text.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_seeded_and_every_line_names_its_topic() {
        let a = generate(500, 7);
        let b = generate(500, 7);
        assert_eq!(a.iter().map(|e| &e.text).collect::<Vec<_>>(), b.iter().map(|e| &e.text).collect::<Vec<_>>());
        for e in &a {
            assert!(topics_of(&e.text).contains(&e.topic), "{:?} not found in {:?}", e.topic, e.text);
            assert!(e.text.ends_with('.'), "{}", e.text);
            assert!(word_count(&e.text) <= 30, "{}", e.text);
        }
        for topic in Topic::ALL {
            let n = a.iter().filter(|e| e.topic == topic).count();
            assert!(n > 40, "{topic:?}: {n}");
        }
    }

    #[test]
    fn topic_words_are_whole_words() {
        assert_eq!(topics_of("Walk to the park."), vec![Topic::Outdoor]);
        assert!(topics_of("Bedroom tv").contains(&Topic::Screens));
        assert!(!topics_of("bedroom").contains(&Topic::Sleep));
    }
}
