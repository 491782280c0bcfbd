//! The rollout state the decision needs, read from KV with an in-isolate copy.
//! KV failures never fail a request: the last copy read (or all-legacy) is used.

use crate::settings::Settings;
use std::cell::RefCell;
use worker::{Date, Env};

/// Which app Worker slot serves app traffic (DEPLOYMENT_KV `current_version`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Blue,
    Green,
}

impl Slot {
    pub fn name(self) -> &'static str {
        match self {
            Slot::Blue => "blue",
            Slot::Green => "green",
        }
    }

    pub fn binding(self) -> &'static str {
        match self {
            Slot::Blue => "APP_BLUE",
            Slot::Green => "APP_GREEN",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    pub percentage: u8,
    pub slot: Slot,
}

impl Snapshot {
    const ALL_LEGACY: Snapshot = Snapshot {
        percentage: 0,
        slot: Slot::Blue,
    };
}

thread_local! {
    static CACHED: RefCell<Option<(f64, Snapshot)>> = const { RefCell::new(None) };
}

pub async fn load(env: &Env, settings: &Settings) -> Snapshot {
    let now = Date::now().as_millis() as f64;
    if let Some(fresh) = CACHED.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(at, _)| now - at < settings.config_cache_ms)
            .map(|(_, s)| s.clone())
    }) {
        return fresh;
    }
    match read(env, settings).await {
        Ok(snapshot) => {
            CACHED.with(|c| *c.borrow_mut() = Some((now, snapshot.clone())));
            snapshot
        }
        Err(err) => {
            console_warn(&format!(
                "rollout config unreadable, using last known: {err}"
            ));
            CACHED
                .with(|c| c.borrow().as_ref().map(|(_, s)| s.clone()))
                .unwrap_or(Snapshot::ALL_LEGACY)
        }
    }
}

async fn read(env: &Env, settings: &Settings) -> worker::Result<Snapshot> {
    let migration = env.kv("MIGRATION_KV")?;
    let deployment = env.kv("DEPLOYMENT_KV")?;
    let get = |kv: &worker::KvStore, key: &str| {
        let builder = kv.get(key);
        if settings.kv_cache_ttl_secs >= 60 {
            builder.cache_ttl(settings.kv_cache_ttl_secs)
        } else {
            builder
        }
    };
    let (pct, slot) = futures_util::future::join(
        get(&migration, "traffic_percentage").text(),
        get(&deployment, "current_version").text(),
    )
    .await;
    // An absent or invalid percentage is a definite answer from KV: all legacy.
    let percentage = pct?
        .and_then(|v| v.trim().parse::<u8>().ok())
        .filter(|p| *p <= 100)
        .unwrap_or(0);
    let slot = match slot?.as_deref().map(str::trim) {
        Some("green") => Slot::Green,
        _ => Slot::Blue,
    };
    Ok(Snapshot { percentage, slot })
}

fn console_warn(msg: &str) {
    worker::console_warn!("{}", msg);
}
