//! The router and the listener loop shared by `migru-server serve` and the tests.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::trace::TraceLayer;

use crate::api;
use crate::state::AppState;

/// The whole HTTP surface. `/v1` routes require the protocol header; health and the OpenAPI
/// description do not (load balancers and tools call them).
pub fn app(state: AppState) -> Router {
    let max_body = state.limits.max_body_bytes;
    let v1 = Router::new()
        .merge(api::families::router())
        .merge(api::sync::router())
        .merge(crate::alerts::router())
        .layer(axum::middleware::from_fn(crate::auth::require_protocol));
    Router::new()
        .merge(v1)
        .merge(api::health::router())
        .merge(api::openapi::router())
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::info_span!(
                "request",
                method = %request.method(),
                path = %request.uri().path(),
                device = tracing::field::Empty,
            )
        }))
        .with_state(state)
}

/// Serves plain HTTP on `listener` until `shutdown` resolves, then stops accepting, closes the
/// alert streams and waits for in-flight requests to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let hub = state.alerts.clone();
    crate::alerts::relay_other_processes(&state).await;
    axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            hub.close();
        })
        .await
}

/// Serves HTTPS (rustls, ring) on `listener` with the PEM certificate chain and key until
/// `shutdown` resolves, then lets in-flight requests finish for up to `grace`.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    state: AppState,
    cert: &Path,
    key: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    // ring, not aws-lc-rs: nothing beyond a C compiler needed to build. Installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("loading TLS certificate {} and key {}: {e}", cert.display(), key.display()))
    })?;
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let hub = state.alerts.clone();
    crate::alerts::relay_other_processes(&state).await;
    let on_signal = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        hub.close();
        on_signal.graceful_shutdown(Some(grace));
    });
    axum_server::from_tcp_rustls(listener, config)
        .handle(handle)
        .serve(app(state).into_make_service_with_connect_info::<SocketAddr>())
        .await
}
