//! The engine over the real store: resume from the saved cursor after a restart, and the
//! conversation pipeline (classify → store → patterns → insight decision) with red flags.

use chrono::{DateTime, Duration, FixedOffset};
use migru_core::insights::{Decision, Quiet, on_message};
use migru_core::patterns::{self, Engine};
use migru_core::simulate::{Config, cohort};
use migru_core::store::{PatternState, Store};

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("time")
}

#[test]
fn restart_resumes_from_the_saved_cursor_and_matches_a_full_rebuild() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("m.db")).expect("store");
    let (records, _) = cohort(&Config { children: 2, days: 10, seed: 4, ..Config::default() });
    let (first, second) = records.split_at(records.len() / 2);
    store.append_batch(first).expect("append");

    let user = "child-000";
    let mut engine = patterns::load(&store, user).expect("load");
    let read = patterns::catch_up(&store, user, &mut engine).expect("catch up");
    assert!(read > 100);
    patterns::save(&store, user, &engine).expect("save");

    store.append_batch(second).expect("append");
    let mut resumed = patterns::load(&store, user).expect("reload");
    assert_eq!(resumed, engine, "state survives the JSON round trip");
    let more = patterns::catch_up(&store, user, &mut resumed).expect("resume");
    assert!(more > 0 && more < read * 2, "only the new events are read: {more}");

    let mut rebuilt = Engine::default();
    patterns::catch_up(&store, user, &mut rebuilt).expect("rebuild");
    assert_eq!(resumed.report(user), rebuilt.report(user));
    assert_eq!(resumed.last_seq, rebuilt.last_seq);
}

#[test]
fn unreadable_state_is_rebuilt_not_fatal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("m.db")).expect("store");
    for blob in [vec![patterns::STATE_FORMAT, b'{', b'x'], vec![1, b'{', b'}'], Vec::new()] {
        store.save_pattern_state("kid", &PatternState { last_seq: 7, state: blob }).expect("save");
        assert_eq!(patterns::load(&store, "kid").expect("load"), Engine::default());
    }
}

#[test]
fn state_lives_in_the_pattern_state_table_and_a_reopened_store_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.db");
    let (records, _) = cohort(&Config { children: 1, days: 6, seed: 8, ..Config::default() });
    let (first, second) = records.split_at(records.len() * 2 / 3);
    let user = "child-000";
    let saved_seq = {
        let store = Store::open(&path).expect("store");
        store.append_batch(first).expect("append");
        let mut engine = patterns::load(&store, user).expect("load");
        patterns::catch_up(&store, user, &mut engine).expect("catch up");
        patterns::save(&store, user, &engine).expect("save");
        let row = store.load_pattern_state(user).expect("read").expect("row written");
        assert_eq!(row.last_seq, engine.last_seq);
        assert_eq!(row.state[0], patterns::STATE_FORMAT);
        assert_eq!(store.setting(&format!("patterns.state.{user}")).expect("settings"), None, "no JSON in settings");
        engine.last_seq
    };
    // A restart: a new process opens the same file.
    let store = Store::open(&path).expect("reopen");
    store.append_batch(second).expect("append");
    let mut resumed = patterns::load(&store, user).expect("load");
    assert_eq!(resumed.last_seq, saved_seq);
    let read = patterns::catch_up(&store, user, &mut resumed).expect("resume");
    assert_eq!(read as usize, second.len(), "exactly the events after the cursor are read");
    let mut rebuilt = Engine::default();
    patterns::catch_up(&store, user, &mut rebuilt).expect("rebuild");
    assert_eq!(resumed.report(user), rebuilt.report(user));
}

