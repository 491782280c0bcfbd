//! `execute-cutover` and `rollback-cutover`: the seed's cutover and rollback
//! scripts as runbook runs (`runbook.rs`) against the gateway's admin API, with
//! `replicate` keeping both sides in step (it runs beside them, e.g. under
//! `scripts/dev`, and reports each round to the gateway).
//!
//! execute-cutover: preflight (replication healthy, both sides healthy, verify
//! green both ways) → write freeze → drain (a replication round that started
//! after the freeze, nothing left in either log) → verify → 100% → smoke (the
//! app answers, healthy) → lift the freeze → watch (the app's error rate over the
//! window stays under the limit). A step that fails after the freeze runs the
//! rollback. rollback-cutover: 0% → lift any maintenance → drain (the app's
//! changes are on legacy) → verify.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::api::Api;
use crate::error::{Context, Error, Result};
use crate::runbook::{Effect, RunLog};
use crate::verify;

pub struct Options {
    pub database_url: String,
    pub media: std::path::PathBuf,
    pub jobs: usize,
    pub watch: Duration,
    /// Percent of the app's answers that may be 5xx during the watch.
    pub max_error_rate: f64,
    pub drain_timeout: Duration,
}

/// Answers the watch needs before it judges a rate.
const MIN_WATCHED: u64 = 10;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Changes the rollout through the gateway's admin API; Ok with `done` for the log.
fn migration(api: &Api, query: &str, command: &str, done: &str) -> Result<String> {
    api.get(&format!("/admin/migration?{query}&reason={command}"))
        .map(|_| done.into())
}

/// Files whose bytes a live verify hashes on both sides (every row is still
/// compared): while people write, a verify is a check that replication keeps
/// up, and hashing every file of a large store under load would take minutes.
/// The verify after the freeze hashes them all.
const LIVE_SAMPLE: usize = 200;

