//! Behaviour of the rule-based classifier on named phrase families (EN, DE, ES), near misses that
//! must not fire, time words, intensity, the JSON contract, and a property test for robustness.

use chrono::{DateTime, FixedOffset};
use migru_core::classify::{Classification, IntensitySource, Lang, MessageKind, RedFlag, check_data, classify, red_flag};
use migru_core::event::{ActivityCategory, ReliefStrategy};
use proptest::prelude::*;

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-03-10T18:30:00+01:00").expect("fixed time")
}

fn c(text: &str) -> Classification {
    classify(text, now(), None)
}

fn kind(text: &str, want: MessageKind) {
    assert_eq!(c(text).kind, want, "{text:?}");
}

fn flag(text: &str, want: Option<RedFlag>) {
    assert_eq!(red_flag(text, None).primary(), want, "{text:?}");
    assert_eq!(c(text).red_flag, want, "{text:?}");
}

fn safety(text: &str, want: bool) {
    assert_eq!(red_flag(text, None).safety_concern, want, "{text:?}");
}

fn at(text: &str, want: &str) {
    let got = c(text);
    assert!(got.time_stated, "{text:?}");
    assert_eq!(got.event_ts, DateTime::parse_from_rfc3339(want).expect("want"), "{text:?}");
}

#[test]
fn embedded_data_is_valid() {
    check_data().expect("every phrase parses and every name is in the vocabularies");
}

#[test]
fn negation_and_resolution() {
    kind("no headache today", MessageKind::Message);
    kind("I don't have a headache", MessageKind::Message);
    kind("not anymore", MessageKind::Message);
    kind("my head doesn't hurt today", MessageKind::Message);
    kind("my head doesn't hurt anymore", MessageKind::Relief);
    kind("no more headache!", MessageKind::Relief);
    kind("heute keine Kopfschmerzen", MessageKind::Message);
    kind("mein Kopf tut nicht mehr weh", MessageKind::Relief);
    kind("kein Kopfweh mehr", MessageKind::Relief);
    kind("hoy no me duele la cabeza", MessageKind::Message);
    kind("ya no me duele la cabeza", MessageKind::Relief);
    kind("it didn't help, still have a headache", MessageKind::Symptom);
    kind("I can't stand this headache anymore", MessageKind::Symptom);
}

#[test]
fn childrens_spelling_and_emoji() {
    for text in ["hedache", "my hed hurts", "tummy ache", "migrane again", "i got a hedake", "headahce", "🤕", "Kopschmerzen"] {
        kind(text, MessageKind::Symptom);
    }
    kind("📱📱 all day", MessageKind::Activity);
}

#[test]
fn time_words_move_the_event() {
    at("my head hurt yesterday", "2026-03-09T18:30:00+01:00");
    at("I had a migraine last night", "2026-03-09T22:00:00+01:00");
    at("woke up with a headache this morning", "2026-03-10T07:00:00+01:00");
    at("had a headache after school yesterday", "2026-03-09T15:00:00+01:00");
    at("2 hours ago my head started hurting", "2026-03-10T16:30:00+01:00");
    at("an hour ago my tummy started hurting", "2026-03-10T17:30:00+01:00");
    at("gestern hatte ich Kopfschmerzen", "2026-03-09T18:30:00+01:00");
    at("vor 2 Stunden hat mein Kopf angefangen weh zu tun", "2026-03-10T16:30:00+01:00");
    at("anoche tuve migraña", "2026-03-09T22:00:00+01:00");
    let plain = c("my head hurts");
    assert!(!plain.time_stated);
    assert_eq!(plain.event_ts, now());
    // A time of day still to come is clamped to the message time.
    let early = classify("headache this afternoon", DateTime::parse_from_rfc3339("2026-03-10T09:00:00+01:00").expect("t"), None);
    assert_eq!(early.event_ts, DateTime::parse_from_rfc3339("2026-03-10T09:00:00+01:00").expect("t"));
}

fn intensity(text: &str) -> (u8, IntensitySource) {
    let got = c(text);
    assert_eq!(got.kind, MessageKind::Symptom, "{text:?}");
    (got.intensity.expect("symptom intensity"), got.intensity_source.expect("source"))
}

