//! Upstream phase: stream the request to the legacy origin or the app Worker.
//! Bodies are passed as streams both ways (uploads up to 50 MB are never
//! buffered); redirects are returned to the client, not followed.

use crate::respond::ServedBy;
use crate::settings::Settings;
use futures_util::future::{select, Either};
use shared::routing::Backend;
use shared::routing::Slot;
use std::pin::pin;
use std::time::Duration;
use worker::{
    web_sys, AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit,
    RequestRedirect, Response, Result, Url,
};

/// Headers that describe one hop and must not be forwarded as they are.
const HOP_HEADERS: &[&str] = &["connection", "keep-alive", "transfer-encoding", "upgrade"];

/// Why a backend gave no answer: the status and message of the gateway's own
/// answer to the user (a JSON 502 or 504), or of a failed shadow request.
pub struct Failure {
    pub status: u16,
    pub message: &'static str,
}

impl Failure {
    pub fn into_response(self) -> Result<Response> {
        crate::respond::error(self.status, self.message)
    }
}

const fn failure(status: u16, message: &'static str) -> Failure {
    Failure { status, message }
}

/// Where a request can go: what [`send`] needs of the request's context.
pub struct Upstream<'a> {
    pub env: &'a Env,
    pub settings: &'a Settings,
    pub slot: Slot,
    pub request_id: &'a str,
    pub host: &'a str,
}

/// A backend's answer, or why there was none.
pub type Sent = Result<std::result::Result<Response, Failure>>;

/// Sends `req` to `backend`: what came back and who it came from.
pub async fn send(req: Request, backend: Backend, up: &Upstream<'_>) -> (Sent, ServedBy) {
    match backend {
        Backend::Legacy => (
            send_legacy(
                req,
                up.settings,
                up.request_id,
                up.host,
                up.settings.legacy_timeout_ms,
            )
            .await,
            ServedBy::Legacy,
        ),
        Backend::App => (
            send_app(req, up.env, up.slot, up.request_id).await,
            ServedBy::App(up.slot),
        ),
    }
}

/// The request to the legacy origin, its answer or why there was none within
/// `timeout_ms` (to the response headers).
pub async fn send_legacy(
    req: Request,
    settings: &Settings,
    request_id: &str,
    original_host: &str,
    timeout_ms: u32,
) -> Result<std::result::Result<Response, Failure>> {
    let incoming = req.url()?;
    let mut target = match Url::parse(&settings.legacy_origin) {
        Ok(url) => url,
        Err(_) => return Ok(Err(failure(502, "legacy origin is not configured"))),
    };
    target.set_path(incoming.path());
    target.set_query(incoming.query());

    let headers = forward_headers(&req, request_id)?;
    let client_ip = req.headers().get("CF-Connecting-IP")?;
    for (name, value) in
        shared::routing::forwarded_headers(client_ip.as_deref(), original_host, incoming.scheme())
    {
        headers.set(name, &value)?;
    }
    // fetch() sets Host from the target URL: the legacy origin's own host.
    headers.delete("Host")?;

    // A body is a stream that can be sent once; a bodiless idempotent request
    // may be sent again when a pooled connection turns out to be closed.
    let retryable = req.inner().body().is_none()
        && matches!(req.method(), Method::Get | Method::Head | Method::Options);
    let controller = AbortController::default();
    let signal = controller.signal();
    let timeout = pin!(Delay::from(Duration::from_millis(timeout_ms.into())));
    let one_shot = shared::routing::closes_connection(req.method().as_ref());
    let attempts = pin!(async {
        if one_shot {
            if let Some(answer) = once(&req, &target, &headers).await? {
                return Ok(answer);
            }
        }
        let first = Fetch::Request(build(&req, target.as_str(), copy(&headers)?)?)
            .send_with_signal(&signal)
            .await;
        match first {
            Err(err) if retryable => {
                worker::console_warn!("legacy origin: {err}; retrying once");
                Fetch::Request(build(&req, target.as_str(), headers)?)
                    .send_with_signal(&signal)
                    .await
            }
            other => other,
        }
    });
    let outcome = select(attempts, timeout).await;
    Ok(match outcome {
        Either::Left((Ok(resp), _)) => Ok(resp),
        Either::Left((Err(err), _)) => {
            worker::console_error!("legacy origin unreachable: {err}");
            Err(failure(502, "legacy origin unreachable"))
        }
        Either::Right(_) => {
            controller.abort();
            Err(failure(504, "legacy origin timed out"))
        }
    })
}

