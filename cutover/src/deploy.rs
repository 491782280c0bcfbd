//! `deploy`: the seed's production deployment as runbook steps. The deploy
//! configs are checked (`scripts/check-deploy-config`), the tests run
//! (`scripts/test`) and the Workers are built (`scripts/build`); then, for
//! staging and (with `--env production`) production after it, the D1
//! migrations are applied, the app Worker(s) and then the gateway deployed
//! with wrangler, and `validate` runs its journey against the environment's
//! URL. A failed step stops the run, so production is never touched unless
//! staging validated. Every wrangler deploy is idempotent, so an interrupted
//! run resumes from its log.
//!
//! Production deploys both app slots (blue and green) at once: a release to
//! one slot at a time, with a switch and a watch window, is `blue-green`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::runbook::{Effect, RunLog};
use crate::validate;

/// One environment to deploy, and how to validate it.
pub struct Target {
    /// `staging` or `production`: a wrangler environment of both configs.
    pub name: String,
    pub validate: validate::Options,
}

pub struct Options {
    /// The checkout: its `scripts/` run the checks, tests and build.
    pub root: PathBuf,
    /// Where `wrangler.app.toml` and `wrangler.gateway.toml` are.
    pub config_dir: PathBuf,
    pub wrangler: PathBuf,
    pub skip_tests: bool,
    pub skip_build: bool,
    /// In order: staging, then production.
    pub targets: Vec<Target>,
    /// Where each target's validation keeps its own run log.
    pub run_log: PathBuf,
}

/// The app Workers of an environment: production has a blue and a green slot.
pub fn app_envs(env: &str) -> Vec<String> {
    match env {
        "production" => vec!["production".into(), "production-green".into()],
        other => vec![other.into()],
    }
}

/// `program args…`, and how a step shows it.
pub fn wrangler(program: &Path, args: &[&str]) -> (String, Command) {
    let mut cmd = Command::new(program);
    cmd.args(args);
    (format!("wrangler {}", args.join(" ")), cmd)
}

/// Runs `cmd`; its last lines of output are the step's detail either way.
pub fn run_command(mut cmd: Command) -> Result<String> {
    let out = cmd.output().map_err(|source| Error::Spawn {
        program: format!("{cmd:?}"),
        source,
    })?;
    let tail = last_lines(&output_of(&out), 3);
    match out.status.success() {
        true => Ok(tail),
        false => Err(Error::CommandFailed {
            program: None,
            status: out.status,
            output: tail,
        }),
    }
}

