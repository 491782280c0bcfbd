//! `cutover validate` against the suite's gateway: served by legacy at 0% and by
//! the app through the beta header, it passes and leaves neither the test user
//! nor a file on either side; against a dead URL, or under a write freeze, it
//! fails on the step that broke, still cleans up, and says so in its report.

use crate::admin::ADMIN_TOKEN;
use crate::common::{app_admin_token, assert_printed, send_json, unique};
use e2e::process::Group;
use e2e::{free_port, Stack};
use reqwest::blocking::multipart::{Form, Part};
use serde_json::{json, Value};
use std::process::Output;

crate::tests!(
    validate:
    passes_on_both_sides_leaves_nothing_and_fails_on_the_broken_step,
    with_a_replicator_the_account_is_removed_from_both_sides,
    the_admin_api_removes_only_an_empty_account_of_that_name,
);

fn validate(stack: &Stack, url: &str, extra: &[&str]) -> (Output, Value) {
    let database = format!("postgresql://postgres@127.0.0.1:{}/legacy", stack.pg_port);
    let log = stack.dir.join("validate-run.json");
    let mut cmd = stack.cutover_command(&stack.gateway, &database, &stack.dir.join("media"));
    cmd.args(["validate", "--url", url, "--json", "--run-log"])
        .arg(&log)
        .args(extra);
    let out = cmd.output().expect("cutover validate");
    let report = crate::common::last_json_line(&out);
    (out, report)
}

fn text(out: &Output) -> String {
    crate::common::output_text(out)
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no step {name}: {report}"))
}

