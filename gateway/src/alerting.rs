//! The alert cron: once a minute, judge the app branches' last window, alert
//! the configured webhooks once per incident and, with `AUTO_ROLLBACK`, move
//! the percentage back to the last good value (or 0), with the reason audited;
//! and alert once when the replicator turns unhealthy (lag over
//! `ALERT_REPLICATION_LAG_S`, or a failing direction).

use crate::control::{self, Change};
use crate::{metrics, settings};
use futures_util::future::join_all;
use shared::ops::alerts::{self, Webhook};
use worker::{Date, Env, Fetch, Method, Request, RequestInit, Result};

pub async fn run(env: &Env) -> Result<()> {
    let thresholds = settings::thresholds(env);
    let auto_rollback = settings::var(env, "AUTO_ROLLBACK").as_deref() == Some("true");
    let summary = metrics::summary(env).await?;
    let state = metrics::alert_state(env).await?;
    let current = control::current(env).await?;
    let app = alerts::app_totals(&summary);
    let verdict = alerts::evaluate(
        &app,
        &thresholds,
        &state,
        current.percentage,
        auto_rollback,
        Date::now().as_millis(),
    );
    if let Some((incident, why)) = &verdict.alert {
        worker::console_warn!("alert {incident}: {why}");
        if let Some(to) = verdict.rollback_to {
            let change = Change {
                who: "auto-rollback",
                action: "update_percentage",
                old: current.percentage.to_string(),
                new: to.to_string(),
                reason: Some(format!("automatic rollback: {why}")),
            };
            control::set_percentage(env, to, change).await?;
        }
        notify(env, incident, why, verdict.rollback_to).await;
    }
    let mut state = verdict.state;
    let replicator = crate::replication::health(env).await?;
    if let Some((incident, why)) =
        alerts::replication_alert(&mut state, &replicator, Date::now().as_millis())
    {
        worker::console_warn!("alert {incident}: {why}");
        notify(env, &incident, &why, None).await;
    }
    // Saved last: a failed run is retried whole by the next minute's run.
    metrics::save_alert_state(env, &state).await
}

async fn notify(env: &Env, incident: &str, why: &str, rollback: Option<u8>) {
    let raw = settings::var(env, "ALERT_WEBHOOKS").unwrap_or_default();
    let hooks: Vec<Webhook> = match alerts::parse_webhooks(&raw) {
        Ok(hooks) => hooks,
        Err(err) => {
            worker::console_error!("{err}; no alert sent");
            return;
        }
    };
    let sends = hooks.iter().map(|hook| async move {
        let body = alerts::payload(hook, incident, why, rollback).to_string();
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let sent = async {
            let req = Request::new_with_init(&hook.url, &init)?;
            req.headers().set("Content-Type", "application/json")?;
            Fetch::Request(req).send().await
        }
        .await;
        match sent {
            Ok(resp) if resp.status_code() < 300 => {}
            Ok(resp) => {
                worker::console_error!("webhook {} answered {}", hook.url, resp.status_code())
            }
            Err(err) => worker::console_error!("webhook {} failed: {err}", hook.url),
        }
    });
    join_all(sends).await;
}
