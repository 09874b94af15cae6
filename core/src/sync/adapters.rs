//! LoRA adapters pulled through sync (`adapter_version` changes, `docs/training.md`): decoded,
//! verified, written atomically under the app's data folder, recorded in the store and activated
//! for the family; a rollback published by the server deactivates its version. With a model
//! loaded (the `Companion`'s `Assistant`), the newly active adapter is applied without reloading it.
//!
//! Verification reuses the `llm` checks: size and SHA-256 (`assistant::verify_bytes`), the `TORT`
//! format with every parameter's bytes matching its shape (`AdapterFile::from_bytes`), the
//! published parameter list, and the loaded model's adapter inputs (`Assistant::check_adapter`).
//! A broken or mismatched adapter is stored as `refused` with the reason and the previously active
//! one stays active.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;

use super::PulledChange;
use crate::llm::adapter::AdapterFile;
use crate::llm::assistant::{AdapterOutcome, Assistant, AssistantError, ModelCheck, verify_bytes};
use crate::store::{AdapterRecord, AdapterStatus, Store, StoreError, now_ms};

/// The change kind the server publishes adapters under.
pub const KIND: &str = "adapter_version";
/// Adapters larger than this are refused unread (the server publishes under 1 MiB).
pub const MAX_ADAPTER_BYTES: i64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum AdapterSyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Assistant(#[from] AssistantError),
    #[error("writing adapter file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// What became of one `adapter_version` change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterUpdate {
    /// Verified, stored and active (and applied to the loaded model, if any).
    Activated { version: i64 },
    /// Already stored and active, or a re-delivered refusal: nothing changed.
    Unchanged { version: i64 },
    /// Failed verification: stored as refused; the previously active adapter stays.
    Refused { version: i64, reason: String },
    /// The server rolled this version back: it is inactive now and the base model answers.
    RolledBack { version: i64 },
    /// A body this build cannot read (logged; nothing stored).
    Unreadable { reason: String },
}

#[derive(Debug, Deserialize)]
struct Body {
    version: i64,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    sha256: String,
    #[serde(default)]
    size_bytes: Option<i64>,
    #[serde(default)]
    parameters: Vec<ParamSpec>,
    #[serde(default)]
    data_base64: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
struct ParamSpec {
    name: String,
    dims: Vec<i64>,
}

/// Installs pulled adapters into one store and folder, and onto an assistant's model.
#[derive(Debug, Clone)]
pub struct AdapterInstaller {
    dir: PathBuf,
    assistant: Option<Arc<Assistant>>,
}

impl AdapterInstaller {
    /// Files go to `dir` (created when the first adapter arrives).
    pub fn new(dir: impl Into<PathBuf>, assistant: Option<Arc<Assistant>>) -> Self {
        Self { dir: dir.into(), assistant }
    }

