//! Bearer authentication, answering like simplejwt's `JWTAuthentication` so a client's
//! refresh-and-retry logic works the same against either side.

use crate::error::{ApiError, ApiResult};
use crate::http::{self, json};
use crate::{settings, tokens, users};
use serde_json::json;
use shared::jwt::{self, simplejwt_access_error_body, Claims, TokenType};
use worker::{Env, Request};

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: users::User,
    /// The access token's claims (its `jti` is what logout revokes).
    pub claims: Claims,
}

/// The user behind the request's `Authorization: Bearer <access token>`, or the 401 (500 when
/// D1 or KV fail) to answer. The token must verify, be an access token, not be revoked, and
/// name an active user; tokens Django issued count while `ACCEPT_LEGACY_TOKENS` is on.
pub async fn authenticate(req: &Request, env: &Env) -> ApiResult<AuthUser> {
    let header = http::header(req, "Authorization").unwrap_or_default();
    let mut parts = header.split_whitespace();
    if parts.next() != Some("Bearer") {
        return Err(unauthenticated(json!({
            "detail": "Authentication credentials were not provided."
        })));
    }
    let (Some(token), None) = (parts.next(), parts.next()) else {
        return Err(unauthenticated(json!({
            "detail": "Authorization header must contain two space-delimited values",
            "code": "bad_authorization_header"
        })));
    };
    let invalid = || unauthenticated(simplejwt_access_error_body());
    let cfg = settings::jwt(env).ok_or_else(invalid)?;
    let claims = jwt::verify(&cfg, token, TokenType::Access, http::now_unix()).map_err(|e| {
        worker::console_log!("access token refused: {e}");
        invalid()
    })?;
    if tokens::is_revoked(env, &claims.jti)
        .await
        .map_err(|e| ApiError::internal("revocation lookup", e))?
    {
        return Err(invalid());
    }
    let user = users::by_id(env, claims.user_id)
        .await
        .map_err(|e| ApiError::internal("user lookup", e))?;
    match user {
        Some(user) if user.is_active() => Ok(AuthUser { user, claims }),
        Some(_) => Err(unauthenticated(
            json!({"detail": "User is inactive", "code": "user_inactive"}),
        )),
        None => Err(unauthenticated(
            json!({"detail": "User not found", "code": "user_not_found"}),
        )),
    }
}

/// A 401 with DRF's `WWW-Authenticate` challenge for simplejwt.
fn unauthenticated(body: serde_json::Value) -> ApiError {
    let mut resp = json(401, &body);
    let _ = resp
        .headers_mut()
        .set("WWW-Authenticate", "Bearer realm=\"api\"");
    ApiError::Answer(resp)
}
