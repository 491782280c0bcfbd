//! The admin API (`/admin/*` except the dashboard page): migration control,
//! audit trail, blue/green deployment, metrics history, the app's dead letters,
//! and the replication, beta and shadow parts. Every route needs an admin (see
//! `shared::ops::admin::authorize`).

use crate::control::{self, Change};
use crate::respond::{error, query_param};
use crate::settings::{self, Settings};
use crate::{health, metrics, replication, shadow_report};
use serde::Deserialize;
use serde_json::json;
use shared::ops::admin::{self, Admin, Credential, Denied, MigrationAction};
use shared::ops::hold::{self, Hold};
use shared::ops::metrics::{BranchSummary, Summary};
use shared::ops::switch;
use shared::routing::{keys, Maintenance, Slot};
use worker::{Date, Env, Method, Request, Response, Result};

pub async fn handle(
    mut req: Request,
    env: &Env,
    path: &str,
    settings: &Settings,
    slot: Slot,
) -> Result<Response> {
    let admin = match gate(&req, env, settings, slot).await? {
        Ok(admin) => admin,
        Err(refusal) => return Ok(refusal),
    };
    match (req.method(), path) {
        (Method::Get | Method::Post, "/admin/migration") => {
            let params: Vec<(String, String)> = req.url()?.query_pairs().into_owned().collect();
            match admin::parse_migration(&params) {
                Ok(request) => migration(env, &admin, request).await,
                Err(message) => error(400, &message),
            }
        }
        (Method::Get, "/admin/audit") => {
            Response::from_json(&json!({ "entries": crate::metrics::audit_trail(env).await? }))
        }
        (Method::Get, "/admin/metrics/history") => {
            Response::from_json(&json!({ "points": metrics::history(env).await? }))
        }
        (Method::Get, "/admin/deployment/current") => {
            Response::from_json(&deployment_current(env).await?)
        }
        (Method::Get, "/admin/deployment/check") => {
            let version = query_param(&req, "version")?;
            match version.parse::<Slot>() {
                Ok(target) => {
                    let (failing, checks) = readiness(env, target).await;
                    Response::from_json(&json!({
                        "version": target.name(),
                        "ready": failing.is_empty(),
                        "failing": failing,
                        "checks": checks,
                    }))
                }
                Err(message) => error(400, &message),
            }
        }
        (Method::Post, "/admin/deployment/switch") => {
            let body = req.text().await.unwrap_or_default();
            match serde_json::from_str::<SwitchRequest>(&body) {
                Ok(switch) => deployment_switch(env, &admin, switch).await,
                Err(err) => error(
                    400,
                    &format!("expected {{\"version\":\"blue|green\",\"force\":false}}: {err}"),
                ),
            }
        }
        (Method::Get, "/admin/replication") => {
            Response::from_json(&replication::health(env).await?)
        }
        (Method::Post, "/admin/replication") => replication::report(req, env).await,
        (Method::Delete, "/admin/replication") => replication::forget(env, &admin).await,
        (Method::Get, "/admin/shadow") => Response::from_json(&shadow_report::report(env).await?),
        (Method::Put, "/admin/shadow") => shadow_report::set_rate(req, env, &admin).await,
        (Method::Delete, "/admin/shadow") => shadow_report::reset(env, &admin).await,
        (Method::Get, "/admin/beta") => crate::beta::list(env).await,
        (Method::Post, "/admin/beta") => crate::beta::issue(req, env, settings, &admin).await,
        (Method::Delete, p) if p.starts_with("/admin/beta/") => {
            crate::beta::revoke(env, &admin, &p["/admin/beta/".len()..]).await
        }
        (Method::Get, "/admin/dead-letters") => match crate::dead_letters::list(env, slot).await {
            Ok(list) => Response::from_json(&list),
            Err(err) => {
                worker::console_error!("dead letters: {err}");
                error(503, "the app's dead letters are unavailable")
            }
        },
        (
            _,
            "/admin/migration"
            | "/admin/deployment/switch"
            | "/admin/deployment/check"
            | "/admin/beta"
            | "/admin/shadow",
        ) => error(405, "method not allowed"),
        _ => error(404, "not found"),
    }
}

