//! `blue-green`: the seed's blue-green release as runbook steps against the
//! gateway. The app runs as two Workers over the same data, and the gateway's
//! `current_version` chooses which one serves:
//!
//! current (which slot serves; the release goes to the other, or `--to`) →
//! deploy (wrangler, to the idle slot's environment) → health (the gateway's
//! readiness check of that slot: its `/health` through its binding, fast, and a
//! low error rate) → smoke (`validate`'s journey through the gateway with a beta
//! token pinned to the idle slot, so it runs there while everyone else stays;
//! every answer must come from that slot; the token is revoked after) → switch →
//! watch (the new slot's error rate and the app's health for the window) and,
//! when the watch fails, the switch back, forced (and audited as such).
//!
//! A run always starts fresh: after an interrupted run, `current` shows which
//! slot serves, and the next run releases to the other one.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use shared::routing::Slot;

use crate::api::Api;
use crate::error::{Context, Error, Result};
use crate::runbook::{Effect, RunLog};
use crate::{deploy, execute, validate};

/// Where and how the idle slot is deployed.
pub struct Deploy {
    pub wrangler: PathBuf,
    pub config_dir: PathBuf,
    /// The environment (`production`, `staging`): blue is its app Worker,
    /// green its `-green` one.
    pub env: String,
}

pub struct Options {
    /// The gateway's admin API (operator token).
    pub api: Api,
    /// The gateway's base URL, for the smoke journey.
    pub url: String,
    /// The slot to release to; by default the one not serving.
    pub to: Option<Slot>,
    /// `None`: the slot is deployed already (`--skip-deploy`).
    pub deploy: Option<Deploy>,
    /// Legacy's database, where the smoke's account would be removed.
    pub database_url: String,
    /// How long the idle slot may take to become ready.
    pub wait: Duration,
    pub watch: Duration,
    pub max_error_rate: f64,
    /// The smoke journey's own run log.
    pub smoke_log: PathBuf,
}

impl Deploy {
    /// The wrangler environment of `slot`'s app Worker.
    fn env_of(&self, slot: Slot) -> String {
        match slot {
            Slot::Blue => self.env.clone(),
            Slot::Green => format!("{}-green", self.env),
        }
    }
}

fn serving(api: &Api) -> Result<Slot> {
    let current = api.admin(reqwest::Method::GET, "/admin/deployment/current", None)?;
    current["version"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|_| Error::Check(format!("the gateway names no slot: {current}")))
}

fn switch(api: &Api, to: Slot, force: bool, reason: &str) -> Result<Value> {
    api.admin(
        reqwest::Method::POST,
        "/admin/deployment/switch",
        Some(&json!({ "version": to.name(), "force": force, "reason": reason })),
    )
}

