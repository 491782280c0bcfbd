//! The gateway's KV and Durable Object bindings (`wrangler.gateway.toml`), each
//! named once. The app slots' service bindings: `shared::routing::Slot::binding`.

use worker::{Env, KvStore, ObjectNamespace, Result};

/// The rollout config, beta records, shadow rate (`shared::routing::keys`).
pub const MIGRATION_KV: &str = "MIGRATION_KV";
/// The serving app slot and the time of the last switch.
pub const DEPLOYMENT_KV: &str = "DEPLOYMENT_KV";
/// The metrics window Durable Object (`window.rs`).
pub const METRICS: &str = "METRICS";

pub fn migration_kv(env: &Env) -> Result<KvStore> {
    env.kv(MIGRATION_KV)
}

pub fn deployment_kv(env: &Env) -> Result<KvStore> {
    env.kv(DEPLOYMENT_KV)
}

pub fn metrics(env: &Env) -> Result<ObjectNamespace> {
    env.durable_object(METRICS)
}
