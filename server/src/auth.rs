//! Device tokens, pairing codes, and the extractors that authenticate every request.
//!
//! A token is 256 random bits shown to its device once; the server keeps only its SHA-256, so a
//! stolen database holds no usable credential. Lookups by hash are exact-match index probes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::state::AppState;
use crate::storage::{DeviceAuth, Role};

/// The protocol version this server speaks, and the oldest it still accepts.
pub const PROTOCOL_VERSION: u32 = 1;
pub const MIN_PROTOCOL_VERSION: u32 = 1;
/// The header that carries it on every `/v1` request.
pub const PROTOCOL_HEADER: &str = "migru-protocol";

/// Pairing-code alphabet: no 0/O, 1/I/L, U (easy to read aloud and type).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
const CODE_LEN: usize = 8;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS generator failing is unrecoverable for a server that mints credentials.
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A new device token: 64 hex characters.
pub fn new_token() -> String {
    hex(&random_bytes::<32>())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash under which a token is stored; `None` for anything that is not a well-formed token.
pub fn token_hash(token: &str) -> Option<[u8; 32]> {
    (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| sha256(token.as_bytes()))
}

/// A pairing code, `XXXX-XXXX` (about 39 bits: with 10 tries a minute per address and a
/// 10-minute life, guessing one is hopeless).
pub fn new_pairing_code() -> String {
    let bytes = random_bytes::<CODE_LEN>();
    let chars: String = bytes.iter().map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char).collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// Hash of a code as typed: case, spaces and dashes do not matter.
pub fn pairing_code_hash(code: &str) -> [u8; 32] {
    let normal: String =
        code.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    sha256(normal.as_bytes())
}

/// Checks the `Migru-Protocol` header: missing or too old → 426, newer than ours → 400.
pub fn check_protocol(headers: &HeaderMap) -> Result<u32, Error> {
    let raw = headers.get(PROTOCOL_HEADER).map(|v| v.to_str().unwrap_or("?").to_owned());
    let version = raw.as_deref().and_then(|v| v.trim().parse::<u32>().ok());
    match version {
        Some(v) if v > PROTOCOL_VERSION => Err(Error::UnsupportedVersion { got: v, max: PROTOCOL_VERSION }),
        Some(v) if v >= MIN_PROTOCOL_VERSION => Ok(v),
        _ => Err(Error::UpgradeRequired { got: raw, min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION }),
    }
}

/// Middleware form of [`check_protocol`] for the `/v1` routes.
pub async fn require_protocol(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, Error> {
    check_protocol(request.headers())?;
    Ok(next.run(request).await)
}

/// Any device of a family, authenticated and within its rate.
#[derive(Debug, Clone, Copy)]
pub struct Device(pub DeviceAuth);

/// A parent's device.
#[derive(Debug, Clone, Copy)]
pub struct Parent(pub DeviceAuth);

impl FromRequestParts<AppState> for Device {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Error::Unauthorized)?;
        let hash = token_hash(token.trim()).ok_or(Error::Unauthorized)?;
        let device = state.store.authenticate(hash).await?.ok_or(Error::Unauthorized)?;
        state.device_limiter.check(&device.device_id).map_err(|retry_after_s| Error::TooManyRequests { retry_after_s })?;
        tracing::Span::current().record("device", tracing::field::display(device.device_id));
        Ok(Device(device))
    }
}

impl FromRequestParts<AppState> for Parent {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let Device(device) = Device::from_request_parts(parts, state).await?;
        if device.role != Role::Parent {
            return Err(Error::Forbidden);
        }
        Ok(Parent(device))
    }
}

/// An unauthenticated caller, rate-limited by address (family creation and pairing).
#[derive(Debug, Clone, Copy)]
pub struct Anonymous(pub IpAddr);

impl FromRequestParts<AppState> for Anonymous {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        state.anonymous_limiter.check(&ip).map_err(|retry_after_s| Error::TooManyRequests { retry_after_s })?;
        Ok(Anonymous(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_lowercase_hex_and_hash_back() {
        let token = new_token();
        assert_eq!(token.len(), 64);
        assert_eq!(token_hash(&token), Some(sha256(token.as_bytes())));
        assert_ne!(new_token(), token);
    }

    #[test]
    fn malformed_tokens_have_no_hash() {
        for bad in ["", "abc", &"G".repeat(64), &"A".repeat(64), &"a".repeat(65)] {
            assert_eq!(token_hash(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pairing_codes_ignore_case_spaces_and_dashes() {
        let code = new_pairing_code();
        assert_eq!(code.len(), 9);
        let typed = code.replace('-', " ").to_lowercase();
        assert_eq!(pairing_code_hash(&typed), pairing_code_hash(&code));
    }

    #[test]
    fn protocol_header_rules() {
        let mut headers = HeaderMap::new();
        assert!(matches!(check_protocol(&headers), Err(Error::UpgradeRequired { .. })));
        headers.insert(PROTOCOL_HEADER, "0".parse().unwrap());
        assert!(matches!(check_protocol(&headers), Err(Error::UpgradeRequired { .. })));
        headers.insert(PROTOCOL_HEADER, "1".parse().unwrap());
        assert_eq!(check_protocol(&headers).unwrap(), 1);
        headers.insert(PROTOCOL_HEADER, "99".parse().unwrap());
        assert!(matches!(check_protocol(&headers), Err(Error::UnsupportedVersion { .. })));
    }
}