/// What a program printed: its stdout, then its stderr.
pub fn output_of(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The last `n` lines of `said`, joined by ` | `.
fn last_lines(said: &str, n: usize) -> String {
    let tail: Vec<&str> = said.trim().lines().rev().take(n).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

impl Options {
    fn script(&self, name: &str) -> Command {
        Command::new(self.root.join("scripts").join(name))
    }

    fn config(&self, worker: &str) -> String {
        self.config_dir
            .join(format!("wrangler.{worker}.toml"))
            .display()
            .to_string()
    }

    fn wrangler(&self, args: &[&str]) -> (String, Command) {
        wrangler(&self.wrangler, args)
    }

    /// The validation's own run log, beside the deploy's.
    fn validate_log(&self, target: &str) -> PathBuf {
        let stem = self
            .run_log
            .file_stem()
            .map_or("deploy".into(), |s| s.to_string_lossy().into_owned());
        self.run_log
            .with_file_name(format!("{stem}.validate-{target}.json"))
    }
}

/// A step that is skipped on request, recorded as such.
fn skippable(
    log: &mut RunLog,
    name: &str,
    skip: Option<&str>,
    what: &str,
    cmd: Command,
) -> Result<()> {
    match skip {
        Some(flag) => log.step(name, Effect::Reads, what, || {
            Ok(format!("skipped ({flag})"))
        }),
        None => log.step(name, Effect::Changes, what, || run_command(cmd)),
    }
}

pub fn run(opts: &Options, log: &mut RunLog, dry_run: bool) -> Result<()> {
    for t in &opts.targets {
        let mut check = opts.script("check-deploy-config");
        check
            .arg(&t.name)
            .env("DEPLOY_CONFIG_DIR", &opts.config_dir);
        log.step(
            &format!("config ({})", t.name),
            Effect::Reads,
            &format!(
                "check the {} deploy config: real ids, every binding",
                t.name
            ),
            || run_command(check),
        )?;
    }
    let skip_tests = opts.skip_tests.then_some("--skip-tests");
    skippable(
        log,
        "tests",
        skip_tests,
        "run scripts/test",
        opts.script("test"),
    )?;
    let skip_build = opts.skip_build.then_some("--skip-build");
    skippable(
        log,
        "build",
        skip_build,
        "run scripts/build",
        opts.script("build"),
    )?;
    for t in &opts.targets {
        let env = t.name.as_str();
        let app = opts.config("app");
        let gateway = opts.config("gateway");
        let mut commands = vec![(
            format!("{env}: database"),
            opts.wrangler(&[
                "d1",
                "migrations",
                "apply",
                "DB",
                "--remote",
                "-c",
                &app,
                "--env",
                env,
            ]),
        )];
        for app_env in app_envs(env) {
            commands.push((
                format!("{env}: app ({app_env})"),
                opts.wrangler(&["deploy", "-c", &app, "--env", &app_env]),
            ));
        }
        // The gateway last: it routes to the app Workers just deployed.
        commands.push((
            format!("{env}: gateway"),
            opts.wrangler(&["deploy", "-c", &gateway, "--env", env]),
        ));
        for (name, (shown, cmd)) in commands {
            log.step(&name, Effect::Changes, &format!("run {shown}"), || {
                run_command(cmd)
            })?;
        }
        let path = opts.validate_log(env);
        log.step(
            &format!("{env}: validate"),
            Effect::Reads,
            &format!("validate {} (run log {})", t.validate.url, path.display()),
            || validated(&t.validate, &path, dry_run),
        )?;
    }
    Ok(())
}

/// `validate` with a run log of its own; the step says which of its steps
/// failed, or how many passed.
fn validated(opts: &validate::Options, path: &Path, dry_run: bool) -> Result<String> {
    let mut log = RunLog::open(path, "validate", true, dry_run)?;
    let outcome = validate::run(opts, &mut log);
    let failed: Vec<String> = log
        .steps
        .iter()
        .filter(|s| s.ok == Some(false))
        .map(|s| format!("{}: {}", s.name, s.detail))
        .collect();
    match outcome {
        Ok(()) => Ok(format!("{} steps ok ({})", log.steps.len(), opts.url)),
        Err(why) if failed.is_empty() => Err(why),
        Err(_) => Err(Error::Check(failed.join("; "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_deploys_both_app_slots() {
        assert_eq!(app_envs("production"), ["production", "production-green"]);
        assert_eq!(app_envs("staging"), ["staging"]);
    }

    #[test]
    fn a_step_shows_its_last_three_lines() {
        assert_eq!(last_lines("a\nb\nc\nd\n\n", 3), "b | c | d");
        assert_eq!(last_lines("  only  ", 3), "only");
        assert_eq!(last_lines("", 3), "");
    }

    #[test]
    fn a_wrangler_step_is_shown_without_its_path() {
        let (shown, cmd) = wrangler(
            Path::new("node_modules/.bin/wrangler"),
            &["deploy", "-c", "w.toml"],
        );
        assert_eq!(shown, "wrangler deploy -c w.toml");
        assert_eq!(cmd.get_program(), "node_modules/.bin/wrangler");
    }

    #[test]
    fn a_validation_log_stands_beside_the_deploy_log() {
        let opts = Options {
            root: ".".into(),
            config_dir: "conf".into(),
            wrangler: "wrangler".into(),
            skip_tests: false,
            skip_build: false,
            targets: Vec::new(),
            run_log: "logs/cutover-deploy.json".into(),
        };
        assert_eq!(
            opts.validate_log("staging"),
            Path::new("logs/cutover-deploy.validate-staging.json")
        );
        assert_eq!(opts.config("gateway"), "conf/wrangler.gateway.toml");
    }
}
