//! The incremental engine: per child, an index of recent events and the aggregates of every hour
//! that can no longer change.
//!
//! An hour is *final* once the child's watermark (latest event time seen) is more than the
//! lateness bound past its end: any event for it would now be rejected as too late. Final hours
//! are summarised once and folded into running counts (O(1) each); the at most `lateness + 1 h`
//! hours still open are summarised on demand when a report is asked for, so a report costs the
//! same after a week or a year, and equals a from-scratch computation over the same events.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::cell::{
    CellInputs, CellSummary, HOUR_MS, JOINT_CELLS, MINUTE_MS, RATE_CANDIDATES, RELIEF_CANDIDATES, RateCounts, ReliefCounts,
    category_index, span_mask, strategy_index,
};
use crate::event::{ActivityCategory, Body, Record, ReliefStrategy, content_id};

/// How late (event time behind the newest event seen) an event may arrive and still count.
pub const DEFAULT_LATENESS_MS: i64 = 48 * HOUR_MS;
/// A symptom within this long after an activity counts as following it.
pub const TRIGGER_WINDOW_MS: i64 = 2 * HOUR_MS;
/// A relief within this long after a symptom is "quick".
pub const QUICK_RELIEF_MS: i64 = 3 * HOUR_MS;
/// A relief is paired with the latest symptom at most this long before it.
pub const RELIEF_LOOKBACK_MS: i64 = 6 * HOUR_MS;
/// A symptom within this long after another belongs to the same episode.
pub const EPISODE_GAP_MS: i64 = 3 * HOUR_MS;
/// An environment reading describes the next this-long (forward fill).
pub const ENV_VALID_MS: i64 = 3 * HOUR_MS;
/// The longest sleep episode believed; longer ones are clipped (a forgotten "awake" tap).
pub const MAX_SLEEP_MS: i64 = 16 * HOUR_MS;
/// Events older than the oldest open hour by more than this are no longer needed.
const CONTEXT_MS: i64 = 30 * HOUR_MS;
/// Hourly and daily rings kept for the sliding windows.
const HOURS_KEPT: usize = 30;
const DAYS_KEPT: usize = 14;

/// Event time and the low 64 bits of the record id: a total order with ties broken by id.
type Key = (i64, u64);

/// What the engine keeps of one event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Obs {
    Conversation,
    Symptom,
    Relief(ReliefStrategy),
    Activity(ActivityCategory),
    /// Hundredths of the unit (integers survive a JSON round trip bit for bit).
    Env { pressure_chpa: Option<i32>, temp_cc: Option<i32>, humidity_cpct: Option<i32> },
    Sleep { end_ms: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Entry {
    offset_min: i32,
    obs: Obs,
}

/// What happened to one record offered to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    Accepted,
    /// The same record was seen already.
    Duplicate,
    /// Older than the lateness bound allows: counted, not used.
    TooLate,
    /// A kind the engine does not use (sensor samples, interventions).
    Ignored,
}

/// Running counts over every final hour of one child.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregates {
    pub rate: Vec<RateCounts>,
    /// Rate counts within strata of the stratifiers (`cell::STRATIFIERS`, candidate-major), then
    /// of times of day and triggers within every trigger (`cell::joint_index`).
    pub joint: Vec<[RateCounts; 2]>,
    pub relief: Vec<ReliefCounts>,
    pub awake_min: u64,
    pub onsets: u64,
    /// (UTC hour index, symptom episodes, awake minutes), newest last.
    pub hourly: VecDeque<(i64, u32, u32)>,
    /// (local day index, symptom episodes, awake minutes), newest last.
    pub daily: VecDeque<(i64, u32, u64)>,
}

impl Aggregates {
    /// Zero counts for every candidate.
    pub fn new() -> Self {
        Aggregates {
            rate: vec![RateCounts::default(); RATE_CANDIDATES],
            joint: vec![[RateCounts::default(); 2]; JOINT_CELLS],
            relief: vec![ReliefCounts::default(); RELIEF_CANDIDATES],
            ..Aggregates::default()
        }
    }

