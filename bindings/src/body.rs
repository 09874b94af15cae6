//! The body signals across the FFI: sleep episodes with the chronotype (`migru sleep --json`),
//! HRV of the stored RR intervals (`migru hrv --json`), the 24 h forecast (`migru forecast
//! --json`) and the delivery windows (`delivery`). Records mirror the core's results field for
//! field; every computation is in `migru-core`.

use chrono::{DateTime, FixedOffset};
use migru_core::chronotype::timing::{Basis, Closed};
use migru_core::chronotype::{Category, ChronotypeOptions, Confidence};
use migru_core::event::format_ts;
use migru_core::event::jsonl::parse_ts;
use migru_core::forecast::{self, risk, weather::Barometer};
use migru_core::readings::{self, ReadingsError};
use migru_core::signals::hrv::HrvOptions;
use migru_core::store::SleepSource;

use crate::assistant::{Chronotype, Level};
use crate::companion::MigruCompanion;
use crate::error::MigruError;
use crate::runtime::runtime;

/// Look-back of `sleep_report` when none is given (as `migru sleep`).
const DEFAULT_SLEEP_DAYS: u32 = 28;
/// RR window of `hrv` when none is given (short-term HRV, as `migru hrv`).
const DEFAULT_HRV_MIN: u32 = 5;
/// Days of band data the stress forecast fits on when none is given (as `migru forecast`).
const DEFAULT_FORECAST_DAYS: u32 = 14;

/// How sure the chronotype is, by nights seen (`not_yet` below 2 free or 4 school nights).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ChronotypeConfidence {
    NotYet,
    Low,
    Moderate,
    High,
}

/// `migru sleep --json` → `chronotype`. With `NotYet` the estimates are null.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChronotypeReport {
    /// Sleep-corrected mid-sleep on free days, local "HH:MM".
    pub msf_sc: Option<String>,
    pub category: Option<Chronotype>,
    pub social_jetlag_min: Option<f64>,
    pub free_days: u32,
    pub school_days: u32,
    pub confidence: ChronotypeConfidence,
}

/// One sleep episode (`migru sleep --json` → `episodes`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SleepEpisodeReport {
    /// RFC 3339 with the child's offset.
    pub start: String,
    pub end: String,
    pub duration_min: f64,
    /// Null for logged sleep.
    pub efficiency_pct: Option<f64>,
    /// `logged` or `detected`.
    pub source: String,
}

/// `migru sleep --json`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SleepReport {
    pub episodes: Vec<SleepEpisodeReport>,
    pub chronotype: ChronotypeReport,
    pub window_days: u32,
}

/// `migru hrv --json` from the stored RR intervals, with the window they came from.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct HrvReport {
    pub n_beats: u64,
    pub mean_rr_ms: f64,
    pub sdnn_ms: f64,
    pub rmssd_ms: f64,
    pub pnn50_pct: f64,
    /// Computed when the series is long enough for the spectrum.
    pub lf_ms2: Option<f64>,
    pub hf_ms2: Option<f64>,
    pub lf_hf: Option<f64>,
    pub artifacts_corrected: u64,
    /// First and last `rr` record used (RFC 3339).
    pub window_from: String,
    pub window_to: String,
    pub records: u64,
    /// Gaps in the window; only the run after the last one is used.
    pub gaps: u64,
}

/// One hour of the stress forecast (0–100, 50 = the child's usual).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StressPoint {
    pub ts: String,
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Tonight's sleep timing with 95 % prediction intervals (RFC 3339 instants).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SleepTiming {
    pub night_of: String,
    pub free_day_next: bool,
    pub onset: String,
    pub onset_lo: String,
    pub onset_hi: String,
    pub wake: String,
    pub wake_lo: String,
    pub wake_hi: String,
    pub nights: u32,
}

/// Why the risk is what it is: a significant pattern (with its rate ratio and interval) or
/// context the child's data cannot yet quantify (`effect` null).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RiskDriver {
    pub key: String,
    pub effect: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub hours: u32,
}

