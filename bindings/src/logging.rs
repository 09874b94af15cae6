//! Logging for a process the app starts: `tracing` events from core and this crate go to a
//! foreign `LogSink` (Logcat on Android, `os_log` on iOS) or, without one, to stderr.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Severity, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Where log lines go; called on whichever thread logged.
#[uniffi::export(with_foreign)]
pub trait LogSink: Send + Sync {
    fn log(&self, level: LogLevel, target: String, message: String);
}

/// Sets up logging and a panic hook that logs the panic, once per process. Returns `false`
/// (changing nothing) when logging was already set up, by this call or by the host.
#[uniffi::export]
pub fn init_logging(level: LogLevel, sink: Option<Arc<dyn LogSink>>) -> bool {
    static DONE: OnceLock<()> = OnceLock::new();
    let mut installed = false;
    DONE.get_or_init(|| installed = install(level, sink));
    installed
}

fn install(level: LogLevel, sink: Option<Arc<dyn LogSink>>) -> bool {
    let (to_sink, to_stderr) = match sink {
        Some(sink) => (Some(SinkLayer(sink)), None),
        None => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false),
            ),
        ),
    };
    let ok = tracing_subscriber::registry()
        .with(LevelFilter::from_level(level.into()))
        .with(to_sink)
        .with(to_stderr)
        .try_init()
        .is_ok();
    if ok {
        log_panics();
    }
    ok
}

/// Panics also reach the app as an internal error; the hook puts where it happened in the log.
fn log_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, "panic in migru");
        previous(info);
    }));
}

impl From<LogLevel> for Level {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => Level::ERROR,
            LogLevel::Warn => Level::WARN,
            LogLevel::Info => Level::INFO,
            LogLevel::Debug => Level::DEBUG,
            LogLevel::Trace => Level::TRACE,
        }
    }
}

fn log_level(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        _ => LogLevel::Trace,
    }
}

struct SinkLayer(Arc<dyn LogSink>);

impl<S: Subscriber> Layer<S> for SinkLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut line = Line::default();
        event.record(&mut line);
        let meta = event.metadata();
        self.0
            .log(log_level(meta.level()), meta.target().to_owned(), line.0);
    }
}

/// `message key=value …`, as the fmt layer writes it.
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let sep = if self.0.is_empty() { "" } else { " " };
        let _ = match field.name() {
            "message" => write!(self.0, "{sep}{value:?}"),
            name => write!(self.0, "{sep}{name}={value:?}"),
        };
    }
}