#[test]
fn intensity_scale() {
    assert_eq!(intensity("pain 7/10"), (7, IntensitySource::Number));
    assert_eq!(intensity("headache, 7 out of 10"), (7, IntensitySource::Number));
    assert_eq!(intensity("Schmerz 6 von 10"), (6, IntensitySource::Number));
    assert_eq!(intensity("my head hurts"), (5, IntensitySource::Default));
    assert_eq!(intensity("my head hurts a little"), (3, IntensitySource::Words));
    assert_eq!(intensity("bad headache"), (6, IntensitySource::Words));
    assert_eq!(intensity("really bad headache"), (7, IntensitySource::Words));
    assert_eq!(intensity("my head hurts really really bad"), (8, IntensitySource::Words));
    assert_eq!(intensity("migraine 😫"), (8, IntensitySource::Emoji));
    assert_eq!(intensity("worst migraine"), (9, IntensitySource::Words));
    // "2 hours ago" is a time, not a score.
    assert_eq!(intensity("headache 2 hours ago").1, IntensitySource::Default);
    assert_eq!(intensity("HEADACHE!!!").0, 6);
}

#[test]
fn precedence_and_secondary_mentions() {
    let got = c("headache after playing fortnite for 3 hours");
    assert_eq!(got.kind, MessageKind::Symptom);
    assert_eq!(got.also, ["activity:screen_time"]);
    assert_eq!(got.also_activities(), [ActivityCategory::ScreenTime]);
    let got = c("skipped breakfast and now my head hurts");
    assert_eq!((got.kind, got.also.as_slice()), (MessageKind::Symptom, &["activity:skipped_meal".to_string()][..]));
    let got = c("took ibuprofen and the headache went away");
    assert_eq!((got.kind, got.strategy), (MessageKind::Relief, Some(ReliefStrategy::Medication)));
    let got = c("my head hurts so I'm lying in a dark room");
    assert_eq!(got.kind, MessageKind::Symptom, "an attempt is not yet relief");
    let got = c("went for a walk in the forest with grandma");
    assert_eq!((got.kind, got.category), (MessageKind::Activity, Some(ActivityCategory::Outdoor)));
    let got = c("played minecraft for 3 hours");
    assert_eq!((got.kind, got.category), (MessageKind::Activity, Some(ActivityCategory::ScreenTime)));
    kind("my friend has a headache", MessageKind::Message);
    kind("what is a migraine?", MessageKind::Message);
    kind("why does my head hurt so much?", MessageKind::Symptom);
}

#[test]
fn thunderclap_family() {
    for text in [
        "worst headache of my life",
        "this is the worst headache I've ever had",
        "it came on suddenly like being hit with a bat",
        "thunderclap headache",
        "die schlimmsten Kopfschmerzen meines Lebens",
        "plötzlich wie ein Schlag auf den Kopf",
        "el peor dolor de cabeza de mi vida",
    ] {
        flag(text, Some(RedFlag::Thunderclap));
        assert_eq!(c(text).kind, MessageKind::Symptom, "{text:?}");
    }
    for text in ["worst day ever at school", "worst movie ever lol", "schlimmster Tag überhaupt", "el peor día de mi vida",
        "not the worst headache ever, just annoying"] {
        flag(text, None);
    }
}

#[test]
fn fever_stiff_neck_family() {
    for text in [
        "I have a headache and a fever and my neck is stiff",
        "high temperature, stiff neck, bad head",
        "Kopfschmerzen, Fieber und steifer Nacken",
        "tiene fiebre, el cuello rígido y dolor de cabeza",
    ] {
        flag(text, Some(RedFlag::FeverStiffNeck));
    }
    for text in [
        "my neck is stiff from sleeping funny",
        "my neck is stiff and I have a headache",
        "headache and stiff neck but no fever",
        "mein Nacken ist steif vom Schlafen",
        "I have a fever",
    ] {
        flag(text, None);
    }
}

#[test]
fn head_injury_family() {
    for text in [
        "I fell and hit my head and now it hurts",
        "he bumped his head at school and has a headache",
        "doctor said concussion",
        "got hit in the head with the ball, now I feel dizzy",
        "bin hingefallen und hab mir den Kopf gestoßen",
        "Gehirnerschütterung beim Sport",
        "me caí y me golpeé la cabeza",
    ] {
        flag(text, Some(RedFlag::HeadInjury));
    }
    // Heading a ball is ordinary play: not a head injury unless the child says they were hurt.
    for text in ["I hit the ball with my head in football", "I scored with a header!", "hab beim Fußball einen Kopfball gemacht",
        "I didn't hit my head"] {
        flag(text, None);
    }
}