#[test]
fn conversation_pipeline_follows_the_policy_and_red_flags_bypass_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("m.db")).expect("store");
    let mut engine = Engine::default();
    let start = at("2026-11-02T08:00:00+01:00");
    let mut decisions = Vec::new();
    for (i, text) in ["hi migru", "i skipped breakfast", "we had pizza", "so much homework"].iter().enumerate() {
        let turn = on_message(&store, &mut engine, "kid", text, start + Duration::minutes(i as i64 * 40), "en").expect("turn");
        decisions.push(turn.decision);
    }
    assert_eq!(decisions[0], Decision::Quiet { reason: Quiet::TooEarly });
    assert_eq!(decisions[1], Decision::Quiet { reason: Quiet::TooEarly });
    assert_eq!(decisions[2], Decision::Quiet { reason: Quiet::NothingNew });
    assert_eq!(decisions[3], Decision::Quiet { reason: Quiet::NotThisTurn });
    // The first message ever can be a red flag: it is answered at once.
    let turn = on_message(&store, &mut engine, "other-kid", "worst headache of my life, it came on suddenly", start, "de")
        .expect("turn");
    match turn.decision {
        Decision::RedFlag { family, message_child, message_parent } => {
            assert_eq!(family, "thunderclap");
            assert!(message_child.contains("Erwachsenen"));
            assert!(message_parent.contains("ärztliche Hilfe"));
        }
        other => panic!("expected a red flag, got {other:?}"),
    }
    let stored = store.events(&Default::default()).expect("events");
    assert!(stored.iter().any(|e| e.record.kind() == migru_core::event::Kind::Activity));
    assert_eq!(engine.child("kid").map(|c| c.conversations), Some(4));
}

#[test]
fn converse_takes_the_log_message_path_then_patterns_then_the_policy() {
    use migru_core::companion::Companion;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.db");
    let companion = Companion::open(&path).expect("open");
    let start = at("2026-11-02T08:00:00+01:00");
    let mut decisions = Vec::new();
    for (i, text) in ["hi migru", "my head hurts a bit", "i skipped breakfast", "hi again", "resting helped", "ok"].iter().enumerate() {
        let turn = companion.converse(text, Some(start + Duration::minutes(i as i64 * 50)), "en").expect("turn");
        decisions.push(turn.decision);
    }
    assert_eq!(decisions[0], Decision::Quiet { reason: Quiet::TooEarly });
    assert_eq!(decisions[3], Decision::Quiet { reason: Quiet::NotThisTurn });
    // The 3rd and 6th turns look (nothing significant yet) and save the engine's state.
    assert_eq!(decisions[5], Decision::Quiet { reason: Quiet::NothingNew });
    // The save runs after the turn, on its own thread.
    companion.wait_for_pattern_save();
    let store = companion.store();
    let saved = store.load_pattern_state(companion.user()).expect("read").expect("saved on a look turn");
    assert_eq!(saved.last_seq, store.stats().expect("stats").events as i64);

    // A red flag: the stored record carries the same annotation `migru log` writes, and the
    // urgent message bypasses the policy.
    let turn = companion.converse("worst headache of my life, it came on suddenly", Some(start + Duration::hours(6)), "en").expect("turn");
    assert!(matches!(turn.decision, Decision::RedFlag { .. }), "{:?}", turn.decision);
    let logged = companion.log_message("worst headache of my life, it came on suddenly", Some(start + Duration::hours(7))).expect("log");
    assert_eq!(logged.logged.event.record.extra.get("red_flag").and_then(|v| v.as_str()), turn.classification.red_flag.map(|f| f.as_str()));
    let first = store
        .event_by_id(turn.appended.and_then(|a| match a {
            migru_core::store::Appended::Stored { id, .. } => Some(id),
            _ => None,
        }).expect("stored"))
        .expect("read")
        .expect("there");
    assert_eq!(first.record.extra.get("red_flag"), logged.logged.event.record.extra.get("red_flag"));

    // A restart resumes from the saved cursor.
    drop(companion);
    let reopened = Companion::open(&path).expect("reopen");
    let turn = reopened.converse("hi", Some(start + Duration::hours(8)), "en").expect("turn");
    assert!(!matches!(turn.decision, Decision::RedFlag { .. }));
    reopened.save_patterns().expect("save");
    let mut rebuilt = Engine::default();
    patterns::catch_up(reopened.store(), reopened.user(), &mut rebuilt).expect("rebuild");
    let resumed = patterns::load(reopened.store(), reopened.user()).expect("load");
    assert_eq!(resumed.report(reopened.user()), rebuilt.report(reopened.user()));
}