    /// Folds one hour in: O(number of candidates).
    pub fn absorb(&mut self, cell: &CellSummary) {
        if cell.awake_min > 0 {
            for (total, add) in self.rate.iter_mut().zip(cell.rate.iter()) {
                total.add(add);
            }
        }
        for (total, add) in self.joint.iter_mut().zip(cell.joint.iter()) {
            total[0].add(&add[0]);
            total[1].add(&add[1]);
        }
        for (strategy, minutes) in &cell.reliefs {
            let r = &mut self.relief[strategy_index(*strategy)];
            r.episodes += 1;
            r.quick += u32::from(i64::from(*minutes) * MINUTE_MS <= QUICK_RELIEF_MS);
            r.minutes_to_relief.push(*minutes);
        }
        self.awake_min += u64::from(cell.awake_min);
        self.onsets += u64::from(cell.onsets);
        self.hourly.push_back((cell.hour, cell.onsets, cell.awake_min));
        while self.hourly.len() > HOURS_KEPT {
            self.hourly.pop_front();
        }
        match self.daily.back_mut() {
            Some(day) if day.0 == cell.local_day => {
                day.1 += cell.onsets;
                day.2 += u64::from(cell.awake_min);
            }
            _ => self.daily.push_back((cell.local_day, cell.onsets, u64::from(cell.awake_min))),
        }
        while self.daily.len() > DAYS_KEPT {
            self.daily.pop_front();
        }
    }
}

/// Summaries of open hours computed by earlier reports, reused until an event could change
/// them (`ChildState::invalidate_from`). Derived data: not serialised, not compared, rebuilt
/// on demand, so a report every third turn summarises only the hours a new message touched
/// (~8) instead of all ~55 open hours.
///
/// It also keeps a *prefix*: the final totals plus every open hour before `next_hour` already
/// absorbed, so a report absorbs only the ~9 newest open hours instead of all ~55 (each absorb
/// adds ~1,100 counts; ADR 0003, "Latency", measures what this saves and what it does not).
/// It stays valid while hours before `next_hour` finalise (their cached summary is what the
/// totals absorb) and is dropped when an event could change an hour it covers.
#[derive(Debug, Default)]
pub struct OpenCache(std::sync::Mutex<OpenCells>);

#[derive(Debug, Default, Clone)]
pub struct OpenCells {
    cells: BTreeMap<i64, CellSummary>,
    prefix: Option<Prefix>,
}

#[derive(Debug, Clone)]
struct Prefix {
    /// First open hour not absorbed into `totals`.
    next_hour: i64,
    totals: Aggregates,
}

/// The prefix ends this many hours before the newest open hour, beyond what the next event
/// normally invalidates (`INVALIDATE_BACK_MS`), so it survives most turns.
const PREFIX_LAG_HOURS: i64 = INVALIDATE_BACK_MS / HOUR_MS + 2;

impl OpenCells {
    fn clear(&mut self) {
        self.cells.clear();
        self.prefix = None;
    }

    /// Forgets every summary from hour `hour` on, and the prefix if it covers that hour.
    fn invalidate_from_hour(&mut self, hour: i64) {
        if !self.cells.is_empty() {
            self.cells.split_off(&hour);
        }
        if self.prefix.as_ref().is_some_and(|p| p.next_hour > hour) {
            self.prefix = None;
        }
    }
}

impl OpenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, OpenCells> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clone for OpenCache {
    fn clone(&self) -> Self {
        OpenCache(std::sync::Mutex::new(self.lock().clone()))
    }
}

impl PartialEq for OpenCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The furthest back an event at `t` can change an hour's summary: a relief ends the episode
/// that began up to 6 h earlier (its in-episode minutes), plus the hour it falls in
/// (`ChildState::earliest_change_ms` is each event's own bound).
const INVALIDATE_BACK_MS: i64 = RELIEF_LOOKBACK_MS + HOUR_MS;

/// One child's engine state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildState {
    /// Newest event time accepted (UTC ms).
    pub watermark_ms: i64,
    /// Oldest event time accepted (UTC ms), weather readings included: hours are finalised from
    /// here.
    pub first_ms: i64,
    /// Oldest accepted event the *child* produced (anything but a weather reading): the
    /// observation (at-risk time) starts here. Weather readings before a child's first diary
    /// entry (a phone fetches them in the background; the simulator emits 48 h of them for the
    /// 24 h pressure-drop baseline) say nothing about whether the child was there to report a
    /// headache, so they open no at-risk time (ADR 0003, "Observation window").
    #[serde(default)]
    pub observed_from_ms: Option<i64>,
    /// Every hour before this one (UTC hour index) is final and folded into `totals`.
    pub open_from_hour: Option<i64>,
    pub totals: Aggregates,
    pub conversations: u64,
    pub duplicates: u64,
    pub too_late: u64,
    #[serde(with = "as_pairs")]
    recent: BTreeMap<Key, Entry>,
    #[serde(with = "as_pairs")]
    sleeps: BTreeMap<Key, i64>,
    /// The symptom keys of `recent`: "is this an onset?" in O(log n), even when a child sends
    /// hundreds of messages in an afternoon.
    symptoms: BTreeSet<Key>,
    /// Clock offset of the earliest event (fixed once any hour is final): the fallback when
    /// no event in the 24 h before an hour says what the child's clock was.
    first_key: Key,
    first_offset_min: i32,
    final_hours_since_prune: u32,
    #[serde(skip)]
    open_cache: OpenCache,
}