fn names(report: &Value) -> Vec<&str> {
    report["steps"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default()
}

/// The test user's id, from the login step ("signed in as user N ...").
fn user_id(report: &Value) -> i64 {
    let detail = step(report, "login")["detail"].as_str().unwrap_or_default();
    detail
        .split_whitespace()
        .nth(4)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no user id in {detail:?}"))
}

/// The ids of the files the cleanup deleted ("file <id> deleted; ...").
fn deleted_files(report: &Value) -> Vec<String> {
    let detail = step(report, "cleanup")["detail"]
        .as_str()
        .unwrap_or_default();
    detail
        .split("; ")
        .filter_map(|part| part.strip_prefix("file ")?.strip_suffix(" deleted"))
        .map(str::to_string)
        .collect()
}

/// Nothing of any validate user on either side: rows, lineage rows, objects,
/// media files.
fn nothing_left(stack: &Stack, report: &Value) {
    let id = user_id(report);
    let files = deleted_files(report);
    assert_eq!(files.len(), 2, "{report}");
    let count = |sql: &str| stack.psql(sql).trim().to_string();
    let listed = files
        .iter()
        .map(|f| format!("'{f}'"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM list_cutter_filerelationship \
             WHERE source_file_id IN ({listed}) OR target_file_id IN ({listed})"
        )),
        "0"
    );
    assert_eq!(
        count("SELECT count(*) FROM auth_user WHERE username LIKE 'validate%'"),
        "0"
    );
    assert_eq!(
        count("SELECT count(*) FROM list_cutter_savedfile WHERE file_name LIKE 'validate%'"),
        "0"
    );
    for sql in [
        "SELECT count(*) AS n FROM users WHERE username LIKE 'validate%'",
        "SELECT count(*) AS n FROM files WHERE file_name LIKE 'validate%'",
    ] {
        assert_eq!(stack.d1_execute(sql)[0]["n"], 0, "{sql}");
    }
    let prefix = format!("uploads/user-{id}/");
    let keys = stack.r2().state().keys;
    assert!(!keys.iter().any(|k| k.starts_with(&prefix)), "{keys:?}");
    let media = std::fs::read_dir(stack.dir.join("media/uploads"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("validate"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    assert!(media.is_empty(), "{media:?}");
}

const JOURNEY: [&str; 8] = [
    "health", "register", "login", "upload", "cut", "save", "download", "cleanup",
];

fn passes_on_both_sides_leaves_nothing_and_fails_on_the_broken_step(stack: &Stack) {
    stack.set_percentage("0");

    // A dry run checks the health and says what it would do.
    let (out, report) = validate(stack, &stack.gateway, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(names(&report), ["health"], "{report}");
    assert_printed(&out, "register: would register a throwaway user");

    for (args, served, removed) in [
        // 0%: legacy serves the journey; the account is removed from its database.
        (
            &[][..],
            "served by legacy",
            "app not there (admin API), legacy removed (database)",
        ),
        // Through the beta header the app serves it; its admin API removes the account.
        (
            &["--beta", "true"][..],
            "served by app-",
            "app removed (admin API), legacy not there (database)",
        ),
    ] {
        let (out, report) = validate(stack, &stack.gateway, args);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(
            (names(&report), &report["outcome"]),
            (JOURNEY.to_vec(), &Value::from("done")),
            "{report}"
        );
        for name in ["register", "upload", "cut", "download"] {
            let detail = step(&report, name)["detail"].as_str().unwrap();
            assert!(detail.contains(served), "{name}: {detail}");
        }
        let cleanup = step(&report, "cleanup")["detail"].as_str().unwrap();
        assert!(cleanup.contains(removed), "{cleanup}");
        nothing_left(stack, &report);
    }

    // Nothing answers: the health step fails, nothing was made, exit 1.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (out, report) = validate(stack, &dead, &["--wait-secs", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        (names(&report), &report["outcome"]),
        (vec!["health", "cleanup"], &Value::from("failed")),
        "{report}"
    );
    assert_eq!(step(&report, "health")["ok"], false, "{report}");
    assert_printed(&out, "validate: gateway health:");

    // Under a write freeze the gateway refuses the registration: the run fails
    // there, the cleanup still runs and finds nothing to remove.
    let freeze = Maintenance::on(stack, "write_freeze");
    let (out, report) = validate(stack, &stack.gateway, &[]);
    drop(freeze);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        names(&report),
        ["health", "register", "cleanup"],
        "{report}"
    );
    let register = &step(&report, "register")["detail"];
    assert!(
        register.as_str().unwrap().contains("HTTP 503"),
        "{register}"
    );
    assert_eq!(step(&report, "cleanup")["ok"], true, "{report}");
    assert_eq!(
        stack
            .psql("SELECT count(*) FROM auth_user WHERE username LIKE 'validate%'")
            .trim(),
        "0"
    );
}

/// A maintenance mode of the gateway, lifted when dropped (a failing test must
/// not leave the rest of the suite frozen).
struct Maintenance<'a>(&'a Stack);

impl<'a> Maintenance<'a> {
    fn on(stack: &'a Stack, mode: &str) -> Maintenance<'a> {
        let action = format!("enable_maintenance&mode={mode}");
        assert_eq!(Maintenance::admin(stack, &action), Some(200), "{action}");
        Maintenance(stack)
    }

    /// The status of the admin call, after the gateway's config cache has turned.
    fn admin(stack: &Stack, action: &str) -> Option<u16> {
        let status = e2e::client()
            .get(format!("{}/admin/migration?action={action}", stack.gateway))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .ok()
            .map(|r| r.status().as_u16());
        std::thread::sleep(std::time::Duration::from_millis(e2e::CONFIG_CACHE_MS + 200));
        status
    }
}

impl Drop for Maintenance<'_> {
    fn drop(&mut self) {
        Maintenance::admin(self.0, "disable_maintenance");
    }
}

/// `DELETE /api/admin/users/<id>?username=<name>` on the app, with the operator token.
fn remove(stack: &Stack, id: &Value, username: &str) -> (u16, Value) {
    let (status, _, body) = send_json(
        e2e::client()
            .delete(format!(
                "{}/api/admin/users/{id}?username={username}",
                stack.gateway
            ))
            .bearer_auth(ADMIN_TOKEN),
    );
    (status, body)
}

fn the_admin_api_removes_only_an_empty_account_of_that_name(stack: &Stack) {
    let name = unique("rmuser");
    let password = "remove me 12345";
    let ip = stack.ip();
    let app = |req: reqwest::blocking::RequestBuilder| {
        req.header("X-Beta-User", "true")
            .header("CF-Connecting-IP", &ip)
    };
    let url = |path: &str| format!("{}{path}", stack.gateway);
    let (status, _, registered) = send_json(
        app(e2e::client().post(url("/api/accounts/register/")))
            .json(&json!({"username": name, "password": password, "password2": password})),
    );
    assert_eq!(status, 201, "{registered}");
    let (id, access) = (
        &registered["user"]["id"],
        registered["access"].as_str().unwrap(),
    );
    let part = Part::bytes(b"a\n1\n".to_vec()).file_name("keep.csv");
    let (status, _, uploaded) = send_json(
        app(e2e::client().post(url("/api/list_cutter/upload/")))
            .bearer_auth(access)
            .multipart(Form::new().part("file", part)),
    );
    assert_eq!(status, 200, "{uploaded}");

    // Not without the operator (or an admin's) token.
    let (status, _, _) = send_json(
        e2e::client()
            .delete(url(&format!("/api/admin/users/{id}?username={name}")))
            .bearer_auth(access),
    );
    assert_eq!(status, 403);
    // A user with a file keeps the account; a wrong name finds nothing.
    let (status, body) = remove(stack, id, &name);
    assert_eq!(
        (status, &body["error"]),
        (
            409,
            &json!(format!("User {id} still has 1 files; delete them first"))
        )
    );
    let (status, body) = remove(stack, id, "someone-else");
    assert_eq!(status, 404, "{body}");
    // An admin is never removed.
    let admin = unique("rmadmin");
    app_admin_token(stack, &admin);
    let admin_id =
        &stack.d1_execute(&format!("SELECT id FROM users WHERE username = '{admin}'"))[0]["id"];
    let (status, body) = remove(stack, admin_id, &admin);
    assert_eq!(status, 409, "{body}");

    let file = uploaded["file_id"].as_str().unwrap();
    let resp = app(e2e::client().delete(url(&format!("/api/list_cutter/delete/{file}/"))))
        .bearer_auth(access)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (status, body) = remove(stack, id, &name);
    assert_eq!(
        (status, body),
        (200, json!({"id": id, "status": "deleted"}))
    );
    let (status, _) = remove(stack, id, &name);
    assert_eq!(status, 404);
    // Removed, not logged for replication.
    let logged = stack.d1_execute(&format!(
        "SELECT count(*) AS n FROM changes WHERE kind = 'user' AND key = '{id}' AND op = 'delete'"
    ));
    assert_eq!(logged[0]["n"], 0);
}

/// On a gateway, app and stand-in of their own with `cutover replicate` beside
/// them (as under `scripts/dev` or deployed), the cleanup waits for the file
/// deletions to be replicated, removes the account wherever a round has copied
/// it, and a later round brings nothing back.
fn with_a_replicator_the_account_is_removed_from_both_sides(stack: &Stack) {
    let stand_in = stack.start_stand_in("validate", 3_000, &[]);
    let pair = stack.start_pair(&stand_in);
    let cutover = || stack.cutover_command(&pair.gateway, &stand_in.database_url, &stand_in.media);
    let mut replicate = cutover();
    replicate
        .args(["replicate", "--interval", "1", "--state"])
        .arg(stack.dir.join("validate-state.json"));
    let _replicator = Group::spawn(
        "cutover replicate (validate)",
        replicate,
        &stack.dir.join("validate-replicate.log"),
    );
    let mut run = cutover();
    run.args([
        "validate",
        "--url",
        &pair.gateway,
        "--json",
        "--wait-secs",
        "90",
    ])
    .arg("--run-log")
    .arg(stack.dir.join("validate-pair-run.json"));
    let out = run.output().unwrap();
    let report: Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    assert!(out.status.success(), "{}", text(&out));
    let cleanup = step(&report, "cleanup")["detail"].as_str().unwrap();
    // The account was born on legacy (0%). Whether a round copied it to the app
    // before the cleanup depends on the replicator's lag; either way it must be
    // gone from both sides, which the counts below check.
    assert!(
        cleanup.contains("app removed (admin API), legacy removed (database)")
            || cleanup.contains("app not there (admin API), legacy removed (database)"),
        "{cleanup}"
    );
    // Another round later, still nothing on either side.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        stack
            .psql_in(
                &stand_in.db,
                "SELECT count(*) FROM auth_user WHERE username LIKE 'validate%'"
            )
            .trim(),
        "0"
    );
    let left = stack.d1_execute_at(
        &pair.persist,
        "SELECT count(*) AS n FROM users WHERE username LIKE 'validate%'",
    );
    assert_eq!(left[0]["n"], 0);
    drop(pair);
    drop(stand_in);
}
