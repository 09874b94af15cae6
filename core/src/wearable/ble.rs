//! The band over Bluetooth LE through `btleplug` (desktops: Linux/BlueZ, macOS, Windows).
//!
//! Scan with a service filter (Heart Rate, Migru sensor), connect, discover services, subscribe to
//! every known characteristic that notifies, read the battery level (and poll it), and on
//! disconnect reconnect with exponential backoff. Bytes go through the sans-I/O [`Decoder`].

use std::time::Duration;

use btleplug::api::{
    Central, CentralEvent, CharPropFlags, Manager as _, Peripheral as _, ScanFilter,
};
use btleplug::platform::{Adapter, Manager, Peripheral};
use chrono::{DateTime, FixedOffset, Local};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;

use super::decoder::Decoder;
use super::sample::{ConnectionState, SensorEvent};
use super::source::{Backoff, SensorSource, SourceError, SourceFuture};
use super::uuids;

/// How long opening the Bluetooth stack may take before we call it absent.
const ADAPTER_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

fn now() -> DateTime<FixedOffset> {
    Local::now().fixed_offset()
}

fn bt(doing: &'static str) -> impl FnOnce(btleplug::Error) -> SourceError {
    move |e| SourceError::Bluetooth {
        doing,
        message: e.to_string(),
    }
}

/// The first Bluetooth adapter. No D-Bus system bus, no BlueZ, no adapter, or a stack that does
/// not answer within 5 s are all "no Bluetooth adapter found".
pub async fn first_adapter() -> Result<Adapter, SourceError> {
    let open = async {
        let manager = Manager::new().await.map_err(|e| {
            tracing::debug!(error = %e, "Bluetooth manager unavailable");
            SourceError::NoAdapter
        })?;
        let adapters = manager.adapters().await.map_err(|e| {
            tracing::debug!(error = %e, "listing Bluetooth adapters failed");
            SourceError::NoAdapter
        })?;
        adapters.into_iter().next().ok_or(SourceError::NoAdapter)
    };
    tokio::time::timeout(ADAPTER_TIMEOUT, open)
        .await
        .unwrap_or(Err(SourceError::NoAdapter))
}

/// A device seen while scanning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiscoveredDevice {
    /// The id to pass to `migru ble record --device`.
    pub id: String,
    pub address: String,
    pub name: Option<String>,
    pub rssi_dbm: Option<i16>,
    pub heart_rate_service: bool,
    pub migru_service: bool,
}

fn service_filter() -> ScanFilter {
    ScanFilter {
        services: vec![uuids::HEART_RATE_SERVICE, uuids::MIGRU_SERVICE],
    }
}

/// Scans for `duration` and lists devices offering the Heart Rate or the Migru service.
pub async fn scan(duration: Duration) -> Result<Vec<DiscoveredDevice>, SourceError> {
    let adapter = first_adapter().await?;
    adapter
        .start_scan(service_filter())
        .await
        .map_err(bt("starting a scan"))?;
    tokio::time::sleep(duration).await;
    let peripherals = adapter.peripherals().await.map_err(bt("listing devices"));
    let _ = adapter.stop_scan().await;
    let mut found = Vec::new();
    for p in peripherals? {
        let props = p.properties().await.ok().flatten().unwrap_or_default();
        found.push(DiscoveredDevice {
            id: p.id().to_string(),
            address: p.address().to_string(),
            name: props.local_name.or(props.advertisement_name),
            rssi_dbm: props.rssi,
            heart_rate_service: props.services.contains(&uuids::HEART_RATE_SERVICE),
            migru_service: props.services.contains(&uuids::MIGRU_SERVICE),
        });
    }
    found.sort_by_key(|d| std::cmp::Reverse(d.rssi_dbm));
    Ok(found)
}