/// The engine over every child in a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Engine {
    pub lateness_ms: i64,
    /// Local sequence number of the last stored event observed (the resume cursor).
    pub last_seq: i64,
    pub children: BTreeMap<String, ChildState>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(DEFAULT_LATENESS_MS)
    }
}

impl Engine {
    pub fn new(lateness_ms: i64) -> Self {
        Engine { lateness_ms: lateness_ms.max(0), last_seq: 0, children: BTreeMap::new() }
    }

    /// Observes a stored event (`seq` is its local sequence number, the resume cursor).
    pub fn observe_stored(&mut self, seq: i64, record: &Record) -> Observed {
        self.last_seq = self.last_seq.max(seq);
        self.observe(record)
    }

    /// Observes one record. O(log n) plus O(1) amortised per hour that becomes final.
    pub fn observe(&mut self, record: &Record) -> Observed {
        let Some((event_ms, obs)) = to_obs(record) else {
            return Observed::Ignored;
        };
        let id = record.id.unwrap_or_else(|| content_id(record));
        let key = (event_ms, low_bits(id.as_u128()));
        let entry = Entry { offset_min: record.utc_offset_min(), obs };
        let lateness = self.lateness_ms;
        let child = self.children.entry(record.user.clone()).or_insert_with(|| ChildState::new(key, entry.offset_min));
        let outcome = child.insert(key, entry, lateness);
        if outcome == Observed::Accepted && record.body.text().is_some() {
            child.conversations += 1;
        }
        outcome
    }

    pub fn child(&self, user: &str) -> Option<&ChildState> {
        self.children.get(user)
    }
}

impl ChildState {
    fn new(first_key: Key, first_offset_min: i32) -> Self {
        ChildState {
            watermark_ms: first_key.0,
            first_ms: first_key.0,
            observed_from_ms: None,
            open_from_hour: None,
            totals: Aggregates::new(),
            conversations: 0,
            duplicates: 0,
            too_late: 0,
            recent: BTreeMap::new(),
            sleeps: BTreeMap::new(),
            symptoms: BTreeSet::new(),
            first_key,
            first_offset_min,
            final_hours_since_prune: 0,
            open_cache: OpenCache::default(),
        }
    }

    fn insert(&mut self, key: Key, entry: Entry, lateness_ms: i64) -> Observed {
        if key.0 < self.watermark_ms - lateness_ms {
            self.too_late += 1;
            return Observed::TooLate;
        }
        if self.recent.contains_key(&key) {
            self.duplicates += 1;
            return Observed::Duplicate;
        }
        if let Obs::Sleep { end_ms } = entry.obs {
            self.sleeps.insert(key, end_ms);
        }
        if entry.obs == Obs::Symptom {
            self.symptoms.insert(key);
        }
        let obs = entry.obs;
        self.recent.insert(key, entry);
        // A new watermark also moves the end of the old watermark's hour; a new first event
        // changes the fallback offset of every hour.
        let from_ms = self.earliest_change_ms(key, obs).min(self.watermark_ms);
        if key < self.first_key {
            self.first_key = key;
            self.first_offset_min = entry.offset_min;
            self.open_cache.lock().clear();
        } else {
            self.invalidate_from(from_ms);
        }
        self.first_ms = self.first_key.0;
        if !matches!(entry.obs, Obs::Env { .. }) {
            self.observed_from_ms = Some(self.observed_from_ms.map_or(key.0, |t| t.min(key.0)));
        }
        if key.0 > self.watermark_ms {
            self.watermark_ms = key.0;
            self.finalise_ready(lateness_ms);
        }
        Observed::Accepted
    }

