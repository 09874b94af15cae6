//! One suite, two backends: every check runs on SQLite and on PostgreSQL.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use migru_server::auth::sha256;
use migru_server::storage::*;
use uuid::Uuid;

const NOW: i64 = 1_790_000_000_000;

fn device(role: Role) -> NewDevice {
    let id = Uuid::now_v7();
    NewDevice { id, name: format!("{role:?}"), role, token_hash: sha256(id.as_bytes()) }
}

async fn family(store: &dyn Storage) -> (Uuid, NewDevice) {
    let family_id = Uuid::now_v7();
    let parent = device(Role::Parent);
    store.create_family(family_id, "Family", &parent, NOW).await.unwrap();
    (family_id, parent)
}

fn record(id: Uuid, content: &str, alert: bool) -> IncomingRecord {
    let line = format!(r#"{{"id":"{id}","kind":"intervention","name":"{content}"}}"#);
    IncomingRecord {
        id,
        kind: "intervention".into(),
        ts_ms: NOW,
        content_hash: sha256(line.as_bytes()),
        line,
        alert: alert.then(|| r#"{"type":"red_flag_symptom"}"#.to_owned()),
    }
}

async fn families_devices_and_revocation(store: Arc<dyn Storage>) {
    let (family_id, parent) = family(&*store).await;
    let auth = store.authenticate(parent.token_hash).await.unwrap().unwrap();
    assert_eq!(auth, DeviceAuth { device_id: parent.id, family_id, role: Role::Parent, settings: Default::default() });
    let (other_family, other_parent) = family(&*store).await;
    assert!(!store.revoke_device(family_id, other_parent.id, NOW).await.unwrap(), "cross-family revoke");
    assert!(store.authenticate(other_parent.token_hash).await.unwrap().is_some());
    assert!(store.revoke_device(family_id, parent.id, NOW + 1).await.unwrap());
    assert_eq!(store.authenticate(parent.token_hash).await.unwrap(), None);
    let devices = store.list_devices(family_id).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].revoked_at_ms, Some(NOW + 1));
    assert_eq!(store.list_devices(other_family).await.unwrap().len(), 1);
    assert_eq!(store.authenticate([7; 32]).await.unwrap(), None);
}

async fn pairing_codes_are_single_use_and_expire(store: Arc<dyn Storage>) {
    let (family_id, parent) = family(&*store).await;
    store.create_pairing_code(family_id, [1; 32], Role::Child, parent.id, NOW + 600_000).await.unwrap();
    store.create_pairing_code(family_id, [2; 32], Role::Parent, parent.id, NOW + 600_000).await.unwrap();
    let child = device(Role::Parent); // the code's role wins
    assert_eq!(store.redeem_pairing_code([1; 32], &child, NOW).await.unwrap(), Some(family_id));
    assert_eq!(store.authenticate(child.token_hash).await.unwrap().unwrap().role, Role::Child);
    assert_eq!(store.redeem_pairing_code([1; 32], &device(Role::Child), NOW).await.unwrap(), None, "reused");
    assert_eq!(store.redeem_pairing_code([2; 32], &device(Role::Child), NOW + 600_000).await.unwrap(), None, "expired");
    assert_eq!(store.redeem_pairing_code([3; 32], &device(Role::Child), NOW).await.unwrap(), None, "unknown");
}

