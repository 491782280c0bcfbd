//! The single-page frontend from the `ASSETS` binding (`app/frontend/dist`):
//! the file when there is one, else `index.html` for app routes, with the
//! caching and Content-Security-Policy of `shared::frontend`.

use shared::frontend;
use worker::{web_sys, Env, Headers, Request, RequestInit, Response, Result};

/// Whether the request is the frontend's rather than the API's.
pub fn wants(req: &Request) -> bool {
    frontend::target(req.method().as_ref(), &req.path()) == frontend::Target::Frontend
}

pub async fn serve(req: Request, env: &Env) -> Result<Response> {
    let assets = crate::bindings::assets(env)?;
    let path = req.path();
    let mut index_url = req.url()?;
    let mut init = RequestInit::new();
    // The client's conditional headers go along, so an unchanged index is a 304.
    init.with_method(req.method())
        .with_headers(req.headers().clone());
    let file = assets.fetch_request(req).await?;
    if file.status_code() != 404 || !frontend::falls_back_to_index(&path) {
        return with_headers(file, &path);
    }
    // `/` rather than `/index.html`: the binding redirects the latter to the former.
    index_url.set_path("/");
    index_url.set_query(None);
    let index = assets
        .fetch_request(Request::new_with_init(index_url.as_str(), &init)?)
        .await?;
    with_headers(index, "/")
}

/// The binding's response with our `Cache-Control` and CSP (its own headers
/// are immutable, so they are copied).
fn with_headers(resp: Response, path: &str) -> Result<Response> {
    let headers = Headers(web_sys::Headers::new_with_headers(&resp.headers().0)?);
    headers.set(
        "Cache-Control",
        frontend::cache_control(path, resp.status_code()),
    )?;
    headers.set("Content-Security-Policy", frontend::CSP)?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(resp.with_headers(headers))
}
