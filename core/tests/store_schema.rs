//! Schema upgrades, refusal of foreign files, delete-all, retention, append-only events.

use std::path::Path;

use chrono::{DateTime, Duration};
use migru_core::event::{Body, Record};
use migru_core::store::{
    AdapterRecord, AdapterStatus, Appended, EventFilter, PUSH_CURSOR_KEY, PatternState, PulledChange, SCHEMA_VERSION, Store,
    StoreError,
};
use rusqlite::Connection;

fn ts(text: &str) -> DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

fn message(at: &str, text: &str) -> Record {
    Record::new(ts(at), Body::Message { text: text.into() })
}

/// Every schema object (type, name, normalised SQL), sorted: what "equal schema" means.
fn schema_of(path: &Path) -> Vec<(String, String, String)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))
        .unwrap()
        .map(|r| {
            let (t, n, s) = r.unwrap();
            (t, n, s.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect()
}

fn pragma(path: &Path, name: &str) -> i64 {
    Connection::open(path).unwrap().query_row(&format!("PRAGMA {name}"), [], |r| r.get(0)).unwrap()
}

/// A frozen old-version file (`sql`) opened by this build: the upgraded store, its path (in
/// `dir`), checked to have exactly a fresh database's schema, version and application id.
fn upgraded_fixture(dir: &tempfile::TempDir, sql: &str) -> (Store, std::path::PathBuf) {
    let old = dir.path().join("old.db");
    Connection::open(&old).unwrap().execute_batch(sql).unwrap();
    let fresh = dir.path().join("fresh.db");
    let upgraded = Store::open(&old).unwrap();
    drop(Store::open(&fresh).unwrap());
    assert_eq!(schema_of(&old), schema_of(&fresh));
    assert_eq!(pragma(&old, "user_version"), i64::from(SCHEMA_VERSION));
    for name in ["user_version", "application_id"] {
        assert_eq!(pragma(&old, name), pragma(&fresh, name), "{name}");
    }
    (upgraded, old)
}

#[test]
fn old_schema_upgrades_to_exactly_the_fresh_schema_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let (upgraded, old) = upgraded_fixture(&dir, include_str!("fixtures/store/v1.sql"));
    // Data survives, and v2's derived tables were backfilled from the old events.
    let events = upgraded.events(&EventFilter::default()).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].record.body, Body::Message { text: "hello".into() });
    let sleep = upgraded.sleep_episodes("local").unwrap();
    assert_eq!(sleep.len(), 1);
    assert_eq!(sleep[0].start, ts("2026-02-28T21:30:00+01:00"));
    assert_eq!(upgraded.retention_days().unwrap(), 45);
    assert_eq!(upgraded.stats().unwrap().outbox_pending, 3);
    let env_rows: i64 = Connection::open(&old).unwrap().query_row("SELECT count(*) FROM env_readings", [], |r| r.get(0)).unwrap();
    assert_eq!(env_rows, 1);
}

