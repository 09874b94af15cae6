//! Demo step: the family on a real server. `migru-server` (built beside `migru`; the README's
//! demo script builds both) is started on loopback with a SQLite file in the demo folder. A
//! parent creates the family, pairs this child's phone with a one-time code, the phone syncs (the
//! child's words stay on the phone: the family has not opted in), the server runs its scheduled
//! causal analysis, and a second, parent phone pulls the red-flag alert and the analysis results.
//! The same server then retrains the family's adapter from the parent's thumbs (`retrain`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use migru_core::Companion;
use migru_core::store::Store;
use migru_core::sync::{self, PulledChange, SyncClient, SyncConfig, SyncProgress};
use serde_json::{Value, json};

/// How long the server may take to come up, and the analysis to reach the parent.
const READY_WITHIN: Duration = Duration::from_secs(20);
const ANALYSIS_WITHIN: Duration = Duration::from_secs(30);

/// The server process, stopped when dropped (also when a step fails).
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The family step, and the retraining step (`retrain`) on the same server unless `retrain` is
/// false; each is `{"skipped": why}` when it cannot run here.
pub fn run(companion: &Companion, workdir: &Path, retrain: bool) -> anyhow::Result<(Value, Value)> {
    let Some(binary) = server_binary() else {
        let why = json!({ "skipped": "migru-server is not built beside migru (scripts/demo.sh builds both)" });
        return Ok((why.clone(), why));
    };
    let model = if retrain { super::retrain::base_model(&binary, workdir) } else { Err("--no-retrain".to_owned()) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    let server = start(&binary, workdir, model.as_ref().ok().map(PathBuf::as_path))?;
    runtime.block_on(wait_ready(&server.url))?;
    let url = server.url.as_str();
    let parent = runtime.block_on(sync::create_family(url, "Demo family", "parent phone"))?;
    let code = runtime.block_on(sync::create_pairing_code(url, &parent.token, "child"))?;
    let child = runtime.block_on(sync::pair(url, &code.code, "child phone"))?;
    companion.store().set_setting(crate::sync::TOKEN_KEY, &child.token)?;
    let pushed = runtime.block_on(sync_once(companion.store(), url, &child.token))?.0;

    let parent_phone = Companion::open(workdir.join("parent-phone.db"))?;
    let pulled = runtime.block_on(pull_until_analysis(parent_phone.store(), url, &parent.token))?;
    let family = json!({
        "server": url,
        "pairing_code": code.code,
        "child_role": child.role,
        "pushed": progress_json(&pushed),
        "parent_pulled": pulled.iter().map(|c| json!({ "kind": c.kind, "body": c.body })).collect::<Vec<_>>(),
    });
    let retrained = match model {
        Ok(dir) => super::retrain::run(&runtime, &parent_phone, url, &parent.token, &dir)?,
        Err(why) => json!({ "skipped": why }),
    };
    Ok((family, retrained))
}

/// `migru-server` beside this executable.
fn server_binary() -> Option<PathBuf> {
    let path = std::env::current_exe().ok()?.with_file_name(format!("migru-server{}", std::env::consts::EXE_SUFFIX));
    path.is_file().then_some(path)
}

fn start(binary: &Path, workdir: &Path, model_dir: Option<&Path>) -> anyhow::Result<Server> {
    // A free loopback port: bind, note, release (the server binds it a moment later).
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let log = std::fs::File::create(workdir.join("server.log"))?;
    let mut command = Command::new(binary);
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--database-url")
        .arg(format!("sqlite:{}", workdir.join("server.db").display()))
        .args(["--analysis-delay-s", "1"]);
    if let Some(dir) = model_dir {
        command.arg("--model-dir").arg(dir);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    Ok(Server { child, url: format!("http://127.0.0.1:{port}") })
}

async fn wait_ready(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + READY_WITHIN;
    while Instant::now() < deadline {
        if client.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("migru-server did not become ready within {READY_WITHIN:?} (see server.log in the demo folder)")
}

/// One sync of `store` with `token`: what went up, and the changes that came down.
async fn sync_once(store: &Store, url: &str, token: &str) -> anyhow::Result<(SyncProgress, Vec<PulledChange>)> {
    let client = SyncClient::new(SyncConfig::new(url, token))?;
    let mut pulled = Vec::new();
    let progress = client
        .sync(store, |_| {}, |change| {
            pulled.push(change.clone());
            Ok(())
        })
        .await?;
    Ok((progress, pulled))
}

/// The parent phone syncs until the scheduled analysis has published its results.
async fn pull_until_analysis(store: &Store, url: &str, token: &str) -> anyhow::Result<Vec<PulledChange>> {
    let deadline = Instant::now() + ANALYSIS_WITHIN;
    let mut all = Vec::new();
    loop {
        all.extend(sync_once(store, url, token).await?.1);
        if all.iter().any(|c| c.kind == "analysis_result") || Instant::now() > deadline {
            return Ok(all);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn progress_json(p: &SyncProgress) -> Value {
    json!({ "accepted": p.accepted, "duplicate": p.duplicate, "refused": p.refused, "kept_private": p.kept_private })
}

/// The prose lines of the step.
pub fn describe(step: &Value) -> Vec<String> {
    if let Some(why) = step["skipped"].as_str() {
        return vec![format!("     skipped: {why}")];
    }
    let pushed = &step["pushed"];
    let changes = step["parent_pulled"].as_array().cloned().unwrap_or_default();
    let count = |kind: &str| changes.iter().filter(|c| c["kind"] == kind).count();
    let mut lines = vec![
        format!("     migru-server on {} (SQLite); the parent created the family and paired the child's phone with code {}", step["server"].as_str().unwrap_or(""), step["pairing_code"].as_str().unwrap_or("")),
        format!(
            "     child's phone pushed {} records ({} refused); {} messages kept on the phone (no opt-in to share words)",
            pushed["accepted"], pushed["refused"], pushed["kept_private"]
        ),
        format!("     parent's phone pulled {} alerts and {} analysis results", count("alert"), count("analysis_result")),
    ];
    for change in changes.iter().filter(|c| c["kind"] == "analysis_result").take(3) {
        lines.push(format!("       {}", change["body"]["summary"]["text"].as_str().unwrap_or("")));
    }
    lines
}
