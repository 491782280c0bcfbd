//! Changes to the rollout state, shared by the admin API and the alert cron:
//! each writes the keys the router reads and records itself in the audit trail.

use shared::ops::audit::AuditEntry;
use shared::routing::{keys, parse_maintenance, parse_percentage, Maintenance};
use worker::{js_sys, Env, Result};

pub const LAST_UPDATED_KEY: &str = "last_updated";

/// The rollout state as stored now (not the isolate's cached copy).
pub struct Current {
    pub percentage: u8,
    pub maintenance: Maintenance,
    pub last_updated: Option<String>,
}

pub async fn current(env: &Env) -> Result<Current> {
    let kv = crate::bindings::migration_kv(env)?;
    let pct = kv.get(keys::TRAFFIC_PERCENTAGE).text().await?;
    let mode = kv.get(keys::MAINTENANCE_MODE).text().await?;
    let last_updated = kv.get(LAST_UPDATED_KEY).text().await?;
    Ok(Current {
        // Read the way the router reads them: invalid means 0% / off.
        percentage: parse_percentage(pct.as_deref()).unwrap_or(0),
        maintenance: parse_maintenance(mode.as_deref()).unwrap_or_default(),
        last_updated,
    })
}

pub fn now_iso() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

/// Who changed what, for [`record`].
pub struct Change<'a> {
    pub who: &'a str,
    pub action: &'a str,
    pub old: String,
    pub new: String,
    pub reason: Option<String>,
}

pub async fn set_percentage(env: &Env, pct: u8, change: Change<'_>) -> Result<()> {
    write(env, keys::TRAFFIC_PERCENTAGE, &pct.to_string(), change).await
}

pub async fn set_maintenance(env: &Env, mode: Maintenance, change: Change<'_>) -> Result<()> {
    write(env, keys::MAINTENANCE_MODE, mode.as_str(), change).await
}

pub async fn set_shadow_rate(env: &Env, rate: f64, change: Change<'_>) -> Result<()> {
    write(env, keys::SHADOW_RATE, &rate.to_string(), change).await
}

async fn write(env: &Env, key: &str, value: &str, change: Change<'_>) -> Result<()> {
    let kv = crate::bindings::migration_kv(env)?;
    let at = now_iso();
    kv.put(key, value)?.execute().await?;
    kv.put(LAST_UPDATED_KEY, &at)?.execute().await?;
    record(env, &at, change).await
}

/// Appends to the audit trail, kept by the metrics Durable Object.
pub async fn record(env: &Env, at: &str, change: Change<'_>) -> Result<()> {
    crate::metrics::audit(
        env,
        &AuditEntry {
            at: at.to_string(),
            who: change.who.to_string(),
            action: change.action.to_string(),
            old: change.old,
            new: change.new,
            reason: change.reason,
        },
    )
    .await
}
