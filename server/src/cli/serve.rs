//! `migru-server serve`: configuration from flags and environment, database, migrations, listen.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::jobs;
use crate::state::{AppState, Limits};
use crate::storage;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MIGRU_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// `sqlite:PATH` (one machine) or `postgres://USER:PASSWORD@HOST:PORT/DB` (several servers).
    #[arg(long, env = "MIGRU_DATABASE_URL", default_value = "sqlite:migru-server.db", hide_env_values = true)]
    pub database_url: String,
    /// PEM certificate chain; with `--tls-key`, serves HTTPS (rustls).
    #[arg(long, env = "MIGRU_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `--tls-cert`.
    #[arg(long, env = "MIGRU_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy only).
    #[arg(long, env = "MIGRU_ALLOW_INSECURE_PUBLIC")]
    pub allow_insecure_public: bool,
    /// Seconds to let in-flight requests finish after SIGINT/SIGTERM.
    #[arg(long, env = "MIGRU_SHUTDOWN_GRACE_S", default_value_t = 30)]
    pub shutdown_grace_s: u64,
    /// Largest request body in bytes (413 beyond).
    #[arg(long, env = "MIGRU_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Most records in one push (413 beyond).
    #[arg(long, env = "MIGRU_MAX_RECORDS_PER_BATCH", default_value_t = Limits::default().max_records_per_batch)]
    pub max_records_per_batch: usize,
    /// Sustained requests per second per device (429 with Retry-After beyond the burst).
    #[arg(long, env = "MIGRU_DEVICE_RATE", default_value_t = Limits::default().device_rate_per_s)]
    pub device_rate: f64,
    /// Requests a device may burst above its rate.
    #[arg(long, env = "MIGRU_DEVICE_BURST", default_value_t = Limits::default().device_burst)]
    pub device_burst: f64,
    /// Background job workers in this process (0: this process only serves requests).
    #[arg(long, env = "MIGRU_JOB_WORKERS", default_value_t = 1)]
    pub job_workers: usize,
    /// Seconds after a family's push before its causal analysis runs (one run per burst).
    #[arg(long, env = "MIGRU_ANALYSIS_DELAY_S", default_value_t = 60)]
    pub analysis_delay_s: u64,
    /// Seconds a claimed job is reserved; a crashed worker's job is taken over after this.
    #[arg(long, env = "MIGRU_JOB_LEASE_S", default_value_t = 600)]
    pub job_lease_s: u64,
    /// The recommendation model folder (`migru-server train-base --out DIR`). With it, every 10
    /// new parent feedbacks retrain the family's adapter; without it, no retraining runs here.
    #[arg(long, env = "MIGRU_MODEL_DIR")]
    pub model_dir: Option<std::path::PathBuf>,
}

impl ServeArgs {
    fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.max_body_bytes,
            max_records_per_batch: self.max_records_per_batch,
            device_rate_per_s: self.device_rate,
            device_burst: self.device_burst,
            ..Limits::default()
        }
    }

    /// Plain HTTP off loopback would send tokens and children's data in clear.
    fn check_transport(&self) -> anyhow::Result<()> {
        if self.tls_cert.is_none() && !self.listen.ip().is_loopback() && !self.allow_insecure_public {
            bail!(
                "refusing plain HTTP on {}: give --tls-cert and --tls-key, listen on loopback, \
                 or pass --allow-insecure-public behind a TLS-terminating proxy",
                self.listen
            );
        }
        Ok(())
    }
}

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    args.check_transport()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let store = storage::open(&args.database_url)
        .await
        .with_context(|| format!("opening {}", storage::redact_url(&args.database_url)))?;
    let mut state = AppState::new(store, args.limits()).with_analysis_delay(Duration::from_secs(args.analysis_delay_s));
    if let Some(dir) = &args.model_dir {
        anyhow::ensure!(dir.join("genai_config.json").is_file(), "--model-dir {}: no genai_config.json (run `migru-server train-base --out DIR`)", dir.display());
        state = state.with_training(crate::training::job::TrainingSettings::new(dir.clone()));
    }
    let grace = Duration::from_secs(args.shutdown_grace_s);
    // One signal listener; everything that must stop watches this flag.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let workers: Vec<_> = (0..args.job_workers)
        .map(|i| {
            let config = jobs::WorkerConfig {
                name: format!("{}-{i}", jobs::WorkerConfig::default().name),
                lease: Duration::from_secs(args.job_lease_s),
                ..jobs::WorkerConfig::default()
            };
            let runner = Arc::new(jobs::Dispatcher { state: state.clone() });
            tokio::spawn(jobs::run_worker(state.store.clone(), state.clock.clone(), runner, config, until_stopped()))
        })
        .collect();
    let served = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let listener = std::net::TcpListener::bind(args.listen).with_context(|| format!("binding {}", args.listen))?;
            tracing::info!(addr = %listener.local_addr()?, "listening (https)");
            crate::http::serve_tls(listener, state, cert, key, until_stopped(), grace).await.context("serving")
        }
        _ => serve_plain(args.listen, state, grace, until_stopped).await,
    };
    // Workers finish the job in hand (bounded by the grace period), then stop.
    let _ = tokio::time::timeout(grace, futures_util::future::join_all(workers)).await;
    tracing::info!("stopped");
    served
}

async fn serve_plain<F, Fut>(listen: SocketAddr, state: AppState, grace: Duration, until_stopped: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "listening (http)");
    let server = crate::http::serve(listener, state, until_stopped());
    tokio::pin!(server);
    let stopped = until_stopped();
    tokio::select! {
        result = &mut server => result.context("serving")?,
        () = async { stopped.await; tokio::time::sleep(grace).await } => {
            tracing::warn!("grace period over; dropping unfinished requests");
        }
    }
    Ok(())
}

/// Resolves at SIGINT (Ctrl-C) or SIGTERM (what orchestrators send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn parse(argv: &[&str]) -> ServeArgs {
        Wrapper::try_parse_from(std::iter::once("serve").chain(argv.iter().copied())).unwrap().args
    }

    #[test]
    fn plain_http_only_on_loopback_unless_allowed() {
        assert!(parse(&["--listen", "127.0.0.1:1"]).check_transport().is_ok());
        assert!(parse(&["--listen", "[::1]:1"]).check_transport().is_ok());
        assert!(parse(&["--listen", "0.0.0.0:1"]).check_transport().is_err());
        assert!(parse(&["--listen", "0.0.0.0:1", "--allow-insecure-public"]).check_transport().is_ok());
        assert!(parse(&["--listen", "0.0.0.0:1", "--tls-cert", "c.pem", "--tls-key", "k.pem"]).check_transport().is_ok());
    }

    #[test]
    fn tls_cert_needs_key() {
        let argv = ["serve", "--tls-cert", "c.pem"];
        assert!(Wrapper::try_parse_from(argv).is_err());
    }
}
