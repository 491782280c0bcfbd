//! The operators' dashboard at `/admin/`: static files embedded in the Worker
//! (no CDN, a strict CSP), plus the login hop to the app. The page holds no
//! data; everything it shows comes from the authenticated admin API.

use shared::routing::Slot;
use worker::{Env, Method, Request, RequestInit, Response, Result};

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/app.css");

/// Only this origin's files and API; no inline code, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The dashboard's files, by path (`/admin` trimmed of its trailing slash).
pub fn asset(method: Method, path: &str) -> Option<Result<Response>> {
    let (body, content_type) = match path {
        "/admin" => (INDEX, "text/html; charset=utf-8"),
        "/admin/assets/app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/admin/assets/app.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return None,
    };
    if !matches!(method, Method::Get | Method::Head) {
        return Some(crate::respond::error(405, "method not allowed"));
    }
    Some((|| {
        let resp = Response::ok(body)?;
        let headers = resp.headers();
        headers.set("Content-Type", content_type)?;
        headers.set("Content-Security-Policy", CSP)?;
        headers.set("Cache-Control", "no-store")?;
        Ok(resp)
    })())
}

/// `POST /admin/login`: the app's admin sign-in (`/api/admin/login`), always through
/// the serving app slot whatever the split says (admin tokens carry `is_admin`;
/// Django's do not). The client's address, agent and request id go along, so the
/// app's per-address and per-username login throttles apply here as on
/// `/api/accounts/login/`; a user who is not an admin gets a 403 and no tokens.
pub async fn login(mut req: Request, env: &Env, slot: Slot) -> Result<Response> {
    if req.method() != Method::Post {
        return crate::respond::error(405, "method not allowed");
    }
    let body = req.text().await?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let login = Request::new_with_init("https://app/api/admin/login", &init)?;
    login.headers().set("Content-Type", "application/json")?;
    for name in ["CF-Connecting-IP", "User-Agent", "X-Request-Id"] {
        if let Some(value) = req.headers().get(name)? {
            login.headers().set(name, &value)?;
        }
    }
    match env.service(slot.binding())?.fetch_request(login).await {
        Ok(resp) => Ok(resp),
        Err(err) => {
            worker::console_error!("login via app {} failed: {err}", slot.name());
            crate::respond::error(502, "login service unavailable")
        }
    }
}
