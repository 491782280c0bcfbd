//! The runbook's execute-cutover and rollback-cutover on a gateway, app and
//! stand-in of their own (so that `verify` sees only their records), with
//! `cutover replicate` running beside them: a dry run changes nothing, a failed
//! precondition stops before any change, a failure in the watch window rolls
//! back, an interrupted run resumes from its log, and a rollback-cutover brings
//! everything back to legacy with verify green.

use crate::admin::ADMIN_TOKEN;
use crate::common::{assert_printed, send_json, unique};
use e2e::process::Group;
use e2e::{client, Pair, Stack, StandIn};
use reqwest::blocking::multipart::{Form, Part};
use serde_json::{json, Value};
use shared::routing::Backend::{App, Legacy};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

crate::tests!(
    runbook:
    execute_cutover_checks_rolls_back_resumes_and_rollback_cutover_returns,
);

const PASSWORD: &str = "runbook pass 3!";

struct Sides<'a> {
    stack: &'a Stack,
    pair: &'a Pair,
    stand_in: &'a StandIn,
}

impl Sides<'_> {
    fn cutover(&self, args: &[&str]) -> Command {
        let mut cmd = self.stack.cutover_command(
            &self.pair.gateway,
            &self.stand_in.database_url,
            &self.stand_in.media,
        );
        cmd.args(args);
        cmd
    }

    fn status(&self) -> Value {
        let (_, _, st) = send_json(
            client()
                .get(format!(
                    "{}/admin/migration?action=get_status",
                    self.pair.gateway
                ))
                .bearer_auth(ADMIN_TOKEN),
        );
        st
    }

    fn set_percentage(&self, pct: u8) {
        let (status, _, body) = send_json(
            client()
                .get(format!(
                    "{}/admin/migration?action=update_percentage&percentage={pct}",
                    self.pair.gateway
                ))
                .bearer_auth(ADMIN_TOKEN),
        );
        assert_eq!(status, 200, "{body}");
    }

    fn switch(&self, body: Value) {
        let (status, _, answer) = send_json(
            client()
                .post(format!("{}/admin/deployment/switch", self.pair.gateway))
                .bearer_auth(ADMIN_TOKEN)
                .body(body.to_string()),
        );
        assert_eq!(status, 200, "{answer}");
        std::thread::sleep(Duration::from_millis(e2e::CONFIG_CACHE_MS + 200));
    }
}

/// The run log's JSON (Null while there is none).
fn run_log(path: &Path) -> Value {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

fn step_started(path: &Path, name: &str) -> bool {
    run_log(path)["steps"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s["name"] == name))
}