    /// The earliest time whose hour an event at `key` can change, once inserted. Most events
    /// change only their own hour and later ones (trigger windows, episode spans, the clock
    /// offset, the 24 h pressure baseline all look forward). Two reach back:
    /// - a relief, to the onset of the episode it ends (the minutes from onset to relief);
    /// - a symptom that starts an episode, by up to `RELIEF_LOOKBACK_MS - EPISODE_GAP_MS`:
    ///   arriving late, it can be the new onset a later relief belongs to, which shortens that
    ///   relief's span; the minutes the span loses come after the old episode's last symptom's
    ///   3 h, and the old onset was at most 6 h before the relief. A symptom inside an episode
    ///   only extends it: what it takes from a later onset its own 3 h span covers.
    ///
    /// `tests/patterns_incremental.rs` checks the cache against a from-scratch computation on
    /// dense out-of-order streams with a report after every event.
    fn earliest_change_ms(&self, key: Key, obs: Obs) -> i64 {
        match obs {
            Obs::Relief(_) => self.relief_onset(key).map_or(key.0, |onset| onset.0),
            Obs::Symptom if self.is_onset(key) => key.0 - (RELIEF_LOOKBACK_MS - EPISODE_GAP_MS),
            _ => key.0,
        }
    }

    fn invalidate_from(&mut self, from_ms: i64) {
        let cache = self.open_cache.0.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.invalidate_from_hour(from_ms.div_euclid(HOUR_MS).saturating_sub(1));
    }

    /// The first hour of the observation, or the first still open.
    pub fn first_open_hour(&self) -> i64 {
        self.open_from_hour.unwrap_or_else(|| self.first_ms.div_euclid(HOUR_MS))
    }

    fn finalise_ready(&mut self, lateness_ms: i64) {
        let mut hour = self.first_open_hour();
        // A relief up to 6 h after an onset shortens the hour's at-risk time, so an hour waits
        // that much longer than the lateness bound before it is final.
        while (hour + 1) * HOUR_MS + RELIEF_LOOKBACK_MS + lateness_ms <= self.watermark_ms {
            // A summary a report already computed is the one to fold in: no event changed it
            // since (`invalidate_from`), and the prefix counted exactly it.
            let cache = self.open_cache.0.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
            let cached = cache.cells.remove(&hour);
            if cache.prefix.as_ref().is_some_and(|p| p.next_hour <= hour) {
                cache.prefix = None;
            }
            let cell = match cached {
                Some(cell) => cell,
                None => self.inputs(hour).summarise(),
            };
            self.totals.absorb(&cell);
            hour += 1;
            self.open_from_hour = Some(hour);
            self.final_hours_since_prune += 1;
            if self.final_hours_since_prune >= 24 {
                self.prune(hour * HOUR_MS - CONTEXT_MS);
                self.final_hours_since_prune = 0;
            }
        }
    }

    fn prune(&mut self, cut_ms: i64) {
        self.recent = self.recent.split_off(&(cut_ms, 0));
        self.sleeps = self.sleeps.split_off(&(cut_ms, 0));
        self.symptoms = self.symptoms.split_off(&(cut_ms, 0));
    }

    /// Summaries of the hours still open (they may change as late events arrive).
    pub fn open_cells(&self) -> Vec<CellSummary> {
        let last = self.watermark_ms.div_euclid(HOUR_MS);
        (self.first_open_hour()..=last).map(|h| self.inputs(h).summarise()).collect()
    }

    /// Final counts plus the open hours: what a from-scratch computation would give now. Open
    /// hours that no event touched since the last call come from the cache.
    pub fn current(&self) -> Aggregates {
        let (first, last) = (self.first_open_hour(), self.watermark_ms.div_euclid(HOUR_MS));
        let mut guard = self.open_cache.lock();
        let cache = &mut *guard;
        // Hours that became final are in `totals` now.
        cache.cells = cache.cells.split_off(&first);
        let (mut totals, from) = match &cache.prefix {
            Some(p) if p.next_hour >= first && p.next_hour <= last + 1 => (p.totals.clone(), p.next_hour),
            _ => (self.totals.clone(), first),
        };
        let snapshot_at = (last - PREFIX_LAG_HOURS).max(from);
        let mut snapshot = None;
        for h in from..=last {
            if h == snapshot_at && h > from {
                snapshot = Some(Prefix { next_hour: h, totals: totals.clone() });
            }
            let cell = cache.cells.entry(h).or_insert_with(|| self.inputs(h).summarise());
            totals.absorb(cell);
        }
        if snapshot.is_some() {
            cache.prefix = snapshot;
        }
        totals
    }

