//! `cutover`: the operator's tool for moving List Cutter from the legacy Django
//! side (PostgreSQL + media folder) to the app (D1 + R2) and back. It talks to the
//! app only through its admin API (`/api/admin/...`, operator token), so it works
//! the same against local workerd and a deployed Worker, directly or through the
//! gateway.
//!
//! Exit status: 0 done; 1 failed (or `verify` found a mismatch); 2 done, with
//! items reported as not done (conflicts, missing files, unreadable rows).

mod api;
mod app_log;
mod bluegreen;
mod capture;
mod cloudflare;
mod deploy;
mod error;
mod execute;
mod files;
mod legacy;
mod media;
mod migrate;
mod parallel;
mod percent;
mod replicate;
mod report;
mod reverse;
mod runbook;
mod secrets;
mod shadow;
mod state;
mod validate;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use api::Api;
use error::{Error, Result};
use percent::encode;
use report::{print_report, Report};

#[derive(Parser)]
#[command(
    name = "cutover",
    version,
    about = "Migrate, verify and sync List Cutter between Django and Workers"
)]
struct Cli {
    /// Base URL of the app Worker or of the gateway in front of it.
    #[arg(
        long,
        env = "CUTOVER_APP_URL",
        default_value = "http://127.0.0.1:8787",
        global = true
    )]
    app: String,
    /// The operator token (`ADMIN_API_TOKEN`).
    #[arg(
        long,
        alias = "admin-token",
        env = "ADMIN_API_TOKEN",
        default_value = "",
        hide_env_values = true,
        global = true
    )]
    token: String,
    /// Print the final report as one JSON object on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Source {
    /// The legacy PostgreSQL, e.g. `postgresql://postgres@127.0.0.1:5432/legacy`.
    #[arg(long, env = "LEGACY_DATABASE_URL")]
    database_url: String,
    /// The legacy media folder (files are in its `uploads/`).
    #[arg(long, env = "LEGACY_MEDIA_ROOT")]
    media: PathBuf,
    /// Parallel file transfers and hashes.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
}

