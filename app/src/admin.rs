//! The admin API of the cutover tool under `/api/admin/`: imports (`import.rs`),
//! exports (`export.rs`) and the removal of an empty account (`cutover validate`'s). Admin only, as on the gateway: an access JWT whose claims
//! say `is_admin`, unrevoked, of a user who is still an active admin in D1; or the
//! operator token `ADMIN_API_TOKEN`. 401 without a valid credential, 403 for a
//! non-admin. Every answer is JSON `{"error": ...}` on failure. `whoami` is how the
//! gateway checks an admin token; `login` is the dashboard's sign-in (admins only);
//! `dead-letters` lists and clears what the queue consumer gave up on.

use shared::ops::admin;
use worker::{Env, Method, Request, Response, Result};

use crate::http::{self, Reject};
use crate::{dead_letters, export, import, settings, tokens, users};

pub async fn handle(rest: &str, mut req: Request, env: &Env) -> Result<Response> {
    if rest == "login" {
        return match req.method() {
            Method::Post => crate::accounts::admin_login(req, env).await,
            _ => http::json_error(405, "method not allowed"),
        };
    }
    let admin = match authorize(&req, env).await {
        Ok(admin) => admin,
        Err(refusal) => {
            import::drain(&mut req).await;
            return Ok(refusal);
        }
    };
    let method = req.method();
    let segments: Vec<&str> = rest.split('/').collect();
    let outcome = match (method, segments.as_slice()) {
        (Method::Get, ["whoami"]) => {
            Ok(http::json(200, &serde_json::json!({ "admin": admin.name })))
        }
        (Method::Post, ["import", "users"]) => import::users(&mut req, env).await,
        (Method::Post, ["import", "files"]) => import::file_rows(&mut req, env).await,
        (Method::Put, ["import", "files", id]) => import::file_content(&mut req, env, id).await,
        (Method::Post, ["import", "files", "delete"]) => import::delete_files(&mut req, env).await,
        (Method::Post, ["import", "files", "bundle"]) => import::file_bundle(&mut req, env).await,
        (Method::Post, ["import", "relationships"]) => import::relationships(&mut req, env).await,
        (Method::Get, ["export", "summary"]) => export::summary(env).await,
        (Method::Get, ["export", "users"]) => export::users(&req, env).await,
        (Method::Get, ["export", "files"]) => export::files(&req, env).await,
        (Method::Get, ["export", "files", id, "content"]) => export::content(env, id).await,
        (Method::Get, ["export", "relationships"]) => export::relationships(&req, env).await,
        (Method::Get, ["export", "changes"]) => export::changes(&req, env).await,
        (Method::Post, ["changes", "ack"]) => export::acknowledge(&mut req, env).await,
        (Method::Get, ["dead-letters"]) => dead_letters::list(env).await,
        (Method::Delete, ["dead-letters", id]) => dead_letters::clear(env, id).await,
        (Method::Delete, ["users", id]) => import::delete_user(&req, env, id).await,
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

/// The admin behind the request, or the refusal to send. A JWT counts only while
/// it is unrevoked and its user is still an active admin: claims alone would keep
/// a logged-out, demoted or deactivated admin's token working for its lifetime.
async fn authorize(req: &Request, env: &Env) -> std::result::Result<admin::Admin, Response> {
    let auth = http::header(req, "Authorization");
    let token = settings::var(env, "ADMIN_API_TOKEN").unwrap_or_default();
    let refuse = |denied: admin::Denied| {
        http::json(
            denied.status(),
            &serde_json::json!({ "error": denied.message() }),
        )
    };
    let credential = match settings::jwt(env) {
        Some(jwt) => admin::credential(auth.as_deref(), &token, &jwt, http::now_unix()),
        // Without a JWT secret only the operator token can be checked.
        None => admin::is_operator(auth.as_deref(), &token)
            .then_some(admin::Credential::Operator)
            .ok_or(admin::Denied::Unauthenticated),
    }
    .map_err(refuse)?;
    if let admin::Credential::Token(claims) = &credential {
        let unavailable = |what: &str, e: worker::Error| {
            worker::console_error!("admin check, {what}: {e}");
            http::json(
                503,
                &serde_json::json!({"error": "admin check unavailable"}),
            )
        };
        let revoked = tokens::is_revoked(env, &claims.jti)
            .await
            .map_err(|e| unavailable("revocation", e))?;
        let user = users::by_id(env, claims.user_id)
            .await
            .map_err(|e| unavailable("user", e))?;
        admin::current_admin(revoked, user.map(|u| (u.is_active(), u.is_admin())))
            .map_err(refuse)?;
    }
    Ok(credential.admin())
}