    /// Gathers hour `hour`'s inputs from the recent-event index.
    fn inputs(&self, hour: i64) -> CellInputs {
        let start = hour * HOUR_MS;
        let end = start + HOUR_MS;
        let start_min = hour * 60;
        let mut cell = CellInputs { hour, offset_min: self.offset_at(end), ..CellInputs::default() };
        cell.valid = self.observed_from_ms.map_or(0, |from| {
            span_mask(start_min, from.div_euclid(MINUTE_MS), self.watermark_ms.div_euclid(MINUTE_MS))
        });
        for (&(sleep_start, _), &sleep_end) in self.sleeps.range((start - MAX_SLEEP_MS, 0)..(end, 0)) {
            let sleep_end = sleep_end.min(sleep_start + MAX_SLEEP_MS);
            if sleep_end > start {
                let last_min = (sleep_end - 1).div_euclid(MINUTE_MS);
                cell.asleep |= span_mask(start_min, sleep_start.div_euclid(MINUTE_MS), last_min);
            }
        }
        // One forward walk over the events that can shape this hour: the weather readings
        // valid at its end (forward fill: the newest in `ENV_VALID_MS` wins), the activities
        // whose trigger window reaches into it, and its own symptoms and reliefs, in key order.
        let env_from = end - ENV_VALID_MS;
        let trigger_from = start - TRIGGER_WINDOW_MS;
        let (mut pressure, mut temp, mut humidity) = (None, None, None);
        for (&key, entry) in self.recent.range((env_from.min(trigger_from).min(start), 0)..(end, 0)) {
            let t = key.0;
            match entry.obs {
                Obs::Env { pressure_chpa, temp_cc, humidity_cpct } if t >= env_from => {
                    pressure = pressure_chpa.or(pressure);
                    temp = temp_cc.or(temp);
                    humidity = humidity_cpct.or(humidity);
                }
                Obs::Activity(category) if t >= trigger_from => {
                    let from = t.div_euclid(MINUTE_MS);
                    let to = (t + TRIGGER_WINDOW_MS).div_euclid(MINUTE_MS);
                    cell.trigger[category_index(category)] |= span_mask(start_min, from, to);
                }
                Obs::Symptom if t >= start && self.is_onset(key) => {
                    cell.onset_minutes.push(((t - start) / MINUTE_MS) as u32);
                }
                Obs::Relief(strategy) if t >= start => {
                    if let Some(onset) = self.relief_onset(key) {
                        cell.reliefs.push((strategy, ((t - onset.0) / MINUTE_MS) as u32));
                    }
                }
                _ => {}
            }
        }
        let hundredths = |v: Option<i32>| v.map(|v| f64::from(v) / 100.0);
        cell.pressure_hpa = hundredths(pressure);
        cell.temp_c = hundredths(temp);
        cell.humidity_pct = hundredths(humidity);
        cell.pressure_24h_ago_hpa = self.latest_pressure(end - 24 * HOUR_MS);
        cell.in_episode = self.in_episode_mask(start, end);
        cell
    }

    /// The child's clock offset: that of the latest event in the 24 h before `end_ms`.
    fn offset_at(&self, end_ms: i64) -> i32 {
        self.recent
            .range((end_ms - 24 * HOUR_MS, 0)..(end_ms, 0))
            .next_back()
            .map_or(self.first_offset_min, |(_, e)| e.offset_min)
    }

    /// The newest pressure reading in the `ENV_VALID_MS` before `until`, in hPa.
    fn latest_pressure(&self, until: i64) -> Option<f64> {
        self.recent
            .range((until - ENV_VALID_MS, 0)..(until, 0))
            .rev()
            .find_map(|(_, e)| match e.obs {
                Obs::Env { pressure_chpa, .. } => pressure_chpa,
                _ => None,
            })
            .map(|v| f64::from(v) / 100.0)
    }

    /// A symptom starts an episode when no symptom came in the 3 h before it.
    fn is_onset(&self, key: Key) -> bool {
        self.symptoms.range(..key).next_back().is_none_or(|prev| prev.0 < key.0 - EPISODE_GAP_MS)
    }

