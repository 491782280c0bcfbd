//! A runbook run: named steps done in order, each recorded with its times and
//! what it did in a run log (JSON, written after every step), so that an
//! interrupted run started again with the same log skips what is done and goes
//! on from the step that was under way. A finished run's log starts a new run.
//! `--dry-run` runs only the steps that change nothing and says what the others
//! would do.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::files::{read_json, write_json};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub started_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
    /// `None` while under way (or interrupted).
    #[serde(default)]
    pub ok: Option<bool>,
    #[serde(default)]
    pub detail: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RunLog {
    pub command: String,
    pub started_at: String,
    pub steps: Vec<Step>,
    /// `done`, `rolled back` or `failed`; absent while the run can go on.
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(skip)]
    path: PathBuf,
    #[serde(skip)]
    dry_run: bool,
}

const RUN_LOG: &str = "run log";

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Whether a step changes anything (a dry run skips those).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Reads,
    Changes,
}

impl RunLog {
    /// The unfinished run of `command` in `path`, to resume, or a new one (also
    /// with `fresh`, or when the log holds a finished run or another command's).
    pub fn open(path: &Path, command: &str, fresh: bool, dry_run: bool) -> Result<RunLog> {
        let previous: Option<RunLog> = read_json(path, RUN_LOG)?;
        let mut log = match previous {
            Some(log) if !fresh && log.outcome.is_none() && log.command == command => {
                eprintln!(
                    "{command}: resuming the run started at {} ({} steps done)",
                    log.started_at,
                    log.steps.iter().filter(|s| s.ok == Some(true)).count()
                );
                log
            }
            _ => RunLog {
                command: command.to_string(),
                started_at: now(),
                steps: Vec::new(),
                outcome: None,
                path: PathBuf::new(),
                dry_run: false,
            },
        };
        log.path = path.to_path_buf();
        log.dry_run = dry_run;
        Ok(log)
    }

    pub fn done(&self, name: &str) -> bool {
        self.steps
            .iter()
            .any(|s| s.name == name && s.ok == Some(true))
    }

    /// Whether any step of this run has a name starting with `prefix`.
    pub fn reached(&self, prefix: &str) -> bool {
        self.steps.iter().any(|s| s.name.starts_with(prefix))
    }

    fn save(&self) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        write_json(&self.path, RUN_LOG, &serde_json::to_vec_pretty(self)?)
    }

    /// Runs step `name` unless it is done; records and prints what it did.
    pub fn step(
        &mut self,
        name: &str,
        effect: Effect,
        what: &str,
        run: impl FnOnce() -> Result<String>,
    ) -> Result<()> {
        if self.done(name) {
            eprintln!("{}: {name}: done already", self.command);
            return Ok(());
        }
        if self.dry_run && effect == Effect::Changes {
            eprintln!("{}: {name}: would {what}", self.command);
            return Ok(());
        }
        eprintln!("{}: {name}: {what}", self.command);
        self.steps.retain(|s| s.name != name);
        self.steps.push(Step {
            name: name.to_string(),
            started_at: now(),
            ended_at: None,
            ok: None,
            detail: String::new(),
        });
        self.save()?;
        let outcome = run();
        let step = self.steps.last_mut().expect("the step just pushed");
        step.ended_at = Some(now());
        step.ok = Some(outcome.is_ok());
        step.detail = match &outcome {
            Ok(detail) => detail.clone(),
            Err(why) => why.to_string(),
        };
        eprintln!(
            "{}: {name}: {} {}",
            self.command,
            if outcome.is_ok() { "ok" } else { "FAILED" },
            step.detail
        );
        self.save()?;
        outcome.map(|_| ())
    }

    pub fn finish(&mut self, outcome: &str) -> Result<()> {
        self.outcome = Some(outcome.to_string());
        self.save()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "command": self.command,
            "started_at": self.started_at,
            "outcome": self.outcome,
            "dry_run": self.dry_run,
            "steps": self.steps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    /// A dry run's log: it writes nothing.
    fn dry_log() -> RunLog {
        let path = std::env::temp_dir().join("cutover-runbook-test-none.json");
        RunLog::open(&path, "execute-cutover", true, true).unwrap()
    }

    #[test]
    fn a_dry_run_does_only_what_changes_nothing() {
        let mut log = dry_log();
        let mut ran = Vec::new();
        log.step("preflight", Effect::Reads, "check", || {
            ran.push("preflight");
            Ok("all well".into())
        })
        .unwrap();
        log.step("freeze", Effect::Changes, "freeze writes", || {
            ran.push("freeze");
            Ok("frozen".into())
        })
        .unwrap();
        assert_eq!(ran, ["preflight"]);
        assert_eq!(log.steps.len(), 1);
        assert!(log.done("preflight") && !log.done("freeze"));
        assert_eq!(log.steps[0].detail, "all well");
    }

    #[test]
    fn a_failed_step_keeps_why_and_a_done_one_is_not_run_again() {
        let mut log = dry_log();
        let failed = log.step("verify", Effect::Reads, "verify", || {
            Err(Error::Check("verify found 1 mismatches: user 3".into()))
        });
        assert_eq!(
            failed.unwrap_err().to_string(),
            "verify found 1 mismatches: user 3"
        );
        assert_eq!(log.steps[0].ok, Some(false));
        assert_eq!(log.steps[0].detail, "verify found 1 mismatches: user 3");
        // Run again, it replaces the failed record; once done, it is skipped.
        log.step("verify", Effect::Reads, "verify", || Ok("green".into()))
            .unwrap();
        log.step("verify", Effect::Reads, "verify", || {
            unreachable!("done already")
        })
        .unwrap();
        assert_eq!(log.steps.len(), 1);
        assert!(log.reached("ver") && !log.reached("rollback:"));
        log.finish("done").unwrap();
        assert_eq!(log.to_json()["outcome"], "done");
        assert_eq!(log.to_json()["dry_run"], true);
    }
}
