//! Import/export: round trips, duplicates, malformed input, huge lines, property tests.

use std::io::Cursor;

use migru_core::event::{Body, Record, decode_line, encode_line};
use migru_core::exchange::{MAX_LINE_BYTES, export_jsonl, import_jsonl};
use migru_core::store::{EventFilter, Store};
use proptest::prelude::*;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    (dir, store)
}

fn import(store: &Store, text: &str) -> migru_core::exchange::ImportReport {
    import_jsonl(store, Cursor::new(text.as_bytes().to_vec()), |_| {}).unwrap()
}

fn export(store: &Store) -> String {
    let mut out = Vec::new();
    export_jsonl(store, &EventFilter::default(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn sample_text() -> String {
    let today = chrono::DateTime::parse_from_rfc3339("2026-03-10T00:00:00+01:00").unwrap();
    migru_core::sample::diary(3, 7, today).iter().map(|r| encode_line(r) + "\n").collect()
}

#[test]
fn export_import_export_is_identical_and_reimport_adds_nothing() {
    let (_d1, first) = store();
    let text = sample_text();
    let report = import(&first, &text);
    assert_eq!(report.skipped, 0, "{:?}", report.errors);
    assert_eq!(report.imported as usize, text.lines().count());
    let again = import(&first, &text);
    assert_eq!((again.imported, again.duplicates), (0, report.imported));

    let exported = export(&first);
    let (_d2, second) = store();
    assert_eq!(import(&second, &exported).imported, report.imported);
    assert_eq!(export(&second), exported);
    // Re-importing the export (which carries ids) into the original adds nothing either.
    assert_eq!(import(&first, &exported).imported, 0);
}

#[test]
fn an_import_over_several_transactions_counts_every_line_once() {
    // 130,000 lines: three transactions of the import, with bad lines and repeats across them.
    let today = chrono::DateTime::parse_from_rfc3339("2026-03-10T00:00:00+01:00").unwrap();
    let mut text = String::new();
    let (mut records, mut child) = (0, 0);
    while records < 125_000 {
        for mut record in migru_core::sample::diary(child, 30, today) {
            record.user = format!("child-{child}");
            text.push_str(&encode_line(&record));
            text.push('\n');
            records += 1;
            if records % 25_000 == 0 {
                text.push_str("{\"kind\":\"message\"}\n");
            }
        }
        child += 1;
    }
    let first_lines: String = text.lines().take(5_000).map(|l| format!("{l}\n")).collect();
    text.push_str(&first_lines);
    let (_dir, store) = store();
    let mut seen = Vec::new();
    let report = import_jsonl(&store, Cursor::new(text.into_bytes()), |so_far| seen.push(so_far.lines_seen())).unwrap();

    let bad = records / 25_000;
    assert_eq!((report.imported, report.skipped, report.duplicates), (records as u64, bad as u64, 5_000));
    assert!(report.errors.windows(2).all(|w| w[0].line < w[1].line), "errors in line order");
    assert_eq!(store.stats().unwrap().events, report.imported);
    assert!(seen.windows(2).all(|w| w[0] < w[1]) && seen.last() == Some(&report.lines_seen()), "{seen:?}");
}

#[test]
fn unknown_fields_and_other_users_survive_the_round_trip() {
    let (_d, store) = store();
    let line = r#"{"ts":"2026-03-01T09:00:00+01:00","kind":"symptom","intensity":6,"user":"mia","where":{"side":"left"},"aura":true}"#;
    assert_eq!(import(&store, line).imported, 1);
    let out = export(&store);
    let value: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(value["user"], "mia");
    assert_eq!(value["where"]["side"], "left");
    assert_eq!(value["aura"], true);
    assert_eq!(value["intensity"], 6);
}

#[test]
fn malformed_lines_are_reported_by_number_and_nothing_stored_is_lost() {
    let (_d, store) = store();
    let good = sample_text();
    let before = import(&store, &good).imported;
    let bad = [
        "this is not json",
        r#"{"ts":"2026-13-01T09:00:00Z","kind":"message","text":"x"}"#,
        r#"{"ts":"2026-03-01T09:00:00Z","kind":"hr","bpm":"fast"}"#,
        r#"{"ts":"2026-03-01T09:00:00Z","kind":"hr","bpm":1e999}"#,
        r#"{"ts":"2026-03-01T09:00:00Z","kind":"hr","bpm":-Infinity}"#,
        r#"{"ts":"2026-03-01T09:00:00Z","kind":"unicorn"}"#,
        "\u{0}\u{1}\u{2}",
        r#"{"ts":"2026-03-01T09:00:00Z","kind":"message","text":"ok"}"#,
    ];
    let report = import(&store, &bad.join("\n"));
    assert_eq!(report.imported, 1);
    assert_eq!(report.skipped, 7);
    let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![1, 2, 3, 4, 5, 6, 7]);
    assert!(report.errors[5].reason.contains("unknown kind"));
    assert_eq!(store.stats().unwrap().events, before + 1);
}

#[test]
fn a_ten_megabyte_line_is_skipped_without_harm() {
    let (_d, store) = store();
    let huge = format!(r#"{{"ts":"2026-03-01T09:00:00Z","kind":"message","text":"{}"}}"#, "a".repeat(10 * 1024 * 1024));
    assert!(huge.len() > MAX_LINE_BYTES);
    let text = format!("{huge}\n{}\n", r#"{"ts":"2026-03-01T09:00:00Z","kind":"message","text":"after"}"#);
    let report = import(&store, &text);
    assert_eq!((report.imported, report.skipped), (1, 1));
    assert_eq!(report.errors[0].line, 1);
    assert!(report.errors[0].reason.contains("longer than"));
}

#[test]
fn only_the_first_hundred_errors_are_listed_but_all_are_counted() {
    let (_d, store) = store();
    let text = "nope\n".repeat(250);
    let report = import(&store, &text);
    assert_eq!(report.skipped, 250);
    assert_eq!(report.errors.len(), 100);
}

#[test]
fn crlf_and_blank_lines_are_accepted() {
    let (_d, store) = store();
    let text = "\r\n{\"ts\":\"2026-03-01T09:00:00Z\",\"kind\":\"message\",\"text\":\"a\"}\r\n\n";
    let report = import(&store, text);
    assert_eq!((report.imported, report.skipped), (1, 0));
}

#[test]
fn the_json_schema_names_every_kind_and_its_required_fields() {
    let schema: serde_json::Value = serde_json::from_str(include_str!("../../docs/record.schema.json")).unwrap();
    let kinds: Vec<&str> = schema["properties"]["kind"]["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for kind in migru_core::event::Kind::ALL {
        assert!(kinds.contains(&kind.as_str()), "schema lacks kind {kind}");
    }
    // Each kind's sample decodes, and each schema example decodes.
    for example in schema["examples"].as_array().unwrap() {
        decode_line(example.to_string().as_bytes()).unwrap_or_else(|e| panic!("{example}: {e}"));
    }
}

fn arb_record() -> impl Strategy<Value = Record> {
    let ts = (0i64..4_000_000_000_000, -14 * 60i32..=14 * 60).prop_map(|(ms, off)| migru_core::event::ts_from_parts(ms, off).unwrap());
    let text = "[a-zA-Z0-9 äöü😀,.!?\"\\\\]{1,40}".prop_filter("not blank", |t: &String| !t.trim().is_empty());
    let body = prop_oneof![
        text.clone().prop_map(|text| Body::Message { text }),
        (0u8..=10, proptest::option::of(text)).prop_map(|(intensity, text)| Body::Symptom { intensity, text }),
        (300.0f64..1100.0).prop_map(|p| Body::Env { pressure_hpa: Some(p), temp_c: None, humidity_pct: None }),
        proptest::collection::vec(200.0f64..2000.0, 1..20).prop_map(|rr_ms| Body::Rr { rr_ms }),
        (20.0f64..300.0).prop_map(|bpm| Body::Hr { bpm }),
    ];
    (ts, body, "[a-z]{1,8}").prop_map(|(ts, body, user)| {
        let mut record = Record::new(ts, body);
        record.user = user;
        record
    })
}

proptest! {
    #[test]
    fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_line(&bytes);
    }

    #[test]
    fn any_json_object_decodes_without_panicking(
        keys in proptest::collection::vec(prop_oneof![Just("ts"), Just("kind"), Just("text"), Just("intensity"), Just("rr_ms"), Just("start"), Just("end"), Just("x"), Just("id")], 0..6),
        values in proptest::collection::vec(prop_oneof![Just(serde_json::json!(null)), Just(serde_json::json!("symptom")), Just(serde_json::json!(5)), Just(serde_json::json!([1, "a"])), Just(serde_json::json!("2026-03-01T09:00:00Z")), Just(serde_json::json!({"a": 1}))], 0..6),
    ) {
        let object: serde_json::Map<String, serde_json::Value> = keys.iter().map(|k| k.to_string()).zip(values).collect();
        let _ = decode_line(serde_json::Value::Object(object).to_string().as_bytes());
    }

    #[test]
    fn encode_then_decode_is_the_identity(record in arb_record()) {
        let line = encode_line(&record);
        let decoded = decode_line(line.as_bytes()).unwrap();
        prop_assert_eq!(&decoded, &record);
        prop_assert_eq!(encode_line(&decoded), line);
    }
}
