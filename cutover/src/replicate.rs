//! `replicate`: while both sides serve, rounds that carry each side's changes to
//! the other, every `--interval` until stopped (`--once`: one round).
//!
//! Each side logs its changes (legacy: triggers installed here, see
//! `capture.rs`; the app: D1 triggers), so a round costs what changed, not the
//! size of the tables. The first round, with no checkpoint, notes the app log's
//! head and then runs a full `sync` and `reverse-sync`; every later round reads
//! both logs (legacy's as a queue, the app's past the checkpoint), plans them
//! together (`shared::migration::changes`: a record changed on both sides is a
//! conflict resolved by one rule and reported), applies each side's changes to
//! the other (the records as they are now, so a replayed change is a no-op),
//! and only then drops the entries from legacy's queue or moves the app's
//! checkpoint. A killed replicator replays at most the changes of the round it
//! was in; nothing is lost or written twice.
//! The replicator's own writes are not logged on either side, so nothing echoes.
//! After each round the state goes to the gateway (`POST /admin/replication`),
//! which shows the lag and gates the percentage on it.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shared::migration::changes::{self, Change, Side};
use shared::ops::replication::{Direction, RoundReport};

use crate::api::Api;
use crate::app_log::{self, Logged};
use crate::error::{Error, Result};
use crate::legacy::Legacy;
use crate::report::Report;
use crate::state::{LogCheckpoint, State};
use crate::{migrate, reverse};

pub struct Options {
    pub interval: Duration,
    pub once: bool,
    pub sync: migrate::Options,
}

/// Log entries read per side per step of a round.
const PAGE: i64 = 500;

/// How long a lineage change may wait in legacy's queue for one of its files to
/// reach the app (its file's change is later in the queue, or was refused for
/// now) before it is given up.
const EDGE_PATIENCE: Duration = Duration::from_secs(600);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Where the replicator works: the app, legacy's database and media folder, and
/// the checkpoint file.
struct Sides<'a> {
    api: &'a Api,
    database_url: &'a str,
    media: &'a Path,
    state_path: &'a Path,
    opts: &'a Options,
}

/// What one direction did in a round.
#[derive(Default)]
struct Outcome {
    changes: u64,
    conflicts: u64,
    problems: u64,
    failure: Option<String>,
    /// The last page read held only changes set aside to wait.
    waiting_only: bool,
}

impl Outcome {
    fn add(&mut self, report: &Report) {
        self.changes += report.changes();
        self.conflicts +=
            report.users.conflict + report.files.conflict + report.relationships.conflict;
        self.problems += report.problems.len() as u64;
    }

    fn direction(&self, started_ms: u64, previous: &Direction, backlog: u64) -> Direction {
        Direction {
            last_success_started_ms: match self.failure {
                None => Some(started_ms),
                Some(_) => previous.last_success_started_ms,
            },
            changes: self.changes,
            conflicts: self.conflicts,
            errors: self.problems,
            last_error: self.failure.clone(),
            backlog,
        }
    }
}

