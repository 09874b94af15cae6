//! The HTTP surface through `app(state)` with `oneshot`: auth matrix, limits, bad input, sync rules.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use migru_server::storage::ChangeKind;
use migru_server::{AppState, Limits, app};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

struct Api {
    router: Router,
    state: AppState,
    _dir: Option<tempfile::TempDir>,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Api {
    async fn new(limits: Limits) -> Api {
        let (store, dir) = common::sqlite().await;
        Api::on(store, Some(dir), limits)
    }

    fn on(store: std::sync::Arc<dyn migru_server::storage::Storage>, dir: Option<tempfile::TempDir>, limits: Limits) -> Api {
        let state = AppState::new(store, limits);
        Api { router: app(state.clone()), state, _dir: dir }
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Body>) -> Reply {
        let mut request = Request::builder().method(method).uri(path).header("migru-protocol", "1");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(body.unwrap_or_else(Body::empty)).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, headers, body }
    }

    async fn json(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(method, path, token, Some(Body::from(body.to_string()))).await
    }

    /// A family with a parent; returns (family_id, parent token).
    async fn family(&self) -> (String, String) {
        let reply = self.json("POST", "/v1/families", None, json!({"name": "F", "device_name": "mum"})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        (reply.body["family_id"].as_str().unwrap().to_owned(), reply.body["token"].as_str().unwrap().to_owned())
    }

    /// Pairs a device of `role` into the parent's family; returns (device_id, token).
    async fn pair(&self, parent: &str, role: &str) -> (String, String) {
        let code = self.json("POST", "/v1/pairing-codes", Some(parent), json!({"role": role})).await;
        assert_eq!(code.status, StatusCode::CREATED, "{:?}", code.body);
        let code = code.body["code"].as_str().unwrap().to_lowercase();
        let reply = self.json("POST", "/v1/pair", None, json!({"code": code, "device_name": role})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        assert_eq!(reply.body["role"], role);
        (reply.body["device_id"].as_str().unwrap().to_owned(), reply.body["token"].as_str().unwrap().to_owned())
    }

    async fn push(&self, token: &str, records: Value) -> Reply {
        self.json("POST", "/v1/sync/push", Some(token), json!({ "records": records })).await
    }
}

fn ids(reply: &Reply, key: &str) -> Vec<String> {
    reply.body[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

fn refusal_codes(reply: &Reply) -> Vec<String> {
    reply.body["refused"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn every_endpoint_refuses_strangers_revoked_children_and_anonymous() {
    let api = Api::new(common::test_limits()).await;
    let (_family_a, parent_a) = api.family().await;
    let (child_a_id, child_a) = api.pair(&parent_a, "child").await;
    let (_, revoked) = api.pair(&parent_a, "parent").await;
    let (_family_b, parent_b) = api.family().await;
    // Revoke the second parent of A.
    let devices = api.call("GET", "/v1/devices", Some(&parent_a), None).await;
    let second_parent = devices.body.as_array().unwrap().iter().filter(|d| d["role"] == "parent").nth(1).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.call("DELETE", &format!("/v1/devices/{second_parent}"), Some(&parent_a), None).await.status, StatusCode::NO_CONTENT);
    // A recommendation in family A, so feedback on it is meaningful.
    let family_a = Uuid::parse_str(&_family_a).unwrap();
    let rec = Uuid::now_v7();
    api.state.store.append_change(family_a, ChangeKind::Recommendation, &rec.to_string(), &json!({"text": "walk"}), 0).await.unwrap();
    api.push(&child_a, json!([common::symptom(3, &common::minutes_ago(5))])).await;

    let feedback = json!({"recommendation_id": rec, "value": "up", "device_ts": common::minutes_ago(1)});
    // (method, path, body, parent only)
    let endpoints: Vec<(&str, String, Option<Value>, bool)> = vec![
        ("POST", "/v1/pairing-codes".into(), Some(json!({"role": "child"})), true),
        ("GET", "/v1/devices".into(), None, true),
        ("DELETE", format!("/v1/devices/{child_a_id}"), None, true),
        ("GET", "/v1/family/settings".into(), None, false),
        ("PUT", "/v1/family/settings".into(), Some(json!({"share_text": true})), true),
        ("POST", "/v1/sync/push".into(), Some(json!({"records": []})), false),
        ("GET", "/v1/sync/pull".into(), None, false),
        ("POST", "/v1/feedback".into(), Some(feedback.clone()), true),
        ("GET", "/v1/alerts/stream".into(), None, true),
    ];
    for (method, path, body, parent_only) in &endpoints {
        let send = |token: Option<String>| {
            let body = body.as_ref().map(|b| Body::from(b.to_string()));
            let api = &api;
            async move { api.call(method, path, token.as_deref(), body).await }
        };
        assert_eq!(send(None).await.status, StatusCode::UNAUTHORIZED, "{method} {path} without token");
        assert_eq!(send(Some(revoked.clone())).await.status, StatusCode::UNAUTHORIZED, "{method} {path} revoked");
        assert_eq!(send(Some("0".repeat(64))).await.status, StatusCode::UNAUTHORIZED, "{method} {path} unknown");
        if *parent_only {
            assert_eq!(send(Some(child_a.clone())).await.status, StatusCode::FORBIDDEN, "{method} {path} child");
        }
    }
    // Family B's parent sees nothing of A, and A's ids look exactly like ids that do not exist.
    let other = api.call("DELETE", &format!("/v1/devices/{child_a_id}"), Some(&parent_b), None).await;
    let missing = api.call("DELETE", &format!("/v1/devices/{}", Uuid::now_v7()), Some(&parent_b), None).await;
    assert_eq!((other.status, &other.body), (StatusCode::NOT_FOUND, &missing.body));
    let other = api.json("POST", "/v1/feedback", Some(&parent_b), feedback.clone()).await;
    let missing = api
        .json("POST", "/v1/feedback", Some(&parent_b), json!({"recommendation_id": Uuid::now_v7(), "value": "up", "device_ts": common::minutes_ago(1)}))
        .await;
    assert_eq!((other.status, &other.body), (StatusCode::NOT_FOUND, &missing.body));
    let pulled = api.call("GET", "/v1/sync/pull", Some(&parent_b), None).await;
    assert_eq!(pulled.body["changes"], json!([]));
    let devices = api.call("GET", "/v1/devices", Some(&parent_b), None).await;
    assert_eq!(devices.body.as_array().unwrap().len(), 1);
    // The child of A still works after all that.
    assert_eq!(api.call("GET", "/v1/sync/pull", Some(&child_a), None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn protocol_header_is_required_and_old_clients_get_426() {
    let api = Api::new(common::test_limits()).await;
    let request = Request::builder().method("POST").uri("/v1/families").body(Body::empty()).unwrap();
    let response = api.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
    assert!(response.headers().contains_key(header::UPGRADE));
    let request = Request::builder().uri("/v1/sync/pull").header("migru-protocol", "0").body(Body::empty()).unwrap();
    assert_eq!(api.router.clone().oneshot(request).await.unwrap().status(), StatusCode::UPGRADE_REQUIRED);
    let request = Request::builder().uri("/healthz").body(Body::empty()).unwrap();
    assert_eq!(api.router.clone().oneshot(request).await.unwrap().status(), StatusCode::OK);
    let request = Request::builder().uri("/readyz").body(Body::empty()).unwrap();
    assert_eq!(api.router.clone().oneshot(request).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn pairing_codes_are_single_use_expire_and_attempts_are_limited() {
    let api = Api::new(Limits { anonymous_per_min: 5.0, ..common::test_limits() }).await;
    let (_, parent) = api.family().await;
    let code = api.json("POST", "/v1/pairing-codes", Some(&parent), json!({"role": "child"})).await;
    let code = code.body["code"].as_str().unwrap().to_owned();
    let pair = |code: String| api.json("POST", "/v1/pair", None, json!({"code": code, "device_name": "kid"}));
    assert_eq!(pair(code.clone()).await.status, StatusCode::CREATED);
    let reused = pair(code).await;
    assert_eq!((reused.status, reused.body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_pairing_code")));
    let late = api.json("POST", "/v1/pairing-codes", Some(&parent), json!({"role": "child"})).await;
    api.state.clock.advance(10 * 60 * 1000 + 1);
    assert_eq!(pair(late.body["code"].as_str().unwrap().to_owned()).await.status, StatusCode::BAD_REQUEST);
    // 5 anonymous calls a minute: family creation took 1, the pairs 3; one more, then 429.
    assert_eq!(pair("AAAA-AAAA".into()).await.status, StatusCode::BAD_REQUEST);
    let limited = pair("AAAA-AAAB".into()).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse::<u64>().unwrap() >= 1);
}

#[tokio::test]
async fn devices_are_rate_limited_with_retry_after() {
    let api = Api::new(Limits { device_rate_per_s: 1.0, device_burst: 3.0, ..common::test_limits() }).await;
    let (_, parent) = api.family().await;
    for _ in 0..3 {
        assert_eq!(api.call("GET", "/v1/sync/pull", Some(&parent), None).await.status, StatusCode::OK);
    }
    let limited = api.call("GET", "/v1/sync/pull", Some(&parent), None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers[header::RETRY_AFTER], "1");
}

#[tokio::test]
async fn push_stores_once_and_explains_every_refusal() {
    let api = Api::new(common::test_limits()).await;
    let (_, parent) = api.family().await;
    let (_, child) = api.pair(&parent, "child").await;
    let ts = common::minutes_ago(30);
    let good = common::symptom(4, &ts);
    let mut with_unknown_field = common::symptom(2, &ts);
    with_unknown_field["newer_field"] = json!({"kept": true});
    let records = json!([
        good,
        with_unknown_field,
        {"ts": ts, "kind": "symptom", "intensity": 3},
        {"id": Uuid::now_v7(), "ts": ts, "kind": "symptom", "intensity": "high"},
        {"id": Uuid::now_v7(), "ts": ts, "kind": "message", "text": "my head hurts"},
        {"id": Uuid::now_v7(), "ts": "2090-01-01T00:00:00Z", "kind": "hr", "bpm": 70},
        {"id": Uuid::now_v7(), "ts": "1990-01-01T00:00:00Z", "kind": "hr", "bpm": 70},
        "not an object",
    ]);
    let reply = api.push(&child, records.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(ids(&reply, "accepted").len(), 2);
    assert_eq!(
        refusal_codes(&reply),
        ["missing_id", "invalid_record", "text_not_shared", "ts_out_of_range", "ts_out_of_range", "invalid_record"]
    );
    let reasons = reply.body["refused"].to_string();
    assert!(!reasons.contains("my head hurts") && !reasons.contains("high"), "refusals never echo values: {reasons}");
    // A replayed batch: the same records are duplicates, nothing is stored twice.
    let replay = api.push(&child, records).await;
    assert_eq!(ids(&replay, "duplicate").len(), 2);
    assert!(ids(&replay, "accepted").is_empty());
    // The same id with other content is refused and the original kept.
    let mut changed = good.clone();
    changed["intensity"] = json!(9);
    let conflict = api.push(&child, json!([changed])).await;
    assert_eq!(refusal_codes(&conflict), ["id_conflict"]);
    let pulled = api.call("GET", "/v1/sync/pull", Some(&parent), None).await;
    assert_eq!(pulled.body["changes"], json!([]), "no alert from a refused intensity-9 copy");
}

#[tokio::test]
async fn text_goes_up_only_when_the_family_opted_in() {
    let api = Api::new(common::test_limits()).await;
    let (_, parent) = api.family().await;
    let (_, child) = api.pair(&parent, "child").await;
    let message = json!({"id": Uuid::now_v7(), "ts": common::minutes_ago(1), "kind": "message", "text": "hello"});
    assert_eq!(refusal_codes(&api.push(&child, json!([message.clone()])).await), ["text_not_shared"]);
    let settings = api.json("PUT", "/v1/family/settings", Some(&parent), json!({"share_text": true})).await;
    assert_eq!(settings.status, StatusCode::OK);
    assert_eq!(api.call("GET", "/v1/family/settings", Some(&child), None).await.body, json!({"share_text": true}));
    assert_eq!(ids(&api.push(&child, json!([message])).await, "accepted").len(), 1);
}

#[tokio::test]
async fn malformed_bodies_are_400_and_oversized_are_413() {
    let api = Api::new(Limits { max_body_bytes: 4096, max_records_per_batch: 3, ..common::test_limits() }).await;
    let (_, parent) = api.family().await;
    let raw = |body: &str| api.call("POST", "/v1/sync/push", Some(&parent), Some(Body::from(body.to_owned())));
    assert_eq!(raw("{not json").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(raw(r#"{"records": 5}"#).await.status, StatusCode::BAD_REQUEST);
    let unknown = raw(r#"{"records": [], "extra": 1}"#).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.body["message"].as_str().unwrap().contains("extra"));
    let big = format!(r#"{{"records": [], "pad": "{}"}}"#, "x".repeat(5000));
    assert_eq!(raw(&big).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    let ts = common::minutes_ago(1);
    let four: Vec<Value> = (0..4).map(|_| common::symptom(1, &ts)).collect();
    let too_many = api.push(&parent, json!(four)).await;
    assert_eq!(too_many.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(too_many.body["message"].as_str().unwrap().contains("at most 3"));
    let cursor = api.call("GET", "/v1/sync/pull?cursor=garbage", Some(&parent), None).await;
    assert_eq!(cursor.status, StatusCode::BAD_REQUEST);
    let wrong_type = api.json("POST", "/v1/pairing-codes", Some(&parent), json!({"role": "admin"})).await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn pull_pages_through_recommendations_alerts_and_acks() {
    let api = Api::new(common::test_limits()).await;
    let (family, parent) = api.family().await;
    let (_, child) = api.pair(&parent, "child").await;
    let family = Uuid::parse_str(&family).unwrap();
    let rec = Uuid::now_v7();
    api.state.store.append_change(family, ChangeKind::Recommendation, &rec.to_string(), &json!({"n": 1}), 1).await.unwrap();
    api.state.store.append_change(family, ChangeKind::AdapterVersion, "v3", &json!({"version": 3}), 1).await.unwrap();
    api.push(&child, json!([common::symptom(9, &common::minutes_ago(2)), common::symptom(2, &common::minutes_ago(2))])).await;
    let fb = api.json("POST", "/v1/feedback", Some(&parent), json!({"recommendation_id": rec, "value": "down", "device_ts": common::minutes_ago(0)})).await;
    assert_eq!((fb.status, fb.body["applied"].as_bool()), (StatusCode::OK, Some(true)));
    let mut kinds = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let path = if cursor.is_empty() { "/v1/sync/pull?limit=2".to_owned() } else { format!("/v1/sync/pull?limit=2&cursor={cursor}") };
        let page = api.call("GET", &path, Some(&child), None).await;
        kinds.extend(page.body["changes"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap().to_owned()));
        cursor = page.body["cursor"].as_str().unwrap().to_owned();
        if !page.body["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(kinds, ["recommendation", "adapter_version", "alert", "feedback_ack"]);
    let after = api.call("GET", &format!("/v1/sync/pull?cursor={cursor}"), Some(&child), None).await;
    assert_eq!((after.body["changes"].clone(), after.body["cursor"].as_str()), (json!([]), Some(cursor.as_str())));
}

/// Every pulled change carries the server's sequence number, strictly increasing across pages,
/// and each page its high-water seq (the cursor's position); a replayed page repeats the same seqs.
async fn pulled_changes_carry_the_server_seq(api: Api) {
    let (family, parent) = api.family().await;
    let (_, child) = api.pair(&parent, "child").await;
    let family = Uuid::parse_str(&family).unwrap();
    let mut appended = Vec::new();
    for n in 0..5 {
        appended.push(api.state.store.append_change(family, ChangeKind::Recommendation, &format!("r{n}"), &json!({"n": n}), 1).await.unwrap().seq);
    }
    let (mut seqs, mut marks, mut cursors) = (Vec::new(), Vec::new(), vec![String::new()]);
    loop {
        let cursor = cursors.last().unwrap().clone();
        let path = if cursor.is_empty() { "/v1/sync/pull?limit=2".to_owned() } else { format!("/v1/sync/pull?limit=2&cursor={cursor}") };
        let page = api.call("GET", &path, Some(&child), None).await;
        let page_seqs: Vec<i64> = page.body["changes"].as_array().unwrap().iter().map(|c| c["seq"].as_i64().unwrap()).collect();
        let mark = page.body["high_water_seq"].as_i64().unwrap();
        assert_eq!(Some(&mark), page_seqs.last(), "high-water seq is the page's last seq");
        seqs.extend(page_seqs);
        marks.push(mark);
        cursors.push(page.body["cursor"].as_str().unwrap().to_owned());
        if !page.body["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(seqs, appended, "the seqs on the wire are the ones the store assigned");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "strictly increasing: {seqs:?}");
    assert!(marks.windows(2).all(|w| w[0] < w[1]), "high-water marks increase: {marks:?}");
    let replay = api.call("GET", &format!("/v1/sync/pull?limit=2&cursor={}", cursors[1]), Some(&child), None).await;
    let replayed: Vec<i64> = replay.body["changes"].as_array().unwrap().iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert_eq!(replayed, seqs[2..4]);
    let empty = api.call("GET", &format!("/v1/sync/pull?cursor={}", cursors.last().unwrap()), Some(&child), None).await;
    assert_eq!((empty.body["changes"].clone(), empty.body["high_water_seq"].as_i64()), (json!([]), marks.last().copied()));
}

#[tokio::test]
async fn pulled_changes_carry_the_server_seq_sqlite() {
    pulled_changes_carry_the_server_seq(Api::new(common::test_limits()).await).await;
}

#[tokio::test]
async fn pulled_changes_carry_the_server_seq_postgres() {
    let Some((store, _)) = common::postgres().await else { return };
    pulled_changes_carry_the_server_seq(Api::on(store, None, common::test_limits())).await;
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let api = Api::new(common::test_limits()).await;
    let request = Request::builder().uri("/openapi.json").body(Body::empty()).unwrap();
    let response = api.router.clone().oneshot(request).await.unwrap();
    let doc: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    for path in ["/v1/families", "/v1/pair", "/v1/sync/push", "/v1/sync/pull", "/v1/feedback", "/v1/alerts/stream", "/v1/devices/{device_id}"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from openapi.json");
    }
    assert!(doc["components"]["schemas"].get("PushResponse").is_some());
    assert!(doc["components"]["schemas"]["PullResponse"]["properties"].get("high_water_seq").is_some());
    assert!(doc["components"]["schemas"]["ChangeOut"]["properties"].get("seq").is_some());
}