#[derive(Args)]
struct Run {
    #[command(flatten)]
    source: Source,
    /// The checkpoint file (resume point and known file hashes).
    #[arg(long, default_value = "cutover-state.json")]
    state: PathBuf,
    /// Rows per batch.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=500))]
    batch: i64,
    /// Stop at the first item that cannot be done.
    #[arg(long)]
    strict: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Copy legacy users, files and lineage into the app (resumable, idempotent).
    Migrate(Run),
    /// Copy what legacy created, changed or deleted since the last run.
    Sync(Run),
    /// Compare legacy and the app: counts, rows, password hashes, file bytes.
    Verify {
        #[command(flatten)]
        source: Source,
        /// Hash a random sample of N files instead of all.
        #[arg(long)]
        sample: Option<usize>,
        /// Seed of the sample (default: from the clock; printed in the report).
        #[arg(long)]
        seed: Option<u64>,
        /// Also require the app's own users and files on legacy (while `replicate`
        /// keeps both sides one).
        #[arg(long)]
        both_ways: bool,
        /// While both sides serve: a record with a change still in either side's
        /// change log is in flight (reported as such, not a mismatch).
        #[arg(long)]
        live: bool,
    },
    /// While both sides serve: each side's logged changes to the other in rounds,
    /// every --interval, until stopped; each round's state goes to the gateway.
    Replicate {
        #[command(flatten)]
        run: Run,
        /// Seconds between rounds.
        #[arg(long, default_value_t = 3.0)]
        interval: f64,
        /// One round, then exit (0 when both directions completed cleanly).
        #[arg(long)]
        once: bool,
        /// Take the change log and its triggers off legacy, then exit.
        #[arg(long, conflicts_with = "once")]
        remove_capture: bool,
    },
    /// The cutover: preflight, write freeze, drain replication, verify, 100%,
    /// smoke, lift the freeze, watch; a failed step after the freeze rolls back.
    /// Resumes an interrupted run from its run log.
    ExecuteCutover {
        #[command(flatten)]
        runbook: RunbookArgs,
        /// Seconds to watch the app's error rate at 100%.
        #[arg(long, default_value_t = 600)]
        watch_secs: u64,
        /// Percent of 5xx among the app's answers that fails the watch.
        #[arg(long, default_value_t = 5.0)]
        max_error_rate: f64,
    },
    /// Back to legacy: 0%, lift maintenance, drain replication to legacy, verify.
    RollbackCutover {
        #[command(flatten)]
        runbook: RunbookArgs,
    },
    /// A deployment's health and a throwaway user's journey (register, sign in,
    /// upload, cut, save, download), then that user and their files removed from
    /// both sides, whatever failed.
    Validate {
        /// Base URL of the gateway (or the app) to validate.
        #[arg(long)]
        url: String,
        /// Send `X-Beta-User` with this value: a beta token (`cutover beta
        /// issue`) to be served by the app, or `true` where the plain header is on.
        #[arg(long)]
        beta: Option<String>,
        /// The legacy PostgreSQL, where the test account is removed (no API
        /// deletes accounts).
        #[arg(long, env = "LEGACY_DATABASE_URL")]
        database_url: String,
        /// The run log: every step with its times and what it did.
        #[arg(long, default_value = "cutover-validate.json")]
        run_log: PathBuf,
        /// Check the health only, and say what the journey would do.
        #[arg(long)]
        dry_run: bool,
        /// Seconds to wait for a deployment's health to turn healthy.
        #[arg(long, default_value_t = 30)]
        wait_secs: u64,
        /// Seconds the cleanup waits for replication to carry file deletions.
        #[arg(long, default_value_t = 60)]
        settle_secs: u64,
    },
    /// The release: deploy configs checked, tests, build, then staging (D1
    /// migrations, app, gateway, validate) and, for production, production the
    /// same way once staging validated. Resumes an interrupted run from its log.
    Deploy {
        /// `staging`, or `production` (staging first).
        #[arg(long, value_parser = ["staging", "production"])]
        env: String,
        /// The staging gateway's URL, validated after the staging deploy.
        #[arg(long, env = "STAGING_URL")]
        staging_url: String,
        /// Staging's legacy PostgreSQL (validate removes its test account there).
        #[arg(long, env = "STAGING_LEGACY_DATABASE_URL")]
        staging_database_url: String,
        /// The production gateway's URL (with `--env production`).
        #[arg(long, env = "PRODUCTION_URL", required_if_eq("env", "production"))]
        url: Option<String>,
        /// Production's legacy PostgreSQL (with `--env production`).
        #[arg(long, env = "LEGACY_DATABASE_URL", required_if_eq("env", "production"))]
        database_url: Option<String>,
        /// The checkout whose scripts check, test and build.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Where the wrangler configs are (default: the checkout).
        #[arg(long)]
        config_dir: Option<PathBuf>,
        /// The wrangler to run.
        #[arg(long, env = "WRANGLER", default_value = "node_modules/.bin/wrangler")]
        wrangler: PathBuf,
        /// Seconds validate waits for a fresh deployment's health to turn healthy.
        #[arg(long, default_value_t = 120)]
        wait_secs: u64,
        /// Do not run scripts/test (recorded in the run log).
        #[arg(long)]
        skip_tests: bool,
        /// Do not run scripts/build: deploy what is built (recorded in the run log).
        #[arg(long)]
        skip_build: bool,
        /// The run log: every step with its times; an unfinished run resumes from it.
        #[arg(long, default_value = "cutover-deploy.json")]
        run_log: PathBuf,
        /// Start a new run even if the log holds an unfinished one.
        #[arg(long)]
        fresh: bool,
        /// Check the configs and the deployments' health; deploy nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// A release to the idle app slot: deploy it, wait for it to be ready,
    /// smoke-test it through a beta token pinned to it, switch, watch, and
    /// switch back if the watch fails.
    BlueGreen {
        /// Base URL of the gateway.
        #[arg(long)]
        url: String,
        /// The slot to release to (default: the one not serving).
        #[arg(long, value_parser = ["blue", "green"])]
        to: Option<String>,
        /// The environment whose app Worker is deployed (green: `<env>-green`).
        #[arg(long, default_value = "production")]
        env: String,
        /// The slot is deployed already: skip the wrangler deploy.
        #[arg(long)]
        skip_deploy: bool,
        /// Where `wrangler.app.toml` is.
        #[arg(long, default_value = ".")]
        config_dir: PathBuf,
        /// The wrangler to run.
        #[arg(long, env = "WRANGLER", default_value = "node_modules/.bin/wrangler")]
        wrangler: PathBuf,
        /// Legacy's PostgreSQL (the smoke's test account is removed on both sides).
        #[arg(long, env = "LEGACY_DATABASE_URL")]
        database_url: String,
        /// Seconds the idle slot may take to be ready.
        #[arg(long, default_value_t = 120)]
        wait_secs: u64,
        /// Seconds to watch the new slot after the switch (the seed watches 5 min).
        #[arg(long, default_value_t = 300)]
        watch_secs: u64,
        /// Percent of 5xx among the new slot's answers that fails the watch.
        #[arg(long, default_value_t = 5.0)]
        max_error_rate: f64,
        /// The run log (the smoke's journey keeps its own beside it).
        #[arg(long, default_value = "cutover-blue-green.json")]
        run_log: PathBuf,
        /// Check which slot serves and whether the other is ready; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Make the zone's DNS records (`deploy/dns.toml`) and the gateway's Workers
    /// routes (its wrangler config) exist through Cloudflare's API: list, then
    /// create what is missing and update what differs.
    Dns {
        /// The environment: a section of the dns config and the gateway config.
        #[arg(long)]
        env: String,
        #[arg(long, default_value = "deploy/dns.toml")]
        config: PathBuf,
        #[arg(
            long,
            env = "CLOUDFLARE_API_BASE",
            default_value = "https://api.cloudflare.com/client/v4"
        )]
        api_base: String,
        /// A Cloudflare API token with Zone DNS Edit and Workers Routes Edit.
        #[arg(
            long,
            env = "CLOUDFLARE_API_TOKEN",
            default_value = "",
            hide_env_values = true
        )]
        api_token: String,
        /// The run log: every step with its times and what it did.
        #[arg(long, default_value = "cutover-dns.json")]
        run_log: PathBuf,
        /// Send nothing (works offline): print the requests a run would send.
        #[arg(long)]
        dry_run: bool,
    },
    /// `wrangler secret put` of every secret each Worker of an environment needs
    /// (`deploy/secrets.toml`), values from a dotenv file or the environment,
    /// passed on stdin and never shown.
    Secrets {
        #[arg(long)]
        env: String,
        #[arg(long, default_value = "deploy/secrets.toml")]
        spec: PathBuf,
        /// A dotenv file with the values (default: the environment's variables of
        /// the same names).
        #[arg(long)]
        from: Option<PathBuf>,
        /// The wrangler to run.
        #[arg(long, env = "WRANGLER", default_value = "node_modules/.bin/wrangler")]
        wrangler: PathBuf,
        /// The run log: every step with its times and what it did.
        #[arg(long, default_value = "cutover-secrets.json")]
        run_log: PathBuf,
        /// Check the values and print the commands, running none.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write what the app created since the checkpoint back to legacy.
    ReverseSync {
        #[command(flatten)]
        source: Source,
        #[arg(long, default_value = "cutover-state.json")]
        state: PathBuf,
    },
    /// The gateway's rollout: `status`, `set N`, `maintenance full|write-freeze|off`.
    Rollout {
        #[command(subcommand)]
        action: Rollout,
        /// Kept in the gateway's audit trail.
        #[arg(long, global = true)]
        reason: Option<String>,
    },
    /// Canary testers' beta access on the gateway: `issue`, `list`, `revoke`.
    Beta {
        #[command(subcommand)]
        action: Beta,
    },
    /// The gateway's shadow comparisons: `report`, `rate R`, `reset`.
    Shadow {
        #[command(subcommand)]
        action: Shadow,
    },
}

