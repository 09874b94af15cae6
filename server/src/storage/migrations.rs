//! Embedded, versioned schema migrations. Migration N (1-based) upgrades version N-1 to N; a
//! migration is never edited once released, only followed by a new one.

/// SQLite: the version lives in `PRAGMA user_version`.
pub const SQLITE: &[&str] = &[r#"
CREATE TABLE families (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    share_text INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES families(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('parent', 'child')),
    token_hash BLOB NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);
CREATE INDEX devices_family ON devices(family_id);
CREATE TABLE pairing_codes (
    code_hash BLOB PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES families(id),
    role TEXT NOT NULL CHECK (role IN ('parent', 'child')),
    created_by TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms INTEGER
);
CREATE TABLE records (
    family_id TEXT NOT NULL,
    id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    content_hash BLOB NOT NULL,
    line TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (family_id, id)
) WITHOUT ROWID;
CREATE INDEX records_family_ts ON records(family_id, ts_ms);
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    family_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX changes_family_seq ON changes(family_id, seq);
CREATE INDEX changes_family_item ON changes(family_id, kind, item_id);
CREATE TABLE feedback (
    family_id TEXT NOT NULL,
    recommendation_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    value INTEGER NOT NULL,
    device_ts_ms INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (family_id, recommendation_id)
);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    family_id TEXT,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    run_after_ms INTEGER NOT NULL,
    locked_by TEXT,
    locked_until_ms INTEGER,
    last_error TEXT,
    finished_at_ms INTEGER
);
CREATE INDEX jobs_ready ON jobs(state, run_after_ms);
"#,
// 2: deduplicated jobs (one waiting analysis per family) — issue 7.
r#"
ALTER TABLE jobs ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX jobs_dedup_waiting ON jobs(dedup_key) WHERE state = 'queued' AND attempts = 0;
"#,
// 3: retraining (issue 8).
r#"
-- Retraining (issue 8): what each recommendation showed, and the family's LoRA adapters.
CREATE TABLE served_recommendations (
    family_id TEXT NOT NULL,
    recommendation_id TEXT NOT NULL,
    prompt TEXT NOT NULL,
    shown_text TEXT NOT NULL,
    arm TEXT NOT NULL CHECK (arm IN ('base', 'adapter')),
    adapter_version INTEGER,
    served_at_ms INTEGER NOT NULL,
    PRIMARY KEY (family_id, recommendation_id)
);
CREATE TABLE adapters (
    family_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    model_version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    data BLOB NOT NULL,
    feedback_count INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'superseded', 'rolled_back')),
    reason TEXT,
    change_seq INTEGER,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (family_id, version)
);
CREATE INDEX jobs_kind_family ON jobs(kind, family_id, state);
"#];

/// PostgreSQL: the version lives in `migru_schema`; migrations run under an advisory lock so
/// several servers starting together do not race.
pub const POSTGRES: &[&str] = &[r#"
CREATE TABLE families (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    share_text BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms BIGINT NOT NULL
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES families(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('parent', 'child')),
    token_hash BYTEA NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
CREATE INDEX devices_family ON devices(family_id);
CREATE TABLE pairing_codes (
    code_hash BYTEA PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES families(id),
    role TEXT NOT NULL CHECK (role IN ('parent', 'child')),
    created_by TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT
);
CREATE TABLE records (
    family_id TEXT NOT NULL,
    id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    content_hash BYTEA NOT NULL,
    line TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (family_id, id)
);
CREATE INDEX records_family_ts ON records(family_id, ts_ms);
CREATE TABLE changes (
    seq BIGSERIAL PRIMARY KEY,
    family_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX changes_family_seq ON changes(family_id, seq);
CREATE INDEX changes_family_item ON changes(family_id, kind, item_id);
CREATE TABLE feedback (
    family_id TEXT NOT NULL,
    recommendation_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    value SMALLINT NOT NULL,
    device_ts_ms BIGINT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (family_id, recommendation_id)
);
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    family_id TEXT,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    run_after_ms BIGINT NOT NULL,
    locked_by TEXT,
    locked_until_ms BIGINT,
    last_error TEXT,
    finished_at_ms BIGINT
);
CREATE INDEX jobs_ready ON jobs(state, run_after_ms);
"#,
// 2: deduplicated jobs (one waiting analysis per family) — issue 7.
r#"
ALTER TABLE jobs ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX jobs_dedup_waiting ON jobs(dedup_key) WHERE state = 'queued' AND attempts = 0;
"#,
// 3: retraining (issue 8).
r#"
-- Retraining (issue 8): what each recommendation showed, and the family's LoRA adapters.
CREATE TABLE served_recommendations (
    family_id TEXT NOT NULL,
    recommendation_id TEXT NOT NULL,
    prompt TEXT NOT NULL,
    shown_text TEXT NOT NULL,
    arm TEXT NOT NULL CHECK (arm IN ('base', 'adapter')),
    adapter_version BIGINT,
    served_at_ms BIGINT NOT NULL,
    PRIMARY KEY (family_id, recommendation_id)
);
CREATE TABLE adapters (
    family_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    model_version BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    data BYTEA NOT NULL,
    feedback_count BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'superseded', 'rolled_back')),
    reason TEXT,
    change_seq BIGINT,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (family_id, version)
);
CREATE INDEX jobs_kind_family ON jobs(kind, family_id, state);
"#,
// 4: records keyed by 16-byte uuids, not their 36-character text (issue 6). The records table
// grows with every push; its (family_id, id) key was 178 of each record's 486 bytes, and every
// byte a push adds is a byte the kernel's write-back must later write while commits wait behind
// it. uuid order is byte order, which is the order of lowercase hex text, so keyset cursors
// (ts_ms, id) page exactly as before. SQLite stays text: it met its targets and compares bytes.
r#"
ALTER TABLE records
    ALTER COLUMN family_id TYPE uuid USING family_id::uuid,
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN device_id TYPE uuid USING device_id::uuid;
"#];

/// The schema version this build writes.
pub fn latest(migrations: &[&str]) -> i64 {
    migrations.len() as i64
}
