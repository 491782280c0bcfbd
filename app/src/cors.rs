//! CORS for the API (`shared::cors`): preflights answered here, the allow headers
//! added to answers for a listed origin. The list is `CORS_ALLOWED_ORIGINS`.

use shared::cors::{self, Preflight};
use worker::{Env, Method, Request, Response};

use crate::http;
use crate::settings;

fn allowed(env: &Env) -> Vec<String> {
    cors::parse_allowed(&settings::var(env, "CORS_ALLOWED_ORIGINS").unwrap_or_default())
}

/// The answer to a CORS preflight, when `req` is one.
pub fn preflight(req: &Request, env: &Env) -> Option<Response> {
    let origin = http::header(req, "Origin")?;
    let method = http::header(req, "Access-Control-Request-Method")?;
    if req.method() != Method::Options {
        return None;
    }
    let asked = http::header(req, "Access-Control-Request-Headers");
    Some(
        match cors::preflight(&origin, &method, asked.as_deref(), &allowed(env)) {
            Preflight::Allow(headers) => {
                let mut resp = Response::builder().with_status(204).empty();
                set(&mut resp, headers);
                resp
            }
            Preflight::Refuse(message) => http::json(403, &serde_json::json!({ "error": message })),
        },
    )
}

/// `resp` with the allow headers when the request came from a listed origin.
pub fn finish(origin: Option<&str>, env: &Env, mut resp: Response) -> Response {
    if let Some(origin) = origin.filter(|o| cors::is_allowed(o, &allowed(env))) {
        set(&mut resp, cors::response_headers(origin));
    }
    resp
}

fn set(resp: &mut Response, headers: Vec<(&'static str, String)>) {
    let target = resp.headers_mut();
    for (name, value) in headers {
        if let Err(e) = target.set(name, &value) {
            worker::console_warn!("setting {name}: {e}");
        }
    }
}
