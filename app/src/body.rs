//! Request bodies: the one bounded reader, and the JSON parsers on it (DRF's
//! shapes for the accounts API, `{"error"}` for the others).

use futures_util::StreamExt;
use serde_json::Value;
use worker::Request;

use crate::error::{ApiError, ApiResult};

/// Largest JSON request body read (account and export requests are a few hundred bytes).
const MAX_JSON_BYTES: usize = 1 << 20;

/// The request body as JSON, or DRF's 400 for a body that is not JSON.
pub async fn json_body(req: &mut Request) -> ApiResult<Value> {
    let bytes = read_capped(req).await.map_err(|error| match error {
        ApiError::Internal(_) => ApiError::Detail(400, "Could not read the request body.".into()),
        other => other.into_detail(),
    })?;
    shared::accounts::parse_json_body(&bytes).map_err(|body| ApiError::Body(400, body))
}

/// The request body as JSON, read up to `MAX_JSON_BYTES`; 400 when it is not JSON.
pub async fn read_json(req: &mut Request) -> ApiResult<Value> {
    parse_json(&read_capped(req).await?)
}

fn parse_json(bytes: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(bytes).map_err(|_| ApiError::bad_request("Invalid JSON body"))
}

/// Like [`read_json`], but an empty body reads as `{}` (options that may be left out).
pub async fn read_optional_json(req: &mut Request) -> ApiResult<Value> {
    let bytes = read_capped(req).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    parse_json(&bytes)
}

/// The request body, read up to `MAX_JSON_BYTES` (so no body can grow the
/// Worker's memory); 413 past that.
async fn read_capped(req: &mut Request) -> ApiResult<Vec<u8>> {
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
        return Err(ApiError::Client(413, "Request body too large".into()));
    }
    Ok(bytes)
}

/// Reads what is left of the body, so that the client gets the answer, not a reset.
pub async fn drain(req: &mut Request) {
    if let Ok(mut body) = req.stream() {
        while let Some(Ok(_)) = body.next().await {}
    }
}
