//! Changes to the rollout state, shared by the admin API and the alert cron:
//! each writes the keys the router reads and records itself in the audit trail.

use shared::ops::audit::{self, AuditEntry};
use shared::routing::{keys, parse_maintenance, parse_percentage, Maintenance};
use worker::{js_sys, Env, Result};

/// Key of the audit trail in `MIGRATION_KV` (a JSON array, newest first).
pub const AUDIT_KEY: &str = "audit_log";
pub const LAST_UPDATED_KEY: &str = "last_updated";

/// The rollout state as stored now (not the isolate's cached copy).
pub struct Current {
    pub percentage: u8,
    pub maintenance: Maintenance,
    pub last_updated: Option<String>,
}

pub async fn current(env: &Env) -> Result<Current> {
    let kv = env.kv("MIGRATION_KV")?;
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

async fn write(env: &Env, key: &str, value: &str, change: Change<'_>) -> Result<()> {
    let kv = env.kv("MIGRATION_KV")?;
    let at = now_iso();
    kv.put(key, value)?.execute().await?;
    kv.put(LAST_UPDATED_KEY, &at)?.execute().await?;
    record(env, &at, change).await
}

/// Appends to the audit trail. Writes are read-modify-write on one KV key:
/// two admins changing things in the same second may lose one entry, which is
/// acceptable for a handful of operators and keeps the trail readable anywhere.
pub async fn record(env: &Env, at: &str, change: Change<'_>) -> Result<()> {
    let kv = env.kv("MIGRATION_KV")?;
    let stored = kv.get(AUDIT_KEY).text().await?;
    let trail = audit::append(
        stored.as_deref(),
        AuditEntry {
            at: at.to_string(),
            who: change.who.to_string(),
            action: change.action.to_string(),
            old: change.old,
            new: change.new,
            reason: change.reason,
        },
    );
    kv.put(AUDIT_KEY, serde_json::to_string(&trail)?)?
        .execute()
        .await?;
    Ok(())
}

pub async fn audit_trail(env: &Env) -> Result<Vec<AuditEntry>> {
    let stored = env.kv("MIGRATION_KV")?.get(AUDIT_KEY).text().await?;
    Ok(stored
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}