    /// The onset of the episode this relief ends: the latest onset within 6 h, if this is the
    /// first relief since it (follow-up "still hurts" messages do not restart the clock).
    fn relief_onset(&self, key: Key) -> Option<Key> {
        // Newest first: each symptom's predecessor is the next one this walk yields, so only the
        // oldest in the window needs a look-up (one pass instead of one `is_onset` per symptom;
        // a child reporting every few minutes has ~200 symptoms in the window).
        let mut window = self.symptoms.range((key.0 - RELIEF_LOOKBACK_MS, 0)..key).rev().peekable();
        let mut found = None;
        while let Some(&candidate) = window.next() {
            let onset = match window.peek() {
                Some(prev) => prev.0 < candidate.0 - EPISODE_GAP_MS,
                None => self.is_onset(candidate),
            };
            if onset {
                found = Some(candidate);
                break;
            }
        }
        let onset = found?;
        let earlier_relief =
            self.recent.range(onset..key).skip(1).any(|(_, e)| matches!(e.obs, Obs::Relief(_)));
        (!earlier_relief).then_some(onset)
    }

    /// Minutes of the hour `[start, end)` in which no new episode can begin: the 3 h after any
    /// symptom report (a symptom then continues the episode) and the time from an onset to its
    /// first relief. Counting them as exposure would dilute every rate by how often the child
    /// is already unwell.
    fn in_episode_mask(&self, start: i64, end: i64) -> u64 {
        self.in_episode_mask_with(start, end, |key| self.relief_onset(key))
    }

    /// `in_episode_mask` with the relief-onset look-up given, so the test reference can run the
    /// same mask over its own look-up.
    fn in_episode_mask_with(&self, start: i64, end: i64, relief_onset: impl Fn(Key) -> Option<Key>) -> u64 {
        let start_min = start.div_euclid(MINUTE_MS);
        let mut mask = 0u64;
        for (&key, entry) in self.recent.range((start - EPISODE_GAP_MS, 0)..(end + RELIEF_LOOKBACK_MS, 0)) {
            match entry.obs {
                Obs::Symptom if key.0 < end => {
                    let m = key.0.div_euclid(MINUTE_MS);
                    mask |= span_mask(start_min, m + 1, m + EPISODE_GAP_MS / MINUTE_MS);
                }
                Obs::Relief(_) if key.0 > start => {
                    // Within 3 h of a symptom the symptoms' own spans already cover the episode.
                    let last_symptom = self.symptoms.range(..key).next_back();
                    if last_symptom.is_some_and(|s| key.0 - s.0 <= EPISODE_GAP_MS) {
                        continue;
                    }
                    if let Some(onset) = relief_onset(key) {
                        let from = onset.0.div_euclid(MINUTE_MS) + 1;
                        mask |= span_mask(start_min, from, key.0.div_euclid(MINUTE_MS) - 1);
                    }
                }
                _ => {}
            }
        }
        mask
    }
}

/// The straightforward computation the engine's hour summaries replaced (ADR 0003, "Cheaper
/// hour summaries"): one range look-up per input, one `is_onset` look-up per symptom in a
/// relief's window, both strata counted. Kept so the test below can prove the cheaper path
/// gives the same numbers; what the change left alone (the episode-mask walk, the exposure
/// masks) is shared with the engine rather than copied.
#[cfg(test)]
impl ChildState {
    /// Gathers hour `hour`'s inputs from the recent-event index.
    fn inputs_reference(&self, hour: i64) -> CellInputs {
        let start = hour * HOUR_MS;
        let end = start + HOUR_MS;
        let start_min = hour * 60;
        let mut cell = CellInputs { hour, offset_min: self.offset_at(end), ..CellInputs::default() };
        cell.valid = self.observed_from_ms.map_or(0, |from| {
            span_mask(start_min, from.div_euclid(MINUTE_MS), self.watermark_ms.div_euclid(MINUTE_MS))
        });
        for (&(sleep_start, _), &sleep_end) in self.sleeps.range((start - MAX_SLEEP_MS, 0)..(end, 0)) {
            let sleep_end = sleep_end.min(sleep_start + MAX_SLEEP_MS);
            if sleep_end > start {
                let last_min = (sleep_end - 1).div_euclid(MINUTE_MS);
                cell.asleep |= span_mask(start_min, sleep_start.div_euclid(MINUTE_MS), last_min);
            }
        }
        self.env_inputs_reference(&mut cell, end);
        for (&(t, _), entry) in self.recent.range((start - TRIGGER_WINDOW_MS, 0)..(end, 0)) {
            if let Obs::Activity(category) = entry.obs {
                let from = t.div_euclid(MINUTE_MS);
                let to = (t + TRIGGER_WINDOW_MS).div_euclid(MINUTE_MS);
                cell.trigger[category_index(category)] |= span_mask(start_min, from, to);
            }
        }
        for (&key, entry) in self.recent.range((start, 0)..(end, 0)) {
            match entry.obs {
                Obs::Symptom if self.is_onset(key) => {
                    cell.onset_minutes.push(((key.0 - start) / MINUTE_MS) as u32);
                }
                Obs::Relief(strategy) => {
                    if let Some(onset) = self.relief_onset_reference(key) {
                        cell.reliefs.push((strategy, ((key.0 - onset.0) / MINUTE_MS) as u32));
                    }
                }
                _ => {}
            }
        }
        cell.in_episode = self.in_episode_mask_reference(start, end);
        cell
    }

