//! Response filter: what every response leaving the gateway carries, and the
//! gateway's own error, maintenance and rate-limit answers.

use shared::routing::Slot;
use shared::routing::{LimitClass, SECURITY_HEADERS};
use worker::{web_sys, Headers, Request, Response, ResponseBuilder, Result};

pub enum ServedBy {
    Gateway,
    Legacy,
    App(Slot),
}

impl ServedBy {
    pub fn header(&self) -> &'static str {
        match self {
            ServedBy::Gateway => "gateway",
            ServedBy::Legacy => "legacy",
            ServedBy::App(slot) => slot.branch(),
        }
    }
}

/// What the response filter adds.
pub struct Finish<'a> {
    pub served_by: ServedBy,
    pub request_id: &'a str,
    pub set_cookie: Option<String>,
    pub reason: Option<&'static str>,
}

impl<'a> Finish<'a> {
    pub fn new(served_by: ServedBy, request_id: &'a str) -> Self {
        Self {
            served_by,
            request_id,
            set_cookie: None,
            reason: None,
        }
    }
}

/// Keeps a sane client-sent `X-Request-Id`, else makes a new one.
pub fn request_id(req: &Request) -> String {
    req.headers()
        .get("X-Request-Id")
        .ok()
        .flatten()
        .filter(|id| shared::routing::valid_request_id(id))
        .unwrap_or_else(new_id)
}

/// The first value of query parameter `name`, decoded; empty when absent.
pub fn query_param(req: &Request, name: &str) -> Result<String> {
    Ok(req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default())
}

fn new_id() -> String {
    let mut bytes = [0u8; 16];
    // A failing RNG only weakens the id's uniqueness, never the request.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Re-wraps a response (upstream headers are immutable) with the gateway's
/// headers; the body stays a stream and every upstream header (each
/// `Set-Cookie` included) is kept.
pub fn finish(resp: Result<Response>, finish: Finish) -> Result<Response> {
    let resp = resp.or_else(|err| {
        worker::console_error!("gateway error: {err}");
        error(502, "bad gateway")
    })?;
    let raw = web_sys::Response::from(resp);
    let headers = Headers(web_sys::Headers::new_with_headers(&raw.headers())?);
    for (name, value) in SECURITY_HEADERS {
        headers.set(name, value)?;
    }
    headers.set("X-Served-By", finish.served_by.header())?;
    headers.set("X-Request-Id", finish.request_id)?;
    if let Some(reason) = finish.reason {
        headers.set("X-Route-Reason", reason)?;
    }
    if let Some(cookie) = finish.set_cookie {
        headers.append("Set-Cookie", &cookie)?;
    }
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

/// 429 with `Retry-After`, and a JSON body naming the budget that ran out.
pub fn too_many_requests(retry_after: u32, class: LimitClass) -> Result<Response> {
    let body = serde_json::json!({
        "error": "too many requests",
        "limit": class.as_str(),
        "retry_after": retry_after,
    });
    let resp = Response::from_json(&body)?.with_status(429);
    resp.headers()
        .set("Retry-After", &retry_after.to_string())?;
    Ok(resp)
}

const MAINTENANCE_RETRY_AFTER: &str = "120";

/// 503 with `Retry-After`: an HTML page for browsers, JSON for API clients.
pub fn maintenance(req: &Request, write_freeze: bool) -> Result<Response> {
    let message = if write_freeze {
        "List Cutter is read-only for a few minutes while data is moved; changes are not accepted right now."
    } else {
        "List Cutter is down for maintenance and will be back shortly."
    };
    let mode = if write_freeze { "write_freeze" } else { "full" };
    let resp = page_or_json(req, 503, "Back soon", message, ("maintenance", mode))?;
    resp.headers().set("Retry-After", MAINTENANCE_RETRY_AFTER)?;
    Ok(resp)
}

/// An answer for people and programs alike: a small HTML page when the client
/// accepts `text/html`, else `{"error": message, <extra.0>: <extra.1>}`.
pub fn page_or_json(
    req: &Request,
    status: u16,
    title: &str,
    message: &str,
    extra: (&str, &str),
) -> Result<Response> {
    let wants_html = req
        .headers()
        .get("Accept")?
        .is_some_and(|accept| accept.contains("text/html"));
    let resp = if wants_html {
        Response::from_html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} — List Cutter</title></head><body>\
             <main><h1>{title}</h1><p>{message}</p></main></body></html>"
        ))?
    } else {
        Response::from_json(&serde_json::json!({ "error": message, extra.0: extra.1 }))?
    };
    Ok(resp.with_status(status))
}
