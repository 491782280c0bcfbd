//! Issuing, rotating and revoking tokens. KV `AUTH_TOKENS` holds:
//! - `refresh:<jti>` — a refresh token the app issued and has not revoked, with its
//!   user and its session: the `jti` of the refresh token its login issued, which every
//!   token refreshed from it inherits;
//! - `revoked:<jti>` — a token that must no longer be accepted (logged out, or used
//!   under strict rotation); a session's id there revokes every refresh token of it.
//!
//! Both expire with the token they describe, so the namespace never grows past one token
//! lifetime. A refresh token Django issued has no `refresh:` record; it is accepted while
//! legacy tokens are (the claims say who issued it) and is its own session.
//!
//! Sessions are what keep logout meaningful while used refresh tokens stay valid
//! (`REFRESH_TOKEN_REUSE`): a logout revokes the whole session, so the tokens a
//! client rotated away are dead with the one it signed out with.

use crate::http::random_bytes;
use serde_json::json;
use shared::jwt::{self, Claims, JwtConfig, TokenType, TokenUser, REFRESH_TTL_SECS};
use worker::{kv::KvStore, Env, Result};

/// KV refuses an `expirationTtl` under 60 seconds.
const KV_MIN_TTL_SECS: i64 = 60;

pub fn store(env: &Env) -> Result<KvStore> {
    crate::bindings::tokens(env)
}

/// Seconds until `claims` expire, as a TTL KV accepts.
fn ttl(claims: &Claims, now: i64) -> u64 {
    (claims.exp - now).max(KV_MIN_TTL_SECS) as u64
}

/// A fresh access/refresh pair; the refresh token is recorded so it can be rotated once.
pub struct Pair {
    pub access: String,
    pub refresh: String,
}

impl Pair {
    /// The legacy `{access, refresh}` plus the names the seed's Workers clients read.
    pub fn body(&self) -> serde_json::Map<String, serde_json::Value> {
        [
            ("access", &self.access),
            ("refresh", &self.refresh),
            ("access_token", &self.access),
            ("refresh_token", &self.refresh),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.as_str().into()))
        .collect()
    }
}

/// A new pair; its refresh token belongs to `session` (a refresh), or starts a new
/// session (a login or a registration: `None`).
pub async fn issue_pair(
    env: &Env,
    cfg: &JwtConfig,
    user: &TokenUser,
    now: i64,
    session: Option<&str>,
) -> Result<Pair> {
    let sign = |t| -> Result<(String, Claims)> {
        let jti = jwt::jti_from_bytes(&random_bytes::<16>()?);
        jwt::issue(cfg, user, t, now, jti).map_err(|e| worker::Error::RustError(e.to_string()))
    };
    let (access, _) = sign(TokenType::Access)?;
    let (refresh, claims) = sign(TokenType::Refresh)?;
    store(env)?
        .put(
            &format!("refresh:{}", claims.jti),
            json!({"user_id": user.id, "session": session.unwrap_or(&claims.jti)}).to_string(),
        )?
        .expiration_ttl(ttl(&claims, now))
        .execute()
        .await?;
    Ok(Pair { access, refresh })
}

pub async fn is_revoked(env: &Env, jti: &str) -> Result<bool> {
    Ok(store(env)?
        .get(&format!("revoked:{jti}"))
        .text()
        .await?
        .is_some())
}

/// The session of a verified refresh token that may still be used: not revoked, its
/// session not revoked, and either recorded by the app or issued by Django while
/// Django's tokens are accepted. `None` when it may not.
pub async fn usable_session(env: &Env, cfg: &JwtConfig, claims: &Claims) -> Result<Option<String>> {
    let session = if claims.is_legacy() {
        cfg.accept_legacy.then(|| claims.jti.clone())
    } else {
        session_of(env, claims).await?
    };
    let Some(session) = session else {
        return Ok(None);
    };
    if is_revoked(env, &claims.jti).await? || is_revoked(env, &session).await? {
        return Ok(None);
    }
    Ok(Some(session))
}

/// The session recorded for an app-issued refresh token (its own `jti` for a
/// record written before sessions existed); `None` without a record.
async fn session_of(env: &Env, claims: &Claims) -> Result<Option<String>> {
    let record = store(env)?
        .get(&format!("refresh:{}", claims.jti))
        .text()
        .await?;
    Ok(record.map(|text| {
        serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["session"].as_str().map(str::to_string))
            .unwrap_or_else(|| claims.jti.clone())
    }))
}

/// Revokes a refresh token's whole session (logout): every token refreshed from the
/// same login, including the used ones `REFRESH_TOKEN_REUSE` keeps valid.
pub async fn revoke_session(env: &Env, claims: &Claims, now: i64) -> Result<()> {
    let session = match claims.is_legacy() {
        true => Some(claims.jti.clone()),
        false => session_of(env, claims).await?,
    };
    if let Some(session) = session.filter(|s| *s != claims.jti) {
        store(env)?
            .put(
                &format!("revoked:{session}"),
                json!({"reason": "user_logout", "revoked_at": now}).to_string(),
            )?
            // A session lives at most as long as a refresh token issued now.
            .expiration_ttl(ttl(claims, now).max(REFRESH_TTL_SECS as u64))
            .execute()
            .await?;
    }
    revoke(env, claims, "user_logout", now).await
}

/// Marks a token as no longer acceptable until it would have expired anyway.
pub async fn revoke(env: &Env, claims: &Claims, reason: &str, now: i64) -> Result<()> {
    let kv = store(env)?;
    kv.put(
        &format!("revoked:{}", claims.jti),
        json!({"reason": reason, "revoked_at": now}).to_string(),
    )?
    .expiration_ttl(ttl(claims, now))
    .execute()
    .await?;
    if claims.token_type == TokenType::Refresh {
        kv.delete(&format!("refresh:{}", claims.jti)).await?;
    }
    Ok(())
}
