//! `migru chat`: talk with Migru in the terminal. Streams the model's reply; without a model (or if
//! it cannot load) replies come from templates, with a notice. With `--db`, each message is stored
//! like the app stores it (a conversation turn: a red flag or a due insight follows the reply)
//! and similar past words are recalled from the store.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use migru_core::llm::engine::{LanguageModel, ModelOptions};
use migru_core::llm::prompt::{ChatMessage, ChildProfile, ChildTurnInput, Role};
use migru_core::llm::responder::{ReplyEvent, Responder};
use migru_core::llm::retrieval::{Episode, most_similar, recall};
use migru_core::llm::{CancelToken, SamplingParams};

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// Model folder (onnxruntime-genai layout); without one, Migru answers from templates.
    #[arg(long, env = "MIGRU_MODEL")]
    pub model: Option<PathBuf>,
    /// A LoRA adapter file (the child's personalisation).
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub age: Option<u8>,
    #[arg(long, default_value = "en")]
    pub language: String,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub ort_lib: Option<PathBuf>,
}

pub fn run(global: &Global, args: ChatArgs) -> anyhow::Result<()> {
    let model = args.model.as_ref().and_then(|dir| match load(dir, &args) {
        Ok(model) => Some(model),
        Err(error) => {
            eprintln!("migru: the language model could not be used ({error:#}); replying with templates.");
            None
        }
    });
    if args.model.is_none() {
        eprintln!("migru: no language model given (--model); replying with templates.");
    }
    let mut responder = Responder::new(model)?;
    responder.child_options.sampling = SamplingParams::chat(args.seed);
    let profile = ChildProfile { name: args.name.clone(), age_years: args.age, language: args.language.clone() };
    let mut turns: Vec<ChatMessage> = Vec::new();
    let mut said: Vec<Episode> = Vec::new();
    // With --db, the chat is the app's: each message is classified and stored, and similar past
    // words come from the store's FTS5 index. Without it, nothing is stored.
    let companion = global.db.as_ref().map(|_| crate::data::open(global)).transpose()?;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    if !global.json {
        print!("You: ");
        stdout.flush()?;
    }
    for line in stdin.lock().lines() {
        let message = line?.trim().to_string();
        if message.is_empty() {
            continue;
        }
        // With a store, the turn also runs the insight policy: a red flag or a due insight is
        // said after the reply.
        let mut decision = None;
        let similar: Vec<String> = match &companion {
            Some(companion) => {
                decision = Some(companion.converse(&message, None, &args.language)?.decision);
                recall(companion.store(), companion.user(), &message, 3, |h| h.text.trim() != message)?
                    .iter()
                    .map(|r| r.prompt_line())
                    .collect()
            }
            None => most_similar(&message, &said, 3)
                .into_iter()
                .filter_map(|s| said.iter().find(|e| e.id == s.id).map(|e| e.text.clone()))
                .collect(),
        };
        let recalled = similar.clone();
        let input = ChildTurnInput { profile: profile.clone(), message: message.clone(), recent_turns: turns.clone(), similar_episodes: similar };
        if !global.json {
            print!("Migru: ");
            stdout.flush()?;
        }
        let json = global.json;
        let reply = responder.reply_to_child(&input, &CancelToken::new(), &mut |event| {
            if json {
                return;
            }
            match event {
                ReplyEvent::Token { .. } => return,
                ReplyEvent::Text(t) => print!("{t}"),
                ReplyEvent::Replace(t) => print!("\r\x1b[2KMigru: {t}"),
            }
            let _ = std::io::stdout().flush();
        });
        let said_too = decision.as_ref().and_then(|d| d.message_child());
        if json {
            print_json(&serde_json::json!({
                "text": reply.text, "source": reply.source, "verdict": reply.verdict, "recalled": recalled, "decision": decision,
            }))?;
        } else {
            if let Some(words) = &said_too {
                print!("\nMigru: {words}");
            }
            print!("\nYou: ");
            stdout.flush()?;
        }
        said.push(Episode { id: said.len() as i64, text: message.clone() });
        turns.push(ChatMessage::new(Role::User, message));
        turns.push(ChatMessage::new(Role::Assistant, reply.text));
    }
    if !global.json {
        println!();
    }
    Ok(())
}

fn load(dir: &std::path::Path, args: &ChatArgs) -> anyhow::Result<LanguageModel> {
    let mut lm = LanguageModel::load(dir, &ModelOptions { runtime_library: args.ort_lib.clone(), ..ModelOptions::default() })?;
    if let Some(path) = &args.adapter {
        lm.load_adapter("child", path)?;
        lm.set_active_adapter(Some("child"))?;
    }
    Ok(lm)
}
