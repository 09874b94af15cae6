//! Demo step: Migru's reply to the child. With the ONNX Runtime library (`ORT_DYLIB_PATH`, which
//! the README's set-up exports) the small seeded demo model is written and run in a real ONNX
//! Runtime session, and the guardrail judges its text; its weights are random, so the guardrail
//! usually replaces the words with a prepared reply, which is what the step shows. Without the
//! library the reply comes from templates, and the step says so.

use std::path::Path;

use migru_core::llm::demo::{DemoSpec, write_demo_model};
use migru_core::llm::engine::{LanguageModel, ModelOptions};
use migru_core::llm::prompt::{ChildProfile, ChildTurnInput};
use migru_core::llm::responder::Responder;
use migru_core::llm::retrieval::recall;
use migru_core::llm::CancelToken;
use migru_core::Companion;
use serde_json::{Value, json};

/// The child's message the reply answers.
const MESSAGE: &str = "my head hurts after football";

pub fn run(companion: &Companion, workdir: &Path) -> anyhow::Result<Value> {
    let (model, model_note) = demo_model(workdir);
    let mut responder = Responder::new(model)?;
    let similar = recall(companion.store(), companion.user(), MESSAGE, 3, |h| h.text.trim() != MESSAGE)?;
    let input = ChildTurnInput {
        profile: ChildProfile { name: None, age_years: Some(10), language: "en".into() },
        message: MESSAGE.into(),
        recent_turns: Vec::new(),
        similar_episodes: similar.iter().map(|h| h.prompt_line()).collect(),
    };
    let reply = responder.reply_to_child(&input, &CancelToken::new(), &mut |_| {});
    Ok(json!({
        "message": MESSAGE,
        "model": model_note,
        "recalled": input.similar_episodes,
        "reply": reply.text,
        "source": reply.source,
        "verdict": reply.verdict,
        "generation": reply.generation.map(|g| json!({
            "prompt_tokens": g.prompt_tokens, "tokens": g.tokens.len(), "ms_first_token": g.ms_first_token, "ms_total": g.ms_total,
        })),
    }))
}

/// The demo model in a real ONNX Runtime session, or why there is none.
fn demo_model(workdir: &Path) -> (Option<LanguageModel>, String) {
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        return (None, "no ONNX Runtime library (ORT_DYLIB_PATH unset): replies come from templates".into());
    }
    let dir = workdir.join("demo-model");
    let loaded = write_demo_model(&dir, &DemoSpec::default())
        .map_err(anyhow::Error::from)
        .and_then(|summary| Ok((LanguageModel::load(&dir, &ModelOptions::default())?, summary)));
    match loaded {
        Ok((model, summary)) => {
            (Some(model), format!("seeded demo model, {} parameters, in ONNX Runtime (random weights: words are not meaningful)", summary.parameters))
        }
        Err(error) => (None, format!("the demo model could not be loaded ({error:#}): replies come from templates")),
    }
}

/// The prose lines of the step.
pub fn describe(step: &Value) -> Vec<String> {
    let mut lines = vec![
        format!("     model: {}", step["model"].as_str().unwrap_or("")),
        format!("     child: \"{}\"", step["message"].as_str().unwrap_or("")),
        format!("     recalled from the store: {}", step["recalled"].as_array().map_or(0, Vec::len)),
    ];
    if let Some(g) = step["generation"].as_object() {
        lines.push(format!(
            "     generated {} tokens ({} prompt tokens, first token {:.1} ms, total {:.1} ms); guardrail: {}",
            g["tokens"], g["prompt_tokens"], g["ms_first_token"].as_f64().unwrap_or(0.0), g["ms_total"].as_f64().unwrap_or(0.0),
            step["verdict"]
        ));
    }
    lines.push(format!("     Migru ({}): {}", step["source"].as_str().unwrap_or(""), step["reply"].as_str().unwrap_or("")));
    lines
}