#[derive(Args)]
struct RunbookArgs {
    #[command(flatten)]
    source: Source,
    /// The run log: every step with its times; an unfinished run resumes from it.
    #[arg(long, default_value = "cutover-run.json")]
    run_log: PathBuf,
    /// Start a new run even if the log holds an unfinished one.
    #[arg(long)]
    fresh: bool,
    /// Check the preconditions and say what would be done, changing nothing.
    #[arg(long)]
    dry_run: bool,
    /// Seconds to wait for replication to empty both change logs.
    #[arg(long, default_value_t = 120)]
    drain_timeout_secs: u64,
}

#[derive(Subcommand)]
enum Shadow {
    /// Counts per route (compared, equal, differing, errors), the last differences
    /// and the routes holding percentage raises.
    Report,
    /// Mirror this share (0 to 1) of reads on shadowable routes to the other side.
    Rate {
        rate: f64,
        /// Kept in the gateway's audit trail.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Start the counts and learned noise afresh (after a fix).
    Reset,
}

#[derive(Subcommand)]
enum Beta {
    /// A new beta token and its invite link.
    Issue {
        /// Who or what the access is for (shown in the list and the audit trail).
        #[arg(long)]
        label: String,
        /// How long it lasts: seconds or 30m, 12h, 7d (at most 90d).
        #[arg(long, default_value = "7d")]
        expires: String,
        /// Pin the token to an app slot: its requests go there whichever slot
        /// serves everyone else (a release's smoke test before the switch).
        #[arg(long, value_parser = ["blue", "green"])]
        slot: Option<String>,
    },
    /// Every token issued, with its expiry, last request and state.
    List,
    /// Revoke a token by its id (routing stops within the config cache time).
    Revoke { id: String },
}

#[derive(Subcommand)]
enum Rollout {
    Status,
    /// Send N percent of clients to the app.
    Set {
        percentage: u8,
    },
    Maintenance {
        mode: Mode,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Mode {
    Full,
    WriteFreeze,
    Off,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cutover: {e}");
            ExitCode::from(1)
        }
    }
}

fn finished(report: Report, as_json: bool) -> ExitCode {
    report.print(as_json);
    if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// execute-cutover or rollback-cutover: the run log as the report; 0 when the
/// run finished its job, 1 otherwise.
fn run_runbook(
    api: &Api,
    args: RunbookArgs,
    rollback: bool,
    (watch_secs, max_error_rate): (u64, f64),
    as_json: bool,
) -> Result<ExitCode> {
    let opts = execute::Options {
        database_url: args.source.database_url,
        media: args.source.media,
        jobs: args.source.jobs,
        watch: std::time::Duration::from_secs(watch_secs),
        max_error_rate,
        drain_timeout: std::time::Duration::from_secs(args.drain_timeout_secs),
    };
    let mut log = runbook::RunLog::open(
        &args.run_log,
        execute::name(rollback),
        args.fresh,
        args.dry_run,
    )?;
    let outcome = match rollback {
        true => execute::rollback(api, &opts, &mut log, ""),
        false => execute::execute(api, &opts, &mut log).and_then(|done| match done {
            true => Ok(()),
            false => Err(Error::Check(
                "the interrupted rollback is finished; the cutover is not".into(),
            )),
        }),
    };
    Ok(reported(&log, outcome, as_json))
}

/// A run's outcome (`done` or `failed`) written to its log, then reported.
fn concluded(log: &mut runbook::RunLog, outcome: Result<()>, as_json: bool) -> Result<ExitCode> {
    log.finish(if outcome.is_ok() { "done" } else { "failed" })?;
    Ok(reported(log, outcome, as_json))
}

/// A runbook command's end: the run log as the report; 0 when the run did its
/// job, 1 otherwise.
fn reported(log: &runbook::RunLog, outcome: Result<()>, as_json: bool) -> ExitCode {
    print_report(&log.to_json(), as_json);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("{}: {why}", log.command);
            ExitCode::from(1)
        }
    }
}

