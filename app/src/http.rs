//! Small HTTP helpers: JSON answers, request bodies, and facts about the caller.

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

/// DRF's 405 for a known path with the wrong method.
pub fn method_not_allowed(req: &Request) -> Response {
    detail(
        405,
        &format!("Method \"{}\" not allowed.", req.method().as_ref()),
    )
}

/// The request body as JSON, or DRF's 400 for a body that is not JSON.
pub async fn json_body(req: &mut Request) -> Result<Value, Response> {
    let bytes = req
        .bytes()
        .await
        .map_err(|_| detail(400, "Could not read the request body."))?;
    shared::accounts::parse_json_body(&bytes).map_err(|body| json(400, &body))
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

/// Logs an internal failure and answers a generic 500 (details stay in the logs).
pub fn internal_error(context: &str, err: impl std::fmt::Display) -> Response {
    worker::console_error!("{context}: {err}");
    json(500, &serde_json::json!({"error": "Internal server error"}))
}