    fn env_inputs_reference(&self, cell: &mut CellInputs, end_ms: i64) {
        let latest = |until: i64, pick: fn(&Obs) -> Option<i32>| {
            self.recent
                .range((until - ENV_VALID_MS, 0)..(until, 0))
                .rev()
                .find_map(|(_, e)| pick(&e.obs))
                .map(|v| f64::from(v) / 100.0)
        };
        let pressure = |o: &Obs| match o {
            Obs::Env { pressure_chpa, .. } => *pressure_chpa,
            _ => None,
        };
        cell.pressure_hpa = latest(end_ms, pressure);
        cell.pressure_24h_ago_hpa = latest(end_ms - 24 * HOUR_MS, pressure);
        cell.temp_c = latest(end_ms, |o| match o {
            Obs::Env { temp_cc, .. } => *temp_cc,
            _ => None,
        });
        cell.humidity_pct = latest(end_ms, |o| match o {
            Obs::Env { humidity_cpct, .. } => *humidity_cpct,
            _ => None,
        });
    }

    /// The onset of the episode this relief ends: the latest onset within 6 h, if this is the
    /// first relief since it (follow-up "still hurts" messages do not restart the clock).
    fn relief_onset_reference(&self, key: Key) -> Option<Key> {
        let onset = self.symptoms.range((key.0 - RELIEF_LOOKBACK_MS, 0)..key).rev().find(|k| self.is_onset(**k))?;
        let earlier_relief =
            self.recent.range(*onset..key).skip(1).any(|(_, e)| matches!(e.obs, Obs::Relief(_)));
        (!earlier_relief).then_some(*onset)
    }

    fn in_episode_mask_reference(&self, start: i64, end: i64) -> u64 {
        self.in_episode_mask_with(start, end, |key| self.relief_onset_reference(key))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, TimeZone};

    use super::*;
    use crate::simulate::{Config, cohort};

    fn at(ms: i64, offset_min: i32) -> chrono::DateTime<FixedOffset> {
        FixedOffset::east_opt(offset_min * 60).and_then(|tz| tz.timestamp_millis_opt(ms).single()).expect("time")
    }

    /// A simulated child, plus what the latency bench does to it: bursts of a message every
    /// 37 s (symptoms, reliefs, activities) and reports dated hours back ("this morning"),
    /// arriving late within the lateness bound.
    fn stream() -> Vec<Record> {
        let (mut records, _) = cohort(&Config { children: 1, days: 10, seed: 11, effect_share: 1.0, ..Config::default() });
        let user = records[0].user.clone();
        let offset = records[0].utc_offset_min();
        let mut extra = Vec::new();
        for (day, &start_ms) in [2i64, 5, 8].iter().zip(&[0i64, 7, 15]) {
            let base = records[0].ts_utc_ms() + day * 24 * HOUR_MS + start_ms * HOUR_MS;
            for i in 0..400i64 {
                let t = base + i * 37_000;
                let body = match i % 6 {
                    0 | 5 => Body::Symptom { intensity: 6, text: Some("my head hurts".into()) },
                    1 => Body::Activity { category: ActivityCategory::SkippedMeal, text: Some("i skipped breakfast".into()) },
                    2 => Body::Relief { strategy: ReliefStrategy::Rest, text: Some("resting helped".into()) },
                    3 => Body::Message { text: "hi migru".into() },
                    _ => Body::Activity { category: ActivityCategory::Homework, text: Some("so much homework".into()) },
                };
                let mut r = Record::new(at(t, offset), body);
                r.user = user.clone();
                extra.push((t, r));
                // Every 25th message also reports something dated 1–40 h back.
                if i % 25 == 0 {
                    let back = t - (1 + i % 40) * HOUR_MS - i * 1_000;
                    let body = if i % 50 == 0 {
                        Body::Relief { strategy: ReliefStrategy::Water, text: None }
                    } else {
                        Body::Symptom { intensity: 4, text: None }
                    };
                    let mut late = Record::new(at(back, offset), body);
                    late.user = user.clone();
                    extra.push((t, late));
                }
            }
        }
        // Arrival order: the simulated records by their own time, the extras at the time they
        // were sent (so dated-back ones arrive late).
        let mut arrivals: Vec<(i64, Record)> = records.drain(..).map(|r| (r.ts_utc_ms(), r)).collect();
        arrivals.extend(extra);
        arrivals.sort_by_key(|(t, _)| *t);
        arrivals.into_iter().map(|(_, r)| r).collect()
    }