/// `migru forecast --json` → `migraine_risk`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct MigraineRisk {
    pub level: Level,
    /// Of at least one episode in the next 24 h.
    pub probability: f64,
    /// The same without the patterns.
    pub usual_probability: f64,
    pub drivers: Vec<RiskDriver>,
    pub episodes_seen: u64,
    pub awake_hours_seen: f64,
    /// `not_yet` below one awake week of diary.
    pub confidence: String,
    pub weather_source: Option<String>,
}

/// A backtest against seasonal-naive by mean absolute error (`ratio` < 1 beats it).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Backtest {
    pub origins: u32,
    pub points: u32,
    pub mae: f64,
    pub naive_mae: f64,
    pub ratio: f64,
    pub coverage_95: f64,
}

/// `migru forecast --json`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Outlook {
    pub generated_at: String,
    /// 24 hourly points, or empty (see `stress_note`).
    pub stress: Vec<StressPoint>,
    pub stress_note: Option<String>,
    pub sleep: Option<SleepTiming>,
    pub migraine_risk: MigraineRisk,
    /// Present when asked for and the data allow.
    pub stress_backtest: Option<Backtest>,
    pub sleep_backtest: Option<Backtest>,
}

/// Why a child insight waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum WindowClosed {
    QuietHours,
    SchoolMorning,
}

/// When Migru speaks (`docs/timing.md`): the child's windows from the chronotype, or the
/// school-day defaults while it is not yet known (`from_chronotype` false, `note` says why).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DeliveryTiming {
    pub from_chronotype: bool,
    pub note: String,
    /// Local "HH:MM".
    pub sleep_onset: String,
    pub wake_free_day: String,
    pub wake_school_day: String,
    /// Null when a child insight may be shown now.
    pub child_closed_now: Option<WindowClosed>,
    /// The next moment a child insight may be shown (now if open).
    pub next_child_window: String,
    /// The parent window containing now, or the next: [start, end).
    pub parent_window_start: String,
    pub parent_window_end: String,
    /// Insights decided during the child's quiet hours, waiting for the next conversation.
    pub deferred_insights: u32,
}

#[uniffi::export]
impl MigruCompanion {
    /// The child's sleep episodes ending in the `days` (default 28) days before `now` (RFC 3339,
    /// default now) and the chronotype, as `migru sleep --json`.
    pub fn sleep_report(&self, days: Option<u32>, now: Option<String>) -> Result<SleepReport, MigruError> {
        let now = now_or(now)?;
        let report = readings::sleep_report(
            self.inner.store(),
            self.inner.user(),
            now,
            days.unwrap_or(DEFAULT_SLEEP_DAYS),
            &ChronotypeOptions::default(),
        )
        .map_err(from_readings)?;
        Ok(report.into())
    }

    /// HRV of the child's RR intervals in the `window_min` (default 5, 1–1440) minutes ending at
    /// the newest stored `rr` record, as `migru hrv --json`; null while no RR interval is stored.
    pub fn hrv(&self, window_min: Option<u32>) -> Result<Option<HrvReport>, MigruError> {
        match readings::recent_hrv(self.inner.store(), self.inner.user(), window_min.unwrap_or(DEFAULT_HRV_MIN), &HrvOptions::default()) {
            Ok(stored) => Ok(Some(stored.into())),
            Err(ReadingsError::NoRr { .. }) => Ok(None),
            Err(error) => Err(from_readings(error)),
        }
    }

    /// The next 24 h after `now` (default now), as `migru forecast --json`: stress from the
    /// `days` (default 14, at least 3) of band data before, tonight's sleep timing, and the
    /// migraine risk with the phone's own barometer readings (`env` records) as the weather.
    /// With `backtest`, the rolling-origin backtests against seasonal-naive too.
    pub fn forecast(&self, days: Option<u32>, now: Option<String>, backtest: bool) -> Result<Outlook, MigruError> {
        outlook(&self.inner, days, now, backtest)
    }