#[test]
fn v3_database_with_data_upgrades_to_the_fresh_schema_with_children_numbered_and_the_push_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let (upgraded, old) = upgraded_fixture(&dir, include_str!("fixtures/store/v3.sql"));
    let dangling: i64 =
        Connection::open(&old).unwrap().query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
    assert_eq!(dangling, 0, "no dangling reference after the rebuild");

    // Every event kept its seq, id, child and content.
    let events = upgraded.events(&EventFilter::default()).unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    let users: Vec<&str> = events.iter().map(|e| e.record.user.as_str()).collect();
    assert_eq!(users, vec!["local", "local", "child-b", "local", "child-b"]);
    assert_eq!(events[4].record.body.text(), Some("tummy ache after lunch"));
    let b_only = upgraded.events(&EventFilter { user: Some("child-b".into()), ..EventFilter::default() }).unwrap();
    assert_eq!(b_only.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 5]);
    let stats = upgraded.stats().unwrap();
    assert_eq!(stats.users, vec!["child-b".to_owned(), "local".to_owned()]);
    // Readings moved to the children's numbers; the text index and sleep episodes are intact.
    let readings: Vec<(i64, String)> = Connection::open(&old)
        .unwrap()
        .prepare("SELECT r.event_seq, u.name FROM env_readings AS r JOIN users AS u ON u.id = r.user_key ORDER BY 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(readings, vec![(2, "local".to_owned()), (3, "child-b".to_owned())]);
    assert_eq!(upgraded.search_text("child-b", "tummy", 5).unwrap().len(), 1);
    assert!(upgraded.search_text("local", "tummy", 5).unwrap().is_empty());
    assert_eq!(upgraded.sleep_episodes("local").unwrap().len(), 1);
    // Events 3 to 5 were queued: the push cursor starts before them; the feedback stays queued.
    assert_eq!(upgraded.setting(PUSH_CURSOR_KEY).unwrap().as_deref(), Some("2"));
    assert_eq!(upgraded.events_to_push(100).unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
    let outbox = upgraded.outbox_due(i64::MAX, 100).unwrap();
    assert_eq!(outbox.iter().map(|o| o.topic.as_str()).collect::<Vec<_>>(), vec!["feedback"]);
    assert_eq!(stats.outbox_pending, 4);
    assert_eq!(upgraded.setting("sync.pull_cursor").unwrap().as_deref(), Some("17"));
    // New appends continue the numbering and reuse the child's number.
    let appended = upgraded.append(&message("2026-03-02T09:00:00+01:00", "better today")).unwrap();
    assert!(matches!(appended, Appended::Stored { seq: 6, .. }), "{appended:?}");
    let user_rows: i64 = Connection::open(&old).unwrap().query_row("SELECT count(*) FROM users", [], |r| r.get(0)).unwrap();
    assert_eq!(user_rows, 2);
}

#[test]
fn v4_database_upgrades_with_its_deferred_queue_moved_into_the_insight_log() {
    let dir = tempfile::tempdir().unwrap();
    let (upgraded, _) = upgraded_fixture(&dir, include_str!("fixtures/store/v4.sql"));

    // The told insight keeps its time as delivered; the queued ones wait, with their parent
    // message and reason; the queue's key without a row invents none.
    let local = upgraded.shared_insights("local").unwrap();
    let summary: Vec<(&str, bool, Option<&str>, &str)> = local
        .iter()
        .map(|s| (s.key.as_str(), s.delivered_at.is_some(), s.deferred_reason.as_deref(), s.message_parent.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("time_of_day:morning", true, None, ""),
            ("weather:low_pressure", false, Some("quiet_hours"), "Headaches were 2.4x as frequent below 1010 hPa."),
            ("trigger:activity:screen_time", false, Some("one_per_turn"), "Headaches followed screen time 3.1x as often."),
        ]
    );
    assert_eq!(local[0].delivered_at, Some(local[0].shared_at));
    let b = upgraded.shared_insights("child-b").unwrap();
    assert_eq!((b.len(), b[0].delivered_at, b[0].deferred_reason.as_deref()), (1, None, Some("school_morning")));
    // The old queue settings are gone; other settings and the events stay.
    assert_eq!(upgraded.setting("delivery.deferred_insights.local").unwrap(), None);
    assert_eq!(upgraded.setting("delivery.deferred_insights.child-b").unwrap(), None);
    assert_eq!(upgraded.retention_days().unwrap(), 45);
    assert_eq!(upgraded.events(&EventFilter::default()).unwrap().len(), 2);
    assert_eq!(upgraded.search_text("child-b", "tummy", 5).unwrap().len(), 1);
}

#[test]
fn v5_database_upgrades_with_its_readings_in_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let (upgraded, old) = upgraded_fixture(&dir, include_str!("fixtures/store/v5.sql"));
    type Row = (i64, String, i64, Option<f64>, Option<f64>, Option<f64>);
    let readings: Vec<Row> = Connection::open(&old)
        .unwrap()
        .prepare(
            "SELECT r.event_seq, u.name, r.ts_ms, r.pressure_hpa, r.temp_c, r.humidity_pct
             FROM env_readings AS r JOIN users AS u ON u.id = r.user_key",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // A plain scan now reads them in arrival order, every value kept.
    assert_eq!(
        readings,
        vec![
            (1, "local".to_owned(), 1_772_352_000_000, Some(1003.5), Some(11.0), Some(70.0)),
            (2, "child-b".to_owned(), 1_772_352_000_000, Some(1001.0), None, None),
            (4, "local".to_owned(), 1_772_355_600_000, Some(1002.0), Some(10.5), Some(72.0)),
            (5, "child-b".to_owned(), 1_772_355_600_000, Some(999.5), None, Some(80.0)),
        ]
    );
    // Everything else is as v5 left it, and a new reading goes after the old ones.
    assert_eq!(upgraded.events(&EventFilter::default()).unwrap().len(), 6);
    assert_eq!(upgraded.setting(PUSH_CURSOR_KEY).unwrap().as_deref(), Some("3"));
    assert_eq!(upgraded.shared_insights("child-b").unwrap()[0].deferred_reason.as_deref(), Some("school_morning"));
    assert_eq!(upgraded.search_text("child-b", "tummy", 5).unwrap().len(), 1);
    let reading = Record::new(ts("2026-03-01T11:00:00+01:00"), Body::Env { pressure_hpa: Some(1000.0), temp_c: None, humidity_pct: None });
    assert!(matches!(upgraded.append(&reading).unwrap(), Appended::Stored { seq: 7, .. }));
    let last: i64 = Connection::open(&old).unwrap().query_row("SELECT max(event_seq) FROM env_readings", [], |r| r.get(0)).unwrap();
    assert_eq!(last, 7);
}

#[test]
fn users_are_exactly_the_children_with_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    let mut first = message("2026-03-01T09:00:00+01:00", "hello");
    first.id = Some(uuid::Uuid::now_v7());
    first.user = "ada".into();
    assert!(matches!(store.append(&first).unwrap(), Appended::Stored { .. }));
    // The same id from another child is refused, and that child is not listed.
    let mut clash = first.clone();
    clash.user = "bo".into();
    assert!(matches!(store.append(&clash).unwrap(), Appended::Conflict { .. }));
    assert_eq!(store.stats().unwrap().users, vec!["ada".to_owned()]);
    let mut later = message("2030-01-01T09:00:00+01:00", "later");
    later.user = "cy".into();
    store.append(&later).unwrap();
    assert_eq!(store.stats().unwrap().users, vec!["ada".to_owned(), "cy".to_owned()]);
    // A purge that leaves a child without events forgets the child's number too.
    store.purge_before(ts("2029-01-01T00:00:00Z").timestamp_millis()).unwrap();
    assert_eq!(store.stats().unwrap().users, vec!["cy".to_owned()]);
    assert_eq!(store.events(&EventFilter { user: Some("cy".into()), ..EventFilter::default() }).unwrap().len(), 1);
}

