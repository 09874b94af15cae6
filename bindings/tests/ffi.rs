//! The FFI surface from Rust: error mapping (no paths or personal data in reasons), argument
//! checks that live in this crate, and the async import on the library's runtime.

use std::sync::{Arc, Mutex};

use migru_ffi::{ImportProgress, MigruCompanion, MigruError};

fn open(dir: &tempfile::TempDir) -> Arc<MigruCompanion> {
    MigruCompanion::open(dir.path().join("migru.db").to_string_lossy().into_owned())
        .expect("a fresh database opens")
}

#[test]
fn a_foreign_file_is_not_a_migru_database_and_the_reason_names_no_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alice-diary.txt");
    std::fs::write(&path, "dear diary, ".repeat(500)).unwrap();
    let error = MigruCompanion::open(path.to_string_lossy().into_owned()).unwrap_err();
    let MigruError::NotAMigruDatabase { reason } = error else {
        panic!("expected NotAMigruDatabase, got {error:?}")
    };
    assert!(reason.contains("untouched"), "{reason}");
    assert!(!reason.contains("alice"), "no path in {reason}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "dear diary, ".repeat(500)
    );
}

#[test]
fn symptom_intensity_and_timestamps_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let companion = open(&dir);
    let logged = companion
        .log_symptom(
            10,
            Some("  temples ".into()),
            Some("2026-03-14T09:00:00+01:00".into()),
        )
        .unwrap();
    assert_eq!(
        (
            logged.kind.as_str(),
            logged.intensity,
            logged.text.as_deref()
        ),
        ("symptom", Some(10), Some("temples"))
    );
    assert_eq!(logged.ts, "2026-03-14T09:00:00+01:00");
    assert!(matches!(
        companion.log_symptom(11, None, None),
        Err(MigruError::InvalidInput { .. })
    ));
    let bad_time = companion
        .log_message("hello".into(), Some("14/03/2026".into()))
        .unwrap_err();
    assert!(
        matches!(&bad_time, MigruError::InvalidInput { reason } if reason.starts_with("at:")),
        "{bad_time:?}"
    );
    let missing = companion
        .import_file(
            dir.path().join("bob.jsonl").to_string_lossy().into_owned(),
            None,
        )
        .unwrap_err();
    assert!(
        matches!(&missing, MigruError::Io { reason } if !reason.contains("bob")),
        "{missing:?}"
    );
}

#[derive(Default)]
struct Counts(Mutex<Vec<u64>>);

impl ImportProgress for Counts {
    fn on_progress(&self, imported: u64, _skipped: u64, _duplicates: u64) {
        self.0.lock().unwrap().push(imported);
    }
}

#[test]
fn async_import_runs_on_the_library_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let companion = open(&dir);
    let file = dir.path().join("in.jsonl");
    let lines: String = (0..25_000)
        .map(|i| {
            format!(
                "{{\"ts\":\"2026-03-14T08:00:00Z\",\"kind\":\"hr\",\"bpm\":{}}}\n",
                50 + i % 100
            )
        })
        .collect();
    std::fs::write(&file, lines).unwrap();
    let counts = Arc::new(Counts::default());
    let progress: Arc<dyn ImportProgress> = counts.clone();
    // A foreign executor polls the future; a plain single-threaded one stands in for it here.
    let report =
        block_on(companion.import_file_async(file.to_string_lossy().into_owned(), Some(progress)));
    let report = report.unwrap();
    assert_eq!(report.imported + report.duplicates, 25_000, "{report:?}");
    assert_eq!(
        counts.0.lock().unwrap().len(),
        2,
        "one call per 20,000-record batch"
    );
    assert_eq!(
        companion.stats().unwrap().by_kind.get("hr").copied(),
        Some(report.imported)
    );
}

/// Polls a future on this thread until it completes (the test's stand-in for Kotlin/Swift).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}
