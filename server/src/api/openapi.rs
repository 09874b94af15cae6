//! The OpenAPI description, generated from the handlers' annotations and served at `/openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Migru server", description = "Pairing, sync and live alerts for Migru families. Every /v1 request carries `Migru-Protocol: 1`."),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::families::create_family,
        super::families::create_pairing_code,
        super::families::pair,
        super::families::list_devices,
        super::families::revoke_device,
        super::families::get_settings,
        super::families::put_settings,
        super::sync::push,
        super::sync::pull,
        super::sync::feedback,
        crate::alerts::stream,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