#[derive(Debug, Clone)]
pub struct BleConfig {
    /// Peripheral id or address, as `scan` lists it (case-insensitive).
    pub device: String,
    pub scan_timeout: Duration,
    pub backoff: Backoff,
    /// Stop after this many failed attempts in a row (`None`: keep trying).
    pub max_attempts: Option<u32>,
    pub battery_poll: Duration,
}

impl BleConfig {
    pub fn new(device: impl Into<String>) -> Self {
        BleConfig {
            device: device.into(),
            scan_timeout: Duration::from_secs(15),
            backoff: Backoff::default(),
            max_attempts: None,
            battery_poll: Duration::from_secs(300),
        }
    }
}

/// The band, as a [`SensorSource`].
#[derive(Debug, Clone)]
pub struct BleSource {
    pub config: BleConfig,
}

/// Why a connected session ended.
enum SessionEnd {
    Disconnected(String),
    ConsumerGone,
}

impl SensorSource for BleSource {
    fn name(&self) -> &'static str {
        "ble"
    }

    fn run(self: Box<Self>, tx: mpsc::Sender<SensorEvent>) -> SourceFuture {
        Box::pin(async move { self.run_loop(tx).await })
    }
}

impl BleSource {
    pub fn new(config: BleConfig) -> Self {
        BleSource { config }
    }

