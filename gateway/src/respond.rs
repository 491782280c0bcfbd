//! Response filter: what every response leaving the gateway carries.

use crate::rollout::Slot;
use worker::{web_sys, Headers, Request, Response, ResponseBuilder, Result};

pub enum ServedBy {
    Legacy,
    App(Slot),
}

impl ServedBy {
    fn header(&self) -> &'static str {
        match self {
            ServedBy::Legacy => "legacy",
            ServedBy::App(Slot::Blue) => "app-blue",
            ServedBy::App(Slot::Green) => "app-green",
        }
    }
}

/// Keeps a sane client-sent `X-Request-Id`, else makes a new one.
pub fn request_id(req: &Request) -> String {
    req.headers()
        .get("X-Request-Id")
        .ok()
        .flatten()
        .filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        })
        .unwrap_or_else(new_id)
}

fn new_id() -> String {
    let mut bytes = [0u8; 16];
    // A failing RNG only weakens the id's uniqueness, never the request.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Re-wraps a response (upstream headers are immutable) with the gateway's headers.
pub fn finish(resp: Result<Response>, served_by: ServedBy, request_id: &str) -> Result<Response> {
    let resp = resp.or_else(|err| {
        worker::console_error!("gateway error: {err}");
        error(502, "bad gateway")
    })?;
    let raw = web_sys::Response::from(resp);
    let headers = Headers(web_sys::Headers::new_with_headers(&raw.headers())?);
    headers.set("X-Served-By", served_by.header())?;
    headers.set("X-Request-Id", request_id)?;
    let builder = ResponseBuilder::new()
        .with_status(raw.status())
        .with_headers(headers);
    Ok(match raw.body() {
        Some(body) => builder.stream(body),
        None => builder.empty(),
    })
}

/// A JSON error body `{"error": ...}` with the given status.
pub fn error(status: u16, message: &str) -> Result<Response> {
    Ok(Response::from_json(&serde_json::json!({ "error": message }))?.with_status(status))
}
