//! Raw samples → one [`SensorMinute`] per user-minute, in bounded memory (sans I/O).
//!
//! Methods, per minute (UTC minute boundaries, reported with the samples' own offset):
//! - `hr_bpm`: mean of the non-zero heart-rate notifications; without any, 60000 / mean RR of the
//!   minute's accepted beats.
//! - `rmssd_ms`: root mean square of successive RR differences over the trailing window
//!   (default 5 min, ending with this minute). A beat is accepted if 250–2000 ms; a difference is
//!   used only between two accepted consecutive beats that differ by at most 20 % (Malik's rule),
//!   so ectopic beats and missed detections do not inflate it. Needs ≥ 10 differences.
//! - `eda_tonic_us`: median of the per-second means of the minute (robust to the few seconds of a
//!   response); `scr_count`: skin-conductance responses whose onset falls in the minute. A response
//!   is a rise of ≥ 0.05 µS above the minimum of the preceding 4 s (trough-to-peak, on an EMA with
//!   a 0.25 s time constant); the detector re-arms once the signal falls from its peak.
//! - `activity_count`: the minute's activity count by `signals::activity`'s method (vector
//!   magnitude − 1 g, band-pass 0.25–2.5 Hz, rectified, dead band 0.068 g, in ActiGraph-like
//!   units), so stored minutes can be scored by Cole–Kripke and Sadeh directly. The filter runs
//!   across packets and restarts at a new rate or a break of more than 1 s in the stream. Missing
//!   samples are missing counts, not zeros.
//! - `skin_temp_c`: mean of the minute's samples.

use std::collections::VecDeque;

use chrono::{DateTime, FixedOffset, Offset, Utc};

use super::sample::{Reading, SensorEvent, SensorSample};
use crate::signals::activity::CountsAccumulator;

/// One user-minute of wearable data: the row of the `sensor_minutes` table. There is one type for
/// both the aggregator's output and the store's rows, defined next to its table.
pub use crate::store::SensorMinute;

/// How much raw data to keep after aggregation (for a short look back, e.g. storing raw samples
/// briefly); both limits apply. `max_samples == 0` keeps none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawRetention {
    pub max_age: std::time::Duration,
    pub max_samples: usize,
}

