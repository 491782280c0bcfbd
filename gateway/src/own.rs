//! Paths the gateway answers itself: `/health`, `/metrics`, `/admin/*`.

use crate::rollout::Snapshot;
use crate::settings::Settings;
use crate::{admin, health, metrics};
use serde_json::json;
use worker::{Env, Request, Response, Result};

pub async fn handle(
    req: Request,
    env: &Env,
    settings: &Settings,
    snapshot: &Snapshot,
) -> Result<Response> {
    let path = req.path();
    match path.trim_end_matches('/') {
        "/health" => health_report(env, settings, snapshot).await,
        "/metrics" => match metrics::summary(env).await {
            Ok(summary) => Response::from_json(&summary),
            Err(err) => {
                worker::console_error!("metrics unavailable: {err}");
                crate::respond::error(503, "metrics unavailable")
            }
        },
        p if p.starts_with("/admin/") => admin::handle(req, env, p).await,
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
