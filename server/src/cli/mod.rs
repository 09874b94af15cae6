//! Code behind the `migru-server` subcommands (kept out of `main.rs`, which only dispatches).

pub mod causal;
pub mod serve;
pub mod train;

/// Logs go to stderr so stdout stays clean for `--json` output. `RUST_LOG` overrides `info`.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Maps a command's result to an exit code, printing the error chain to stderr.
pub fn finish(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