/// The admin behind the request, or the answer refusing it. A JWT's claims are
/// checked here; whether the token is still unrevoked and its user still an
/// active admin, only the app knows (D1 and KV), so it is asked through the
/// serving slot (`/api/admin/whoami`). If it cannot answer, admin JWTs get a 503
/// (the operator token still works): a check that cannot be made is not a pass.
pub async fn gate(
    req: &Request,
    env: &Env,
    settings: &Settings,
    slot: Slot,
) -> Result<std::result::Result<Admin, Response>> {
    let auth = req.headers().get("Authorization")?;
    let now = (Date::now().as_millis() / 1000) as i64;
    let credential = admin::credential(
        auth.as_deref(),
        &settings::var(env, "ADMIN_API_TOKEN").unwrap_or_default(),
        &settings.jwt,
        now,
    );
    let denied = match credential {
        Ok(Credential::Operator) => {
            return Ok(Ok(Admin {
                name: "admin-token".into(),
            }))
        }
        Ok(Credential::Token(_)) => match app_admin(env, slot, auth.as_deref()).await {
            Ok(Ok(name)) => return Ok(Ok(Admin { name })),
            Ok(Err(denied)) => denied,
            Err(err) => {
                worker::console_error!("admin check via app {}: {err}", slot.name());
                return Ok(Err(error(503, "admin check unavailable")?));
            }
        },
        Err(denied) => denied,
    };
    // Refusals spend the client's credential-attempt budget, so guessing the
    // operator token is no faster than guessing a password.
    let ip = req.headers().get("CF-Connecting-IP")?;
    let attempt = shared::routing::Limit::auth_attempt(ip.as_deref());
    if let Some(refusal) = crate::rate_limited(env, &attempt).await {
        return Ok(Err(refusal?));
    }
    Ok(Err(error(denied.status(), denied.message())?))
}

/// The app's word on an admin JWT: its admin's name, or why it is refused.
async fn app_admin(
    env: &Env,
    slot: Slot,
    authorization: Option<&str>,
) -> Result<std::result::Result<String, Denied>> {
    let probe = Request::new("https://app/api/admin/whoami", Method::Get)?;
    probe
        .headers()
        .set("Authorization", authorization.unwrap_or_default())?;
    let mut resp = env.service(slot.binding())?.fetch_request(probe).await?;
    match resp.status_code() {
        200 => {
            let body: serde_json::Value = resp.json().await?;
            let name = body["admin"].as_str().unwrap_or_default().to_string();
            Ok(Ok(name))
        }
        401 => Ok(Err(Denied::Unauthenticated)),
        403 => Ok(Err(Denied::Forbidden)),
        other => Err(worker::Error::RustError(format!("whoami answered {other}"))),
    }
}

async fn migration(env: &Env, admin: &Admin, request: admin::MigrationRequest) -> Result<Response> {
    let current = control::current(env).await?;
    let change = |action: &'static str, old: String, new: String| Change {
        who: &admin.name,
        action,
        old,
        new,
        reason: request.reason.clone(),
    };
    match request.action {
        MigrationAction::GetStatus => status(env, current).await,
        MigrationAction::UpdatePercentage(pct) => {
            let replicator = replication::health(env).await?;
            let diffs = shadow_report::report(env).await?;
            let holds: Vec<Hold> = [
                shared::ops::replication::hold(&replicator, current.percentage, pct),
                shared::shadow::gate::hold(&diffs, current.percentage, pct),
            ]
            .into_iter()
            .flatten()
            .collect();
            let forced = match hold::decide(&holds, request.force) {
                Ok(forced) => forced,
                Err(why) => {
                    let resp = Response::from_json(&json!({
                        "error": why,
                        "replication": replicator,
                        "shadow": { "problems": diffs.problems, "thresholds": diffs.thresholds },
                    }))?;
                    return Ok(resp.with_status(409));
                }
            };
            let mut c = change(
                "update_percentage",
                current.percentage.to_string(),
                pct.to_string(),
            );
            c.reason = hold::with_note(c.reason, forced);
            control::set_percentage(env, pct, c).await?;
            Response::from_json(&json!({ "success": true, "percentage": pct }))
        }
        MigrationAction::EnableMaintenance(mode) => {
            let c = change(
                "enable_maintenance",
                current.maintenance.as_str().into(),
                mode.as_str().into(),
            );
            control::set_maintenance(env, mode, c).await?;
            Response::from_json(&json!({ "success": true, "maintenance_mode": mode.as_str() }))
        }
        MigrationAction::DisableMaintenance => {
            let c = change(
                "disable_maintenance",
                current.maintenance.as_str().into(),
                Maintenance::Off.as_str().into(),
            );
            control::set_maintenance(env, Maintenance::Off, c).await?;
            Response::from_json(&json!({ "success": true, "maintenance_mode": "off" }))
        }
    }
}

