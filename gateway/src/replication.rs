//! The replicator's state (`shared::ops::replication`): `cutover replicate`
//! reports each round to `POST /admin/replication`; `/metrics`, the admin status
//! and the dashboard show the lag per direction; raising the percentage waits for
//! a healthy replicator unless forced.

use crate::control::{self, Change};
use crate::{metrics, respond, settings};
use shared::ops::admin::Admin;
use shared::ops::replication::{self, Health, RoundReport, DEFAULT_MAX_LAG_SECS};
use worker::{Date, Env, Request, Response, Result};

/// Lag over which the replicator is unhealthy (`ALERT_REPLICATION_LAG_S`).
pub fn max_lag_secs(env: &Env) -> u64 {
    settings::var(env, "ALERT_REPLICATION_LAG_S")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_LAG_SECS)
}

/// The replicator judged now.
pub async fn health(env: &Env) -> Result<Health> {
    let last = metrics::replication(env).await?;
    Ok(replication::health(
        last.as_ref(),
        Date::now().as_millis(),
        max_lag_secs(env),
    ))
}

/// `POST /admin/replication`: a round's report (not audited: it is telemetry).
pub async fn report(mut req: Request, env: &Env) -> Result<Response> {
    let body = req.text().await.unwrap_or_default();
    match serde_json::from_str::<RoundReport>(&body) {
        Ok(round) => {
            metrics::save_replication(env, &round).await?;
            Response::from_json(&health(env).await?)
        }
        Err(e) => respond::error(400, &format!("expected a replication round report: {e}")),
    }
}

/// `DELETE /admin/replication`: forget the replicator (it was retired after the
/// cutover, or a drill is over), so its silence no longer gates the percentage.
pub async fn forget(env: &Env, admin: &Admin) -> Result<Response> {
    metrics::forget_replication(env).await?;
    let change = Change {
        who: &admin.name,
        action: "forget_replication",
        old: String::new(),
        new: "absent".into(),
        reason: None,
    };
    control::record(env, &control::now_iso(), change).await?;
    Response::from_json(&health(env).await?)
}