/// Refuses `command` without the operator token, saying what it needs it for.
fn needs_operator_token(token: &str, command: &str, why: &str) -> Result<()> {
    if token.is_empty() {
        return Err(Error::Refused(format!(
            "{command} needs the operator token (--admin-token or ADMIN_API_TOKEN): {why}"
        )));
    }
    Ok(())
}

/// Whether wrangler would find no `CLOUDFLARE_API_TOKEN` to deploy with.
fn cloudflare_token_missing() -> bool {
    std::env::var("CLOUDFLARE_API_TOKEN")
        .unwrap_or_default()
        .is_empty()
}

fn run(cli: Cli) -> Result<ExitCode> {
    let api = Api::new(&cli.app, &cli.token)?;
    match cli.command {
        Command::Migrate(r) => migrate_or_sync("migrate", &api, r, false, cli.json),
        Command::Sync(r) => migrate_or_sync("sync", &api, r, true, cli.json),
        Command::Verify {
            source,
            sample,
            seed,
            both_ways,
            live,
        } => {
            let seed = seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
            let opts = verify::Options {
                sample,
                seed,
                jobs: source.jobs,
                both_ways,
                live,
            };
            let (report, ok) = verify::run(&api, &source.database_url, &source.media, &opts)?;
            print_report(&report, cli.json);
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Replicate {
            run: r,
            remove_capture: true,
            ..
        } => {
            replicate::remove_capture(&r.source.database_url, &r.state)?;
            eprintln!("replicate: the change log and its triggers are off legacy");
            Ok(ExitCode::SUCCESS)
        }
        Command::Replicate {
            run: r,
            interval,
            once,
            ..
        } => {
            if !(0.0..=3_600.0).contains(&interval) {
                return Err(Error::Refused(
                    "--interval must be 0 to 3600 seconds".into(),
                ));
            }
            let opts = replicate::Options {
                interval: std::time::Duration::from_secs_f64(interval),
                once,
                sync: migrate::Options {
                    batch: r.batch,
                    jobs: r.source.jobs,
                    strict: r.strict,
                    deletions: true,
                },
            };
            let last = replicate::run(
                &api,
                &r.source.database_url,
                &r.source.media,
                &r.state,
                &opts,
                cli.json,
            )?;
            let clean = [&last.legacy_to_app, &last.app_to_legacy]
                .iter()
                .all(|d| d.last_error.is_none() && d.errors == 0);
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::ExecuteCutover {
            runbook,
            watch_secs,
            max_error_rate,
        } => run_runbook(&api, runbook, false, (watch_secs, max_error_rate), cli.json),
        Command::RollbackCutover { runbook } => {
            run_runbook(&api, runbook, true, (0, 0.0), cli.json)
        }
        Command::Validate {
            url,
            beta,
            database_url,
            run_log,
            dry_run,
            wait_secs,
            settle_secs,
        } => {
            needs_operator_token(
                &cli.token,
                "validate",
                "the deep health and the test account's removal ask the admin APIs",
            )?;
            let opts = validate::Options::new(
                &url,
                &cli.token,
                beta,
                database_url,
                (
                    std::time::Duration::from_secs(wait_secs),
                    std::time::Duration::from_secs(settle_secs),
                ),
            )?;
            let mut log = runbook::RunLog::open(&run_log, "validate", true, dry_run)?;
            let outcome = validate::run(&opts, &mut log);
            Ok(reported(&log, outcome, cli.json))
        }
        Command::Deploy {
            env,
            staging_url,
            staging_database_url,
            url,
            database_url,
            root,
            config_dir,
            wrangler,
            wait_secs,
            skip_tests,
            skip_build,
            run_log,
            fresh,
            dry_run,
        } => {
            needs_operator_token(
                &cli.token,
                "deploy",
                "validating a deployment asks its admin APIs",
            )?;
            if !dry_run && cloudflare_token_missing() {
                return Err(Error::Refused(
                    "deploy needs CLOUDFLARE_API_TOKEN (wrangler deploys with it); nothing was run"
                        .into(),
                ));
            }
            let mut places = vec![("staging", staging_url, staging_database_url)];
            if let (true, Some(url), Some(db)) = (env == "production", url, database_url) {
                places.push(("production", url, db));
            }
            let targets = places
                .into_iter()
                .map(|(name, url, database_url)| {
                    Ok(deploy::Target {
                        name: name.to_string(),
                        validate: validate::Options::new(
                            &url,
                            &cli.token,
                            None,
                            database_url,
                            (
                                std::time::Duration::from_secs(wait_secs),
                                std::time::Duration::from_secs(60),
                            ),
                        )?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let opts = deploy::Options {
                config_dir: config_dir.unwrap_or_else(|| root.clone()),
                root,
                wrangler,
                skip_tests,
                skip_build,
                targets,
                run_log: run_log.clone(),
            };
            let mut log = runbook::RunLog::open(&run_log, "deploy", fresh, dry_run)?;
            let outcome = deploy::run(&opts, &mut log, dry_run);
            concluded(&mut log, outcome, cli.json)
        }
        Command::BlueGreen {
            url,
            to,
            env,
            skip_deploy,
            config_dir,
            wrangler,
            database_url,
            wait_secs,
            watch_secs,
            max_error_rate,
            run_log,
            dry_run,
        } => {
            needs_operator_token(
                &cli.token,
                "blue-green",
                "it drives the gateway's admin API",
            )?;
            if !skip_deploy && !dry_run && cloudflare_token_missing() {
                return Err(Error::Refused("blue-green needs CLOUDFLARE_API_TOKEN to deploy (or --skip-deploy); nothing was run".into()));
            }
            let url = url.trim_end_matches('/').to_string();
            let stem = run_log
                .file_stem()
                .map_or("cutover-blue-green".into(), |s| {
                    s.to_string_lossy().into_owned()
                });
            let opts = bluegreen::Options {
                api: Api::new(&url, &cli.token)?,
                url,
                to: to.map(|t| t.parse()).transpose().map_err(Error::Refused)?,
                deploy: (!skip_deploy).then_some(bluegreen::Deploy {
                    wrangler,
                    config_dir,
                    env,
                }),
                database_url,
                wait: std::time::Duration::from_secs(wait_secs),
                watch: std::time::Duration::from_secs(watch_secs),
                max_error_rate,
                smoke_log: run_log.with_file_name(format!("{stem}.smoke.json")),
            };
            let mut log = runbook::RunLog::open(&run_log, "blue-green", true, dry_run)?;
            let outcome = bluegreen::run(&opts, &mut log);
            log.finish(match &outcome {
                Ok(()) => "done",
                Err(_) if log.done("switch back") => "rolled back",
                Err(_) => "failed",
            })?;
            Ok(reported(&log, outcome, cli.json))
        }
        Command::Dns {
            env,
            config,
            api_base,
            api_token,
            run_log,
            dry_run,
        } => {
            let want = cloudflare::desired(&config, &env)?;
            if api_token.is_empty() && !dry_run {
                return Err(Error::Refused("dns needs a Cloudflare API token (--api-token or CLOUDFLARE_API_TOKEN); nothing was sent".into()));
            }
            let cf = cloudflare::Cloudflare::new(&api_base, &api_token)?;
            let mut log = runbook::RunLog::open(&run_log, "dns", true, dry_run)?;
            let outcome = cloudflare::run(&cf, &want, &mut log, dry_run);
            concluded(&mut log, outcome, cli.json)
        }
        Command::Secrets {
            env,
            spec,
            from,
            wrangler,
            run_log,
            dry_run,
        } => {
            let puts = secrets::plan(&spec, &env)?;
            let values = secrets::values(&puts, from.as_deref())?;
            let mut log = runbook::RunLog::open(&run_log, "secrets", true, dry_run)?;
            let outcome = secrets::run(&wrangler, &puts, &values, &mut log);
            concluded(&mut log, outcome, cli.json)
        }
        Command::ReverseSync { source, state } => {
            let report = reverse::run(
                &api,
                &source.database_url,
                &source.media,
                &state,
                source.jobs,
            )?;
            Ok(finished(report, cli.json))
        }
        Command::Rollout { action, reason } => {
            let answer = api.get(&migration_path(action, reason.as_deref()))?;
            print_report(&answer, cli.json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Beta { action } => {
            let answer = match action {
                Beta::Issue {
                    label,
                    expires,
                    slot,
                } => api.admin(
                    reqwest::Method::POST,
                    "/admin/beta",
                    Some(
                        &serde_json::json!({ "label": label, "expires_in": expires, "slot": slot }),
                    ),
                )?,
                Beta::List => api.admin(reqwest::Method::GET, "/admin/beta", None)?,
                Beta::Revoke { id } => api.admin(
                    reqwest::Method::DELETE,
                    &format!("/admin/beta/{}", encode(&id)),
                    None,
                )?,
            };
            print_report(&answer, cli.json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Shadow { action } => {
            let answer = match action {
                Shadow::Report => api.admin(reqwest::Method::GET, "/admin/shadow", None)?,
                Shadow::Rate { rate, reason } => api.admin(
                    reqwest::Method::PUT,
                    "/admin/shadow",
                    Some(&serde_json::json!({ "rate": rate, "reason": reason })),
                )?,
                Shadow::Reset => api.admin(reqwest::Method::DELETE, "/admin/shadow", None)?,
            };
            if cli.json || answer.get("routes").is_none() {
                print_report(&answer, cli.json);
            } else {
                print!("{}", shadow::render(&answer));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn migrate_or_sync(
    command: &'static str,
    api: &Api,
    r: Run,
    deletions: bool,
    as_json: bool,
) -> Result<ExitCode> {
    let opts = migrate::Options {
        batch: r.batch,
        jobs: r.source.jobs,
        strict: r.strict,
        deletions,
    };
    let report = migrate::run(
        command,
        api,
        &r.source.database_url,
        &r.source.media,
        &r.state,
        opts,
    )?;
    Ok(finished(report, as_json))
}

/// The gateway's `/admin/migration` call of a `rollout` action.
fn migration_path(action: Rollout, reason: Option<&str>) -> String {
    let query = match action {
        Rollout::Status => "action=get_status".to_string(),
        Rollout::Set { percentage } => format!("action=update_percentage&percentage={percentage}"),
        Rollout::Maintenance { mode: Mode::Off } => "action=disable_maintenance".into(),
        Rollout::Maintenance { mode: Mode::Full } => "action=enable_maintenance&mode=full".into(),
        Rollout::Maintenance {
            mode: Mode::WriteFreeze,
        } => "action=enable_maintenance&mode=write_freeze".into(),
    };
    let reason = reason
        .map(|r| format!("&reason={}", encode(r)))
        .unwrap_or_default();
    format!("/admin/migration?{query}{reason}")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cutover").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_migrate_takes_its_defaults() {
        let cli = parse(&[
            "migrate",
            "--database-url",
            "postgresql://x",
            "--media",
            "m",
        ])
        .unwrap();
        let Command::Migrate(run) = cli.command else {
            panic!("not migrate")
        };
        assert_eq!((run.batch, run.source.jobs, run.strict), (100, 4, false));
        assert_eq!(run.state, PathBuf::from("cutover-state.json"));
        assert_eq!(run.source.media, PathBuf::from("m"));
    }

    #[test]
    fn a_batch_is_1_to_500_rows() {
        let with = |batch: &str| {
            parse(&[
                "sync",
                "--database-url",
                "postgresql://x",
                "--media",
                "m",
                "--batch",
                batch,
            ])
        };
        assert!(with("1").is_ok() && with("500").is_ok());
        assert!(with("0").is_err() && with("501").is_err());
    }

    #[test]
    fn global_options_go_after_the_subcommand_too() {
        let cli = parse(&[
            "rollout",
            "status",
            "--json",
            "--app",
            "http://gw/",
            "--reason",
            "x",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.app, "http://gw/");
        assert!(matches!(
            cli.command,
            Command::Rollout {
                action: Rollout::Status,
                reason: Some(_)
            }
        ));
    }

    #[test]
    fn removing_the_capture_is_not_a_round() {
        let args = [
            "replicate",
            "--database-url",
            "postgresql://x",
            "--media",
            "m",
        ];
        assert!(parse(&[&args[..], &["--once"]].concat()).is_ok());
        assert!(parse(&[&args[..], &["--once", "--remove-capture"]].concat()).is_err());
    }

    #[test]
    fn slots_and_environments_are_the_known_ones() {
        let beta = |slot: &str| parse(&["beta", "issue", "--label", "l", "--slot", slot]);
        assert!(beta("green").is_ok());
        assert!(beta("purple").is_err());
        let deploy = |env: &str| {
            parse(&[
                "deploy",
                "--env",
                env,
                "--staging-url",
                "https://s",
                "--staging-database-url",
                "postgresql://s",
                "--url",
                "https://p",
                "--database-url",
                "postgresql://p",
            ])
        };
        assert!(deploy("production").is_ok());
        assert!(deploy("qa").is_err());
    }

    #[test]
    fn rollout_actions_become_the_gateway_s_queries() {
        let cases = [
            (Rollout::Status, None, "action=get_status"),
            (
                Rollout::Set { percentage: 25 },
                Some("ramp up"),
                "action=update_percentage&percentage=25&reason=ramp%20up",
            ),
            (
                Rollout::Maintenance { mode: Mode::Full },
                None,
                "action=enable_maintenance&mode=full",
            ),
            (
                Rollout::Maintenance {
                    mode: Mode::WriteFreeze,
                },
                None,
                "action=enable_maintenance&mode=write_freeze",
            ),
            (
                Rollout::Maintenance { mode: Mode::Off },
                Some("done"),
                "action=disable_maintenance&reason=done",
            ),
        ];
        for (action, reason, query) in cases {
            assert_eq!(
                migration_path(action, reason),
                format!("/admin/migration?{query}")
            );
        }
        let cli = parse(&["rollout", "maintenance", "write-freeze"]).unwrap();
        let Command::Rollout { action, .. } = cli.command else {
            panic!("not rollout")
        };
        assert_eq!(
            migration_path(action, None),
            "/admin/migration?action=enable_maintenance&mode=write_freeze"
        );
    }
}