fn wait_for_step(path: &Path, name: &str, runner: &mut Group) {
    let started = Instant::now();
    while !step_started(path, name) {
        assert!(
            !runner.exited(),
            "the run ended before {name}: {}",
            run_log(path)
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no {name} step: {}",
            run_log(path)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn text(out: &Output) -> String {
    crate::common::output_text(out)
}

fn execute_cutover_checks_rolls_back_resumes_and_rollback_cutover_returns(stack: &Stack) {
    let stand_in = stack.start_stand_in("runbook", 2_000, &[]);
    let pair = stack.start_pair(&stand_in);
    let sides = Sides {
        stack,
        pair: &pair,
        stand_in: &stand_in,
    };
    let state = stack.dir.join("runbook-state.json");
    let log = stack.dir.join("runbook-run.json");
    let log_arg = log.to_str().unwrap();
    let _replicator = Group::spawn(
        "cutover replicate (runbook)",
        sides.cutover(&[
            "replicate",
            "--interval",
            "1",
            "--state",
            state.to_str().unwrap(),
        ]),
        &stack.dir.join("runbook-replicate.log"),
    );
    // A few people on both sides at 50%: two sign up on the app, four on legacy.
    sides.set_percentage(50);
    for side in [App, App, Legacy, Legacy, Legacy, Legacy] {
        let ip = stack.ip_routed_to(side, 50);
        let name = unique("rb");
        let gw = |path: &str| format!("{}{path}", pair.gateway);
        let (status, _, body) = send_json(
            client()
                .post(gw("/api/accounts/register/"))
                .header("CF-Connecting-IP", &ip)
                .json(&json!({"username": name, "password": PASSWORD, "password2": PASSWORD})),
        );
        assert_eq!(status, 201, "{body}");
        let (_, _, login) = send_json(
            client()
                .post(gw("/api/accounts/login/"))
                .header("CF-Connecting-IP", &ip)
                .json(&json!({"username": name, "password": PASSWORD})),
        );
        let part =
            Part::bytes(format!("n\n{name}\n").into_bytes()).file_name(format!("{name}.csv"));
        let (status, _, body) = send_json(
            client()
                .post(gw("/api/list_cutter/upload/"))
                .header("CF-Connecting-IP", &ip)
                .bearer_auth(login["access"].as_str().unwrap())
                .multipart(Form::new().part("file", part)),
        );
        assert_eq!(status, 200, "{body}");
    }
    let execute = |extra: &[&str]| {
        let mut args = vec!["execute-cutover", "--run-log", log_arg, "--json"];
        args.extend(extra);
        sides.cutover(&args)
    };

    // A dry run checks and tells, and changes nothing.
    let started = Instant::now();
    let out = loop {
        let out = execute(&["--dry-run", "--watch-secs", "1"])
            .output()
            .unwrap();
        // The replicator's first full round may still be under way.
        if out.status.success() || started.elapsed() > Duration::from_secs(60) {
            break out;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(out.status.success(), "{}", text(&out));
    assert_printed(&out, "freeze: would freeze writes");
    assert!(!log.exists(), "a dry run writes no run log");
    let st = sides.status();
    assert_eq!(
        (st["traffic_percentage"].as_u64(), &st["maintenance_mode"]),
        (Some(50), &json!("off")),
        "{st}"
    );

    // A failed precondition: a legacy row without its bytes fails verify.
    stack.psql_in(
        &stand_in.db,
        "INSERT INTO list_cutter_savedfile (user_id, file_id, file_name, file_path, uploaded_at, \
         system_tags, user_tags, metadata) SELECT id, 'runbook-broken', 'gone.csv', \
         '/nowhere/gone.csv', now(), '{}', '{}', NULL FROM auth_user ORDER BY id LIMIT 1",
    );
    // Until the replicator has tried it, the row is a change in flight, which
    // the preflight's live verify lets pass; once refused it is a mismatch.
    let started = Instant::now();
    while stack
        .psql_in(
            &stand_in.db,
            "SELECT count(*) FROM cutover_changes WHERE key = 'runbook-broken'",
        )
        .trim()
        != "0"
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the replicator never tried it"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let out = execute(&["--watch-secs", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_printed(&out, "preflight failed, nothing was changed");
    assert_eq!(sides.status()["traffic_percentage"], 50);
    stack.psql_in(
        &stand_in.db,
        "DELETE FROM list_cutter_savedfile WHERE file_id = 'runbook-broken'",
    );

    // The app fails in the watch window: the run rolls back.
    let mut runner = Group::spawn(
        "execute-cutover (rolls back)",
        execute(&["--watch-secs", "60"]),
        &stack.dir.join("runbook-execute-1.log"),
    );
    wait_for_step(&log, "watch", &mut runner);
    assert_eq!(sides.status()["traffic_percentage"], 100);
    sides.switch(json!({"version": "green", "force": true}));
    for _ in 0..20 {
        let _ = client()
            .get(format!(
                "{}/api/list_cutter/list_saved_files/",
                pair.gateway
            ))
            .header("CF-Connecting-IP", stack.ip())
            .send();
    }
    // The rollback sends everyone to legacy, then waits for the app's changes to
    // reach legacy, which needs a working app: the operator switches back.
    wait_for_step(&log, "rollback:drain", &mut runner);
    assert_eq!(sides.status()["traffic_percentage"], 0);
    sides.switch(json!({"version": "blue"}));
    let deadline = Instant::now() + Duration::from_secs(120);
    while !runner.exited() {
        assert!(Instant::now() < deadline, "no rollback: {}", run_log(&log));
        std::thread::sleep(Duration::from_millis(250));
    }
    let ran = run_log(&log);
    assert_eq!(ran["outcome"], "rolled back", "{ran}");
    let names: Vec<&str> = ran["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "preflight",
            "freeze",
            "drain",
            "verify",
            "switch",
            "smoke",
            "unfreeze",
            "watch",
            "rollback:to-legacy",
            "rollback:unfreeze",
            "rollback:drain",
            "rollback:verify"
        ],
        "{ran}"
    );
    for step in ran["steps"].as_array().unwrap() {
        assert!(
            step["started_at"].is_string() && step["ended_at"].is_string(),
            "{step}"
        );
    }
    let st = sides.status();
    assert_eq!(
        (st["traffic_percentage"].as_u64(), &st["maintenance_mode"]),
        (Some(0), &json!("off")),
        "{st}"
    );

    // Interrupted in the watch window, then resumed: it goes on from there. (The
    // finished run's log goes first, so that its steps are not taken for this one's.)
    std::fs::remove_file(&log).unwrap();
    let mut runner = Group::spawn(
        "execute-cutover (interrupted)",
        execute(&["--watch-secs", "5"]),
        &stack.dir.join("runbook-execute-2.log"),
    );
    wait_for_step(&log, "watch", &mut runner);
    runner.kill();
    let out = execute(&["--watch-secs", "5"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_printed(&out, "resuming the run");
    assert_printed(&out, "verify: done already");
    assert_eq!(run_log(&log)["outcome"], "done");
    let st = sides.status();
    assert_eq!(
        (st["traffic_percentage"].as_u64(), &st["maintenance_mode"]),
        (Some(100), &json!("off")),
        "{st}"
    );

    // And back: rollback-cutover.
    let out = sides
        .cutover(&["rollback-cutover", "--run-log", log_arg, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(run_log(&log)["outcome"], "done");
    assert_eq!(sides.status()["traffic_percentage"], 0);
    drop(pair);
    drop(stand_in);
}