#[test]
fn push_cursor_moves_only_over_events_still_stored_and_never_past_a_purge() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    let old = ts("2020-01-01T00:00:00Z");
    let recent = ts("2026-03-10T09:00:00+01:00");
    // Recent events first, then old ones imported later: the newest arrivals are the oldest.
    store.append(&message_at(recent, 1)).unwrap();
    let imported: Vec<Record> = (2..=4).map(|i| message_at(old + Duration::seconds(i), i)).collect();
    store.append_batch(&imported).unwrap();
    let to_push = store.events_to_push(10).unwrap();
    assert_eq!(to_push.len(), 4);
    let last = to_push.last().unwrap();
    let (last_seq, last_id) = (last.seq, last.record.id.unwrap());
    assert_eq!(store.pending_push().unwrap(), 4);

    // A purge removes seqs 2..=4 while they are being sent: the acknowledgement must not move
    // the cursor over seq 4, which the next append will get again.
    store.purge_before(ts("2021-01-01T00:00:00Z").timestamp_millis()).unwrap();
    let next = store.append(&message_at(recent + Duration::seconds(1), 5)).unwrap();
    assert!(matches!(next, Appended::Stored { seq: 2, .. }), "{next:?}");
    assert!(!store.ack_pushed(last_seq, last_id).unwrap());
    assert_eq!(store.events_to_push(10).unwrap().len(), 2, "the new event is still to be sent");

    let to_push = store.events_to_push(10).unwrap();
    let last = to_push.last().unwrap();
    assert!(store.ack_pushed(last.seq, last.record.id.unwrap()).unwrap());
    assert!(store.events_to_push(10).unwrap().is_empty());
    assert_eq!(store.stats().unwrap().outbox_pending, 0);

    // Purging everything resets the numbering; the cursor follows, so new events still go up.
    store.purge_before(ts("2030-01-01T00:00:00Z").timestamp_millis()).unwrap();
    store.append(&message_at(recent, 6)).unwrap();
    assert_eq!(store.events_to_push(10).unwrap().len(), 1);
}