impl Default for RawRetention {
    fn default() -> Self {
        RawRetention {
            max_age: std::time::Duration::from_secs(300),
            max_samples: 2048,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AggregatorConfig {
    /// Trailing RMSSD window in minutes (1–60).
    pub rmssd_window_min: usize,
    pub min_rr_diffs: u32,
    pub scr_threshold_us: f64,
    pub scr_max_rise_s: f64,
    /// How long a minute stays open after it ends, for samples that arrive late (a batch from
    /// one characteristic notified after another characteristic's first sample of the next minute).
    pub late_grace_s: f64,
    pub raw: RawRetention,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        AggregatorConfig {
            rmssd_window_min: 5,
            min_rr_diffs: 10,
            scr_threshold_us: 0.05,
            scr_max_rise_s: 4.0,
            late_grace_s: 5.0,
            raw: RawRetention::default(),
        }
    }
}

const MINUTE_MS: i64 = 60_000;
const RR_MIN_MS: f64 = 250.0;
const RR_MAX_MS: f64 = 2000.0;
const RR_MAX_CHANGE: f64 = 0.2;
/// Acceleration packets starting further than this from where the last one ended restart the
/// count filter.
const ACCEL_CONTINUITY_MS: i64 = 1000;
/// Beats further than this from the previous batch break the successive-difference chain.
const RR_CONTINUITY_MS: f64 = 3000.0;

/// Sums for the minute being filled.
#[derive(Debug, Clone)]
struct MinuteAcc {
    index: i64,
    offset: FixedOffset,
    hr_sum: f64,
    hr_n: u32,
    rr_sum: f64,
    rr_n: u32,
    eda_sec_sum: [f64; 60],
    eda_sec_n: [u16; 60],
    scr: u32,
    counts: f64,
    accel_n: u32,
    temp_sum: f64,
    temp_n: u32,
}

impl MinuteAcc {
    fn new(index: i64, offset: FixedOffset) -> Self {
        MinuteAcc {
            index,
            offset,
            hr_sum: 0.0,
            hr_n: 0,
            rr_sum: 0.0,
            rr_n: 0,
            eda_sec_sum: [0.0; 60],
            eda_sec_n: [0; 60],
            scr: 0,
            counts: 0.0,
            accel_n: 0,
            temp_sum: 0.0,
            temp_n: 0,
        }
    }
}

/// Per-minute sums of squared successive RR differences, for the trailing window.
#[derive(Debug, Clone, Copy)]
struct SsdBucket {
    minute: i64,
    sum_sq: f64,
    n: u32,
}

/// Streaming trough-to-peak SCR detector (see the module docs).
#[derive(Debug, Clone, Default)]
struct ScrDetector {
    smoothed: Option<f64>,
    last_ms: i64,
    /// Increasing-value deque of (time, value): the front is the window minimum.
    window: VecDeque<(i64, f64)>,
    /// `Some(peak)` after a detection, until the signal turns down.
    peak: Option<f64>,
}

impl ScrDetector {
    const TAU_S: f64 = 0.25;
    const NOISE_US: f64 = 0.005;
    const MAX_GAP_MS: i64 = 2000;
    const WINDOW_CAP: usize = 1024;

    /// Feeds one sample; true when a response starts here.
    fn push(&mut self, t_ms: i64, value: f64, hz: f64, threshold: f64, max_rise_ms: i64) -> bool {
        if self.smoothed.is_none() || t_ms - self.last_ms > Self::MAX_GAP_MS || t_ms < self.last_ms
        {
            *self = ScrDetector {
                window: std::mem::take(&mut self.window),
                ..Default::default()
            };
            self.window.clear();
            self.smoothed = Some(value);
        }
        let alpha = 1.0 - (-1.0 / (hz * Self::TAU_S)).exp();
        let s = self
            .smoothed
            .map_or(value, |prev| prev + alpha * (value - prev));
        self.smoothed = Some(s);
        self.last_ms = t_ms;
        if let Some(peak) = self.peak {
            if s >= peak {
                self.peak = Some(s);
                return false;
            }
            if s > peak - Self::NOISE_US {
                return false;
            }
            self.peak = None;
            self.window.clear();
        }
        while self.window.back().is_some_and(|&(_, v)| v >= s) {
            self.window.pop_back();
        }
        if self.window.len() == Self::WINDOW_CAP {
            self.window.pop_front();
        }
        self.window.push_back((t_ms, s));
        while self
            .window
            .front()
            .is_some_and(|&(t, _)| t < t_ms - max_rise_ms)
        {
            self.window.pop_front();
        }
        let trough = self.window.front().map_or(s, |&(_, v)| v);
        if s - trough >= threshold {
            self.peak = Some(s);
            self.window.clear();
            return true;
        }
        false
    }
}

/// Turns one user's samples into minute aggregates. Memory is bounded: one open minute, the
/// RMSSD buckets of the window, the SCR window and the raw-retention ring.
#[derive(Debug, Clone)]
pub struct MinuteAggregator {
    user: String,
    config: AggregatorConfig,
    /// Minutes still open (at most a few, see `late_grace_s`), oldest first.
    open: VecDeque<MinuteAcc>,
    /// Where points older than every open minute go (counted, then ignored).
    discard: Box<MinuteAcc>,
    dropped_late: bool,
    latest_ms: i64,
    ssd: VecDeque<SsdBucket>,
    last_rr: Option<(i64, f64)>,
    scr: ScrDetector,
    /// The count filter of the acceleration stream: (rate, expected next sample ms, filter).
    accel: Option<(f64, i64, CountsAccumulator)>,
    raw: VecDeque<SensorSample>,
    late_samples: u64,
}

impl MinuteAggregator {
    pub fn new(user: impl Into<String>, mut config: AggregatorConfig) -> Self {
        config.rmssd_window_min = config.rmssd_window_min.clamp(1, 60);
        MinuteAggregator {
            user: user.into(),
            ssd: VecDeque::with_capacity(config.rmssd_window_min + 2),
            config,
            open: VecDeque::with_capacity(2),
            discard: Box::new(MinuteAcc::new(0, Utc.fix())),
            dropped_late: false,
            latest_ms: i64::MIN,
            last_rr: None,
            scr: ScrDetector::default(),
            accel: None,
            raw: VecDeque::new(),
            late_samples: 0,
        }
    }

    /// Samples (some of) whose points fell in an already closed minute and were dropped.
    pub fn late_samples(&self) -> u64 {
        self.late_samples
    }

    /// The raw samples still retained, oldest first.
    pub fn recent_raw(&self) -> impl Iterator<Item = &SensorSample> {
        self.raw.iter()
    }

    /// Feeds an event; samples are aggregated, other events ignored.
    pub fn push_event(&mut self, event: SensorEvent, on_minute: impl FnMut(SensorMinute)) {
        if let SensorEvent::Sample(sample) = event {
            self.push(sample, on_minute);
        }
    }

    /// Feeds one sample. Each minute this sample closes (it ended more than `late_grace_s` before
    /// the sample) is passed to `on_minute`.
    pub fn push(&mut self, sample: SensorSample, mut on_minute: impl FnMut(SensorMinute)) {
        let start_ms = sample.at.timestamp_millis();
        let offset = *sample.at.offset();
        self.dropped_late = false;
        match &sample.reading {
            Reading::HeartRate { bpm, .. } => {
                let acc = self.minute_for(start_ms, offset);
                if *bpm > 0.0 && bpm.is_finite() {
                    acc.hr_sum += bpm;
                    acc.hr_n += 1;
                }
            }
            Reading::Rr { rr_ms } => self.push_rr(start_ms, offset, rr_ms),
            Reading::Eda { hz, microsiemens } => self.push_eda(start_ms, offset, *hz, microsiemens),
            Reading::SkinTemp { hz, celsius } => self.push_temp(start_ms, offset, *hz, celsius),
            Reading::Accel { hz, x, y, z } => self.push_accel(start_ms, offset, *hz, x, y, z),
            Reading::Battery { .. } => {}
        }
        if self.dropped_late {
            self.late_samples += 1;
        }
        self.latest_ms = self.latest_ms.max(start_ms);
        self.close_due(&mut on_minute);
        self.retain(sample);
    }

    /// Closes the open minutes that ended more than the grace period before the newest sample.
    fn close_due(&mut self, on_minute: &mut impl FnMut(SensorMinute)) {
        let grace_ms = (self.config.late_grace_s.max(0.0) * 1000.0) as i64;
        while let Some(oldest) = self.open.front() {
            let due = (oldest.index + 1) * MINUTE_MS + grace_ms <= self.latest_ms;
            if !due && self.open.len() <= Self::MAX_OPEN {
                break;
            }
            if let Some(done) = self.open.pop_front() {
                on_minute(self.close(done));
            }
        }
    }

    /// Closes the open minutes (at the end of a stream), oldest first.
    pub fn finish(&mut self) -> Vec<SensorMinute> {
        let open = std::mem::take(&mut self.open);
        open.into_iter().map(|acc| self.close(acc)).collect()
    }

    /// Open minutes kept at most, whatever the grace period (bounds memory).
    const MAX_OPEN: usize = 3;

    /// The accumulator for the minute holding `t_ms`, opened if needed; a point older than every
    /// open minute goes to the discard accumulator and marks the sample late.
    fn minute_for(&mut self, t_ms: i64, offset: FixedOffset) -> &mut MinuteAcc {
        let index = t_ms.div_euclid(MINUTE_MS);
        if self.open.front().is_some_and(|oldest| index < oldest.index) {
            self.dropped_late = true;
            return &mut self.discard;
        }
        let at = self
            .open
            .iter()
            .position(|acc| acc.index >= index)
            .unwrap_or(self.open.len());
        if self.open.get(at).is_none_or(|acc| acc.index != index) {
            self.open.insert(at, MinuteAcc::new(index, offset));
        }
        &mut self.open[at]
    }

    fn push_rr(&mut self, at_ms: i64, offset: FixedOffset, rr_ms: &[f64]) {
        let batch_ms: f64 = rr_ms.iter().filter(|v| v.is_finite()).sum();
        let first_start = at_ms as f64 - batch_ms;
        let mut prev = match self.last_rr {
            Some((end_ms, rr)) if (first_start - end_ms as f64).abs() <= RR_CONTINUITY_MS => {
                Some(rr)
            }
            _ => None,
        };
        let (mut sum_sq, mut n_diff, mut rr_sum, mut rr_n) = (0.0, 0, 0.0, 0);
        for &rr in rr_ms {
            if !(RR_MIN_MS..=RR_MAX_MS).contains(&rr) {
                prev = None;
                continue;
            }
            rr_sum += rr;
            rr_n += 1;
            if let Some(p) = prev
                && (rr - p).abs() <= RR_MAX_CHANGE * p
            {
                sum_sq += (rr - p) * (rr - p);
                n_diff += 1;
            }
            prev = Some(rr);
        }
        self.last_rr = prev.map(|rr| (at_ms, rr));
        let acc = self.minute_for(at_ms, offset);
        acc.rr_sum += rr_sum;
        acc.rr_n += rr_n;
        let minute = acc.index;
        if !self.dropped_late {
            self.add_ssd(minute, sum_sq, n_diff);
        }
    }

    fn add_ssd(&mut self, minute: i64, sum_sq: f64, n: u32) {
        let at = self
            .ssd
            .iter()
            .position(|b| b.minute >= minute)
            .unwrap_or(self.ssd.len());
        match self.ssd.get_mut(at) {
            Some(b) if b.minute == minute => {
                b.sum_sq += sum_sq;
                b.n += n;
            }
            _ => {
                self.ssd.insert(at, SsdBucket { minute, sum_sq, n });
                // Two open minutes may feed the ring besides the window's own.
                if self.ssd.len() > self.config.rmssd_window_min + Self::MAX_OPEN {
                    self.ssd.pop_front();
                }
            }
        }
    }

    /// EDA batches are walked sample by sample (a batch may straddle a minute boundary).
    fn push_eda(&mut self, start_ms: i64, offset: FixedOffset, hz: f64, values: &[f64]) {
        if !(hz.is_finite() && hz > 0.0) {
            return;
        }
        let threshold = self.config.scr_threshold_us;
        let max_rise_ms = (self.config.scr_max_rise_s * 1000.0) as i64;
        for (i, &v) in values.iter().enumerate() {
            if !v.is_finite() {
                continue;
            }
            let t = start_ms + (i as f64 * 1000.0 / hz) as i64;
            let onset = self.scr.push(t, v, hz, threshold, max_rise_ms);
            let acc = self.minute_for(t, offset);
            let second = (t.rem_euclid(MINUTE_MS) / 1000) as usize;
            acc.eda_sec_sum[second] += v;
            acc.eda_sec_n[second] = acc.eda_sec_n[second].saturating_add(1);
            acc.scr += u32::from(onset);
        }
    }

    fn push_temp(&mut self, start_ms: i64, offset: FixedOffset, hz: f64, values: &[f64]) {
        if !(hz.is_finite() && hz > 0.0) {
            return;
        }
        for (i, &v) in values.iter().enumerate().filter(|(_, v)| v.is_finite()) {
            let t = start_ms + (i as f64 * 1000.0 / hz) as i64;
            let acc = self.minute_for(t, offset);
            acc.temp_sum += v;
            acc.temp_n += 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_accel(
        &mut self,
        start_ms: i64,
        offset: FixedOffset,
        hz: f64,
        x: &[f64],
        y: &[f64],
        z: &[f64],
    ) {
        if !(hz.is_finite() && hz > 0.0) {
            return;
        }
        let n = x.len().min(y.len()).min(z.len());
        if n == 0 {
            return;
        }
        // The count filter runs across packets; a new rate or a break in the stream restarts it.
        let continuous = self.accel.as_ref().is_some_and(|(rate, next_ms, _)| {
            *rate == hz && (start_ms - next_ms).abs() <= ACCEL_CONTINUITY_MS
        });
        if !continuous {
            match CountsAccumulator::new(hz, 60.0) {
                Ok(filter) => self.accel = Some((hz, start_ms, filter)),
                Err(_) => {
                    self.accel = None;
                    return;
                }
            }
        }
        let step_ms = 1000.0 / hz;
        let point_ms = |i: usize| start_ms + (i as f64 * step_ms) as i64;
        let end_ms = point_ms(n - 1);
        let Some((_, next_ms, filter)) = self.accel.as_mut() else {
            return;
        };
        *next_ms = start_ms + (n as f64 * step_ms) as i64;
        if start_ms.div_euclid(MINUTE_MS) == end_ms.div_euclid(MINUTE_MS) {
            // The usual case: the whole batch is in one minute, so look the minute up once.
            let mut sum = 0.0;
            for ((&x, &y), &z) in x[..n].iter().zip(&y[..n]).zip(&z[..n]) {
                sum += filter.sample_count(x, y, z);
            }
            let acc = self.minute_for(start_ms, offset);
            acc.counts += sum;
            acc.accel_n += n as u32;
            return;
        }
        let counts: Vec<f64> = (0..n).map(|i| filter.sample_count(x[i], y[i], z[i])).collect();
        for (i, c) in counts.into_iter().enumerate() {
            let acc = self.minute_for(point_ms(i), offset);
            acc.counts += c;
            acc.accel_n += 1;
        }
    }

    fn close(&mut self, acc: MinuteAcc) -> SensorMinute {
        let minute_start = DateTime::from_timestamp_millis(acc.index * MINUTE_MS)
            .map(|utc| utc.with_timezone(&acc.offset))
            .unwrap_or_default();
        let hr_bpm = if acc.hr_n > 0 {
            Some(acc.hr_sum / f64::from(acc.hr_n))
        } else if acc.rr_n > 0 {
            Some(60_000.0 / (acc.rr_sum / f64::from(acc.rr_n)))
        } else {
            None
        };
        let has_eda = acc.eda_sec_n.iter().any(|&n| n > 0);
        SensorMinute {
            user: self.user.clone(),
            minute_start,
            hr_bpm,
            rmssd_ms: self.rmssd(acc.index),
            eda_tonic_us: has_eda.then(|| median_of_seconds(&acc)).flatten(),
            scr_count: has_eda.then_some(acc.scr),
            activity_count: (acc.accel_n > 0).then_some(acc.counts),
            skin_temp_c: (acc.temp_n > 0).then(|| acc.temp_sum / f64::from(acc.temp_n)),
        }
    }

    fn rmssd(&self, minute: i64) -> Option<f64> {
        let window = self.config.rmssd_window_min as i64;
        let (sum_sq, n) = self
            .ssd
            .iter()
            .filter(|b| b.minute > minute - window && b.minute <= minute)
            .fold((0.0, 0u32), |(s, n), b| (s + b.sum_sq, n + b.n));
        (n >= self.config.min_rr_diffs && n > 0).then(|| (sum_sq / f64::from(n)).sqrt())
    }

    fn retain(&mut self, sample: SensorSample) {
        let keep = self.config.raw;
        if keep.max_samples == 0 {
            return;
        }
        let newest_ms = sample.at.timestamp_millis();
        if self.raw.len() >= keep.max_samples {
            self.raw.pop_front();
        }
        self.raw.push_back(sample);
        let max_age_ms = i64::try_from(keep.max_age.as_millis()).unwrap_or(i64::MAX);
        while self
            .raw
            .front()
            .is_some_and(|s| newest_ms - s.at.timestamp_millis() > max_age_ms)
        {
            self.raw.pop_front();
        }
    }
}

fn median_of_seconds(acc: &MinuteAcc) -> Option<f64> {
    let mut means = [0.0f64; 60];
    let mut k = 0;
    for (sum, &n) in acc.eda_sec_sum.iter().zip(&acc.eda_sec_n) {
        if n > 0 {
            means[k] = sum / f64::from(n);
            k += 1;
        }
    }
    let means = &mut means[..k];
    if means.is_empty() {
        return None;
    }
    means.sort_unstable_by(f64::total_cmp);
    Some(if k % 2 == 1 {
        means[k / 2]
    } else {
        (means[k / 2 - 1] + means[k / 2]) / 2.0
    })
}
