//! `replicate`: while both sides serve, rounds of `sync` (legacy → app, deletions
//! included) then `reverse-sync` (app → legacy), every `--interval` until stopped
//! (`--once`: one round). Each direction keeps its own checkpoint under the same
//! rules as the commands it runs: a killed replicator resumes where it stopped,
//! and since every write is an upsert keyed by id, nothing is applied twice.
//! Conflicts (a username registered on both sides) are reported, never
//! overwritten. After each round the state goes to the gateway
//! (`POST /admin/replication`), which shows the lag and gates the percentage on it.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shared::ops::replication::{Direction, RoundReport};

use crate::api::Api;
use crate::report::Report;
use crate::{migrate, reverse};

pub struct Options {
    pub interval: Duration,
    pub once: bool,
    pub sync: migrate::Options,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One direction's outcome, given when its last successful round started.
fn direction(outcome: &Result<Report, String>, started_ms: u64, previous: &Direction) -> Direction {
    match outcome {
        Ok(report) => Direction {
            last_success_started_ms: Some(started_ms),
            changes: report.changes(),
            conflicts: report.users.conflict
                + report.files.conflict
                + report.relationships.conflict,
            errors: report.problems.len() as u64,
            last_error: None,
        },
        Err(why) => Direction {
            last_success_started_ms: previous.last_success_started_ms,
            last_error: Some(why.clone()),
            ..Direction::default()
        },
    }
}

/// Runs rounds until stopped (or one with `--once`); each round's report is
/// printed and published. Only a failure to start returns an error: a round that
/// fails is reported (and its direction's lag keeps growing) and the next one
/// tries again.
pub fn run(
    api: &Api,
    database_url: &str,
    media: &Path,
    state: &Path,
    opts: &Options,
    as_json: bool,
) -> Result<RoundReport, String> {
    let mut last = RoundReport::default();
    loop {
        let round_start = Instant::now();
        let forward_start = now_ms();
        let forward = migrate::run("sync", api, database_url, media, state, opts.sync);
        let backward_start = now_ms();
        let backward = reverse::run(api, database_url, media, state);
        last = RoundReport {
            at_ms: now_ms(),
            round_ms: round_start.elapsed().as_millis() as u64,
            legacy_to_app: direction(&forward, forward_start, &last.legacy_to_app),
            app_to_legacy: direction(&backward, backward_start, &last.app_to_legacy),
        };
        let published = api.admin(
            reqwest::Method::POST,
            "/admin/replication",
            Some(&serde_json::to_value(&last).map_err(|e| e.to_string())?),
        );
        if let Err(why) = &published {
            eprintln!("replicate: the gateway did not take the round's state: {why}");
        }
        let line = serde_json::to_string(&last).map_err(|e| e.to_string())?;
        if as_json {
            println!("{line}");
        } else {
            eprintln!(
                "replicate: round of {} ms: legacy → app {} changes, app → legacy {} changes{}",
                last.round_ms,
                last.legacy_to_app.changes,
                last.app_to_legacy.changes,
                [
                    &last.legacy_to_app.last_error,
                    &last.app_to_legacy.last_error
                ]
                .into_iter()
                .flatten()
                .map(|e| format!("; failed: {e}"))
                .collect::<String>()
            );
        }
        if opts.once {
            return Ok(last);
        }
        std::thread::sleep(opts.interval);
    }
}