impl Sides<'_> {
    /// The first round: notes the app log's head, then copies everything both
    /// ways. Changes logged meanwhile are after that head (or, on legacy, still
    /// in its queue), so the next round has them.
    fn baseline(&self) -> Result<LogCheckpoint> {
        let heads = LogCheckpoint {
            app: app_log::changes(self.api, 0, 1)?.1,
        };
        let (api, url, media, state) = (self.api, self.database_url, self.media, self.state_path);
        // Records it cannot write are reported in its output and counted as the
        // round's errors, as `sync` and `reverse-sync` report them.
        let forward = migrate::run("sync", api, url, media, state, self.opts.sync)?;
        let backward = reverse::run(api, url, media, state, self.opts.sync.jobs)?;
        for report in [&forward, &backward] {
            for p in &report.problems {
                eprintln!("replicate: first full round: {}: {}", p.item, p.error);
            }
        }
        Ok(heads)
    }

    /// Puts the lineage changes that wait for a file back in legacy's queue, for
    /// up to [`EDGE_PATIENCE`] since they were logged; those that waited longer
    /// are given up and reported. Returns how many it kept.
    fn set_aside(
        &self,
        legacy: &mut Legacy,
        waiting: &[Change],
        forward: &mut Outcome,
    ) -> Result<usize> {
        if waiting.is_empty() {
            return Ok(0);
        }
        let kept = legacy.requeue(waiting, EDGE_PATIENCE)?;
        if !kept.is_empty() {
            let some: Vec<&str> = waiting.iter().take(3).map(|c| c.key.as_str()).collect();
            eprintln!(
                "replicate: {} relationship(s) wait for a file to reach the app: {}{}",
                kept.len(),
                some.join(", "),
                if kept.len() > some.len() { ", …" } else { "" }
            );
        }
        for c in waiting.iter().filter(|c| !kept.contains(&c.seq)) {
            forward.problems += 1;
            eprintln!(
                "replicate: relationship {}: a file is still not on the app {} s after it was logged; given up (a full `sync` copies it)",
                c.key,
                EDGE_PATIENCE.as_secs()
            );
        }
        Ok(kept.len())
    }

    /// One round over both logs, page by page until both are drained or a side
    /// fails; the checkpoint moves after each side's page is applied.
    fn round(
        &self,
        legacy: &mut Legacy,
        state: &mut State,
        offset: i64,
    ) -> Result<(Outcome, Outcome)> {
        let (mut forward, mut backward) = (Outcome::default(), Outcome::default());
        let mut at = state.logs.unwrap_or_default();
        loop {
            let from_legacy = legacy.changes(PAGE)?;
            let (from_app, _) = app_log::changes(self.api, at.app, PAGE)?;
            let app_changes: Vec<Change> = from_app.iter().map(|l| l.change.clone()).collect();
            let plan = changes::plan(&from_legacy, &app_changes);
            for c in &plan.conflicts {
                match c.kept {
                    Some(Side::Legacy) => forward.conflicts += 1,
                    Some(Side::App) => backward.conflicts += 1,
                    None => {
                        forward.conflicts += 1;
                        backward.conflicts += 1;
                    }
                }
                eprintln!("replicate: conflict: {}", c.describe());
            }

            if forward.failure.is_none() {
                let applied = migrate::apply_changes(
                    self.api,
                    legacy,
                    self.media,
                    state,
                    (self.opts.sync, offset),
                    &plan.to_app,
                );
                let mut kept = 0;
                match applied {
                    Ok(applied) => {
                        forward.add(&applied.report);
                        kept = self.set_aside(legacy, &applied.waiting, &mut forward)?;
                    }
                    Err(why) => forward.failure = Some(why.to_string()),
                }
                if forward.failure.is_none() {
                    // The entries set aside have new sequence numbers by now.
                    legacy.acknowledge(&from_legacy)?;
                }
                // A page of nothing but entries still waiting ends the round.
                if kept > 0 && kept == from_legacy.len() {
                    forward.waiting_only = true;
                }
            }
            if backward.failure.is_none() {
                let logged: Vec<Logged> = from_app
                    .iter()
                    .filter(|l| plan.to_legacy.contains(&l.change))
                    .cloned()
                    .collect();
                match reverse::apply_changes(
                    self.api,
                    legacy,
                    self.media,
                    &logged,
                    self.opts.sync.jobs,
                ) {
                    Ok(report) => backward.add(&report),
                    Err(why) => backward.failure = Some(why.to_string()),
                }
                if let (None, Some(last)) = (&backward.failure, from_app.last()) {
                    at.app = last.change.seq;
                }
            }
            state.logs = Some(at);
            state.save()?;
            // The app's log may drop what is applied; if that fails, it does next time.
            let _ = app_log::acknowledge(self.api, at.app);
            let legacy_done = forward.failure.is_some()
                || forward.waiting_only
                || (from_legacy.len() as i64) < PAGE;
            let app_done = backward.failure.is_some() || (from_app.len() as i64) < PAGE;
            if legacy_done && app_done {
                return Ok((forward, backward));
            }
        }
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
    state_path: &Path,
    opts: &Options,
    as_json: bool,
) -> Result<RoundReport> {
    let sides = Sides {
        api,
        database_url,
        media,
        state_path,
        opts,
    };
    let offset = api.user_id_offset()?;
    let mut connection: Option<Legacy> = None;
    let mut last = RoundReport::default();
    loop {
        let round_start = Instant::now();
        let started_ms = now_ms();
        let outcome = (|| {
            let legacy = match &mut connection {
                Some(legacy) => legacy,
                None => {
                    let mut legacy = Legacy::connect(database_url)?;
                    legacy.install_capture()?;
                    legacy.mark_replicating()?;
                    connection.insert(legacy)
                }
            };
            let mut state = State::load(state_path)?;
            if state.logs.is_none() {
                let heads = sides.baseline()?;
                state = State::load(state_path)?;
                state.logs = Some(heads);
                state.save()?;
            }
            let (forward, backward) = sides.round(legacy, &mut state, offset)?;
            let at = state.logs.unwrap_or_default();
            let backlog = (
                legacy.log_len()?.max(0) as u64,
                app_log::changes(api, at.app, 1)?
                    .1
                    .saturating_sub(at.app)
                    .max(0) as u64,
            );
            Ok::<_, Error>((forward, backward, backlog))
        })();
        let (forward, backward, (legacy_backlog, app_backlog)) = outcome.unwrap_or_else(|why| {
            // Reconnect next round: the connection may be what failed.
            connection = None;
            let failed = || Outcome {
                failure: Some(why.to_string()),
                ..Outcome::default()
            };
            (failed(), failed(), (0, 0))
        });
        last = RoundReport {
            at_ms: now_ms(),
            round_ms: round_start.elapsed().as_millis() as u64,
            legacy_to_app: forward.direction(started_ms, &last.legacy_to_app, legacy_backlog),
            app_to_legacy: backward.direction(started_ms, &last.app_to_legacy, app_backlog),
        };
        publish(api, &last, as_json)?;
        if opts.once {
            return Ok(last);
        }
        std::thread::sleep(opts.interval);
    }
}

