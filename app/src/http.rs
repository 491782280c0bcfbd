//! JSON responses and the error type of request handlers.

use futures_util::StreamExt;
use serde_json::Value;
use worker::{Request, Response, Result};

/// Largest JSON request body read (an export request is a few hundred bytes).
const MAX_JSON_BYTES: usize = 1 << 20;

/// `{"error": message}` with `status`.
pub fn json_error(status: u16, message: &str) -> Result<Response> {
    Ok(Response::from_json(&serde_json::json!({ "error": message }))?.with_status(status))
}

/// Why a handler stops: an answer for the client, or an internal failure (a 500).
pub enum Reject {
    Client(u16, String),
    Internal(worker::Error),
}

impl Reject {
    pub fn bad_request(message: impl Into<String>) -> Reject {
        Reject::Client(400, message.into())
    }

    pub fn into_response(self) -> Result<Response> {
        match self {
            Reject::Client(status, message) => json_error(status, &message),
            Reject::Internal(error) => {
                worker::console_error!("internal error: {error}");
                json_error(500, "Internal server error")
            }
        }
    }
}

impl From<worker::Error> for Reject {
    fn from(error: worker::Error) -> Reject {
        Reject::Internal(error)
    }
}

/// The request body as JSON, read up to `MAX_JSON_BYTES` (so no body can grow
/// the Worker's memory), 413 past that, 400 when it is not JSON.
pub async fn read_json(req: &mut Request) -> std::result::Result<Value, Reject> {
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
    serde_json::from_slice(&bytes).map_err(|_| Reject::bad_request("Invalid JSON body"))
}