    /// The folder beside the store's database: `<data dir>/adapters`.
    pub fn beside(store: &Store, assistant: Option<Arc<Assistant>>) -> Self {
        let data_dir = store.path().parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Self::new(data_dir.join("adapters"), assistant)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Handles one pulled change; changes of other kinds are ignored (`None`). Idempotent: the
    /// same change pulled again (a page re-delivered after a crash) leaves the same state.
    pub fn on_change(&self, store: &Store, change: &PulledChange) -> Result<Option<AdapterUpdate>, AdapterSyncError> {
        if change.kind != KIND {
            return Ok(None);
        }
        let body: Body = match serde_json::from_value(change.body.clone()) {
            Ok(body) => body,
            Err(e) => {
                let reason = format!("adapter change {} is not readable: {e}", change.id);
                tracing::warn!(%reason, "adapter change skipped");
                return Ok(Some(AdapterUpdate::Unreadable { reason }));
            }
        };
        let update = match body.state.as_deref().unwrap_or("active") {
            "active" => self.install(store, &body)?,
            "rolled_back" => self.roll_back(store, &body)?,
            other => AdapterUpdate::Unreadable { reason: format!("adapter {} has unknown state {other:?}", body.version) },
        };
        tracing::info!(?update, "adapter change handled");
        Ok(Some(update))
    }

    fn install(&self, store: &Store, body: &Body) -> Result<AdapterUpdate, AdapterSyncError> {
        let version = body.version;
        let existing = store.adapters()?.into_iter().find(|a| a.version == version);
        if let Some(existing) = &existing {
            let same = existing.sha256.eq_ignore_ascii_case(&body.sha256);
            match existing.status {
                AdapterStatus::Active if same => return Ok(AdapterUpdate::Unchanged { version }),
                AdapterStatus::Refused if same => return Ok(AdapterUpdate::Unchanged { version }),
                // A verified file is kept: a damaged second copy of the same version never
                // replaces it; the change still says "active", so it becomes active again.
                AdapterStatus::Inactive if same && stored_file_ok(existing) => return self.activate(store, version),
                _ => {}
            }
        }
        let bytes = match self.verify(body) {
            Ok(bytes) => bytes,
            Err(reason) => return Ok(self.refuse(store, body, reason)?),
        };
        let path = self.write_atomically(version, &body.sha256, &bytes)?;
        let record = AdapterRecord {
            version,
            sha256: body.sha256.to_ascii_lowercase(),
            size_bytes: bytes.len() as i64,
            path: path.to_string_lossy().into_owned(),
            status: AdapterStatus::Inactive,
            reason: None,
            received_ms: now_ms(),
        };
        store.put_adapter(&record)?;
        self.activate(store, version)
    }

    /// Size, SHA-256, format, the published parameter list, and the loaded model's inputs.
    fn verify(&self, body: &Body) -> Result<Vec<u8>, String> {
        let size = body.size_bytes.ok_or("the change names no size")?;
        if !(1..=MAX_ADAPTER_BYTES).contains(&size) {
            return Err(format!("size {size} bytes is outside 1..={MAX_ADAPTER_BYTES}"));
        }
        let data = body.data_base64.as_deref().ok_or("the change carries no adapter data")?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| format!("adapter data is not base64: {e}"))?;
        verify_bytes(&bytes, size, &body.sha256)?;
        let file = AdapterFile::from_bytes(&bytes).map_err(|e| e.to_string())?;
        let shapes: Vec<ParamSpec> = file.params.iter().map(|p| ParamSpec { name: p.name.clone(), dims: p.dims.clone() }).collect();
        if shapes != body.parameters {
            return Err(format!(
                "the file's {} parameters (names and shapes) differ from the {} the change lists",
                shapes.len(),
                body.parameters.len()
            ));
        }
        if let Some(assistant) = &self.assistant {
            match assistant.check_adapter(&file).map_err(|e| e.to_string())? {
                ModelCheck::Mismatch(reason) => return Err(format!("does not fit the installed model: {reason}")),
                ModelCheck::Fits | ModelCheck::NoModel => {}
            }
        }
        Ok(bytes)
    }

    fn refuse(&self, store: &Store, body: &Body, reason: String) -> Result<AdapterUpdate, StoreError> {
        tracing::warn!(version = body.version, %reason, "pulled adapter refused");
        let record = AdapterRecord {
            version: body.version,
            sha256: body.sha256.to_ascii_lowercase(),
            size_bytes: body.size_bytes.unwrap_or(0),
            path: String::new(),
            status: AdapterStatus::Refused,
            reason: Some(reason.clone()),
            received_ms: now_ms(),
        };
        store.put_adapter(&record)?;
        Ok(AdapterUpdate::Refused { version: body.version, reason })
    }

    /// Makes `version` the active adapter and applies it to the loaded model. Should the model
    /// refuse it after all, the previously active adapter is made active again.
    fn activate(&self, store: &Store, version: i64) -> Result<AdapterUpdate, AdapterSyncError> {
        let previous = store.active_adapter()?;
        store.activate_adapter(version)?;
        let Some(assistant) = &self.assistant else { return Ok(AdapterUpdate::Activated { version }) };
        let active = store.active_adapter()?;
        match assistant.apply_adapter(store, active.as_ref())? {
            AdapterOutcome::Refused { reason, .. } => {
                if let Some(previous) = previous.filter(|p| p.version != version) {
                    store.activate_adapter(previous.version)?;
                    assistant.apply_adapter(store, Some(&previous))?;
                }
                Ok(AdapterUpdate::Refused { version, reason })
            }
            AdapterOutcome::Active { .. } | AdapterOutcome::NoModel | AdapterOutcome::NoneActive => Ok(AdapterUpdate::Activated { version }),
        }
    }