/// Waits up to `wait` for the gateway to find `slot` ready to take traffic.
fn ready(api: &Api, slot: Slot, wait: Duration) -> Result<String> {
    let until = Instant::now() + wait;
    loop {
        let path = format!("/admin/deployment/check?version={slot}");
        let check = api.admin(reqwest::Method::GET, &path, None)?;
        if check["ready"] == true {
            return Ok(format!(
                "{slot} is ready: health {} in {} ms, error rate {}%",
                check["checks"]["health"]["status"],
                check["checks"]["health"]["latency_ms"],
                check["checks"]["error_rate"]
            ));
        }
        if Instant::now() >= until {
            return Err(Error::Check(format!(
                "{slot} is not ready after {} s: {}",
                wait.as_secs(),
                check["failing"]
            )));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The journey through the gateway with a token pinned to `slot`; every answer
/// must come from it. The token is revoked whatever happened.
fn smoke(opts: &Options, slot: Slot) -> Result<String> {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let issued = opts.api.admin(
        reqwest::Method::POST,
        "/admin/beta",
        Some(&json!({
            "label": format!("blue-green smoke of {slot} at {at}"),
            "expires_in": "1h",
            "slot": slot.name(),
        })),
    )?;
    let (Some(id), Some(token)) = (issued["id"].as_str(), issued["token"].as_str()) else {
        return Err(Error::Check(format!(
            "the gateway issued no beta token: {issued}"
        )));
    };
    let outcome = journey(opts, slot, token);
    let revoked = opts.api.admin(
        reqwest::Method::DELETE,
        &format!("/admin/beta/{}", crate::percent::encode(id)),
        None,
    );
    let said = outcome?;
    revoked.context(format!("{said}; but revoking its beta token {id}"))?;
    Ok(format!("{said}; beta token {id} revoked"))
}

fn journey(opts: &Options, slot: Slot, token: &str) -> Result<String> {
    let validate = validate::Options {
        admin: opts.api.clone(),
        url: opts.url.clone(),
        beta: Some(token.to_string()),
        database_url: opts.database_url.clone(),
        wait: opts.wait,
        settle: Duration::from_secs(30),
    };
    let mut log = RunLog::open(&opts.smoke_log, "validate", true, false)?;
    let outcome = validate::run(&validate, &mut log);
    if let Some(failed) = log.steps.iter().find(|s| s.ok == Some(false)) {
        return Err(Error::Check(format!("{}: {}", failed.name, failed.detail)));
    }
    outcome?;
    let served = format!("(served by {})", slot.branch());
    let elsewhere: Vec<&str> = log
        .steps
        .iter()
        .filter(|s| s.detail.contains("(served by ") && !s.detail.contains(&served))
        .map(|s| s.name.as_str())
        .collect();
    if !elsewhere.is_empty() {
        return Err(Error::Check(format!(
            "not served by {}: {} (see {})",
            slot.branch(),
            elsewhere.join(", "),
            opts.smoke_log.display()
        )));
    }
    Ok(format!(
        "{} steps of validate, each served by {} (run log {})",
        log.steps.len(),
        slot.branch(),
        opts.smoke_log.display()
    ))
}

/// Runs the release; Ok when the new slot serves and passed its watch.
pub fn run(opts: &Options, log: &mut RunLog) -> Result<()> {
    let mut slots = None;
    log.step(
        "current",
        Effect::Reads,
        "find the serving slot and the one to release to",
        || {
            let from = serving(&opts.api)?;
            let to = opts.to.unwrap_or(from.other());
            if to == from {
                return Err(Error::Refused(format!(
                    "{to} serves already: nothing to switch to"
                )));
            }
            slots = Some((from, to));
            Ok(format!("{from} serves; the release goes to {to}"))
        },
    )?;
    let (from, to) = slots.expect("set by the step");
    match &opts.deploy {
        Some(d) => {
            let config = d.config_dir.join("wrangler.app.toml").display().to_string();
            let env = d.env_of(to);
            let (shown, cmd) =
                deploy::wrangler(&d.wrangler, &["deploy", "-c", &config, "--env", &env]);
            log.step("deploy", Effect::Changes, &format!("run {shown}"), || {
                deploy::run_command(cmd)
            })?;
        }
        None => log.step("deploy", Effect::Reads, "deploy the idle slot", || {
            Ok(format!("skipped (--skip-deploy): {to} is deployed already"))
        })?,
    }
    log.step(
        "health",
        Effect::Reads,
        &format!("wait for the gateway to find {to} ready"),
        || ready(&opts.api, to, opts.wait),
    )?;
    log.step(
        "smoke",
        Effect::Changes,
        &format!("run validate's journey on {to} through a beta token pinned to it"),
        || smoke(opts, to),
    )?;
    log.step(
        "switch",
        Effect::Changes,
        &format!("switch the app traffic from {from} to {to}"),
        || switch(&opts.api, to, false, "blue-green release").map(|_| format!("{to} serves")),
    )?;
    let watched = log.step(
        "watch",
        Effect::Changes,
        &format!(
            "watch {to}'s error rate (at most {}%) and health for {} s",
            opts.max_error_rate,
            opts.watch.as_secs()
        ),
        || execute::watch(&opts.api, &[to.branch()], opts.watch, opts.max_error_rate),
    );
    let Err(why) = watched else {
        return Ok(());
    };
    log.step(
        "switch back",
        Effect::Changes,
        &format!("switch back to {from}"),
        || {
            let reason = format!("blue-green: {to} failed its watch: {why}");
            // A switch is idempotent: one that got no answer is sent again.
            let mut tries = 0;
            loop {
                match switch(&opts.api, from, true, &reason) {
                    Ok(_) => return Ok(format!("{from} serves again")),
                    Err(e) if tries == 2 => return Err(e),
                    Err(_) => tries += 1,
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        },
    )?;
    Err(Error::SwitchedBack {
        from,
        to,
        source: Box::new(why),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn green_is_the_environment_s_green_worker() {
        let d = Deploy {
            wrangler: "wrangler".into(),
            config_dir: ".".into(),
            env: "production".into(),
        };
        assert_eq!(d.env_of(Slot::Blue), "production");
        assert_eq!(d.env_of(Slot::Green), "production-green");
    }
}
