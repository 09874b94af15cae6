//! Weather outlooks behind one trait: Open-Meteo over HTTPS (feature `weather`), or offline from
//! the phone's own barometer readings (`env` records in the store).
//!
//! Open-Meteo request: `GET {base}/v1/forecast?latitude=..&longitude=..&hourly=pressure_msl,
//! surface_pressure,temperature_2m,relative_humidity_2m&past_days=1&forecast_days=2&timezone=auto`.
//! The response's `hourly.time` are local times without offset (`timezone=auto`), shifted by
//! `utc_offset_seconds`; values may be `null`. Sea-level pressure (`pressure_msl`) is used for the
//! pressure thresholds (they are sea-level numbers), surface pressure when it is missing.
//!
//! Offline: the latest barometer reading persists for the next 24 h (no change forecast), and the
//! past 24 h are the readings themselves, so a drop that already happened is still seen. Phone
//! barometers read station (surface) pressure; the patterns' thresholds are compared with it as is.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime};
use serde::Serialize;

use crate::store::Store;

const HOUR_MS: i64 = 3_600_000;

/// What went wrong getting the weather.
#[derive(Debug, thiserror::Error)]
pub enum WeatherError {
    #[error("the weather service could not be reached: {0}")]
    Http(String),
    #[error("the weather service answered status {0}")]
    Status(u16),
    #[error("the weather response is not in Open-Meteo's format: {0}")]
    Format(String),
    #[error("reading barometer readings from the store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("no weather: {0}")]
    Unavailable(&'static str),
}

/// One hour of weather.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeatherHour {
    pub ts: DateTime<FixedOffset>,
    pub pressure_hpa: Option<f64>,
    pub temp_c: Option<f64>,
    pub humidity_pct: Option<f64>,
}

/// Hourly weather around now: the past 24 h (for pressure drops) and the next 24 h.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeatherOutlook {
    /// `open-meteo` or `barometer`.
    pub source: &'static str,
    pub hours: Vec<WeatherHour>,
}

impl WeatherOutlook {
    /// The hour holding `t`, if the outlook has it.
    pub fn at(&self, t: DateTime<FixedOffset>) -> Option<&WeatherHour> {
        let hour = t.timestamp_millis().div_euclid(HOUR_MS);
        self.hours.iter().find(|h| h.ts.timestamp_millis().div_euclid(HOUR_MS) == hour)
    }
}

pub type WeatherFuture<'a> = Pin<Box<dyn Future<Output = Result<WeatherOutlook, WeatherError>> + Send + 'a>>;

/// A source of weather outlooks.
pub trait WeatherProvider: Send + Sync {
    /// Hourly weather from 24 h before `now` to 24 h after.
    fn outlook(&self, now: DateTime<FixedOffset>) -> WeatherFuture<'_>;
}

/// Open-Meteo's hourly JSON (the parts used).
#[derive(Debug, serde::Deserialize)]
struct OpenMeteoResponse {
    utc_offset_seconds: i32,
    hourly: OpenMeteoHourly,
}

#[derive(Debug, serde::Deserialize)]
struct OpenMeteoHourly {
    time: Vec<String>,
    #[serde(default)]
    pressure_msl: Vec<Option<f64>>,
    #[serde(default)]
    surface_pressure: Vec<Option<f64>>,
    #[serde(default)]
    temperature_2m: Vec<Option<f64>>,
    #[serde(default)]
    relative_humidity_2m: Vec<Option<f64>>,
}