    fn roll_back(&self, store: &Store, body: &Body) -> Result<AdapterUpdate, AdapterSyncError> {
        let version = body.version;
        let Some(existing) = store.adapters()?.into_iter().find(|a| a.version == version) else {
            return Ok(AdapterUpdate::RolledBack { version });
        };
        if existing.status == AdapterStatus::Refused {
            return Ok(AdapterUpdate::Unchanged { version });
        }
        let was_active = existing.status == AdapterStatus::Active;
        let reason = format!("rolled back by the server: {}", body.reason.as_deref().unwrap_or("worse than the base model"));
        store.put_adapter(&AdapterRecord { status: AdapterStatus::Inactive, reason: Some(reason), ..existing })?;
        if was_active && let Some(assistant) = &self.assistant {
            assistant.apply_adapter(store, None)?;
        }
        Ok(AdapterUpdate::RolledBack { version })
    }

    /// `<dir>/v<version>-<sha prefix>.onnx_adapter`, written to a temporary file, synced, then
    /// renamed: a crash leaves the old file or the new one, never half of one.
    fn write_atomically(&self, version: i64, sha256: &str, bytes: &[u8]) -> Result<PathBuf, AdapterSyncError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| AdapterSyncError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let prefix: String = sha256.chars().filter(char::is_ascii_hexdigit).take(12).collect();
        let path = self.dir.join(format!("v{version}-{prefix}.onnx_adapter"));
        let temp = self.dir.join(format!(".v{version}-{prefix}.onnx_adapter.part"));
        let mut file = std::fs::File::create(&temp).map_err(io(&temp))?;
        file.write_all(bytes).map_err(io(&temp))?;
        file.sync_all().map_err(io(&temp))?;
        drop(file);
        std::fs::rename(&temp, &path).map_err(io(&path))?;
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            // Makes the rename durable where the platform allows syncing a directory.
            let _ = dir.sync_all();
        }
        Ok(path)
    }
}