#[test]
fn foreign_corrupt_and_newer_files_are_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, bytes: &[u8], expect: fn(&StoreError) -> bool| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let error = Store::open(&path).expect_err(name);
        assert!(expect(&error), "{name}: {error}");
        assert!(error.to_string().contains("left untouched"), "{name}: {error}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} was modified");
        assert!(!dir.path().join(format!("{name}-wal")).exists(), "{name} got a WAL");
    };
    check("notes.txt", b"dear diary, this is not a database at all", |e| matches!(e, StoreError::NotADatabase(_)));
    let mut damaged = b"SQLite format 3\0".to_vec();
    damaged.extend(std::iter::repeat_n(0xA5u8, 8192));
    check("damaged.db", &damaged, |e| matches!(e, StoreError::Corrupt(..)));

    let other_app = dir.path().join("other-app.db");
    Connection::open(&other_app).unwrap().execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x');").unwrap();
    let bytes = std::fs::read(&other_app).unwrap();
    check("other-app.db", &bytes, |e| matches!(e, StoreError::Foreign(_)));

    let newer = dir.path().join("newer.db");
    drop(Store::open(&newer).unwrap());
    Connection::open(&newer).unwrap().pragma_update(None, "user_version", 99).unwrap();
    Connection::open(&newer).unwrap().pragma_update(None, "journal_mode", "DELETE").unwrap();
    let bytes = std::fs::read(&newer).unwrap();
    check("newer.db", &bytes, |e| matches!(e, StoreError::TooNew { found: 99, .. }));
}

#[test]
fn delete_all_leaves_no_row_in_any_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let store = Store::open(&path).unwrap();
    let today = ts("2026-03-10T00:00:00+01:00");
    let diary = migru_core::sample::diary(1, 10, today);
    store.append_batch(&diary).unwrap();
    store.set_setting("family_opt_in_text", "false").unwrap();
    store.outbox_push("feedback", r#"{"thumbs":"up"}"#).unwrap();
    store
        .record_shared_insight(&migru_core::store::SharedInsight {
            user: "local".into(),
            key: "time_of_day:morning".into(),
            shared_at: today,
            message: "mornings".into(),
            message_parent: "more headaches in the morning".into(),
            delivered_at: None,
            deferred_reason: Some("quiet_hours".into()),
        })
        .unwrap();
    store
        .put_sensor_minutes(&[migru_core::store::SensorMinute {
            user: "local".into(),
            minute_start: today,
            hr_bpm: Some(80.0),
            rmssd_ms: None,
            eda_tonic_us: None,
            scr_count: None,
            activity_count: Some(12.0),
            skin_temp_c: None,
        }])
        .unwrap();
    store.save_pattern_state("local", &PatternState { last_seq: 3, state: b"engine".to_vec() }).unwrap();
    store
        .put_pulled_changes(&[PulledChange {
            change_id: "c1".into(),
            topic: "recommendation".into(),
            payload: "{}".into(),
            server_seq: Some(1),
            received_ms: 1,
        }])
        .unwrap();
    store.put_adapter(&adapter(1, AdapterStatus::Active)).unwrap();
    assert!(!store.search_text("local", "breakfast", 5).unwrap().is_empty(), "the diary's words are indexed");

    store.delete_all().unwrap();

    let conn = Connection::open(&path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.len() >= 11, "{tables:?}");
    for table in tables {
        // FTS5 keeps its own bookkeeping rows (the format version, an empty segment structure);
        // they hold no words, which the byte scan of the file below also proves.
        if table == "message_fts_config" || table == "message_fts_data" {
            continue;
        }
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0, "table {table} still has rows");
    }
    // secure_delete + VACUUM: the child's words are gone from the file itself, not just unlinked.
    drop(conn);
    drop(store);
    let bytes = std::fs::read(&path).unwrap();
    let needle = b"no time for breakfast";
    assert!(!bytes.windows(needle.len()).any(|w| w == needle), "deleted text still readable in the file");
    let store = Store::open(&path).unwrap();
    assert!(store.search_text("local", "breakfast", 5).unwrap().is_empty(), "the text index is empty");
}

fn adapter(version: i64, status: AdapterStatus) -> AdapterRecord {
    AdapterRecord {
        version,
        sha256: format!("{version:064x}"),
        size_bytes: 1000,
        path: format!("adapters/{version}.onnx_adapter"),
        status,
        reason: None,
        received_ms: version,
    }
}

