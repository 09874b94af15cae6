//! Finding and loading the ONNX Runtime shared library (`ort` with `load-dynamic`).
//!
//! Resolution order: an explicit setting (the app passes the path of its bundled library) →
//! `ORT_DYLIB_PATH` → `libonnxruntime.so.1.31.1` / `libonnxruntime.so` / `libonnxruntime.dylib`
//! beside the executable. A missing file is [`LlmError::RuntimeMissing`], never a panic: `ort::init`
//! would panic, `ort::init_from` returns an error.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::LlmError;

/// The runtime release the project pins (PyPI wheel `onnxruntime==1.31.1`).
pub const PINNED_VERSION: &str = "1.31.1";

/// Where the library would be looked for, first existing wins.
pub fn candidate_paths(setting: Option<&Path>) -> Vec<PathBuf> {
    if let Some(path) = setting {
        return vec![path.to_path_buf()];
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(path)];
    }
    let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) else {
        return Vec::new();
    };
    [format!("libonnxruntime.so.{PINNED_VERSION}"), "libonnxruntime.so".into(), "libonnxruntime.dylib".into(), "onnxruntime.dll".into()]
        .into_iter()
        .map(|name| dir.join(name))
        .collect()
}

/// The library path to load, or the error naming where it was expected.
pub fn resolve_library(setting: Option<&Path>) -> Result<PathBuf, LlmError> {
    let candidates = candidate_paths(setting);
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| LlmError::RuntimeMissing {
        path: candidates.first().cloned().unwrap_or_else(|| PathBuf::from("libonnxruntime.so")),
    })
}

/// A loaded runtime and its environment; one per process (ONNX Runtime keeps one library).
#[derive(Clone)]
pub struct Runtime {
    pub(crate) env: ort::environment::Environment,
    pub library: PathBuf,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("library", &self.library).finish()
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

impl Runtime {
    /// Loads the library once (later calls return the same runtime, whatever `setting` says).
    pub fn init(setting: Option<&Path>) -> Result<Runtime, LlmError> {
        if let Some(runtime) = RUNTIME.get() {
            return Ok(runtime.clone());
        }
        let library = resolve_library(setting)?;
        let load_error = |reason: String| LlmError::RuntimeLoad { path: library.clone(), reason };
        let builder = ort::init_from(&library).map_err(|e| load_error(e.to_string()))?;
        let env = builder.with_name("migru").with_telemetry(false).build().map_err(|e| load_error(e.to_string()))?;
        tracing::info!(library = %library.display(), "ONNX Runtime loaded");
        Ok(RUNTIME.get_or_init(|| Runtime { env, library }).clone())
    }

    /// The process's ONNX Runtime environment, for sessions built outside the engine (benches).
    pub fn environment(&self) -> &ort::environment::Environment {
        &self.env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_missing_path_is_a_clear_error() {
        let err = resolve_library(Some(Path::new("/nonexistent/libonnxruntime.so"))).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/libonnxruntime.so") && text.contains("fetch-onnxruntime.sh"), "{text}");
    }
}
