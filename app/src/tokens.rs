//! Issuing, rotating and revoking tokens. KV `AUTH_TOKENS` holds:
//! - `refresh:<jti>` — a refresh token the app issued and has not rotated yet;
//! - `revoked:<jti>` — a token that must no longer be accepted (rotated or logged out).
//!
//! Both expire with the token they describe, so the namespace never grows past one token
//! lifetime. A refresh token Django issued has no `refresh:` record; it is accepted while
//! legacy tokens are (the claims say who issued it) and revoked once used.

use crate::http::random_bytes;
use serde_json::json;
use shared::jwt::{self, Claims, JwtConfig, TokenType, TokenUser};
use worker::{kv::KvStore, Env, Result};

/// KV refuses an `expirationTtl` under 60 seconds.
const KV_MIN_TTL_SECS: i64 = 60;

pub fn store(env: &Env) -> Result<KvStore> {
    env.kv("AUTH_TOKENS")
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

pub async fn issue_pair(env: &Env, cfg: &JwtConfig, user: &TokenUser, now: i64) -> Result<Pair> {
    let sign = |t| -> Result<(String, Claims)> {
        let jti = jwt::jti_from_bytes(&random_bytes::<16>()?);
        jwt::issue(cfg, user, t, now, jti).map_err(|e| worker::Error::RustError(e.to_string()))
    };
    let (access, _) = sign(TokenType::Access)?;
    let (refresh, claims) = sign(TokenType::Refresh)?;
    store(env)?
        .put(
            &format!("refresh:{}", claims.jti),
            json!({"user_id": user.id}).to_string(),
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

/// Whether a verified refresh token may still be used: not revoked, and either recorded by
/// the app or issued by Django while Django's tokens are accepted.
pub async fn refresh_usable(env: &Env, cfg: &JwtConfig, claims: &Claims) -> Result<bool> {
    if is_revoked(env, &claims.jti).await? {
        return Ok(false);
    }
    if claims.is_legacy() {
        return Ok(cfg.accept_legacy);
    }
    let record = store(env)?
        .get(&format!("refresh:{}", claims.jti))
        .text()
        .await?;
    Ok(record.is_some())
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