/// `verify --both-ways`: Ok with its summary, or the first mismatches. `live`
/// while people still write: records with a change on its way are in flight,
/// a mismatch seen because a change landed while the tables were read is given
/// two more tries, and only a random sample of the files is hashed.
fn verified(api: &Api, opts: &Options, live: bool) -> Result<String> {
    let vopts = verify::Options {
        sample: live.then_some(LIVE_SAMPLE),
        seed: now_ms(),
        jobs: opts.jobs,
        both_ways: true,
        live,
    };
    let mut tries = if live { 3 } else { 1 };
    let (report, ok) = loop {
        let (report, ok) = verify::run(api, &opts.database_url, &opts.media, &vopts)?;
        tries -= 1;
        if ok || tries == 0 {
            break (report, ok);
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    let mismatches = report["mismatches"].as_array().cloned().unwrap_or_default();
    if ok {
        let in_flight = report["in_flight"].as_array().map_or(0, Vec::len);
        Ok(match live {
            true => format!("verify green: {}, {in_flight} in flight", report["tables"]),
            false => format!("verify green: {}", report["tables"]),
        })
    } else {
        let first: Vec<String> = mismatches
            .iter()
            .take(5)
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect();
        Err(Error::Check(format!(
            "verify found {} mismatches: {}",
            mismatches.len(),
            first.join("; ")
        )))
    }
}

/// Both directions: after the freeze nothing may be left on its way.
pub const BOTH_WAYS: &[&str] = &["legacy_to_app", "app_to_legacy"];
/// Back to legacy: the app's changes must reach legacy; legacy's own, which
/// people go on making there, keep flowing to the app and are not waited for.
const TO_LEGACY: &[&str] = &["app_to_legacy"];

/// Waits for a replication round that started after `since_ms` and left the
/// logs of `directions` empty.
pub fn drained(api: &Api, since_ms: u64, timeout: Duration, directions: &[&str]) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let state = api.admin(reqwest::Method::GET, "/admin/replication", None)?;
        let round = &state["last_round"];
        let caught_up = directions.iter().all(|d| {
            round[d]["last_success_started_ms"].as_u64() > Some(since_ms)
                && round[d]["backlog"].as_u64() == Some(0)
        });
        if caught_up {
            return Ok(format!("replicated, lag {}", state["lag_seconds"]));
        }
        if Instant::now() >= deadline {
            return Err(Error::Check(format!(
                "no replication round that started after {since_ms} emptied the {} log(s) within {} s (state {}; is `cutover replicate` running?)",
                directions.join(" and "),
                timeout.as_secs(),
                state["state"]
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The gateway's deep health, which must be `healthy` (both sides answer).
pub fn healthy(api: &Api) -> Result<String> {
    let health = gateway_health(api)?;
    match health["status"].as_str() {
        Some("healthy") => Ok("gateway, app and legacy healthy".into()),
        other => Err(Error::Check(format!(
            "gateway health is {other:?}: {health}"
        ))),
    }
}

/// The gateway's deep health report.
fn gateway_health(api: &Api) -> Result<Value> {
    api.admin(reqwest::Method::GET, "/health", None)
        .context("gateway health")
}

/// The gateway's deep health as far as the app goes: once the app serves
/// everyone, a slow legacy is noted, not a reason to send people back to it.
fn app_healthy(api: &Api) -> Result<String> {
    let health = gateway_health(api)?;
    if health["checks"]["app"]["ok"] != true {
        return Err(Error::Check(format!(
            "the app is not healthy: {}",
            health["checks"]["app"]
        )));
    }
    Ok(match health["status"].as_str() {
        Some("healthy") => "gateway, app and legacy healthy".into(),
        other => format!(
            "the app is healthy (the whole is {other:?}: {})",
            health["checks"]
        ),
    })
}

/// The app's branches in `/metrics`.
pub const APP_BRANCHES: [&str; 2] = ["app-blue", "app-green"];

/// (requests, errors) the `branches` answered, from `/metrics`.
fn answers(api: &Api, branches: &[&str]) -> Result<(u64, u64)> {
    let m = api.admin(reqwest::Method::GET, "/metrics", None)?;
    let mut total = (0, 0);
    for branch in branches {
        total.0 += m["branches"][branch]["requests"].as_u64().unwrap_or(0);
        total.1 += m["branches"][branch]["errors"].as_u64().unwrap_or(0);
    }
    Ok(total)
}

/// Watches for `window`: the error rate of what `branches` answer from now on
/// stays at most `max_error_rate` percent (judged once there are enough
/// answers), and the app stays healthy.
pub fn watch(
    api: &Api,
    branches: &[&str],
    window: Duration,
    max_error_rate: f64,
) -> Result<String> {
    let start = answers(api, branches)?;
    let until = Instant::now() + window;
    loop {
        let now = answers(api, branches)?;
        let (requests, errors) = (now.0.saturating_sub(start.0), now.1.saturating_sub(start.1));
        let rate = match requests {
            0 => 0.0,
            n => errors as f64 * 100.0 / n as f64,
        };
        if requests >= MIN_WATCHED && rate > max_error_rate {
            return Err(Error::Check(format!(
                "app error rate {rate:.1}% > {max_error_rate}% ({errors} of {requests} answers)"
            )));
        }
        app_healthy(api)?;
        if Instant::now() >= until {
            return Ok(format!(
                "{} s watched: {requests} app answers, {errors} errors",
                window.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_secs(1).min(window));
    }
}

/// A step's work: what it did, or why it failed.
type Action<'a> = Box<dyn Fn() -> Result<String> + 'a>;

const EXECUTE: &str = "execute-cutover";
const ROLLBACK: &str = "rollback-cutover";

/// execute-cutover; on a failure after the freeze, the rollback. Ok(true): done.
pub fn execute(api: &Api, opts: &Options, log: &mut RunLog) -> Result<bool> {
    if log.reached("rollback:") {
        // Interrupted while rolling back: finish that.
        return rollback(api, opts, log, "rollback:").map(|_| false);
    }
    let preflight = log.step(
        "preflight",
        Effect::Reads,
        "check replication, health and verify",
        || {
            let state = api.admin(reqwest::Method::GET, "/admin/replication", None)?;
            if state["state"] != "healthy" {
                return Err(Error::Check(format!(
                    "replication is {} {}: start `cutover replicate` and let it catch up",
                    state["state"], state["problems"]
                )));
            }
            // One slow probe under load is not a verdict: three tries.
            let mut tries = 0;
            while let Err(why) = healthy(api) {
                tries += 1;
                if tries == 3 {
                    return Err(why);
                }
                std::thread::sleep(Duration::from_secs(2));
            }
            verified(api, opts, true)
        },
    );
    if let Err(why) = preflight {
        log.finish("failed")?;
        return Err(why).context("preflight failed, nothing was changed");
    }
    let freeze_at = now_ms() + 2_000;
    let rollout = |query: &'static str, done: &'static str| -> Action {
        Box::new(move || migration(api, query, EXECUTE, done))
    };
    let steps: [(&str, &str, Action); 7] = [
        (
            "freeze",
            "freeze writes (reads go on)",
            rollout(
                "action=enable_maintenance&mode=write_freeze",
                "write freeze on",
            ),
        ),
        (
            "drain",
            "wait for a replication round after the freeze that empties both logs",
            Box::new(move || {
                // Writes in flight when the freeze began finish within moments.
                let wait = freeze_at.saturating_sub(now_ms());
                std::thread::sleep(Duration::from_millis(wait));
                drained(api, freeze_at, opts.drain_timeout, BOTH_WAYS)
            }),
        ),
        (
            "verify",
            "verify both ways",
            Box::new(|| verified(api, opts, false)),
        ),
        (
            "switch",
            "send 100% to the app",
            rollout("action=update_percentage&percentage=100", "100% to the app"),
        ),
        (
            "smoke",
            "check the app is healthy",
            Box::new(|| app_healthy(api)),
        ),
        (
            "unfreeze",
            "lift the write freeze",
            rollout("action=disable_maintenance", "write freeze off"),
        ),
        (
            "watch",
            "watch the app's error rate",
            Box::new(|| watch(api, &APP_BRANCHES, opts.watch, opts.max_error_rate)),
        ),
    ];
    for (name, what, run) in &steps {
        if let Err(why) = log.step(name, Effect::Changes, what, run) {
            rollback(api, opts, log, "rollback:")?;
            return Err(Error::RolledBack {
                step: name.to_string(),
                source: Box::new(why),
            });
        }
    }
    log.finish("done")?;
    Ok(true)
}

/// rollback-cutover, or the rollback of an execute-cutover run (step names
/// under `prefix`).
pub fn rollback(api: &Api, opts: &Options, log: &mut RunLog, prefix: &str) -> Result<()> {
    let named = |step: &str| format!("{prefix}{step}");
    let back_at = now_ms();
    let rollout = |query, done| migration(api, query, ROLLBACK, done);
    log.step(
        &named("to-legacy"),
        Effect::Changes,
        "send 0% to the app",
        || {
            rollout(
                "action=update_percentage&percentage=0",
                "0%: every request to legacy",
            )
        },
    )?;
    log.step(
        &named("unfreeze"),
        Effect::Changes,
        "lift any maintenance",
        || rollout("action=disable_maintenance", "maintenance off"),
    )?;
    let result = log
        .step(
            &named("drain"),
            Effect::Reads,
            "wait until the app's changes are on legacy",
            || drained(api, back_at, opts.drain_timeout, TO_LEGACY),
        )
        .and_then(|_| {
            // Legacy serves writes again: what they change is in flight.
            log.step(&named("verify"), Effect::Reads, "verify both ways", || {
                verified(api, opts, true)
            })
        });
    log.finish(match (&result, prefix.is_empty()) {
        (Ok(()), true) => "done",
        (Ok(()), false) => "rolled back",
        (Err(_), _) => "failed",
    })?;
    result
}

/// The run's command name for its log.
pub fn name(rollback: bool) -> &'static str {
    if rollback {
        ROLLBACK
    } else {
        EXECUTE
    }
}