async fn push_is_idempotent_per_family(store: Arc<dyn Storage>) {
    let (family_id, parent) = family(&*store).await;
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    let batch: Vec<_> = ids.iter().map(|id| record(*id, "breathing", false)).collect();
    let first = store.push_records(family_id, parent.id, &batch, NOW).await.unwrap();
    assert_eq!(first.outcomes, vec![PushOutcome::Accepted; 3]);
    let again = store.push_records(family_id, parent.id, &batch, NOW).await.unwrap();
    assert_eq!(again.outcomes, vec![PushOutcome::Duplicate; 3]);
    let changed = [record(ids[0], "walk", false), record(ids[1], "breathing", false)];
    let mixed = store.push_records(family_id, parent.id, &changed, NOW).await.unwrap();
    assert_eq!(mixed.outcomes, vec![PushOutcome::Conflict, PushOutcome::Duplicate]);
    let stored = store.records(family_id, 0, 10).await.unwrap();
    assert!(stored.iter().all(|r| r.line.contains("breathing")), "original kept");
    // Repeats inside one batch: first accepted, same content duplicate, other content refused.
    let fresh = Uuid::now_v7();
    let inner = [record(fresh, "a", false), record(fresh, "a", false), record(fresh, "b", false)];
    let result = store.push_records(family_id, parent.id, &inner, NOW).await.unwrap();
    assert_eq!(result.outcomes, vec![PushOutcome::Accepted, PushOutcome::Duplicate, PushOutcome::Conflict]);
    assert_eq!(store.count_records(family_id).await.unwrap(), 4);
    // Another family may hold the same id: ids are per family, so nothing leaks across.
    let (other, other_parent) = family(&*store).await;
    let theirs = store.push_records(other, other_parent.id, &[record(ids[0], "walk", false)], NOW).await.unwrap();
    assert_eq!(theirs.outcomes, vec![PushOutcome::Accepted]);
    assert_eq!(store.count_records(other).await.unwrap(), 1);
}

async fn alerts_are_published_once(store: Arc<dyn Storage>) {
    let (family_id, parent) = family(&*store).await;
    let batch = [record(Uuid::now_v7(), "x", true), record(Uuid::now_v7(), "y", false)];
    let first = store.push_records(family_id, parent.id, &batch, NOW).await.unwrap();
    assert_eq!(first.alerts.len(), 1);
    assert_eq!(first.alerts[0].kind, ChangeKind::Alert);
    let again = store.push_records(family_id, parent.id, &batch, NOW).await.unwrap();
    assert!(again.alerts.is_empty(), "a replayed push raises no second alert");
    let feed = store.pull_changes(family_id, 0, 10).await.unwrap();
    assert_eq!(feed.len(), 1);
}