/// Parses an Open-Meteo forecast response (hourly, `timezone=auto` or `GMT`).
pub fn parse_open_meteo(body: &[u8]) -> Result<WeatherOutlook, WeatherError> {
    let r: OpenMeteoResponse = serde_json::from_slice(body).map_err(|e| WeatherError::Format(e.to_string()))?;
    let offset = FixedOffset::east_opt(r.utc_offset_seconds)
        .ok_or_else(|| WeatherError::Format(format!("utc_offset_seconds {} is out of range", r.utc_offset_seconds)))?;
    let h = &r.hourly;
    let n = h.time.len();
    for (name, len) in [
        ("pressure_msl", h.pressure_msl.len()),
        ("surface_pressure", h.surface_pressure.len()),
        ("temperature_2m", h.temperature_2m.len()),
        ("relative_humidity_2m", h.relative_humidity_2m.len()),
    ] {
        if len != 0 && len != n {
            return Err(WeatherError::Format(format!("hourly.{name} has {len} values for {n} times")));
        }
    }
    let get = |v: &[Option<f64>], i: usize| v.get(i).copied().flatten().filter(|x| x.is_finite());
    let mut hours = Vec::with_capacity(n);
    for (i, time) in h.time.iter().enumerate() {
        let local = NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M")
            .map_err(|e| WeatherError::Format(format!("hourly.time[{i}] {time:?}: {e}")))?;
        let ts = local
            .and_local_timezone(offset)
            .single()
            .ok_or_else(|| WeatherError::Format(format!("hourly.time[{i}] is not a valid local time")))?;
        hours.push(WeatherHour {
            ts,
            pressure_hpa: get(&h.pressure_msl, i).or_else(|| get(&h.surface_pressure, i)),
            temp_c: get(&h.temperature_2m, i),
            humidity_pct: get(&h.relative_humidity_2m, i),
        });
    }
    Ok(WeatherOutlook { source: "open-meteo", hours })
}

/// The Open-Meteo forecast API (no key needed).
#[cfg(feature = "weather")]
#[derive(Debug, Clone)]
pub struct OpenMeteo {
    base_url: String,
    latitude: f64,
    longitude: f64,
    http: reqwest::Client,
}

#[cfg(feature = "weather")]
impl OpenMeteo {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.open-meteo.com";

    /// A client for one place; `base_url` without a trailing slash (tests point it at loopback).
    pub fn new(base_url: &str, latitude: f64, longitude: f64) -> Result<Self, WeatherError> {
        if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
            return Err(WeatherError::Unavailable("latitude must be -90..90 and longitude -180..180"));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .map_err(|e| WeatherError::Http(e.to_string()))?;
        Ok(OpenMeteo { base_url: base_url.trim_end_matches('/').to_owned(), latitude, longitude, http })
    }

    async fn fetch(&self) -> Result<WeatherOutlook, WeatherError> {
        let url = format!("{}/v1/forecast", self.base_url);
        let response = self
            .http
            .get(url)
            .query(&[
                ("latitude", format!("{:.4}", self.latitude)),
                ("longitude", format!("{:.4}", self.longitude)),
                ("hourly", "pressure_msl,surface_pressure,temperature_2m,relative_humidity_2m".into()),
                ("past_days", "1".into()),
                ("forecast_days", "2".into()),
                ("timezone", "auto".into()),
            ])
            .send()
            .await
            .map_err(|e| WeatherError::Http(e.to_string()))?;
        if !response.status().is_success() {
            return Err(WeatherError::Status(response.status().as_u16()));
        }
        let body = response.bytes().await.map_err(|e| WeatherError::Http(e.to_string()))?;
        parse_open_meteo(&body)
    }
}

#[cfg(feature = "weather")]
impl WeatherProvider for OpenMeteo {
    fn outlook(&self, now: DateTime<FixedOffset>) -> WeatherFuture<'_> {
        Box::pin(async move {
            let mut outlook = self.fetch().await?;
            let (lo, hi) = (now - Duration::hours(25), now + Duration::hours(25));
            outlook.hours.retain(|h| h.ts >= lo && h.ts <= hi);
            Ok(outlook)
        })
    }
}

/// The phone's barometer (offline): `env` records in the store (module docs).
#[derive(Debug, Clone)]
pub struct Barometer<'a> {
    store: &'a Store,
    user: String,
}

impl<'a> Barometer<'a> {
    pub fn new(store: &'a Store, user: &str) -> Self {
        Barometer { store, user: user.to_owned() }
    }