/// Most of a response read by [`once`] (legacy's DELETE answers are a few bytes).
const ONE_SHOT_MAX_BYTES: usize = 1 << 20;

/// The request on a connection of its own that is read to its close: the legacy
/// origin answers DELETE with a 204 that still carries a body, and on a pooled
/// connection (fetch gives no way to close one; workerd drops a `Connection:
/// close` request header) those bytes became the next request's status line — a
/// 502 for an upload Django had stored. Read whole, the body is dropped as a
/// 204's must be. `None` when no connection could be opened (nothing was sent:
/// Workers cannot open sockets to some addresses, e.g. hosts proxied by
/// Cloudflare itself), so the caller may still use `fetch`.
async fn once(req: &Request, target: &Url, headers: &Headers) -> Result<Option<Response>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = target.host_str().unwrap_or_default();
    let tls = target.scheme() == "https";
    let port = target
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let transport = if tls {
        worker::SecureTransport::On
    } else {
        worker::SecureTransport::Off
    };
    let opened = match worker::Socket::builder()
        .secure_transport(transport)
        .connect(host, port)
    {
        Ok(socket) => socket.opened().await.map(|_| socket),
        Err(err) => Err(err),
    };
    let mut socket = match opened {
        Ok(socket) => socket,
        Err(err) => {
            worker::console_warn!("legacy origin: no socket to {host}:{port} ({err}); using fetch");
            return Ok(None);
        }
    };
    let mut body = Vec::new();
    if let Some(stream) = req.inner().body() {
        let bytes = worker::wasm_bindgen_futures::JsFuture::from(
            web_sys::Response::new_with_opt_readable_stream(Some(&stream))?.array_buffer()?,
        )
        .await?;
        body = worker::js_sys::Uint8Array::new(&bytes).to_vec();
    }
    let path = match target.query() {
        Some(q) => format!("{}?{q}", target.path()),
        None => target.path().to_string(),
    };
    let host_header = match target.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let pairs: Vec<(String, String)> = headers.entries().collect();
    let head = shared::routing::http1::request_head(
        req.method().as_ref(),
        &path,
        &host_header,
        &pairs,
        body.len(),
    );
    let io = |e: std::io::Error| worker::Error::RustError(format!("legacy connection: {e}"));
    socket.write_all(head.as_bytes()).await.map_err(io)?;
    socket.write_all(&body).await.map_err(io)?;
    socket.flush().await.map_err(io)?;
    let mut raw = Vec::new();
    (&mut socket)
        .take(ONE_SHOT_MAX_BYTES as u64)
        .read_to_end(&mut raw)
        .await
        .map_err(io)?;
    let parsed = shared::routing::http1::parse_response(&raw)
        .map_err(|e| worker::Error::RustError(format!("legacy response: {e}")))?;
    let out = Headers::new();
    for (name, value) in &parsed.headers {
        out.append(name, value)?;
    }
    let resp = if parsed.body.is_empty() {
        Response::empty()?
    } else {
        Response::from_bytes(parsed.body)?
    };
    Ok(Some(resp.with_status(parsed.status).with_headers(out)))
}

/// The request to the app slot through its binding, its answer or why there was none.
pub async fn send_app(
    req: Request,
    env: &Env,
    slot: Slot,
    request_id: &str,
) -> Result<std::result::Result<Response, Failure>> {
    let app = match env.service(slot.binding()) {
        Ok(app) => app,
        Err(_) => return Ok(Err(failure(502, "app binding is not configured"))),
    };
    let headers = forward_headers(&req, request_id)?;
    let outbound = build(&req, req.url()?.as_str(), headers)?;
    Ok(match app.fetch_request(outbound).await {
        Ok(resp) => Ok(resp),
        Err(err) => {
            worker::console_error!("app {} failed: {err}", slot.name());
            Err(failure(502, "app unavailable"))
        }
    })
}

pub fn copy(headers: &Headers) -> Result<Headers> {
    Ok(Headers(web_sys::Headers::new_with_headers(&headers.0)?))
}

fn forward_headers(req: &Request, request_id: &str) -> Result<Headers> {
    let headers = copy(req.headers())?;
    for name in HOP_HEADERS {
        headers.delete(name)?;
    }
    headers.set("X-Request-Id", request_id)?;
    Ok(headers)
}

fn build(req: &Request, url: &str, headers: Headers) -> Result<Request> {
    let mut init = RequestInit::new();
    init.with_method(req.method())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(req.inner().body().map(Into::into));
    Request::new_with_init(url, &init)
}
