//! The gateway's vars, read once per request (they are plain strings in `env`).

use worker::Env;

pub struct Settings {
    pub legacy_origin: String,
    pub legacy_timeout_ms: u32,
    pub config_cache_ms: f64,
    pub kv_cache_ttl_secs: u64,
}

impl Settings {
    pub fn from_env(env: &Env) -> Self {
        Self {
            legacy_origin: var(env, "LEGACY_ORIGIN").unwrap_or_default(),
            legacy_timeout_ms: parse(env, "LEGACY_TIMEOUT_MS", 30_000),
            config_cache_ms: parse(env, "CONFIG_CACHE_MS", 1_000) as f64,
            kv_cache_ttl_secs: parse(env, "KV_CACHE_TTL_SECONDS", 0).into(),
        }
    }
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

fn parse(env: &Env, name: &str, default: u32) -> u32 {
    var(env, name)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}
