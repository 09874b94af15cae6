//! Durability under SIGKILL: a process appending events is killed at random moments 50 times;
//! every id it reported as committed must be present afterwards, and the file must be intact.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use migru_core::sample::SplitMix64;
use migru_core::store::Store;

#[test]
fn committed_events_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let mut rng = SplitMix64::new(2026);
    let mut reported = Vec::new();
    for _round in 0..50 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_append-loop"))
            .arg(&db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout).lines().map_while(Result::ok).filter(|l| l.len() == 36).collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(5 + rng.below(120)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reported.extend(reader.join().unwrap());
    }
    assert!(reported.len() > 100, "the child appended too little to test anything ({})", reported.len());

    let conn = rusqlite_check(&db);
    assert_eq!(conn, "ok");
    let store = Store::open(&db).unwrap();
    for id in &reported {
        let id = uuid::Uuid::parse_str(id).unwrap();
        assert!(store.event_by_id(id).unwrap().is_some(), "committed event {id} was lost");
    }
}

fn rusqlite_check(db: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap()
}