async fn change_feed_pages_in_order_per_family(store: Arc<dyn Storage>) {
    let (family_id, _) = family(&*store).await;
    let (other, _) = family(&*store).await;
    for i in 0..7 {
        let body = serde_json::json!({ "n": i });
        store.append_change(family_id, ChangeKind::Recommendation, &format!("r{i}"), &body, NOW).await.unwrap();
        store.append_change(other, ChangeKind::AnalysisResult, &format!("o{i}"), &body, NOW).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = 0;
    loop {
        let page = store.pull_changes(family_id, cursor, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        cursor = page.last().unwrap().seq;
        seen.extend(page.into_iter().map(|c| c.item_id));
    }
    assert_eq!(seen, (0..7).map(|i| format!("r{i}")).collect::<Vec<_>>());
}

async fn feedback_is_last_writer_wins(store: Arc<dyn Storage>) {
    let (family_id, _) = family(&*store).await;
    let rec = Uuid::now_v7();
    let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let fb = |device_id, value, device_ts_ms| Feedback { recommendation_id: rec, device_id, value, device_ts_ms };
    assert_eq!(store.record_feedback(family_id, fb(a, 1, 10), NOW).await.unwrap(), FeedbackResult::UnknownRecommendation);
    store.append_change(family_id, ChangeKind::Recommendation, &rec.to_string(), &serde_json::json!({}), NOW).await.unwrap();
    let applied = |r: FeedbackResult| match r {
        FeedbackResult::Recorded { applied, current, .. } => (applied, current.value, current.device_id),
        other => panic!("{other:?}"),
    };
    assert_eq!(applied(store.record_feedback(family_id, fb(a, 1, 10), NOW).await.unwrap()), (true, 1, a));
    assert_eq!(applied(store.record_feedback(family_id, fb(b, -1, 9), NOW).await.unwrap()), (false, 1, a), "older loses");
    assert_eq!(applied(store.record_feedback(family_id, fb(b, -1, 10), NOW).await.unwrap()), (true, -1, b), "tie: larger id");
    assert_eq!(applied(store.record_feedback(family_id, fb(a, 1, 10), NOW).await.unwrap()), (false, -1, b), "tie: smaller id");
    let (other, _) = family(&*store).await;
    assert_eq!(store.record_feedback(other, fb(a, 1, 11), NOW).await.unwrap(), FeedbackResult::UnknownRecommendation);
    let acks = store.pull_changes(family_id, 0, 10).await.unwrap();
    assert_eq!(acks.iter().filter(|c| c.kind == ChangeKind::FeedbackAck).count(), 2);
}

async fn jobs_are_claimed_once(store: Arc<dyn Storage>) {
    let mut enqueued = HashSet::new();
    for i in 0..20 {
        enqueued.insert(store.enqueue_job("analysis", None, &format!("{{\"n\":{i}}}"), NOW).await.unwrap());
    }
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(job) = store.claim_job(&format!("w{w}"), KINDS, NOW, 60_000).await.unwrap() {
                    mine.push(job.id);
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    assert_eq!(claimed.len(), 20, "each job claimed exactly once");
    assert_eq!(claimed.iter().copied().collect::<HashSet<_>>(), enqueued);
    // A failed job returns to the queue after a backoff; an expired lease is reclaimed.
    let first = *claimed.iter().min().unwrap();
    assert!(!store.finish_job(first, "not-the-holder", Ok(()), NOW).await.unwrap(), "only the holder reports");
    // Whichever worker holds it reports the failure.
    let mut finished = false;
    for w in 0..8 {
        finished |= store.finish_job(first, &format!("w{w}"), Err("boom".into()), NOW).await.unwrap();
    }
    assert!(finished);
    assert_eq!(store.claim_job("w", KINDS, NOW, 60_000).await.unwrap(), None, "backoff not over, leases held");
    let retried = store.claim_job("w", KINDS, NOW + 2_001, 60_000).await.unwrap().unwrap();
    assert_eq!((retried.id, retried.attempts), (first, 2));
    assert!(store.finish_job(retried.id, "w", Ok(()), NOW + 2_002).await.unwrap());
    let expired = store.claim_job("taker", KINDS, NOW + 61_000, 60_000).await.unwrap().unwrap();
    assert_ne!(expired.id, first);
    // The old holder's late report is dropped; the new holder's counts.
    let old_holder = (0..8).map(|w| format!("w{w}")).collect::<Vec<_>>();
    for w in &old_holder {
        assert!(!store.finish_job(expired.id, w, Ok(()), NOW + 61_001).await.unwrap());
    }
    assert!(store.finish_job(expired.id, "taker", Ok(()), NOW + 61_002).await.unwrap());
    let counts = store.job_counts().await.unwrap();
    assert_eq!((counts.done, counts.running, counts.queued, counts.failed), (2, 18, 0, 0), "{counts:?}");
    // Kinds a worker does not know stay queued for one that does.
    store.enqueue_job("from_the_future", None, "{}", NOW).await.unwrap();
    assert_eq!(store.claim_job("w", KINDS, NOW + 3_000, 60_000).await.unwrap(), None);
    assert!(store.claim_job("w", &["from_the_future"], NOW + 3_000, 60_000).await.unwrap().is_some());
}

const KINDS: &[&str] = &["analysis"];

async fn leases_are_renewed_only_by_their_holder(store: Arc<dyn Storage>) {
    let id = store.enqueue_job("analysis", None, "{}", NOW).await.unwrap();
    let job = store.claim_job("a", KINDS, NOW, 1_000).await.unwrap().unwrap();
    assert_eq!(job.id, id);
    // The holder's heartbeat moves the lease on; past the first expiry nobody can claim it.
    assert!(store.renew_job(id, "a", NOW + 900, 1_000).await.unwrap());
    assert_eq!(store.claim_job("b", KINDS, NOW + 1_500, 1_000).await.unwrap(), None, "renewed lease still held");
    assert!(!store.renew_job(id, "b", NOW + 1_500, 1_000).await.unwrap(), "only the holder renews");
    // Without renewal the lease runs out and another worker takes the job over: the old
    // holder's renewal then fails (it must stop), and so does its report.
    let taken = store.claim_job("b", KINDS, NOW + 2_000, 1_000).await.unwrap().unwrap();
    assert_eq!((taken.id, taken.attempts), (id, 2));
    assert!(!store.renew_job(id, "a", NOW + 2_001, 1_000).await.unwrap(), "the old holder lost the lease");
    assert!(!store.finish_job(id, "a", Ok(()), NOW + 2_002).await.unwrap());
    assert!(store.renew_job(id, "b", NOW + 2_500, 1_000).await.unwrap());
    assert!(store.finish_job(id, "b", Ok(()), NOW + 2_600).await.unwrap());
    assert!(!store.renew_job(id, "b", NOW + 2_700, 1_000).await.unwrap(), "a finished job has no lease");
    assert_eq!(store.job_counts().await.unwrap().done, 1);
}

async fn waiting_jobs_are_deduplicated(store: Arc<dyn Storage>) {
    let family_id = Uuid::now_v7();
    let first = store.enqueue_job_once("analysis", Some(family_id), "a:1", "{}", NOW).await.unwrap();
    assert!(first.is_some());
    assert_eq!(store.enqueue_job_once("analysis", Some(family_id), "a:1", "{}", NOW).await.unwrap(), None);
    assert!(store.enqueue_job_once("analysis", None, "a:2", "{}", NOW).await.unwrap().is_some(), "other key");
    // Once the job runs, new data schedules the next run.
    let job = store.claim_job("w", KINDS, NOW, 60_000).await.unwrap().unwrap();
    assert_eq!((Some(job.id), job.family_id), (first, Some(family_id)));
    let next = store.enqueue_job_once("analysis", Some(family_id), "a:1", "{}", NOW).await.unwrap();
    assert!(next.is_some());
    // A failed run waiting for its retry does not block (or get blocked by) a fresh one.
    assert!(store.finish_job(job.id, "w", Err("boom".into()), NOW).await.unwrap());
    assert_eq!(store.job_counts().await.unwrap().queued, 3);
}

/// The family's interventions, read through the keyset cursor `page` at a time.
async fn interventions_in_pages(store: &dyn Storage, family_id: Uuid, page: u32) -> Vec<StoredRecord> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let records = store.records_by_kind(family_id, &["intervention"], after, page).await.unwrap();
        let full = records.len() == page as usize;
        after = records.last().map(|last| (last.ts_ms, last.id));
        all.extend(records);
        if !full {
            return all;
        }
    }
}

async fn records_page_by_kind_without_skipping_equal_timestamps(store: Arc<dyn Storage>) {
    let (family_id, parent) = family(&*store).await;
    // Ten records at the same instant, then two later; only interventions asked for.
    let mut batch: Vec<IncomingRecord> = (0..10).map(|i| record(Uuid::now_v7(), &format!("s{i}"), false)).collect();
    batch.extend((0..2).map(|i| IncomingRecord { ts_ms: NOW + 1 + i, ..record(Uuid::now_v7(), &format!("t{i}"), false) }));
    let mut other = record(Uuid::now_v7(), "hr", false);
    other.kind = "hr".into();
    batch.push(other);
    store.push_records(family_id, parent.id, &batch, NOW).await.unwrap();
    let seen: Vec<Uuid> = interventions_in_pages(&*store, family_id, 3).await.iter().map(|r| r.id).collect();
    let mut expected: Vec<Uuid> = batch.iter().filter(|r| r.kind == "intervention").map(|r| r.id).collect();
    expected.sort_by_key(|id| (batch.iter().find(|r| r.id == *id).unwrap().ts_ms, id.to_string()));
    assert_eq!(seen, expected);
    let (other_family, _) = family(&*store).await;
    assert!(store.records_by_kind(other_family, &["intervention"], None, 100).await.unwrap().is_empty());
}

macro_rules! both_backends {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let (store, _dir) = crate::common::sqlite().await;
                    super::$check(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some((store, _)) = crate::common::postgres().await else { return };
                    super::$check(store).await;
                }
            )*
        }
    };
}

