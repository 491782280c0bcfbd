//! Small HTTP helpers: JSON answers, headers, and facts about the caller.

use serde_json::Value;
use worker::{Request, Response};

/// A JSON response with `status`.
pub fn json(status: u16, body: &Value) -> Response {
    // Serializing a `Value` cannot fail, and neither can setting a fixed header.
    Response::from_json(body)
        .expect("a JSON value always serializes")
        .with_status(status)
}

/// `{"detail": message}` with `status`, the shape DRF gives non-field errors.
pub fn detail(status: u16, message: &str) -> Response {
    json(status, &serde_json::json!({ "detail": message }))
}

/// `attachment` with an ASCII `filename` and the exact name as `filename*`.
pub fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The client key the abuse limits and the audit trail use.
pub fn client_ip(req: &Request) -> Option<String> {
    header(req, "CF-Connecting-IP")
}

pub fn user_agent(req: &Request) -> Option<String> {
    header(req, "User-Agent")
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Seconds since the epoch by the Worker's clock.
pub fn now_unix() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

/// `N` bytes from the platform CSPRNG.
pub fn random_bytes<const N: usize>() -> worker::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| worker::Error::RustError(format!("getrandom: {e}")))?;
    Ok(bytes)
}
