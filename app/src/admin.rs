//! The admin API of the cutover tool under `/api/admin/`: imports (`import.rs`),
//! exports (`export.rs`) and the removal of an empty account (`cutover validate`'s). Admin only, as on the gateway: an access JWT whose claims
//! say `is_admin`, unrevoked, of a user who is still an active admin in D1; or the
//! operator token `ADMIN_API_TOKEN`. 401 without a valid credential, 403 for a
//! non-admin. Every answer is JSON `{"error": ...}` on failure. `whoami` is how the
//! gateway checks an admin token; `login` is the dashboard's sign-in (admins only);
//! `dead-letters` lists and clears what the queue consumer gave up on.

use shared::app_route::AdminRoute;
use shared::ops::admin;
use worker::{Env, Request};

use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::{dead_letters, export, import, settings, tokens, users};

/// Answers an admin route for `admin` (already authorized).
pub async fn handle(
    route: AdminRoute,
    admin: admin::Admin,
    req: &mut Request,
    env: &Env,
) -> ApiResult {
    use AdminRoute::*;
    match route {
        Whoami => Ok(http::json(200, &serde_json::json!({ "admin": admin.name }))),
        ImportUsers => import::users(req, env).await,
        ImportFileRows => import::file_rows(req, env).await,
        ImportFileContent(id) => import::file_content(req, env, &id).await,
        ImportFileDeletions => import::delete_files(req, env).await,
        ImportFileBundle => import::file_bundle(req, env).await,
        ImportRelationships => import::relationships(req, env).await,
        ExportSummary => export::summary(env).await,
        ExportUsers => export::users(req, env).await,
        ExportFiles => export::files(req, env).await,
        ExportFileContent(id) => export::content(env, &id).await,
        ExportRelationships => export::relationships(req, env).await,
        ExportChanges => export::changes(req, env).await,
        AcknowledgeChanges => export::acknowledge(req, env).await,
        DeadLetters => dead_letters::list(env).await,
        ClearDeadLetter(id) => dead_letters::clear(env, &id).await,
        DeleteUser(id) => import::delete_user(req, env, &id).await,
        Unknown { method, rest } => Err(ApiError::Client(
            404,
            format!("No admin endpoint {method} /api/admin/{rest}"),
        )),
    }
}

/// The admin behind the request, or the refusal to send. A JWT counts only while
/// it is unrevoked and its user is still an active admin: claims alone would keep
/// a logged-out, demoted or deactivated admin's token working for its lifetime.
pub async fn authorize(req: &Request, env: &Env) -> ApiResult<admin::Admin> {
    let auth = http::header(req, "Authorization");
    let token = settings::var(env, "ADMIN_API_TOKEN").unwrap_or_default();
    let refuse = |denied: admin::Denied| ApiError::Client(denied.status(), denied.message().into());
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
            ApiError::Client(503, "admin check unavailable".into())
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
