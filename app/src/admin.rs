//! The admin API of the cutover tool under `/api/admin/`: imports (`import.rs`) and
//! exports (`export.rs`). Admin only, as on the gateway: an access JWT whose claims
//! say `is_admin`, or the operator token `ADMIN_API_TOKEN`; 401 without a valid
//! credential, 403 for a non-admin. Every answer is JSON `{"error": ...}` on failure.

use shared::ops::admin;
use worker::{Env, Method, Request, Response, Result};

use crate::http::{self, Reject};
use crate::{export, import, settings};

pub async fn handle(rest: &str, mut req: Request, env: &Env) -> Result<Response> {
    if let Err(denied) = authorize(&req, env) {
        import::drain(&mut req).await;
        return http::json_error(denied.status(), denied.message());
    }
    let method = req.method();
    let segments: Vec<&str> = rest.split('/').collect();
    let outcome = match (method, segments.as_slice()) {
        (Method::Post, ["import", "users"]) => import::users(&mut req, env).await,
        (Method::Post, ["import", "files"]) => import::file_rows(&mut req, env).await,
        (Method::Put, ["import", "files", id]) => import::file_content(&mut req, env, id).await,
        (Method::Post, ["import", "files", "delete"]) => import::delete_files(&mut req, env).await,
        (Method::Post, ["import", "relationships"]) => import::relationships(&mut req, env).await,
        (Method::Get, ["export", "summary"]) => export::summary(env).await,
        (Method::Get, ["export", "users"]) => export::users(&req, env).await,
        (Method::Get, ["export", "files"]) => export::files(&req, env).await,
        (Method::Get, ["export", "files", id, "content"]) => export::content(env, id).await,
        (Method::Get, ["export", "relationships"]) => export::relationships(&req, env).await,
        _ => Err(Reject::Client(
            404,
            format!(
                "No admin endpoint {} /api/admin/{rest}",
                req.method().as_ref()
            ),
        )),
    };
    outcome.or_else(Reject::into_response)
}

fn authorize(req: &Request, env: &Env) -> std::result::Result<admin::Admin, admin::Denied> {
    let auth = http::header(req, "Authorization");
    let token = settings::var(env, "ADMIN_API_TOKEN").unwrap_or_default();
    match settings::jwt(env) {
        Some(jwt) => admin::authorize(auth.as_deref(), &token, &jwt, http::now_unix()),
        // Without a JWT secret only the operator token can be checked.
        None => admin::is_operator(auth.as_deref(), &token)
            .then(|| admin::Admin {
                name: "admin-token".into(),
            })
            .ok_or(admin::Denied::Unauthenticated),
    }
}
