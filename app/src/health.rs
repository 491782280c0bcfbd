//! `GET /health` of the app: one cheap probe of each binding it cannot work
//! without (D1, R2, the token KV), timed. The gateway's blue/green switch asks
//! this through its service binding and switches only on a 200.

use std::future::Future;

use serde_json::{json, Value};
use worker::{Date, Env, Response};

use crate::http;
use crate::settings;

/// A probe slower than this makes the app `degraded` (still a 200).
const SLOW_MS: u64 = 1000;

pub async fn report(env: &Env) -> Response {
    let checks = [
        ("database", probe(DB, database(env)).await),
        ("storage", probe(FILE_STORAGE, storage(env)).await),
        ("kv", probe(AUTH_TOKENS, kv(env)).await),
    ];
    // Named at the top, so a 503 says at a glance which binding is down.
    let failing: Vec<&str> = checks
        .iter()
        .filter(|(_, c)| c["ok"] == false)
        .map(|(name, _)| *name)
        .collect();
    let failed = !failing.is_empty();
    let slow = checks
        .iter()
        .any(|(_, c)| c["latency_ms"].as_u64().unwrap_or(0) > SLOW_MS);
    let (status, code) = match (failed, slow) {
        (true, _) => ("unhealthy", 503),
        (false, true) => ("degraded", 200),
        (false, false) => ("healthy", 200),
    };
    let checks: serde_json::Map<String, Value> = checks
        .into_iter()
        .map(|(name, check)| (name.to_string(), check))
        .collect();
    http::json(
        code,
        &json!({
            "status": status,
            "failing": failing,
            "checks": checks,
            "version": settings::var(env, "API_VERSION").unwrap_or_default(),
            "slot": settings::var(env, "DEPLOYMENT_SLOT"),
            "environment": settings::var(env, "ENVIRONMENT").unwrap_or_default(),
            "timestamp": chrono::DateTime::from_timestamp_millis(Date::now().as_millis() as i64)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        }),
    )
}

use crate::bindings::{AUTH_TOKENS, DB, FILE_STORAGE};

/// `{"ok", "binding", "latency_ms"}` of a probe of `binding`, with its `error`
/// when it failed (the detail stays in the log).
async fn probe(binding: &str, check: impl Future<Output = worker::Result<()>>) -> Value {
    let start = Date::now().as_millis();
    let outcome = check.await;
    let latency_ms = Date::now().as_millis().saturating_sub(start);
    match outcome {
        Ok(()) => json!({"ok": true, "binding": binding, "latency_ms": latency_ms}),
        Err(error) => {
            worker::console_error!("health probe of {binding}: {error}");
            json!({"ok": false, "binding": binding, "latency_ms": latency_ms, "error": "unreachable"})
        }
    }
}

async fn database(env: &Env) -> worker::Result<()> {
    crate::bindings::db(env)?.prepare("SELECT 1").run().await?;
    Ok(())
}

async fn storage(env: &Env) -> worker::Result<()> {
    crate::bindings::bucket(env)?.head("health-probe").await?;
    Ok(())
}

async fn kv(env: &Env) -> worker::Result<()> {
    crate::bindings::tokens(env)?
        .get("health-probe")
        .text()
        .await?;
    Ok(())
}