    async fn run_loop(self, tx: mpsc::Sender<SensorEvent>) -> Result<(), SourceError> {
        let adapter = first_adapter().await?;
        let mut decoder = Decoder::new();
        let mut backoff = self.config.backoff.clone();
        let mut failures = 0u32;
        loop {
            let state = |state| SensorEvent::Connection { at: now(), state };
            if tx.send(state(ConnectionState::Scanning)).await.is_err() {
                return Ok(());
            }
            let attempt = backoff.attempt() + 1;
            let _ = tx
                .send(state(ConnectionState::Connecting { attempt }))
                .await;
            let outcome = match self.find(&adapter).await {
                Ok(peripheral) => {
                    self.session(&adapter, &peripheral, &mut decoder, &mut backoff, &tx)
                        .await
                }
                Err(e) => Err(e),
            };
            let reason = match outcome {
                Ok(SessionEnd::ConsumerGone) => return Ok(()),
                Ok(SessionEnd::Disconnected(reason)) => {
                    failures = 0;
                    reason
                }
                Err(e @ SourceError::NoAdapter) => return Err(e),
                Err(e) => {
                    failures += 1;
                    e.to_string()
                }
            };
            tracing::info!(%reason, failures, "band link ended");
            let _ = tx.send(SensorEvent::Stats(decoder.stats())).await;
            let _ = tx
                .send(state(ConnectionState::Disconnected { reason }))
                .await;
            if self.config.max_attempts.is_some_and(|max| failures >= max) {
                return Err(SourceError::GaveUp {
                    device: self.config.device.clone(),
                    attempts: failures,
                });
            }
            let delay = backoff.next_delay();
            let delay_ms = delay.as_millis() as u64;
            let _ = tx
                .send(state(ConnectionState::Backoff {
                    attempt: backoff.attempt(),
                    delay_ms,
                }))
                .await;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = tx.closed() => return Ok(()),
            }
        }
    }

    /// Scans (with the service filter) until the configured device shows up.
    async fn find(&self, adapter: &Adapter) -> Result<Peripheral, SourceError> {
        adapter
            .start_scan(service_filter())
            .await
            .map_err(bt("starting a scan"))?;
        let wanted = self.config.device.to_ascii_lowercase();
        let deadline = tokio::time::Instant::now() + self.config.scan_timeout;
        let found = loop {
            let peripherals = adapter.peripherals().await.map_err(bt("listing devices"))?;
            let hit = peripherals.into_iter().find(|p| {
                p.id().to_string().to_ascii_lowercase() == wanted
                    || p.address().to_string().to_ascii_lowercase() == wanted
            });
            if let Some(p) = hit {
                break Ok(p);
            }
            if tokio::time::Instant::now() >= deadline {
                let seconds = self.config.scan_timeout.as_secs();
                break Err(SourceError::DeviceNotFound {
                    device: self.config.device.clone(),
                    seconds,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let _ = adapter.stop_scan().await;
        found
    }

    /// One connection: connect, discover, subscribe, then forward notifications until it drops.
    async fn session(
        &self,
        adapter: &Adapter,
        peripheral: &Peripheral,
        decoder: &mut Decoder,
        backoff: &mut Backoff,
        tx: &mpsc::Sender<SensorEvent>,
    ) -> Result<SessionEnd, SourceError> {
        let mut events = adapter.events().await.map_err(bt("watching the adapter"))?;
        tokio::time::timeout(CONNECT_TIMEOUT, peripheral.connect())
            .await
            .map_err(|_| SourceError::Bluetooth {
                doing: "connecting",
                message: "timed out".into(),
            })?
            .map_err(bt("connecting"))?;
        peripheral
            .discover_services()
            .await
            .map_err(bt("discovering services"))?;
        let characteristics = peripheral.characteristics();
        let find = |uuid| characteristics.iter().find(|c| c.uuid == uuid);
        let battery = find(uuids::BATTERY_LEVEL).cloned();
        let mut subscribed = 0;
        for uuid in uuids::NOTIFIED {
            if let Some(c) = find(uuid).filter(|c| c.properties.contains(CharPropFlags::NOTIFY)) {
                peripheral.subscribe(c).await.map_err(bt("subscribing"))?;
                subscribed += 1;
            }
        }
        if subscribed == 0 {
            let device = self.config.device.clone();
            return Err(SourceError::MissingCharacteristic {
                device,
                uuid: uuids::HEART_RATE_MEASUREMENT,
            });
        }
        let mut notifications = peripheral
            .notifications()
            .await
            .map_err(bt("receiving notifications"))?;
        decoder.reset_link();
        backoff.reset();
        let device = self.config.device.clone();
        let connected = SensorEvent::Connection {
            at: now(),
            state: ConnectionState::Connected { device },
        };
        if tx.send(connected).await.is_err() {
            return Ok(SessionEnd::ConsumerGone);
        }
        let mut poll = tokio::time::interval(self.config.battery_poll);
        let id = peripheral.id();
        loop {
            tokio::select! {
                n = notifications.next() => match n {
                    Some(n) => if !forward(decoder, n.uuid, &n.value, tx).await {
                        return Ok(SessionEnd::ConsumerGone);
                    },
                    None => return Ok(SessionEnd::Disconnected("notification stream ended".into())),
                },
                e = events.next() => match e {
                    Some(CentralEvent::DeviceDisconnected(gone)) if gone == id => {
                        return Ok(SessionEnd::Disconnected("device disconnected".into()));
                    }
                    Some(_) => {}
                    None => return Ok(SessionEnd::Disconnected("adapter event stream ended".into())),
                },
                _ = poll.tick() => if let Some(c) = battery.as_ref().filter(|c| c.properties.contains(CharPropFlags::READ)) {
                    match peripheral.read(c).await {
                        Ok(value) => if !forward(decoder, uuids::BATTERY_LEVEL, &value, tx).await {
                            return Ok(SessionEnd::ConsumerGone);
                        },
                        Err(e) => tracing::debug!(error = %e, "battery read failed"),
                    }
                },
            }
        }
    }
}

/// Decodes one notification and sends its samples; false once the consumer is gone.
async fn forward(
    decoder: &mut Decoder,
    uuid: uuid::Uuid,
    value: &[u8],
    tx: &mpsc::Sender<SensorEvent>,
) -> bool {
    let mut samples = Vec::with_capacity(2);
    if let Err(error) = decoder.decode(uuid, value, now(), |s| samples.push(s)) {
        tracing::debug!(%error, "dropped a packet");
    }
    for sample in samples {
        if tx.send(SensorEvent::Sample(sample)).await.is_err() {
            return false;
        }
    }
    true
}