/// `--remove-capture`: takes the change log and its triggers off legacy (after
/// the cutover, or to stop replicating for good) and forgets the checkpoint in
/// it, so a later `replicate` starts with a full round.
pub fn remove_capture(database_url: &str, state_path: &Path) -> Result<()> {
    Legacy::connect(database_url)?.remove_capture()?;
    let mut state = State::load(state_path)?;
    state.logs = None;
    state.save()
}

/// Sends the round's state to the gateway and prints it.
fn publish(api: &Api, last: &RoundReport, as_json: bool) -> Result<()> {
    let body = serde_json::to_value(last)?;
    if let Err(why) = api.admin(reqwest::Method::POST, "/admin/replication", Some(&body)) {
        eprintln!("replicate: the gateway did not take the round's state: {why}");
    }
    if as_json {
        println!("{body}");
        return Ok(());
    }
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_direction_s_last_success_moves_only_on_a_clean_round() {
        let previous = Direction {
            last_success_started_ms: Some(100),
            ..Direction::default()
        };
        let mut report = Report::new("replicate");
        report.files.count("created");
        report.files.count("conflict");
        report.problem("file f1", "checksum mismatch");
        let mut ok = Outcome::default();
        ok.add(&report);
        let d = ok.direction(200, &previous, 7);
        assert_eq!(d.last_success_started_ms, Some(200));
        assert_eq!((d.changes, d.conflicts, d.errors, d.backlog), (1, 1, 1, 7));
        assert_eq!(d.last_error, None);
        let failed = Outcome {
            failure: Some("file f2: /api/admin/export: HTTP 503: busy".into()),
            ..Outcome::default()
        };
        let d = failed.direction(300, &previous, 0);
        assert_eq!(d.last_success_started_ms, Some(100));
        assert_eq!(
            d.last_error.as_deref(),
            Some("file f2: /api/admin/export: HTTP 503: busy")
        );
    }
}
