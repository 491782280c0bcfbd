//! Paths the gateway answers itself: `/health`, `/metrics`, `/admin/*`.

use crate::rollout::Snapshot;
use crate::settings::Settings;
use crate::{admin, dashboard, health, metrics};
use serde_json::json;
use worker::{Env, Request, Response, Result};

pub async fn handle(
    req: Request,
    env: &Env,
    settings: &Settings,
    snapshot: &Snapshot,
    path: &str,
) -> Result<Response> {
    // The normalised path the decision read: `/admin%2flogin%2f` is `/admin/login`.
    let path = path.trim_end_matches('/');
    if let Some(asset) = dashboard::asset(req.method(), path) {
        return asset;
    }
    match path {
        // Public: a liveness answer that costs nothing. The deep check (KV, the app,
        // the legacy origin) is for operators, so a flood of probes cannot fan out.
        "/health" if req.headers().get("Authorization")?.is_none() => {
            Response::from_json(&json!({ "status": "ok", "service": "gateway" }))
        }
        "/health" => match admin::gate(&req, env, settings, snapshot.slot).await? {
            Ok(_) => health_report(env, settings, snapshot).await,
            Err(refusal) => Ok(refusal),
        },
        // Operators only: error rates and active users tell an attacker when and
        // how hard to push (docs/security.md).
        "/metrics" => match admin::gate(&req, env, settings, snapshot.slot).await? {
            Ok(_) => match metrics::summary(env).await {
                Ok(summary) => {
                    let mut body = serde_json::to_value(&summary)?;
                    body["replication"] =
                        serde_json::to_value(crate::replication::health(env).await.ok())?;
                    body["shadow"] =
                        serde_json::to_value(crate::shadow_report::report(env).await.ok())?;
                    body["dead_letters"] = crate::dead_letters::list(env, snapshot.slot)
                        .await
                        .inspect_err(|err| worker::console_error!("dead letters: {err}"))
                        .unwrap_or_default();
                    Response::from_json(&body)
                }
                Err(err) => {
                    worker::console_error!("metrics unavailable: {err}");
                    crate::respond::error(503, "metrics unavailable")
                }
            },
            Err(refusal) => Ok(refusal),
        },
        "/admin/login" => {
            // The one unauthenticated admin route: limited like proxied traffic, and
            // the app applies its login throttles to the client's address.
            let ip = req.headers().get("CF-Connecting-IP")?;
            let attempt = shared::routing::Limit::auth_attempt(ip.as_deref());
            if let Some(refusal) = crate::rate_limited(env, &attempt).await {
                return refusal;
            }
            dashboard::login(req, env, snapshot.slot).await
        }
        "/beta/join" => crate::beta::join(req, env, settings, snapshot).await,
        "/beta/leave" => crate::beta::leave(settings),
        p if p.starts_with("/admin/") => admin::handle(req, env, p, settings, snapshot.slot).await,
        _ => crate::respond::error(404, "not found"),
    }
}

/// healthy: every check passes; unhealthy: neither backend answers (503);
/// degraded otherwise (KV down still routes on the last known config).
async fn health_report(env: &Env, settings: &Settings, snapshot: &Snapshot) -> Result<Response> {
    let (kv, app, legacy) = futures_util::join!(
        health::kv(env),
        health::app(env, snapshot.slot),
        health::legacy(settings)
    );
    let (status, code) = match (kv.ok, app.ok, legacy.ok) {
        (true, true, true) => ("healthy", 200),
        (_, false, false) => ("unhealthy", 503),
        _ => ("degraded", 200),
    };
    let resp = Response::from_json(&json!({
        "status": status,
        "traffic_percentage": snapshot.config.percentage,
        "current_version": snapshot.slot.name(),
        "checks": { "kv": kv, "app": app, "legacy": legacy },
    }))?;
    Ok(resp.with_status(code))
}
