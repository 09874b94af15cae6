//! `migru forecast`: the next 24 h of stress (hourly, 95 % intervals), tonight's sleep timing and
//! the migraine-risk outlook (the child's patterns plus the weather), from the database.
//!
//! Weather: Open-Meteo when `--latitude/--longitude` are given (`--weather-url` points elsewhere,
//! e.g. a test server); otherwise, or when it cannot be reached, the phone's barometer readings
//! (`env` records) offline. `--backtest` adds the backtests against seasonal-naive.

use anyhow::Context;
use chrono::{DateTime, FixedOffset};
use migru_core::companion::now_local;
use migru_core::forecast::weather::{Barometer, OpenMeteo, WeatherOutlook, WeatherProvider};
use migru_core::forecast::{Outlook, outlook};

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct ForecastArgs {
    /// Whose forecast (default: the local child).
    #[arg(long)]
    pub user: Option<String>,
    /// Forecast from this time (RFC 3339; default: now).
    #[arg(long)]
    pub now: Option<DateTime<FixedOffset>>,
    /// Days of stored minutes the stress model learns from.
    #[arg(long, default_value_t = 28)]
    pub days: u32,
    /// Where the child is, for the Open-Meteo weather outlook.
    #[arg(long, requires = "longitude", allow_hyphen_values = true)]
    pub latitude: Option<f64>,
    #[arg(long, requires = "latitude", allow_hyphen_values = true)]
    pub longitude: Option<f64>,
    /// The Open-Meteo server.
    #[arg(long, default_value = OpenMeteo::DEFAULT_BASE_URL)]
    pub weather_url: String,
    /// Also backtest the stress and sleep-timing forecasts against seasonal-naive.
    #[arg(long)]
    pub backtest: bool,
}

pub fn run(global: &Global, args: ForecastArgs) -> anyhow::Result<()> {
    let mut companion = crate::data::open(global)?;
    if let Some(user) = &args.user {
        companion = companion.for_user(user)?;
    }
    let (store, user) = (companion.store(), companion.user().to_owned());
    let now = args.now.unwrap_or_else(now_local);
    let weather = weather(&args, store, &user, now);
    let out = outlook(store, &user, now, args.days, weather.as_ref(), args.backtest).context("forecasting")?;
    if global.json { print_json(&out) } else { print_prose(&out) }
}

fn weather(
    args: &ForecastArgs,
    store: &migru_core::store::Store,
    user: &str,
    now: DateTime<FixedOffset>,
) -> Option<WeatherOutlook> {
    if let (Some(lat), Some(lon)) = (args.latitude, args.longitude) {
        let online = OpenMeteo::new(&args.weather_url, lat, lon).and_then(|client| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| migru_core::forecast::weather::WeatherError::Http(e.to_string()))?;
            runtime.block_on(client.outlook(now))
        });
        match online {
            Ok(outlook) => return Some(outlook),
            Err(error) => tracing::warn!(%error, "weather service unavailable; using the barometer"),
        }
    }
    Barometer::new(store, user).outlook_now(now).map_err(|error| tracing::info!(%error, "no weather outlook")).ok()
}

fn print_prose(o: &Outlook) -> anyhow::Result<()> {
    let r = &o.migraine_risk;
    println!(
        "Migraine risk in the next 24 h: {:?} ({:.0} %, usually {:.0} %; {} episodes in {:.0} awake hours seen)",
        r.level,
        r.probability * 100.0,
        r.usual_probability * 100.0,
        r.episodes_seen,
        r.awake_hours_seen
    );
    for d in &r.drivers {
        match d.effect {
            Some(e) => println!("  {} ×{e:.2} for {} h", d.key, d.hours),
            None => println!("  {} for {} h (not yet measured for this child)", d.key, d.hours),
        }
    }
    match &o.stress_note {
        Some(note) => println!("{note}"),
        None => {
            let peak = o.stress.iter().max_by(|a, b| a.value.total_cmp(&b.value)).context("empty forecast")?;
            println!("Stress peaks around {} at {:.0} (95 % {:.0}–{:.0}; 50 is usual)", peak.ts, peak.value, peak.lo, peak.hi);
        }
    }
    match &o.sleep {
        Some(s) => println!("Tonight: asleep around {} ({}–{}), awake around {}", s.onset, s.onset_lo, s.onset_hi, s.wake),
        None => println!("Sleep timing: not yet (3 nights of the same kind needed)."),
    }
    if let Some(b) = &o.backtest {
        for (what, t) in [("stress", &b.stress), ("sleep timing", &b.sleep_timing)] {
            match t {
                Some(t) => println!(
                    "Backtest {what}: MAE {:.2} vs seasonal-naive {:.2} (ratio {:.2}, {} points, 95 % coverage {:.0} %)",
                    t.mae, t.naive_mae, t.ratio, t.points, t.coverage_95 * 100.0
                ),
                None => println!("Backtest {what}: not enough data"),
            }
        }
    }
    Ok(())
}
