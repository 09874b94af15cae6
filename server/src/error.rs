//! The one error every handler returns: logs the details, answers with a small JSON body that
//! names what was wrong without echoing the request (which may hold the child's words).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("missing or invalid device token")]
    Unauthorized,
    #[error("this device's role may not do that")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("the pairing code is unknown, used or expired")]
    InvalidPairingCode,
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("too many requests; retry after {retry_after_s} s")]
    TooManyRequests { retry_after_s: u64 },
    #[error("protocol version {got:?} is too old or missing; this server needs {min} to {max} in the Migru-Protocol header")]
    UpgradeRequired { got: Option<String>, min: u32, max: u32 },
    #[error("protocol version {got} is newer than this server's {max}")]
    UnsupportedVersion { got: u32, max: u32 },
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code (`unauthorized`, `rate_limited`, …).
    pub error: String,
    /// A sentence for people.
    pub message: String,
}

impl Error {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Error::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Error::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::InvalidPairingCode => (StatusCode::BAD_REQUEST, "invalid_pairing_code"),
            Error::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Error::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Error::UpgradeRequired { .. } => (StatusCode::UPGRADE_REQUIRED, "upgrade_required"),
            Error::UnsupportedVersion { .. } => (StatusCode::BAD_REQUEST, "unsupported_protocol"),
            Error::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Error::Storage(inner) => {
                tracing::error!(error = %inner, "storage failure");
                "internal error; the request may be retried".to_owned()
            }
            other => {
                tracing::debug!(status = status.as_u16(), error = %other, "request refused");
                other.to_string()
            }
        };
        let mut response = (status, axum::Json(ErrorBody { error: code.to_owned(), message })).into_response();
        let headers = response.headers_mut();
        match &self {
            Error::TooManyRequests { retry_after_s } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
            }
            Error::UpgradeRequired { max, .. } => {
                if let Ok(value) = HeaderValue::from_str(&format!("Migru-Protocol/{max}")) {
                    headers.insert(header::UPGRADE, value);
                }
            }
            _ => {}
        }
        response
    }
}

/// Maps axum's JSON rejections onto our error shape (400 for bad JSON, 413 for oversize bodies).
impl From<axum::extract::rejection::JsonRejection> for Error {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge("request body too large".into())
        } else {
            Error::BadRequest(json_rejection_reason(&rejection))
        }
    }
}

/// serde's message names the field and the expected type; cut it at the position so no input
/// value is echoed.
fn json_rejection_reason(rejection: &axum::extract::rejection::JsonRejection) -> String {
    let text = rejection.body_text();
    let text = text.split(" at line").next().unwrap_or(&text);
    format!("invalid JSON body: {}", strip_quoted(text))
}

/// Removes quoted values (`invalid type: string "…"`), keeping backticked field names.
fn strip_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
