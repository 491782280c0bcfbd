//! The gateway's vars and secrets, read per request (they are plain strings in `env`).

use shared::routing::{parse_flag, parse_staging_hosts, RolloutConfig, SigningKey};
use worker::Env;

pub struct Settings {
    pub legacy_origin: String,
    pub legacy_timeout_ms: u32,
    /// How long a shadow request may take (`SHADOW_TIMEOUT_MS`).
    pub shadow_timeout_ms: u32,
    pub config_cache_ms: f64,
    pub kv_cache_ttl_secs: u64,
    /// Plain-http local dev: no https redirect, no `Secure` cookie flag.
    pub local_dev: bool,
    pub signing_key: SigningKey,
    /// The JWT settings shared with the app and Django: admin tokens, and who is
    /// signed in for identity-sticky routing.
    pub jwt: shared::jwt::JwtConfig,
    /// What KV leaves unset falls back to these (from vars).
    pub defaults: RolloutConfig,
    /// A sign-in refused by one side is asked of the other (`LOGIN_FALLBACK`,
    /// on unless `off`; see `sign_in.rs`).
    pub login_fallback: bool,
}

impl Settings {
    pub fn from_env(env: &Env) -> Self {
        let mut defaults = RolloutConfig::all_legacy();
        if let Some(hosts) = var(env, "STAGING_HOSTS") {
            defaults.staging_hosts = parse_staging_hosts(&hosts).unwrap_or_default();
        }
        defaults.beta_header_enabled = var(env, "BETA_HEADER_ENABLED")
            .and_then(|v| parse_flag("BETA_HEADER_ENABLED", &v).ok())
            .unwrap_or(false);
        defaults.identity_hold_secs = number(
            env,
            "REPLICATION_LAG_BOUND_S",
            shared::routing::DEFAULT_IDENTITY_HOLD_SECS,
        );
        Self {
            legacy_origin: var(env, "LEGACY_ORIGIN").unwrap_or_default(),
            legacy_timeout_ms: number(env, "LEGACY_TIMEOUT_MS", 30_000),
            shadow_timeout_ms: number(env, "SHADOW_TIMEOUT_MS", 5_000),
            config_cache_ms: number(env, "CONFIG_CACHE_MS", 1_000) as f64,
            kv_cache_ttl_secs: number(env, "KV_CACHE_TTL_SECONDS", 0).into(),
            local_dev: var(env, "LOCAL_DEV").as_deref() == Some("true"),
            signing_key: signing_key(env),
            jwt: jwt_config(env),
            defaults,
            login_fallback: var(env, "LOGIN_FALLBACK").as_deref() != Some("off"),
        }
    }
}

/// Without `ROUTING_SECRET` the gateway signs with a key of this isolate only:
/// cookies then stop verifying across isolates and clients fall back to their
/// IP bucket, which is safe, just less sticky.
fn signing_key(env: &Env) -> SigningKey {
    match var(env, "ROUTING_SECRET").filter(|s| !s.is_empty()) {
        Some(secret) => SigningKey::new(secret),
        None => {
            thread_local! {
                static EPHEMERAL: [u8; 32] = {
                    let mut key = [0u8; 32];
                    let _ = getrandom::fill(&mut key);
                    key
                };
            }
            worker::console_warn!("ROUTING_SECRET is not set; sticky cookies are per isolate");
            EPHEMERAL.with(|key| SigningKey::new(key))
        }
    }
}

/// A var or a secret (both are strings to the Worker).
pub fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .ok()
}

fn number(env: &Env, name: &str, default: u32) -> u32 {
    var(env, name)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The JWT settings shared with the app and Django (admin tokens are the app's).
fn jwt_config(env: &Env) -> shared::jwt::JwtConfig {
    shared::jwt::JwtConfig::new(
        var(env, "JWT_SECRET").unwrap_or_default(),
        &var(env, "JWT_ISSUER").unwrap_or_else(|| "list-cutter".into()),
        &var(env, "JWT_AUDIENCE").unwrap_or_else(|| "list-cutter-api".into()),
    )
}

/// The alert cron's limits (`ALERT_*` vars; unset or invalid keeps the default).
pub fn thresholds(env: &Env) -> shared::ops::alerts::Thresholds {
    let d = shared::ops::alerts::Thresholds::default();
    let parsed = |name: &str| var(env, name).and_then(|v| v.trim().parse::<f64>().ok());
    shared::ops::alerts::Thresholds {
        max_error_rate: parsed("ALERT_ERROR_RATE").unwrap_or(d.max_error_rate),
        max_p95_ms: number(env, "ALERT_P95_MS", d.max_p95_ms),
        min_requests: number(env, "ALERT_MIN_REQUESTS", d.min_requests as u32).into(),
        bad_windows: number(env, "ALERT_BAD_WINDOWS", d.bad_windows),
    }
}

/// The shadow gate's limits (`SHADOW_*` vars; unset or invalid keeps the default).
pub fn shadow_thresholds(env: &Env) -> shared::shadow::Thresholds {
    let d = shared::shadow::Thresholds::default();
    shared::shadow::Thresholds {
        max_diff_rate: var(env, "SHADOW_MAX_DIFF_RATE")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|r| r.is_finite() && *r >= 0.0)
            .unwrap_or(d.max_diff_rate),
        min_compared: number(env, "SHADOW_MIN_COMPARED", d.min_compared as u32).into(),
        hold_above: number(env, "SHADOW_HOLD_ABOVE", d.hold_above.into()).min(100) as u8,
    }
}