#[test]
fn neuro_deficit_family() {
    for text in [
        "my head hurts and my arm feels numb",
        "headache and I can't talk properly",
        "she seems confused and has a bad headache",
        "I fainted at school",
        "my head hurts and I'm seeing double",
        "my head hurts and I feel really weak",
        "Kopfschmerzen und mein Arm ist taub",
        "ich bin ohnmächtig geworden",
        "Kopfweh und ich sehe doppelt",
        "me desmayé en el colegio",
    ] {
        flag(text, Some(RedFlag::NeuroDeficit));
    }
    for text in ["I'm confused about my math homework", "ich bin verwirrt wegen der Hausaufgaben", "my foot fell asleep",
        "I feel weak at maths", "I can't see the board without my glasses"] {
        flag(text, None);
    }
}

#[test]
fn self_harm_is_a_separate_concern() {
    for text in ["I want to hurt myself", "i wish i was dead", "I don't want to be alive anymore",
        "sometimes i think about killing myself", "ich will nicht mehr leben", "manchmal will ich tot sein", "quiero hacerme daño"] {
        safety(text, true);
        assert_eq!(c(text).red_flag, None, "{text:?}");
    }
    for text in ["this headache is killing me", "I'm dying of boredom", "I want to die of embarrassment lol",
        "I hurt myself playing football", "ich sterbe vor Langeweile"] {
        safety(text, false);
    }
}

#[test]
fn language_hint_and_detection() {
    assert_eq!(c("Ich habe Kopfschmerzen").lang, Lang::De);
    assert_eq!(c("me duele la cabeza").lang, Lang::Es);
    assert_eq!(c("my head hurts").lang, Lang::En);
    assert_eq!(Lang::parse("de-AT"), Some(Lang::De));
    assert_eq!(Lang::parse("fr"), None);
    let hinted = classify("Kopfweh", now(), Some(Lang::De));
    assert_eq!((hinted.lang, hinted.kind), (Lang::De, MessageKind::Symptom));
}

#[test]
fn json_contract() {
    let got = classify("headache 7/10 after too much tablet yesterday", now(), None);
    let json = serde_json::to_value(&got).expect("serialises");
    assert_eq!(json["kind"], "symptom");
    assert_eq!(json["intensity"], 7);
    assert_eq!(json["category"], serde_json::Value::Null);
    assert_eq!(json["strategy"], serde_json::Value::Null);
    assert_eq!(json["red_flag"], serde_json::Value::Null);
    assert_eq!(json["safety_concern"], false);
    assert_eq!(json["event_ts"], "2026-03-09T18:30:00+01:00");
    assert_eq!(json["also"], serde_json::json!(["activity:screen_time"]));
    assert_eq!(json["lang"], "en");
    let flagged = serde_json::to_value(c("worst headache of my life")).expect("serialises");
    assert_eq!(flagged["red_flag"], "thunderclap");
    let relief = serde_json::to_value(c("the nap worked")).expect("serialises");
    assert_eq!((relief["kind"].as_str(), relief["strategy"].as_str()), (Some("relief"), Some("nap")));
}

proptest! {
    #[test]
    fn any_text_classifies_without_panic(text in "\\PC{0,80}") {
        let got = classify(&text, now(), None);
        prop_assert!(got.event_ts <= now());
        prop_assert!(got.intensity.is_none_or(|v| v <= 10));
        prop_assert_eq!(got.intensity.is_some(), got.kind == MessageKind::Symptom);
        prop_assert_eq!(got.category.is_some(), got.kind == MessageKind::Activity);
        prop_assert_eq!(got.strategy.is_some(), got.kind == MessageKind::Relief);
    }

    #[test]
    fn vocabulary_words_in_noise_do_not_panic(words in proptest::collection::vec(
        prop_oneof![Just("headache"), Just("no"), Just("not"), Just("~"), Just("#"), Just("7/10"), Just("yesterday"),
            Just("hours ago"), Just("!!"), Just("?"), Just("🤕"), Just("worst"), Just("ever"), Just("kein"), Just("mehr")], 0..12)) {
        let text = words.join(" ");
        let got = classify(&text, now(), None);
        prop_assert!(got.event_ts <= now());
    }
}
