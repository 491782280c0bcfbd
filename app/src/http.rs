//! Small HTTP helpers: JSON answers, bounded request bodies, the handlers'
//! error type, and facts about the caller.

use futures_util::StreamExt;
use serde_json::Value;
use worker::{Request, Response};

/// Largest JSON request body read (account and export requests are a few hundred bytes).
const MAX_JSON_BYTES: usize = 1 << 20;

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
    let bytes = read_capped(req).await.map_err(|reject| match reject {
        Reject::Client(status, message) => detail(status, &message),
        Reject::Internal(_) | Reject::Answer(_) => detail(400, "Could not read the request body."),
    })?;
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

/// `{"error": message}` with `status`.
pub fn json_error(status: u16, message: &str) -> worker::Result<Response> {
    Ok(Response::from_json(&serde_json::json!({ "error": message }))?.with_status(status))
}

/// Why a handler stops: an answer for the client, or an internal failure (a 500).
pub enum Reject {
    Client(u16, String),
    Internal(worker::Error),
    /// A complete answer (e.g. authentication's 401).
    Answer(Response),
}

impl Reject {
    pub fn bad_request(message: impl Into<String>) -> Reject {
        Reject::Client(400, message.into())
    }

    pub fn into_response(self) -> worker::Result<Response> {
        match self {
            Reject::Client(status, message) => json_error(status, &message),
            Reject::Internal(error) => {
                worker::console_error!("internal error: {error}");
                json_error(500, "Internal server error")
            }
            Reject::Answer(response) => Ok(response),
        }
    }
}

impl From<worker::Error> for Reject {
    fn from(error: worker::Error) -> Reject {
        Reject::Internal(error)
    }
}

/// The request body as JSON, read up to `MAX_JSON_BYTES`; 400 when it is not JSON.
pub async fn read_json(req: &mut Request) -> std::result::Result<Value, Reject> {
    parse_json(&read_capped(req).await?)
}

fn parse_json(bytes: &[u8]) -> std::result::Result<Value, Reject> {
    serde_json::from_slice(bytes).map_err(|_| Reject::bad_request("Invalid JSON body"))
}

/// Like [`read_json`], but an empty body reads as `{}` (options that may be left out).
pub async fn read_optional_json(req: &mut Request) -> std::result::Result<Value, Reject> {
    let bytes = read_capped(req).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    parse_json(&bytes)
}

/// The request body, read up to `MAX_JSON_BYTES` (so no body can grow the
/// Worker's memory); 413 past that.
async fn read_capped(req: &mut Request) -> std::result::Result<Vec<u8>, Reject> {
    let mut bytes = Vec::new();
    let mut too_large = false;
    // A request without a body reads as empty.
    if let Ok(mut body) = req.stream() {
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            // Past the cap keep reading, discarding, so that the client gets the
            // 413 rather than a reset while it is still sending.
            too_large |= bytes.len() + chunk.len() > MAX_JSON_BYTES;
            if !too_large {
                bytes.extend_from_slice(&chunk);
            }
        }
    }
    if too_large {
        return Err(Reject::Client(413, "Request body too large".into()));
    }
    Ok(bytes)
}