    /// The child's delivery windows at `now` (default now).
    pub fn delivery_timing(&self, now: Option<String>) -> Result<DeliveryTiming, MigruError> {
        let now = now_or(now)?;
        let (store, user) = (self.inner.store(), self.inner.user());
        let timing = migru_core::delivery::timing(store, user, now).map_err(from_delivery)?;
        let deferred = migru_core::delivery::deferred_insights(store, user).map_err(from_delivery)?;
        let (start, end) = timing.parent_window(now);
        use migru_core::chronotype::timing::clock;
        Ok(DeliveryTiming {
            from_chronotype: timing.basis == Basis::Chronotype,
            note: timing.note.clone(),
            sleep_onset: clock(timing.onset_min),
            wake_free_day: clock(timing.wake_free_min),
            wake_school_day: clock(timing.wake_school_min),
            child_closed_now: timing.child_closed(now).map(|c| match c {
                Closed::QuietHours => WindowClosed::QuietHours,
                Closed::SchoolMorning => WindowClosed::SchoolMorning,
            }),
            next_child_window: format_ts(&timing.next_child_window(now)),
            parent_window_start: format_ts(&start),
            parent_window_end: format_ts(&end),
            deferred_insights: u32::try_from(deferred.len()).unwrap_or(u32::MAX),
        })
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl MigruCompanion {
    /// `forecast` on this library's runtime (it reads days of minutes).
    pub async fn forecast_async(&self, days: Option<u32>, now: Option<String>, backtest: bool) -> Result<Outlook, MigruError> {
        let inner = self.inner.clone();
        runtime().spawn_blocking(move || outlook(&inner, days, now, backtest)).await?
    }
}

fn outlook(companion: &migru_core::Companion, days: Option<u32>, now: Option<String>, backtest: bool) -> Result<Outlook, MigruError> {
    let now = now_or(now)?;
    let (store, user) = (companion.store(), companion.user());
    let weather = Barometer::new(store, user)
        .outlook_now(now)
        .map_err(|error| tracing::info!(%error, "no barometer outlook"))
        .ok();
    let out = forecast::outlook(store, user, now, days.unwrap_or(DEFAULT_FORECAST_DAYS), weather.as_ref(), backtest)
        .map_err(from_forecast)?;
    Ok(out.into())
}

fn now_or(now: Option<String>) -> Result<DateTime<FixedOffset>, MigruError> {
    match now {
        Some(text) => parse_ts(text.trim()).map_err(|reason| MigruError::invalid(format!("now: {reason}"))),
        None => Ok(migru_core::companion::now_local()),
    }
}

pub(crate) fn from_readings(error: ReadingsError) -> MigruError {
    match error {
        ReadingsError::Store(e) => migru_core::CompanionError::Store(e).into(),
        ReadingsError::InvalidParameter { name, reason } => MigruError::invalid(format!("{name}: {reason}")),
        other => {
            let error = MigruError::Other { reason: other.to_string() };
            tracing::warn!(%error, "migru-ffi call failed");
            error
        }
    }
}

fn from_forecast(error: forecast::ForecastError) -> MigruError {
    match error {
        forecast::ForecastError::Store(e) => migru_core::CompanionError::Store(e).into(),
        forecast::ForecastError::InvalidParameter { name, reason } => MigruError::invalid(format!("{name}: {reason}")),
        other => {
            let error = MigruError::Other { reason: other.to_string() };
            tracing::warn!(%error, "migru-ffi call failed");
            error
        }
    }
}

fn from_delivery(error: migru_core::delivery::DeliveryError) -> MigruError {
    match error {
        migru_core::delivery::DeliveryError::Store(e) => migru_core::CompanionError::Store(e).into(),
        migru_core::delivery::DeliveryError::Readings(e) => from_readings(e),
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<readings::SleepReport> for SleepReport {
    fn from(report: readings::SleepReport) -> Self {
        let c = report.chronotype;
        SleepReport {
            episodes: report
                .episodes
                .into_iter()
                .map(|e| SleepEpisodeReport {
                    start: e.start,
                    end: e.end,
                    duration_min: e.duration_min,
                    efficiency_pct: e.efficiency_pct,
                    source: match e.source {
                        SleepSource::Logged => "logged",
                        SleepSource::Detected => "detected",
                    }
                    .to_owned(),
                })
                .collect(),
            chronotype: ChronotypeReport {
                msf_sc: c.msf_sc,
                category: c.category.map(|c| match c {
                    Category::Early => Chronotype::Early,
                    Category::Intermediate => Chronotype::Intermediate,
                    Category::Late => Chronotype::Late,
                }),
                social_jetlag_min: c.social_jetlag_min,
                free_days: count(c.free_days),
                school_days: count(c.school_days),
                confidence: match c.confidence {
                    Confidence::NotYet => ChronotypeConfidence::NotYet,
                    Confidence::Low => ChronotypeConfidence::Low,
                    Confidence::Moderate => ChronotypeConfidence::Moderate,
                    Confidence::High => ChronotypeConfidence::High,
                },
            },
            window_days: report.window_days,
        }
    }
}

impl From<readings::StoredHrv> for HrvReport {
    fn from(stored: readings::StoredHrv) -> Self {
        let (s, w) = (stored.summary, stored.window);
        HrvReport {
            n_beats: s.n_beats as u64,
            mean_rr_ms: s.mean_rr_ms,
            sdnn_ms: s.sdnn_ms,
            rmssd_ms: s.rmssd_ms,
            pnn50_pct: s.pnn50_pct,
            lf_ms2: s.lf_ms2,
            hf_ms2: s.hf_ms2,
            lf_hf: s.lf_hf,
            artifacts_corrected: s.artifacts_corrected as u64,
            window_from: w.from,
            window_to: w.to,
            records: w.records as u64,
            gaps: w.gaps as u64,
        }
    }
}

fn backtest(b: forecast::Backtest) -> Backtest {
    Backtest {
        origins: count(b.origins),
        points: count(b.points),
        mae: b.mae,
        naive_mae: b.naive_mae,
        ratio: b.ratio,
        coverage_95: b.coverage_95,
    }
}

impl From<forecast::Outlook> for Outlook {
    fn from(out: forecast::Outlook) -> Self {
        let r = out.migraine_risk;
        let (stress_backtest, sleep_backtest) = match out.backtest {
            Some(b) => (b.stress.map(backtest), b.sleep_timing.map(backtest)),
            None => (None, None),
        };
        Outlook {
            generated_at: out.generated_at,
            stress: out.stress.into_iter().map(|p| StressPoint { ts: p.ts, value: p.value, lo: p.lo, hi: p.hi }).collect(),
            stress_note: out.stress_note,
            sleep: out.sleep.map(|s| SleepTiming {
                night_of: s.night_of,
                free_day_next: s.free_day_next,
                onset: s.onset,
                onset_lo: s.onset_lo,
                onset_hi: s.onset_hi,
                wake: s.wake,
                wake_lo: s.wake_lo,
                wake_hi: s.wake_hi,
                nights: count(s.nights),
            }),
            migraine_risk: MigraineRisk {
                level: match r.level {
                    risk::RiskLevel::Low => Level::Low,
                    risk::RiskLevel::Moderate => Level::Moderate,
                    risk::RiskLevel::High => Level::High,
                },
                probability: r.probability,
                usual_probability: r.usual_probability,
                drivers: r
                    .drivers
                    .into_iter()
                    .map(|d| RiskDriver { key: d.key, effect: d.effect, ci_low: d.ci_low, ci_high: d.ci_high, hours: d.hours })
                    .collect(),
                episodes_seen: r.episodes_seen,
                awake_hours_seen: r.awake_hours_seen,
                confidence: r.confidence.to_owned(),
                weather_source: r.weather_source.map(str::to_owned),
            },
            stress_backtest,
            sleep_backtest,
        }
    }
}
