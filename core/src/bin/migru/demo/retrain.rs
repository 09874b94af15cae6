//! Demo step: the parents' thumbs retrain the family's adapter. The server's base
//! recommendation model is pretrained briefly (`migru-server train-base`; a demo-sized run), the
//! parent's phone runs it in ONNX Runtime and serves ten recommendations, the parent rates them,
//! the thumbs sync up, the server's job trains a LoRA adapter with KTO, and the phone's next sync
//! downloads it, verifies it (size, SHA-256, format, the model's inputs) and applies it without a
//! reload.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use migru_core::Companion;
use migru_core::llm::CancelToken;
use migru_core::llm::engine::ModelOptions;
use migru_core::llm::prompt::{ChildProfile, ForecastSummary, Level, ParentRecommendationInput};
use migru_core::sync::SyncConfig;
use serde_json::{Value, json};

/// Pretraining steps of the demo's base model (`train-base` defaults to 300: a better model,
/// minutes instead of seconds).
const BASE_STEPS: &str = "20";
/// Feedbacks that trigger a retrain on the server (its `every_n`).
const THUMBS: usize = 10;
/// How long the retrain job may take to reach the phone.
const ADAPTER_WITHIN: Duration = Duration::from_secs(240);

/// Writes the server's base model into `workdir` (None when it cannot run here, with why).
pub fn base_model(server_binary: &Path, workdir: &Path) -> Result<PathBuf, String> {
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        return Err("no ONNX Runtime library (ORT_DYLIB_PATH unset): the phone cannot run the model".into());
    }
    let dir = workdir.join("base-model");
    let output = Command::new(server_binary)
        .args(["train-base", "--steps", BASE_STEPS, "--samples", "0", "--out"])
        .arg(&dir)
        .output()
        .map_err(|e| format!("starting train-base: {e}"))?;
    if !output.status.success() {
        return Err(format!("train-base failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(dir)
}

/// The parent's phone rates ten recommendations and waits for the retrained adapter.
pub fn run(runtime: &tokio::runtime::Runtime, parent: &Companion, url: &str, token: &str, model: &Path) -> anyhow::Result<Value> {
    parent.load_model(model, &ModelOptions::default()).context("loading the base model on the parent's phone")?;
    let mut thumbs_up = 0;
    for i in 0..THUMBS {
        let done = parent.parent_recommendation(&facts(), &CancelToken::new(), &mut |_| {})?;
        let served = done.served.context("a recommendation carries its A/B arm")?;
        let up = i % 3 != 0;
        thumbs_up += usize::from(up);
        parent.recommendation_feedback(&served, &done.reply.text, up)?;
    }
    let started = Instant::now();
    let config = || SyncConfig::new(url, token);
    let sent = runtime.block_on(parent.sync(config(), None, |_| {}))?.feedback_sent;
    let active = loop {
        if let Some(active) = parent.store().active_adapter()? {
            break active;
        }
        anyhow::ensure!(started.elapsed() < ADAPTER_WITHIN, "no adapter reached the phone within {ADAPTER_WITHIN:?}");
        std::thread::sleep(Duration::from_millis(500));
        runtime.block_on(parent.sync(config(), None, |_| {}))?;
    };
    Ok(json!({
        "feedback_sent": sent,
        "thumbs_up": thumbs_up,
        "adapter_version": active.version,
        "adapter_bytes": active.size_bytes,
        "adapter_sha256": active.sha256,
        "applied": parent.adapter_in_use()? == Some(active.version),
        "seconds_to_phone": started.elapsed().as_secs_f64(),
    }))
}

fn facts() -> ParentRecommendationInput {
    ParentRecommendationInput {
        profile: ChildProfile { name: None, age_years: Some(10), language: "en".into() },
        chronotype: None,
        patterns: Vec::new(),
        forecast: ForecastSummary { stress: Level::Low, migraine_risk: Level::Moderate, note: None },
        causal: None,
        similar_episodes: Vec::new(),
    }
}

/// The prose lines of the step.
pub fn describe(step: &Value) -> Vec<String> {
    if let Some(why) = step["skipped"].as_str() {
        return vec![format!("     skipped: {why}")];
    }
    vec![
        format!(
            "     the parent rated {} recommendations ({} 👍) on their phone; {} thumbs synced",
            THUMBS, step["thumbs_up"], step["feedback_sent"]
        ),
        format!(
            "     the server retrained the family's adapter with KTO: version {} ({} bytes, SHA-256 {}…), on the phone {:.1} s later, verified and applied: {}",
            step["adapter_version"],
            step["adapter_bytes"],
            step["adapter_sha256"].as_str().unwrap_or("").get(..12).unwrap_or(""),
            step["seconds_to_phone"].as_f64().unwrap_or(0.0),
            step["applied"]
        ),
    ]
}