#[test]
fn text_search_finds_the_childs_words_ranked_and_forgets_purged_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    let now = ts("2026-03-31T12:00:00+02:00");
    let say = |days: i64, text: &str| Record::new(now - Duration::days(days), Body::Message { text: text.into() });
    let mut other = say(1, "football with grandpa");
    other.user = "sibling".into();
    store
        .append_batch(&[
            say(40, "football practice was fun"),
            say(2, "my head hurts after football again, really bad headache"),
            say(1, "we went to the zoo"),
            other,
        ])
        .unwrap();

    let hits = store.search_text("local", "football OR headache", 10).unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits[0].text.contains("again"), "the episode matching both words ranks first: {hits:?}");
    assert!(hits.iter().all(|h| h.kind == migru_core::event::Kind::Message));
    assert!(store.search_text("local", "zoo", 10).unwrap()[0].text.contains("zoo"));
    // Another child's words never come back.
    assert!(store.search_text("local", "grandpa", 10).unwrap().is_empty());
    assert_eq!(store.search_text("sibling", "football", 10).unwrap().len(), 1);

    // A malformed query is the caller's error, named as such.
    let err = store.search_text("local", "\"unbalanced", 10).unwrap_err();
    assert!(matches!(err, migru_core::store::StoreError::BadSearch(_)), "{err}");

    // Purged events leave the index too.
    store.purge_expired(now.timestamp_millis()).unwrap();
    let hits = store.search_text("local", "practice", 10).unwrap();
    assert!(hits.is_empty(), "{hits:?}");
}

#[test]
fn pulled_changes_are_stored_once_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let change = |id: &str, topic: &str, seq: i64| PulledChange {
        change_id: id.into(),
        topic: topic.into(),
        payload: format!(r#"{{"n":{seq}}}"#),
        server_seq: Some(seq),
        received_ms: 1_000 + seq,
    };
    {
        let store = Store::open(&path).unwrap();
        let batch = [change("a", "recommendation", 1), change("b", "analysis_result", 2)];
        assert_eq!(store.put_pulled_changes(&batch).unwrap(), 2);
        assert_eq!(store.put_pulled_changes(&batch).unwrap(), 0, "a repeated pull adds nothing");
    }
    let store = Store::open(&path).unwrap();
    let all = store.pulled_changes(None, 10).unwrap();
    assert_eq!(all.iter().map(|c| c.change_id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
    assert_eq!(store.pulled_changes(Some("recommendation"), 10).unwrap().len(), 1);
}

#[test]
fn one_adapter_is_active_and_a_refused_one_never_becomes_active() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    assert!(store.active_adapter().unwrap().is_none());
    store.put_adapter(&adapter(1, AdapterStatus::Active)).unwrap();
    store.put_adapter(&adapter(2, AdapterStatus::Inactive)).unwrap();
    store.activate_adapter(2).unwrap();
    assert_eq!(store.active_adapter().unwrap().unwrap().version, 2);
    assert_eq!(store.adapters().unwrap()[0].status, AdapterStatus::Inactive);

    let mut broken = adapter(3, AdapterStatus::Refused);
    broken.reason = Some("sha256 mismatch".into());
    store.put_adapter(&broken).unwrap();
    assert!(matches!(store.activate_adapter(3), Err(migru_core::store::StoreError::RefusedAdapter(3))));
    assert!(matches!(store.activate_adapter(9), Err(migru_core::store::StoreError::NoSuchAdapter(9))));
    assert_eq!(store.active_adapter().unwrap().unwrap().version, 2, "the previous adapter stays active");

    // Storing a new active adapter demotes the old one in the same transaction.
    store.put_adapter(&adapter(4, AdapterStatus::Active)).unwrap();
    let active: Vec<i64> = store.adapters().unwrap().iter().filter(|a| a.status == AdapterStatus::Active).map(|a| a.version).collect();
    assert_eq!(active, [4]);
}

#[test]
fn pattern_state_round_trips_per_child() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    Store::open(&path).unwrap().save_pattern_state("a", &PatternState { last_seq: 7, state: vec![1, 2, 3] }).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.load_pattern_state("a").unwrap(), Some(PatternState { last_seq: 7, state: vec![1, 2, 3] }));
    assert_eq!(store.load_pattern_state("b").unwrap(), None);
    store.save_pattern_state("a", &PatternState { last_seq: 9, state: vec![4] }).unwrap();
    assert_eq!(store.load_pattern_state("a").unwrap().unwrap().last_seq, 9);
}