    /// The outlook, synchronously (it only reads the store).
    pub fn outlook_now(&self, now: DateTime<FixedOffset>) -> Result<WeatherOutlook, WeatherError> {
        let since = now - Duration::hours(24);
        let readings = self.store.env_readings(&self.user, since.timestamp_millis(), now.timestamp_millis() + 1)?;
        // Per hour: the latest reading of each quantity.
        let mut by_hour: std::collections::BTreeMap<i64, (i64, WeatherHour)> = Default::default();
        for reading in readings {
            let ms = reading.ts.timestamp_millis();
            let hour = ms.div_euclid(HOUR_MS);
            let ts = DateTime::from_timestamp_millis(hour * HOUR_MS).map(|t| t.with_timezone(reading.ts.offset())).unwrap_or(reading.ts);
            let entry = by_hour.entry(hour).or_insert((i64::MIN, WeatherHour { ts, pressure_hpa: None, temp_c: None, humidity_pct: None }));
            let newer = ms >= entry.0;
            let merge = |old: Option<f64>, new: Option<f64>| if newer { new.or(old) } else { old.or(new) };
            entry.1.pressure_hpa = merge(entry.1.pressure_hpa, reading.pressure_hpa);
            entry.1.temp_c = merge(entry.1.temp_c, reading.temp_c);
            entry.1.humidity_pct = merge(entry.1.humidity_pct, reading.humidity_pct);
            entry.0 = entry.0.max(ms);
        }
        let mut hours: Vec<WeatherHour> = by_hour.into_values().map(|(_, h)| h).collect();
        let Some(latest) = hours.iter().rev().find(|h| h.pressure_hpa.is_some()).cloned() else {
            return Err(WeatherError::Unavailable("no barometer reading in the last 24 h"));
        };
        let now_hour = DateTime::from_timestamp_millis(now.timestamp_millis().div_euclid(HOUR_MS) * HOUR_MS)
            .map(|t| t.with_timezone(now.offset()))
            .unwrap_or(now);
        for k in 1..=24 {
            hours.push(WeatherHour { ts: now_hour + Duration::hours(k), ..latest.clone() });
        }
        Ok(WeatherOutlook { source: "barometer", hours })
    }
}

impl WeatherProvider for Barometer<'_> {
    fn outlook(&self, now: DateTime<FixedOffset>) -> WeatherFuture<'_> {
        let result = self.outlook_now(now);
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Body, LOCAL_USER, Record};

    #[test]
    fn open_meteo_json_is_parsed_with_its_offset_and_nulls() {
        let body = br#"{"latitude":52.52,"longitude":13.419998,"generationtime_ms":0.06,"utc_offset_seconds":3600,
          "timezone":"Europe/Berlin","timezone_abbreviation":"GMT+1","elevation":38.0,
          "hourly_units":{"time":"iso8601","pressure_msl":"hPa","surface_pressure":"hPa","temperature_2m":"\u00b0C","relative_humidity_2m":"%"},
          "hourly":{"time":["2026-03-02T00:00","2026-03-02T01:00"],"pressure_msl":[1012.3,null],
          "surface_pressure":[1007.5,1006.9],"temperature_2m":[3.1,2.8],"relative_humidity_2m":[86,null]}}"#;
        let o = parse_open_meteo(body).unwrap();
        assert_eq!(o.hours.len(), 2);
        assert_eq!(o.hours[0].ts.to_rfc3339(), "2026-03-02T00:00:00+01:00");
        assert_eq!(o.hours[0].pressure_hpa, Some(1012.3));
        assert_eq!(o.hours[1].pressure_hpa, Some(1006.9), "surface pressure stands in");
        assert_eq!(o.hours[1].humidity_pct, None);
        assert!(matches!(parse_open_meteo(b"{\"hourly\":{}}"), Err(WeatherError::Format(_))));
        let short = br#"{"utc_offset_seconds":0,"hourly":{"time":["2026-03-02T00:00"],"pressure_msl":[1,2]}}"#;
        assert!(matches!(parse_open_meteo(short), Err(WeatherError::Format(_))));
    }

    #[test]
    fn barometer_readings_make_an_offline_outlook() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("m.db")).unwrap();
        let now = DateTime::parse_from_rfc3339("2026-03-02T18:30:00+01:00").unwrap();
        assert!(matches!(Barometer::new(&store, LOCAL_USER).outlook_now(now), Err(WeatherError::Unavailable(_))));
        for (hours_ago, p) in [(23, 1016.0), (12, 1012.0), (1, 1009.5)] {
            let ts = now - Duration::hours(hours_ago);
            let body = Body::Env { pressure_hpa: Some(p), temp_c: None, humidity_pct: None };
            store.append(&Record { id: None, ts, user: LOCAL_USER.into(), body, extra: Default::default() }).unwrap();
        }
        let o = Barometer::new(&store, LOCAL_USER).outlook_now(now).unwrap();
        assert_eq!(o.source, "barometer");
        assert_eq!(o.hours.len(), 3 + 24);
        assert_eq!(o.at(now - Duration::hours(23)).unwrap().pressure_hpa, Some(1016.0));
        assert_eq!(o.at(now + Duration::hours(20)).unwrap().pressure_hpa, Some(1009.5));
    }
}