    #[test]
    fn cheaper_hour_summaries_equal_the_straightforward_ones() {
        let records = stream();
        let mut engine = Engine::default();
        let mut reference_totals = Aggregates::new();
        let mut compared_open = 0usize;
        let mut reliefs_seen = 0usize;
        for (n, record) in records.iter().enumerate() {
            let user = record.user.clone();
            let open_before = engine.child(&user).map(ChildState::first_open_hour);
            assert_ne!(engine.observe(record), Observed::TooLate, "the stream stays within the lateness bound");
            let child = engine.child(&user).expect("child");
            // Hours finalised by this event: the engine folded in its (cheaper) summary; fold
            // the straightforward one into the shadow totals, from the same state.
            let from = open_before.unwrap_or_else(|| child.first_open_hour());
            for hour in from..child.first_open_hour() {
                reference_totals.absorb(&child.inputs_reference(hour).summarise_reference());
            }
            assert_eq!(child.totals, reference_totals, "final totals after record {n}");
            if n % 23 == 0 {
                // Every open hour, and the open-hour totals through the cache and the prefix.
                let mut current = reference_totals.clone();
                let last = child.watermark_ms.div_euclid(HOUR_MS);
                for hour in child.first_open_hour()..=last {
                    let cheap = child.inputs(hour).summarise();
                    let straight = child.inputs_reference(hour).summarise_reference();
                    assert_eq!(cheap, straight, "hour {hour} after record {n}");
                    reliefs_seen += straight.reliefs.len();
                    current.absorb(&straight);
                    compared_open += 1;
                }
                assert_eq!(child.current(), current, "open-hour totals after record {n}");
            }
        }
        let child = engine.child(&records[0].user).expect("child");
        assert!(child.totals.onsets >= 10, "a realistic stream has episodes: {}", child.totals.onsets);
        assert!(child.totals.relief.iter().map(|r| r.episodes).sum::<u32>() > 5, "and reliefs that end them");
        assert!(reliefs_seen > 0 && compared_open > 1_000, "{reliefs_seen} reliefs in {compared_open} open hours compared");
    }
}

/// The engine's view of a record: its event time and what it says. `None` for kinds not used.
fn to_obs(record: &Record) -> Option<(i64, Obs)> {
    let ts = record.ts_utc_ms();
    let obs = match &record.body {
        Body::Message { .. } => Obs::Conversation,
        Body::Symptom { .. } => Obs::Symptom,
        Body::Relief { strategy, .. } => Obs::Relief(*strategy),
        Body::Activity { category, .. } => Obs::Activity(*category),
        Body::Env { pressure_hpa, temp_c, humidity_pct } => Obs::Env {
            pressure_chpa: centi(*pressure_hpa),
            temp_cc: centi(*temp_c),
            humidity_cpct: centi(*humidity_pct),
        },
        Body::Sleep { start, end } => {
            let (s, e) = (start.timestamp_millis(), end.timestamp_millis());
            if e <= s {
                return None;
            }
            return Some((s, Obs::Sleep { end_ms: e }));
        }
        _ => return None,
    };
    Some((ts, obs))
}

fn centi(value: Option<f64>) -> Option<i32> {
    value.filter(|v| v.is_finite() && v.abs() < 2.0e7).map(|v| (v * 100.0).round() as i32)
}

fn low_bits(id: u128) -> u64 {
    id as u64
}

/// Serialises a map with tuple keys as a list of `[key, value]` pairs (JSON keys must be strings).
mod as_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(map: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
