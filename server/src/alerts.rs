//! Live alerts: parents' devices hold a Server-Sent Events stream; an alert raised by a child's
//! push reaches every connected parent device of that family at once. The same alert is in the
//! change feed, so a device that was offline finds it through pull.
//!
//! The hub is in-process. With several servers on one PostgreSQL database, each server also
//! relays the alerts the others commit (`relay_other_processes`, over LISTEN/NOTIFY), so a
//! parent connected to any of them hears every alert of the family.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::api::sync::ChangeOut;
use crate::auth::Parent;
use crate::state::AppState;
use crate::storage::{Change, ChangeKind};

/// Fan-out of alerts to connected parent devices.
#[derive(Debug, Clone)]
pub struct AlertHub {
    sender: broadcast::Sender<Arc<(Uuid, Change)>>,
    /// Flips to true at shutdown so open streams end and graceful shutdown can finish.
    closed: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for AlertHub {
    fn default() -> Self {
        AlertHub { sender: broadcast::channel(1024).0, closed: Arc::new(tokio::sync::watch::channel(false).0) }
    }
}

impl AlertHub {
    /// Ends every open stream (at shutdown).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Sends an alert to every subscriber of `family_id` (none connected is fine).
    pub fn publish(&self, family_id: Uuid, alert: &Change) {
        let _ = self.sender.send(Arc::new((family_id, alert.clone())));
    }

    /// A stream of the family's alerts from now on.
    pub fn subscribe(&self, family_id: Uuid) -> impl Stream<Item = Change> + Send + use<> {
        use futures_util::StreamExt;
        let receiver = self.sender.subscribe();
        let mut closed = self.closed.subscribe();
        let until_closed = async move {
            let _ = closed.wait_for(|closed| *closed).await;
        };
        futures_util::stream::unfold(receiver, move |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(item) if item.0 == family_id => return Some((item.1.clone(), receiver)),
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "alert stream lagged; the device will find them through pull");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .take_until(Box::pin(until_closed))
    }
}

/// Passes alerts that other server processes commit to this process's subscribers, until the
/// hub closes; returns once listening. Does nothing where storage has no such channel
/// (SQLite). A notice only names a family and a feed position; the alert itself is read back
/// from that family's feed.
pub async fn relay_other_processes(state: &AppState) {
    use futures_util::StreamExt;
    let (store, hub) = (state.store.clone(), state.alerts.clone());
    let mut closed = hub.closed.subscribe();
    let notices = match store.alerts_from_other_processes().await {
        Ok(Some(notices)) => notices,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "no alert relay: parents on other servers get alerts through pull");
            return;
        }
    };
    tokio::spawn(async move {
        let mut notices = notices.take_until(Box::pin(async move {
            let _ = closed.wait_for(|closed| *closed).await;
        }));
        while let Some(notice) = notices.next().await {
            match store.pull_changes(notice.family_id, notice.seq - 1, 1).await {
                Ok(changes) => changes
                    .iter()
                    .filter(|change| change.seq == notice.seq && change.kind == ChangeKind::Alert)
                    .for_each(|alert| hub.publish(notice.family_id, alert)),
                Err(error) => tracing::warn!(%error, "relayed alert not read; parents find it through pull"),
            }
        }
    });
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/alerts/stream", get(stream))
}

/// Server-Sent Events: one `alert` event per alert, JSON data shaped like a pulled change.
#[utoipa::path(get, path = "/v1/alerts/stream", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream of `alert` events"), (status = 401), (status = 403)))]
async fn stream(
    State(state): State<AppState>,
    Parent(parent): Parent,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    use futures_util::StreamExt;
    tracing::info!(device_id = %parent.device_id, "alert stream opened");
    let events = state.alerts.subscribe(parent.family_id).map(|change| {
        let data = serde_json::to_string(&ChangeOut::from(change)).unwrap_or_default();
        Ok(Event::default().event("alert").data(data))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
