//! Health probes: the gateway's own `/health` and the blue/green switch's
//! check of a target slot. Each probe reports whether it passed and how long it took.

use crate::settings::Settings;
use futures_util::future::{select, Either};
use serde::Serialize;
use shared::routing::Slot;
use std::pin::pin;
use std::time::Duration;
use worker::{AbortController, Date, Delay, Env, Fetch, Request, RequestInit, Result};

/// How long a probe may take before it counts as failed.
const PROBE_TIMEOUT_MS: u64 = 2_000;

#[derive(Debug, Serialize)]
pub struct Probe {
    pub ok: bool,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

async fn timed<F>(probe: F, accept: impl Fn(u16) -> bool) -> Probe
where
    F: std::future::Future<Output = Result<u16>>,
{
    let started = Date::now().as_millis();
    let timeout = pin!(Delay::from(Duration::from_millis(PROBE_TIMEOUT_MS)));
    let outcome = match select(pin!(probe), timeout).await {
        Either::Left((Ok(status), _)) => Ok(status),
        Either::Left((Err(err), _)) => Err(err.to_string()),
        Either::Right(_) => Err(format!("no answer within {PROBE_TIMEOUT_MS} ms")),
    };
    let latency_ms = Date::now().as_millis().saturating_sub(started);
    match outcome {
        Ok(status) => Probe {
            ok: accept(status),
            latency_ms,
            status: Some(status),
            error: None,
        },
        Err(error) => Probe {
            ok: false,
            latency_ms,
            status: None,
            error: Some(error),
        },
    }
}

/// `GET /health` of an app slot through its service binding; healthy = 200.
pub async fn app(env: &Env, slot: Slot) -> Probe {
    timed(
        async {
            let service = env.service(slot.binding())?;
            let resp = service
                .fetch_request(Request::new("https://app/health", worker::Method::Get)?)
                .await?;
            Ok(resp.status_code())
        },
        |s| s == 200,
    )
    .await
}

/// A cheap GET of the legacy origin's root; any answer below 500 means it is up.
pub async fn legacy(settings: &Settings) -> Probe {
    let controller = AbortController::default();
    let signal = controller.signal();
    let probe = timed(
        async {
            let mut init = RequestInit::new();
            init.with_method(worker::Method::Get);
            let req = Request::new_with_init(&settings.legacy_origin, &init)?;
            Ok(Fetch::Request(req)
                .send_with_signal(&signal)
                .await?
                .status_code())
        },
        |s| s < 500,
    )
    .await;
    controller.abort();
    probe
}

/// A read of `MIGRATION_KV`.
pub async fn kv(env: &Env) -> Probe {
    timed(
        async {
            crate::bindings::migration_kv(env)?
                .get(shared::routing::keys::TRAFFIC_PERCENTAGE)
                .text()
                .await?;
            Ok(200)
        },
        |_| true,
    )
    .await
}
