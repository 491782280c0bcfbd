//! Upstream phase for a sign-in (`shared::routing::is_sign_in`). Until the
//! replicator has carried a new account over (within its lag bound), only the
//! side it was made on knows it; a 401 from the side the request was routed to
//! is therefore asked of the other side too, and a success there is the answer.
//! Each side still counts the failed attempt against its own throttles.
//! `LOGIN_FALLBACK=off` turns this off (e.g. once legacy is retired).

use shared::routing::{Backend, SIGN_IN_BODY_LIMIT};
use worker::{js_sys, Request, RequestInit, Result};

use crate::respond::ServedBy;
use crate::upstream::{self, Sent, Upstream};

/// `req`, routed to `first`, with the second chance described above when its
/// body is small enough to send twice.
pub async fn send(mut req: Request, first: Backend, up: &Upstream<'_>) -> (Sent, ServedBy) {
    let declared = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_none_or(|n| n > SIGN_IN_BODY_LIMIT) {
        return upstream::send(req, first, up).await;
    }
    let body = match req.bytes().await {
        Ok(body) => body,
        Err(e) => return (Err(e), ServedBy::Gateway),
    };
    let again = |req: &Request| -> Result<Request> {
        let mut init = RequestInit::new();
        init.with_method(req.method())
            .with_headers(req.headers().clone())
            .with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
        Request::new_with_init(req.url()?.as_str(), &init)
    };
    let copy = match again(&req) {
        Ok(copy) => copy,
        Err(e) => return (Err(e), ServedBy::Gateway),
    };
    let (answer, by) = upstream::send(copy, first, up).await;
    if !matches!(&answer, Ok(Ok(r)) if r.status_code() == 401) {
        return (answer, by);
    }
    let Ok(copy) = again(&req) else {
        return (answer, by);
    };
    match upstream::send(copy, first.other(), up).await {
        (Ok(Ok(other)), other_by) if (200..300).contains(&other.status_code()) => {
            (Ok(Ok(other)), other_by)
        }
        _ => (answer, by),
    }
}