both_backends!(
    families_devices_and_revocation,
    pairing_codes_are_single_use_and_expire,
    push_is_idempotent_per_family,
    alerts_are_published_once,
    change_feed_pages_in_order_per_family,
    feedback_is_last_writer_wins,
    jobs_are_claimed_once,
    leases_are_renewed_only_by_their_holder,
    waiting_jobs_are_deduplicated,
    records_page_by_kind_without_skipping_equal_timestamps,
);

#[tokio::test]
async fn reopening_a_migrated_sqlite_file_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("s.db").display());
    let store = open(&url).await.unwrap();
    let (family_id, _) = family(&*store).await;
    drop(store);
    let store = open(&url).await.unwrap();
    assert_eq!(store.list_devices(family_id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn reconnecting_to_a_migrated_postgres_keeps_data() {
    let Some((store, url)) = common::postgres().await else { return };
    let (family_id, _) = family(&*store).await;
    let again = open(&url).await.unwrap();
    assert_eq!(again.list_devices(family_id).await.unwrap().len(), 1);
}

/// Migration 4 turns `records`' text ids into uuids: a database written by version 3 keeps
/// every record, pages them in the same order, and still tells a repeat from a conflict.
#[tokio::test]
async fn a_version_3_postgres_database_keeps_its_records_through_the_uuid_migration() {
    let Some((url, client)) = common::postgres_schema().await else { return };
    client.batch_execute("CREATE TABLE migru_schema (version BIGINT NOT NULL)").await.unwrap();
    for (index, sql) in migrations::POSTGRES[..3].iter().enumerate() {
        client.batch_execute(sql).await.unwrap();
        client.execute("INSERT INTO migru_schema (version) VALUES ($1)", &[&(index as i64 + 1)]).await.unwrap();
    }
    let (family_id, parent) = (Uuid::now_v7(), device(Role::Parent));
    let (family, parent_id) = (family_id.to_string(), parent.id.to_string());
    client
        .execute("INSERT INTO families (id, name, created_at_ms) VALUES ($1, 'Old', $2)", &[&family, &NOW])
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO devices (id, family_id, name, role, token_hash, created_at_ms) VALUES ($1, $2, 'p', 'parent', $3, $4)",
            &[&parent_id, &family, &&parent.token_hash[..], &NOW],
        )
        .await
        .unwrap();
    // Three records at one instant (the keyset's tie-break is the id) and one later; ids drawn
    // from a hash, so their order differs from the order they were written in.
    let scattered = |n: u8| Uuid::from_slice(&sha256(&[n])[..16]).unwrap();
    let mut old: Vec<IncomingRecord> = (0..3).map(|i| record(scattered(i), &format!("s{i}"), false)).collect();
    old.push(IncomingRecord { ts_ms: NOW + 1, ..record(scattered(3), "later", false) });
    for r in &old {
        client
            .execute(
                "INSERT INTO records (family_id, id, device_id, kind, ts_ms, content_hash, line, received_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&family, &r.id.to_string(), &parent_id, &r.kind, &r.ts_ms, &&r.content_hash[..], &r.line, &NOW],
            )
            .await
            .unwrap();
    }

    let store = open(&url).await.unwrap();
    let version: i64 = client.query_one("SELECT MAX(version) FROM migru_schema", &[]).await.unwrap().get(0);
    assert_eq!(version, migrations::POSTGRES.len() as i64);
    let id_type: String = client
        .query_one("SELECT data_type FROM information_schema.columns WHERE table_name = 'records' AND column_name = 'id' AND table_schema = current_schema()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(id_type, "uuid");
    let mut expected = old.clone();
    expected.sort_by_key(|r| (r.ts_ms, r.id.to_string()));
    let paged: Vec<_> =
        interventions_in_pages(&*store, family_id, 2).await.into_iter().map(|r| (r.id, r.device_id, r.line)).collect();
    assert_eq!(paged, expected.iter().map(|r| (r.id, parent.id, r.line.clone())).collect::<Vec<_>>());
    let repeat = [old[0].clone(), record(old[1].id, "changed", false), record(Uuid::now_v7(), "new", false)];
    let outcomes = store.push_records(family_id, parent.id, &repeat, NOW).await.unwrap().outcomes;
    assert_eq!(outcomes, vec![PushOutcome::Duplicate, PushOutcome::Conflict, PushOutcome::Accepted]);
    assert_eq!(store.count_records(family_id).await.unwrap(), 5);
}

#[tokio::test]
async fn bad_urls_are_refused_without_the_password() {
    let err = open("mysql://u:secret@h/db").await.unwrap_err().to_string();
    assert!(err.contains("unsupported") && !err.contains("secret"), "{err}");
}
