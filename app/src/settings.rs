//! The app's vars and secrets (plain strings in `env`), with their defaults.

use shared::jwt::{JwtConfig, ACCESS_TTL_SECS, REFRESH_TTL_SECS};
use worker::Env;

/// First id the app allocates for a user it creates; legacy ids stay below it.
pub const DEFAULT_USER_ID_OFFSET: i64 = 1_000_000_000;

/// A var or a secret (both are strings to the Worker).
pub fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .ok()
}

fn number(env: &Env, name: &str, default: i64) -> i64 {
    var(env, name)
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

pub fn user_id_offset(env: &Env) -> i64 {
    number(env, "USER_ID_OFFSET", DEFAULT_USER_ID_OFFSET)
}

/// The token settings; `None` without a `JWT_SECRET` (then no token can be made or trusted).
pub fn jwt(env: &Env) -> Option<JwtConfig> {
    let secret = var(env, "JWT_SECRET").filter(|s| !s.is_empty())?;
    let mut cfg = JwtConfig::new(
        secret,
        &var(env, "JWT_ISSUER").unwrap_or_else(|| "list-cutter".into()),
        &var(env, "JWT_AUDIENCE").unwrap_or_else(|| "list-cutter-api".into()),
    );
    cfg.access_ttl_secs = number(env, "ACCESS_TTL_SECONDS", ACCESS_TTL_SECS);
    cfg.refresh_ttl_secs = number(env, "REFRESH_TTL_SECONDS", REFRESH_TTL_SECS);
    cfg.accept_legacy = var(env, "ACCEPT_LEGACY_TOKENS").is_none_or(|v| v.trim() != "false");
    Some(cfg)
}

/// `REFRESH_TOKEN_REUSE`: whether a refresh token stays usable after it was used
/// (anything but `false` is on). Django's simplejwt without the blacklist app
/// accepts a used refresh token until it expires, and the legacy web client
/// relies on it: it keeps its login refresh token for the whole day and never
/// stores the rotated one. On, rotation issues a new pair without revoking the
/// presented token; logout still revokes it. Off, a used refresh token is revoked
/// (strict rotation) — for when no legacy client is left.
pub fn refresh_reuse(env: &Env) -> bool {
    var(env, "REFRESH_TOKEN_REUSE").is_none_or(|v| v.trim() != "false")
}

/// `MAX_FILE_SIZE` (bytes): the largest upload, 50 MiB when unset.
pub fn max_file_size(env: &Env) -> u64 {
    var(env, "MAX_FILE_SIZE")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(50 << 20)
}