/// The stored file still has the recorded size and SHA-256.
fn stored_file_ok(record: &AdapterRecord) -> bool {
    std::fs::read(&record.path).is_ok_and(|bytes| verify_bytes(&bytes, record.size_bytes, &record.sha256).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::adapter::AdapterParam;
    use serde_json::json;

    fn adapter(seed: f32) -> Vec<u8> {
        let params = vec![
            AdapterParam::f32("model.layers.0.attn.q_proj.lora_A.weight", vec![4, 2], &[seed; 8]),
            AdapterParam::f32("model.layers.0.attn.q_proj.lora_B.weight", vec![2, 4], &[seed; 8]),
        ];
        AdapterFile::new(1, 1, params).to_bytes()
    }

    fn change(version: i64, bytes: &[u8]) -> PulledChange {
        use sha2::Digest;
        let sha: String = sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
        let params: Vec<_> = AdapterFile::from_bytes(bytes).unwrap().params.iter().map(|p| json!({"name": p.name, "dims": p.dims})).collect();
        PulledChange {
            kind: KIND.into(),
            id: format!("adapter-{version}"),
            body: json!({"version": version, "state": "active", "model_version": 1, "sha256": sha, "size_bytes": bytes.len(),
                "feedback_count": 10, "parameters": params,
                "data_base64": base64::engine::general_purpose::STANDARD.encode(bytes)}),
            created_at_ms: 1,
            seq: Some(version),
        }
    }

    fn setup() -> (tempfile::TempDir, Store, AdapterInstaller) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("phone.db")).unwrap();
        let installer = AdapterInstaller::beside(&store, None);
        (dir, store, installer)
    }

    fn active(store: &Store) -> Option<i64> {
        store.active_adapter().unwrap().map(|a| a.version)
    }

    #[test]
    fn a_published_adapter_is_stored_beside_the_database_and_activated_once() {
        let (dir, store, installer) = setup();
        let bytes = adapter(0.5);
        assert_eq!(installer.on_change(&store, &change(1, &bytes)).unwrap(), Some(AdapterUpdate::Activated { version: 1 }));
        let record = store.active_adapter().unwrap().unwrap();
        assert_eq!(std::fs::read(&record.path).unwrap(), bytes);
        assert!(Path::new(&record.path).starts_with(dir.path().join("adapters")));
        assert_eq!(installer.on_change(&store, &change(1, &bytes)).unwrap(), Some(AdapterUpdate::Unchanged { version: 1 }));
        let other = PulledChange { kind: "alert".into(), ..change(1, &bytes) };
        assert_eq!(installer.on_change(&store, &other).unwrap(), None, "other kinds are not adapters");
        assert_eq!(std::fs::read_dir(installer.dir()).unwrap().count(), 1, "no temporary file is left");
    }

    #[test]
    fn damaged_downloads_are_refused_and_the_active_adapter_stays() {
        let (_dir, store, installer) = setup();
        installer.on_change(&store, &change(1, &adapter(0.5))).unwrap();
        let good = change(2, &adapter(0.25));
        let mut cases = Vec::new();
        let mut flipped = good.clone();
        let mut bytes = adapter(0.25);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        flipped.body["data_base64"] = base64::engine::general_purpose::STANDARD.encode(&bytes).into();
        cases.push((flipped, "SHA-256"));
        let mut size = good.clone();
        size.body["size_bytes"] = json!(7);
        cases.push((size, "bytes"));
        let mut shapes = good.clone();
        shapes.body["parameters"][1]["dims"] = json!([2, 5]);
        cases.push((shapes, "differ from"));
        let mut not_base64 = good.clone();
        not_base64.body["data_base64"] = json!("%%%");
        cases.push((not_base64, "base64"));
        let mut huge = good.clone();
        huge.body["size_bytes"] = json!(MAX_ADAPTER_BYTES + 1);
        cases.push((huge, "outside"));
        let garbage = b"not an adapter at all, but hashed honestly".to_vec();
        let mut not_tort = change(2, &adapter(0.25));
        {
            use sha2::Digest;
            let sha: String = sha2::Sha256::digest(&garbage).iter().map(|b| format!("{b:02x}")).collect();
            not_tort.body["sha256"] = sha.into();
            not_tort.body["size_bytes"] = json!(garbage.len());
            not_tort.body["data_base64"] = base64::engine::general_purpose::STANDARD.encode(&garbage).into();
        }
        cases.push((not_tort, "TORT"));
        for (i, (mut bad, expected)) in cases.into_iter().enumerate() {
            let version = 10 + i as i64;
            bad.body["version"] = json!(version);
            match installer.on_change(&store, &bad).unwrap() {
                Some(AdapterUpdate::Refused { reason, .. }) => assert!(reason.contains(expected), "{expected}: {reason}"),
                other => panic!("{expected}: {other:?}"),
            }
            let record = store.adapters().unwrap().into_iter().find(|a| a.version == version).unwrap();
            assert_eq!(record.status, AdapterStatus::Refused);
            assert_eq!(active(&store), Some(1), "{expected}");
        }
        // A damaged re-delivery of the active version never replaces its verified file.
        let mut again = change(1, &adapter(0.5));
        again.body["data_base64"] = json!("AAAA");
        assert_eq!(installer.on_change(&store, &again).unwrap(), Some(AdapterUpdate::Unchanged { version: 1 }));
        let unreadable = PulledChange { body: json!({"no": "version"}), ..change(3, &adapter(0.1)) };
        assert!(matches!(installer.on_change(&store, &unreadable).unwrap(), Some(AdapterUpdate::Unreadable { .. })));
    }

    #[test]
    fn a_rollback_deactivates_and_a_replayed_page_ends_in_the_same_state() {
        let (_dir, store, installer) = setup();
        let (v1, v2) = (change(1, &adapter(0.5)), change(2, &adapter(0.25)));
        let rollback = PulledChange {
            id: "adapter-2-rollback".into(),
            body: json!({"version": 2, "sha256": v2.body["sha256"], "state": "rolled_back", "reason": "worse than base"}),
            ..v2.clone()
        };
        let page = [v1, v2, rollback];
        for c in &page {
            installer.on_change(&store, c).unwrap();
        }
        assert_eq!(active(&store), None, "the server serves the base model after a rollback");
        let v2 = store.adapters().unwrap().into_iter().find(|a| a.version == 2).unwrap();
        assert_eq!(v2.status, AdapterStatus::Inactive);
        assert!(v2.reason.as_deref().unwrap().contains("worse than base"));
        let before = store.adapters().unwrap();
        for c in &page {
            installer.on_change(&store, c).unwrap();
        }
        let after = store.adapters().unwrap();
        assert_eq!(active(&store), None);
        assert_eq!(
            before.iter().map(|a| (a.version, a.status)).collect::<Vec<_>>(),
            after.iter().map(|a| (a.version, a.status)).collect::<Vec<_>>()
        );
        let unknown = PulledChange { body: json!({"version": 9, "state": "rolled_back"}), ..page[2].clone() };
        assert_eq!(installer.on_change(&store, &unknown).unwrap(), Some(AdapterUpdate::RolledBack { version: 9 }));
    }
}
