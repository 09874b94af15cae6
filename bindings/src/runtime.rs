//! The tokio runtime this library owns: async exports hand blocking SQLite work and model
//! generation to its blocking pool, and run the sync client's network I/O.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

/// Two workers: the phone's UI threads stay free, and blocking work goes to tokio's blocking pool.
const WORKERS: usize = 2;

/// The process-wide runtime, started on first use.
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name("migru-ffi")
            // Time for async work, I/O for the sync client's connections.
            .enable_all()
            .build()
            // Failing to start two threads at library start-up leaves nothing sensible to do.
            .expect("the tokio runtime could not start")
    })
}
