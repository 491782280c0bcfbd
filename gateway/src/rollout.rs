//! The rollout state the decision needs, read from KV with an in-isolate copy.
//!
//! Fail-safe rules: a KV *read failure* keeps the last copy this isolate read
//! (or all-legacy if it has none: `shared::routing::LastKnown`); an *absent or
//! invalid* value is a definite answer from KV and falls back per key
//! (`shared::routing::config_from_raw`): an invalid percentage means all
//! legacy. Neither ever fails a request.

use crate::settings::Settings;
use shared::routing::{
    config_from_raw, keys, ConfigError, LastKnown, RawConfig, RolloutConfig, Slot,
};
use std::cell::RefCell;
use worker::{Date, Env, KvStore};

#[derive(Clone, Debug)]
pub struct Snapshot {
    pub config: RolloutConfig,
    pub slot: Slot,
    /// The share of shadowable requests mirrored (`keys::SHADOW_RATE`).
    pub shadow_rate: f64,
}

thread_local! {
    static CACHED: RefCell<LastKnown<Snapshot>> = const { RefCell::new(LastKnown::new()) };
}

pub async fn load(env: &Env, settings: &Settings) -> Snapshot {
    let now = Date::now().as_millis() as f64;
    if let Some(snapshot) = CACHED.with(|c| c.borrow().fresh(now, settings.config_cache_ms)) {
        return snapshot;
    }
    let read = read(env, settings).await;
    if let Err(err) = &read {
        worker::console_warn!("rollout config unreadable, using last known: {err}");
    }
    CACHED.with(|c| {
        c.borrow_mut().after_read(now, read, || Snapshot {
            config: settings.defaults.clone(),
            slot: Slot::Blue,
            shadow_rate: 0.0,
        })
    })
}

async fn read(env: &Env, settings: &Settings) -> worker::Result<Snapshot> {
    let migration = crate::bindings::migration_kv(env)?;
    let deployment = crate::bindings::deployment_kv(env)?;
    let get = |kv: &KvStore, key: &str| {
        let builder = kv.get(key);
        // KV refuses a cacheTtl under 60 s; below that only the isolate copy caches.
        let builder = if settings.kv_cache_ttl_secs >= 60 {
            builder.cache_ttl(settings.kv_cache_ttl_secs)
        } else {
            builder
        };
        builder.text()
    };
    let values = futures_util::future::join_all([
        get(&migration, keys::TRAFFIC_PERCENTAGE),
        get(&migration, keys::MAINTENANCE_MODE),
        get(&migration, keys::ROUTE_PINS),
        get(&migration, keys::STAGING_HOSTS),
        get(&migration, keys::BETA_HEADER_ENABLED),
        get(&migration, keys::BETA_REVOKED),
        get(&deployment, keys::CURRENT_VERSION),
        get(&migration, keys::SHADOW_RATE),
    ])
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let raw = RawConfig {
        traffic_percentage: values[0].as_deref(),
        maintenance_mode: values[1].as_deref(),
        route_pins: values[2].as_deref(),
        staging_hosts: values[3].as_deref(),
        beta_header_enabled: values[4].as_deref(),
        beta_revoked: values[5].as_deref(),
    };
    let (config, problems) = config_from_raw(&raw, &settings.defaults);
    // An unset key is the normal state before a rollout starts; only bad values are news.
    for problem in problems
        .iter()
        .filter(|p| !matches!(p, ConfigError::Missing { .. }))
    {
        worker::console_warn!("rollout config: {problem}");
    }
    let shadow_rate = shared::shadow::rate::parse_rate(values[7].as_deref()).unwrap_or_else(|e| {
        worker::console_warn!("rollout config: {e}; not mirroring");
        0.0
    });
    Ok(Snapshot {
        config,
        slot: Slot::from_stored(values[6].as_deref()),
        shadow_rate,
    })
}
