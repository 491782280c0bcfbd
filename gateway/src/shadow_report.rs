//! The shadow comparisons for operators (`shared::shadow::book`): `GET
//! /admin/shadow` the report, `PUT /admin/shadow {"rate"}` the sample rate, and
//! `DELETE /admin/shadow` to start the counts afresh (both audited); the same
//! report in `/metrics`; the hold it puts on raising the percentage.

use crate::control::{self, Change};
use crate::respond::error;
use crate::{metrics, settings};
use shared::ops::admin::Admin;
use shared::routing::keys;
use shared::shadow::rate::{parse_rate, parse_rate_request};
use shared::shadow::Report;
use worker::{Env, Request, Response, Result};

/// The counts so far (this isolate's unsent results included) and the rate now.
pub async fn report(env: &Env) -> Result<Report> {
    crate::shadow::flush(env).await?;
    let book = metrics::shadow_book(env).await?;
    Ok(book.report(rate(env).await?, &settings::shadow_thresholds(env)))
}

/// The stored rate, read as the router reads it (unreadable means 0).
async fn rate(env: &Env) -> Result<f64> {
    let raw = crate::bindings::migration_kv(env)?
        .get(keys::SHADOW_RATE)
        .text()
        .await?;
    Ok(parse_rate(raw.as_deref()).unwrap_or(0.0))
}

/// `PUT /admin/shadow {"rate": 0..1, "reason"?}`.
pub async fn set_rate(mut req: Request, env: &Env, admin: &Admin) -> Result<Response> {
    let body = req.text().await.unwrap_or_default();
    let ask = match parse_rate_request(&body) {
        Ok(ask) => ask,
        Err(message) => return error(400, &message),
    };
    let change = Change {
        who: &admin.name,
        action: "set_shadow_rate",
        old: rate(env).await?.to_string(),
        new: ask.rate.to_string(),
        reason: ask.reason,
    };
    control::set_shadow_rate(env, ask.rate, change).await?;
    Response::from_json(&serde_json::json!({ "success": true, "rate": ask.rate }))
}

/// `DELETE /admin/shadow`: after a fix, old differences no longer hold raises.
pub async fn reset(env: &Env, admin: &Admin) -> Result<Response> {
    let before = report(env).await?;
    metrics::reset_shadow(env).await?;
    let change = Change {
        who: &admin.name,
        action: "reset_shadow",
        old: format!(
            "{} compared, {} differing, {} errors",
            before.total.counts.compared, before.total.counts.differing, before.total.counts.errors
        ),
        new: "0 compared".into(),
        reason: None,
    };
    control::record(env, &control::now_iso(), change).await?;
    Response::from_json(&report(env).await?)
}