async fn status(env: &Env, current: control::Current) -> Result<Response> {
    // Metrics are reported as unavailable rather than failing the status.
    let summary = metrics::summary(env).await.ok();
    let config_age_seconds = current.last_updated.as_deref().and_then(|at| {
        let ms = worker::js_sys::Date::parse(at);
        (!ms.is_nan()).then(|| ((Date::now().as_millis() as f64 - ms) / 1000.0).floor() as i64)
    });
    let deployment = deployment_current(env).await?;
    Response::from_json(&json!({
        "traffic_percentage": current.percentage,
        "maintenance_mode": current.maintenance.as_str(),
        "last_updated": current.last_updated,
        "config_age_seconds": config_age_seconds,
        "current_version": deployment["version"],
        "active_users": summary.as_ref().map(|s| per_branch(s, |b| b.active_users.into())),
        "error_rate": summary.as_ref().map(|s| per_branch(s, |b| b.error_rate.into())),
        "beta": summary.as_ref().map(|s| &s.beta),
        "replication": replication::health(env).await.ok(),
        "window_seconds": shared::ops::metrics::WINDOW_MS / 1000,
    }))
}

/// One figure of each branch, and of all of them as `total`.
fn per_branch(
    summary: &Summary,
    figure: impl Fn(&BranchSummary) -> serde_json::Value,
) -> serde_json::Map<String, serde_json::Value> {
    let mut figures: serde_json::Map<String, serde_json::Value> = summary
        .branches
        .iter()
        .map(|(branch, s)| (branch.clone(), figure(s)))
        .collect();
    figures.insert("total".into(), figure(&summary.total));
    figures
}

async fn deployment_current(env: &Env) -> Result<serde_json::Value> {
    let kv = crate::bindings::deployment_kv(env)?;
    let version = kv.get(keys::CURRENT_VERSION).text().await?;
    let switched_at = kv.get(keys::SWITCHED_AT).text().await?;
    Ok(json!({
        "version": Slot::from_stored(version.as_deref()).name(),
        "switched_at": switched_at,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchRequest {
    version: String,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    reason: Option<String>,
}

/// Whether `target` may take traffic: what fails (empty when ready) and the
/// checks made (its health through its binding, its error rate over the window).
async fn readiness(env: &Env, target: Slot) -> (Vec<String>, serde_json::Value) {
    let probe = health::app(env, target).await;
    let error_rate = metrics::summary(env)
        .await
        .ok()
        .and_then(|s| s.branches.get(target.branch()).map(|b| b.error_rate))
        .unwrap_or(0.0);
    let failing = switch::failing(&switch::SlotCheck {
        healthy: probe.ok,
        status: probe.status,
        error: probe.error.as_deref(),
        latency_ms: probe.latency_ms,
        error_rate,
    });
    (
        failing,
        json!({ "health": probe, "error_rate": error_rate }),
    )
}

async fn deployment_switch(env: &Env, admin: &Admin, switch: SwitchRequest) -> Result<Response> {
    let target = match switch.version.parse::<Slot>() {
        Ok(target) => target,
        Err(message) => return error(400, &message),
    };
    let (failing, checks) = readiness(env, target).await;
    if !failing.is_empty() && !switch.force {
        let resp = Response::from_json(&json!({
            "error": format!("{} is not ready to take traffic", target.name()),
            "failing": failing,
            "checks": checks,
        }))?;
        return Ok(resp.with_status(409));
    }
    let kv = crate::bindings::deployment_kv(env)?;
    let old = Slot::from_stored(kv.get(keys::CURRENT_VERSION).text().await?.as_deref());
    let at = control::now_iso();
    kv.put(keys::CURRENT_VERSION, target.name())?
        .execute()
        .await?;
    kv.put(keys::SWITCHED_AT, &at)?.execute().await?;
    let forced = if failing.is_empty() {
        String::new()
    } else {
        format!(" (forced past: {})", failing.join("; "))
    };
    control::record(
        env,
        &at,
        Change {
            who: &admin.name,
            action: "switch_deployment",
            old: old.name().into(),
            new: target.name().into(),
            reason: Some(
                format!("{}{forced}", switch.reason.unwrap_or_default())
                    .trim()
                    .to_string(),
            )
            .filter(|r| !r.is_empty()),
        },
    )
    .await?;
    Response::from_json(&json!({
        "success": true,
        "version": target.name(),
        "switched_at": at,
        "forced": !failing.is_empty(),
        "checks": checks,
    }))
}