#[test]
fn retention_purges_only_old_rows_across_tables() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    let now = ts("2026-03-31T12:00:00+02:00");
    let mut records = Vec::new();
    for day in 0..60 {
        let at = now - Duration::days(day);
        records.push(Record::new(at, Body::Env { pressure_hpa: Some(1000.0 + day as f64), temp_c: None, humidity_pct: None }));
        records.push(Record::new(at, Body::Sleep { start: at - Duration::hours(9), end: at - Duration::hours(1) }));
    }
    store.append_batch(&records).unwrap();
    let deleted = store.purge_expired(now.timestamp_millis()).unwrap();
    let left = store.events(&EventFilter::default()).unwrap();
    // Days 0..=29 are inside the 30-day window (day 30 is exactly at the cutoff and kept).
    assert_eq!(left.len(), 2 * 31);
    assert!(left.iter().all(|e| e.record.ts >= now - Duration::days(30)));
    assert_eq!(store.sleep_episodes("local").unwrap().len(), 31);
    assert_eq!(store.stats().unwrap().outbox_pending, 62, "outbox rows of purged events go with them");
    assert!(deleted >= 58);

    store.set_retention_days(7).unwrap();
    store.purge_expired(now.timestamp_millis()).unwrap();
    assert_eq!(store.events(&EventFilter::default()).unwrap().len(), 2 * 8);
    assert!(store.set_retention_days(0).is_err());
}

#[test]
fn purge_does_not_block_readers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let store = std::sync::Arc::new(Store::open(&path).unwrap());
    let old = ts("2020-01-01T00:00:00Z");
    let records: Vec<Record> = (0..20_000).map(|i| message_at(old + Duration::seconds(i), i)).collect();
    store.append_batch(&records).unwrap();
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            let mut reads = 0;
            for _ in 0..50 {
                store.stats().unwrap();
                reads += 1;
            }
            reads
        })
    };
    let deleted = store.purge_before(ts("2021-01-01T00:00:00Z").timestamp_millis()).unwrap();
    assert_eq!(reader.join().unwrap(), 50);
    assert_eq!(deleted, 20_000);
}

fn message_at(at: DateTime<chrono::FixedOffset>, i: i64) -> Record {
    Record::new(at, Body::Message { text: format!("message {i}") })
}

#[test]
fn events_are_append_only_and_ids_are_time_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let store = Store::open(&path).unwrap();
    let a = store.append(&message("2026-03-01T09:00:00+01:00", "first")).unwrap();
    let b = store.append(&message("2026-03-01T10:00:00+01:00", "second")).unwrap();
    let (Appended::Stored { id: id_a, .. }, Appended::Stored { id: id_b, .. }) = (a, b) else { panic!("{a:?} {b:?}") };
    assert!(id_a < id_b);
    assert_eq!(id_a.get_version_num(), 7);
    assert_eq!(store.append(&message("2026-03-01T09:00:00+01:00", "first")).unwrap(), Appended::Duplicate { id: id_a });
    let mut changed = message("2026-03-01T09:00:00+01:00", "changed");
    changed.id = Some(id_a);
    assert_eq!(store.append(&changed).unwrap(), Appended::Conflict { id: id_a });
    let conn = Connection::open(&path).unwrap();
    let error = conn.execute("UPDATE events SET payload = '{}'", []).unwrap_err();
    assert!(error.to_string().contains("append-only"));
    assert_eq!(store.event_by_id(id_a).unwrap().unwrap().record.body, Body::Message { text: "first".into() });
}

#[test]
fn local_time_survives_time_zones_and_dst() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    // 09:00 local in winter (+01:00), in summer (+02:00) and abroad (-05:00).
    for at in ["2026-03-28T09:00:00+01:00", "2026-03-30T09:00:00+02:00", "2026-07-01T09:00:00-05:00"] {
        store.append(&message(at, at)).unwrap();
    }
    for event in store.events(&EventFilter::default()).unwrap() {
        assert_eq!(chrono::Timelike::hour(&event.record.ts), 9, "{}", event.record.ts);
    }
}

#[test]
fn checkpoints_run_off_the_writer_and_closing_folds_the_wal_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let today = ts("2026-03-10T00:00:00+01:00");
    let diary = migru_core::sample::diary(3, 60, today);
    {
        let store = Store::open(&path).unwrap();
        for chunk in diary.chunks(50) {
            store.append_batch(chunk).unwrap();
        }
        // The background checkpointer keeps the WAL near its 1,000-page threshold instead of
        // letting it grow with the data.
        let wal = std::fs::metadata(dir.path().join("m.db-wal")).map(|m| m.len()).unwrap_or(0);
        assert!(wal < 64 << 20, "WAL grew to {wal} bytes");
    }
    // Closed: the main file alone holds every event (copied without its -wal).
    let alone = dir.path().join("alone.db");
    std::fs::copy(&path, &alone).unwrap();
    let n: i64 = Connection::open(&alone).unwrap().query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(n as usize, diary.len());
}
