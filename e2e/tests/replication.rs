//! Continuous replication while both sides serve: `cutover replicate` running
//! against the stack's own legacy (the stand-in's database and media) and the app
//! behind the gateway, so that at 50% a person made on one side signs in, lists
//! and downloads from a network the other side serves; the gateway showing the
//! replicator's lag and holding the percentage while it is unhealthy.

use crate::admin::ADMIN_TOKEN;
use crate::common::{send_json, served_by, unique};
use e2e::process::Group;
use e2e::{client, Stack};
use reqwest::blocking::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use shared::routing::Backend;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

crate::tests!(
    replication:
    at_half_each_side_knows_the_others_people_within_ten_seconds,
    a_replicator_killed_mid_round_loses_and_repeats_nothing,
    a_lineage_row_waits_in_legacys_log_for_its_file,
    an_unhealthy_replicator_holds_the_percentage_unless_forced,
    deletions_and_tags_travel_both_ways_and_a_double_change_is_reported,
);

const PASSWORD: &str = "replicated pass 5%";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn gateway(
    method: Method,
    stack: &Stack,
    path: &str,
    ip: &str,
) -> reqwest::blocking::RequestBuilder {
    client()
        .request(method, format!("{}{path}", stack.gateway))
        .header("CF-Connecting-IP", ip)
}

/// `upload/` through the gateway from `ip` with the access token `access`.
fn upload(
    stack: &Stack,
    ip: &str,
    access: &Value,
    name: &str,
    bytes: &[u8],
) -> (u16, String, Value) {
    send_json(
        gateway(Method::POST, stack, "/api/list_cutter/upload/", ip)
            .bearer_auth(access.as_str().unwrap())
            .multipart(Form::new().part(
                "file",
                Part::bytes(bytes.to_vec()).file_name(name.to_string()),
            )),
    )
}

fn replication(stack: &Stack) -> Value {
    let (status, _, body) = send_json(
        client()
            .get(format!("{}/admin/replication", stack.gateway))
            .bearer_auth(ADMIN_TOKEN),
    );
    assert_eq!(status, 200, "{body}");
    body
}

fn forget(stack: &Stack) {
    let resp = client()
        .delete(format!("{}/admin/replication", stack.gateway))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Signs in from `ip` until it works (the replicator brings the account), then
/// lists and downloads `file_name` with the token; the time it took.
fn reachable(
    stack: &Stack,
    ip: &str,
    name: &str,
    file_name: &str,
    bytes: &[u8],
    side: &str,
) -> Duration {
    let started = Instant::now();
    loop {
        let (status, by, body) = send_json(
            gateway(Method::POST, stack, "/api/accounts/login/", ip)
                .json(&json!({"username": name, "password": PASSWORD})),
        );
        // Until the account is on `side`, the other side answers the sign-in.
        if status == 200 && by == side {
            let token = body["access"].as_str().unwrap().to_string();
            let (_, _, listing) = send_json(
                gateway(Method::GET, stack, "/api/list_cutter/list_saved_files/", ip)
                    .bearer_auth(&token),
            );
            let listed = listing["files"]
                .as_array()
                .is_some_and(|files| files.iter().any(|f| f["file_name"] == file_name));
            if listed {
                let resp = gateway(
                    Method::GET,
                    stack,
                    &format!("/api/list_cutter/download/{file_name}/"),
                    ip,
                )
                .bearer_auth(&token)
                .send()
                .unwrap();
                assert_eq!(served_by(&resp), side);
                assert_eq!(resp.status(), 200);
                assert_eq!(resp.bytes().unwrap().to_vec(), bytes);
                return started.elapsed();
            }
        } else {
            assert_eq!(status, 200, "an account that exists signs in: {body}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name} never became usable on {side}: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `cutover replicate` against the stack's legacy and the gateway, with `args`.
fn replicate(stack: &Stack, args: &[&str]) -> Command {
    stack.replicate_command("replicate-state.json", args)
}

/// The stack at 50% with `cutover replicate` running every second (logging to
/// `log` in the run's dir, stopping when dropped), and an address on each side:
/// (legacy's, the app's, the replicator).
fn at_half_replicating(stack: &Stack, log: &str) -> (String, String, Group) {
    stack.set_percentage("50");
    let on_legacy = stack.ip_routed_to(Backend::Legacy, 50);
    let on_app = stack.ip_routed_to(Backend::App, 50);
    let replicator = Group::spawn(
        "cutover replicate",
        replicate(stack, &["--interval", "1"]),
        &stack.dir.join(log),
    );
    (on_legacy, on_app, replicator)
}

fn at_half_each_side_knows_the_others_people_within_ten_seconds(stack: &Stack) {
    let (on_legacy, on_app, replicator) = at_half_replicating(stack, "replicate.log");

    // Made on legacy (the address's side), then signed in from an app address.
    let dj = unique("repl_dj");
    let (status, by, body) = send_json(
        gateway(Method::POST, stack, "/api/accounts/register/", &on_legacy).json(
            &json!({"username": dj, "email": format!("{dj}@example.org"), "password": PASSWORD, "password2": PASSWORD}),
        ),
    );
    assert_eq!((status, by.as_str()), (201, "legacy"), "{body}");
    let (_, _, login) = send_json(
        gateway(Method::POST, stack, "/api/accounts/login/", &on_legacy)
            .json(&json!({"username": dj, "password": PASSWORD})),
    );
    let dj_bytes = format!("n,v\n{dj},1\n").into_bytes();
    let dj_file = format!("{dj}.csv");
    let (status, by, body) = upload(stack, &on_legacy, &login["access"], &dj_file, &dj_bytes);
    assert_eq!((status, by.as_str()), (200, "legacy"), "{body}");
    let took = reachable(stack, &on_app, &dj, &dj_file, &dj_bytes, "app-blue");
    assert!(took < Duration::from_secs(10), "legacy → app took {took:?}");

    // Before the replicator brings the account, a sign-in from an app address is
    // answered by the side that knows it: nobody sees a 401 for their account.
    let (status, by, body) = send_json(
        gateway(Method::POST, stack, "/api/accounts/login/", &on_app)
            .json(&json!({"username": dj, "password": PASSWORD})),
    );
    assert_eq!(status, 200, "{body}");
    assert!(by == "legacy" || by == "app-blue", "{by}");
    let (status, by, _) = send_json(
        gateway(Method::POST, stack, "/api/accounts/login/", &on_app)
            .json(&json!({"username": dj, "password": "not the password"})),
    );
    assert_eq!(
        (status, by.as_str()),
        (401, "app-blue"),
        "a wrong password stays a 401"
    );

    // Made on the app, then signed in from a legacy address.
    let app = unique("repl_app");
    let (status, by, body) = send_json(
        gateway(Method::POST, stack, "/api/accounts/register/", &on_app)
            .json(&json!({"username": app, "password": PASSWORD, "password2": PASSWORD})),
    );
    assert_eq!((status, by.as_str()), (201, "app-blue"), "{body}");
    let app_bytes = format!("n,v\n{app},2\n").into_bytes();
    let app_file = format!("{app}.csv");
    let (status, by, body) = upload(stack, &on_app, &body["access"], &app_file, &app_bytes);
    assert_eq!((status, by.as_str()), (200, "app-blue"), "{body}");
    let took = reachable(stack, &on_legacy, &app, &app_file, &app_bytes, "legacy");
    assert!(took < Duration::from_secs(10), "app → legacy took {took:?}");

    // The gateway shows the replicator, healthy, with its lag per direction.
    let state = replication(stack);
    assert_eq!(state["state"], "healthy", "{state}");
    for direction in ["legacy_to_app", "app_to_legacy"] {
        let lag = state["lag_seconds"][direction].as_f64().unwrap();
        assert!(lag < 10.0, "{direction}: {state}");
    }
    let (_, _, metrics) = send_json(
        client()
            .get(format!("{}/metrics", stack.gateway))
            .bearer_auth(ADMIN_TOKEN),
    );
    assert_eq!(metrics["replication"]["state"], "healthy", "{metrics}");
    // And the dashboard, in a browser.
    let seen = crate::common::run_browser(
        stack,
        "dashboard.mjs",
        &[&stack.gateway, &format!("token:{ADMIN_TOKEN}"), "50"],
    );
    let shown = seen["replication"].as_str().unwrap();
    assert!(shown.starts_with("healthy: lag legacy → app "), "{shown}");
    assert!(shown.contains("app → legacy "), "{shown}");
    drop(replicator);
    forget(stack);
    assert_eq!(replication(stack)["state"], "absent");
    stack.set_percentage("0");
}

fn an_unhealthy_replicator_holds_the_percentage_unless_forced(stack: &Stack) {
    let migration = |query: &str| {
        send_json(
            client()
                .post(format!("{}/admin/migration?{query}", stack.gateway))
                .bearer_auth(ADMIN_TOKEN),
        )
    };
    let (status, _, _) = migration("action=update_percentage&percentage=10");
    assert_eq!(status, 200, "no replicator yet: the split may start");
    // A replicator whose last good round began two minutes ago.
    let stale = now_ms() - 120_000;
    let round = json!({"at_ms": stale + 500, "round_ms": 500,
        "legacy_to_app": {"last_success_started_ms": stale},
        "app_to_legacy": {"last_success_started_ms": stale, "last_error": "PostgreSQL refused the connection"}});
    let (status, _, body) = send_json(
        client()
            .post(format!("{}/admin/replication", stack.gateway))
            .bearer_auth(ADMIN_TOKEN)
            .json(&round),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "unhealthy", "{body}");
    let (status, _, body) = send_json(
        client()
            .post(format!("{}/admin/replication", stack.gateway))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"at_ms": 1})),
    );
    assert_eq!(status, 400, "{body}");

    let (status, _, body) = migration("action=update_percentage&percentage=25");
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("replication is unhealthy"),
        "{body}"
    );
    let (_, _, st) = migration("action=get_status");
    assert_eq!(st["traffic_percentage"], 10, "nothing changed");
    assert_eq!(st["replication"]["state"], "unhealthy");
    // Lowering is a rollback: never held.
    let (status, _, _) = migration("action=update_percentage&percentage=5");
    assert_eq!(status, 200);
    // Forced: done, and the audit trail says so.
    let (status, _, body) =
        migration("action=update_percentage&percentage=25&force=true&reason=drill");
    assert_eq!(status, 200, "{body}");
    let (_, _, audit) = send_json(
        client()
            .get(format!("{}/admin/audit", stack.gateway))
            .bearer_auth(ADMIN_TOKEN),
    );
    let reason = audit["entries"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("drill (forced past unhealthy replication"),
        "{reason}"
    );
    forget(stack);
    let (status, _, _) = migration("action=update_percentage&percentage=0");
    assert_eq!(status, 200);
}

/// Files made on legacy, a replicator killed (SIGKILL) in the middle of the
/// round that copies them, then a clean round: every file once on the app, none
/// twice, none lost; a further round changes nothing.
fn a_replicator_killed_mid_round_loses_and_repeats_nothing(stack: &Stack) {
    let name = unique("repl_kill");
    let user = crate::session::User::register(stack, false, &name);
    let ids: Vec<String> = (0..24)
        .map(|i| {
            let mut bytes = format!("n,v\n{i},x\n").into_bytes();
            bytes.extend(std::iter::repeat_n(b'y', 300_000));
            bytes.push(b'\n');
            let (status, body) = crate::session::upload(&user, &format!("{name}-{i}.csv"), &bytes);
            assert_eq!(status, 200, "{body}");
            body["file_id"].as_str().unwrap().to_string()
        })
        .collect();
    let on_app = |stack: &Stack| {
        let list = ids
            .iter()
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(",");
        stack.d1_execute(&format!("SELECT COUNT(*) AS n, COUNT(DISTINCT file_id) AS d FROM files WHERE file_id IN ({list})"))[0].clone()
    };
    let mut killed = Group::spawn(
        "cutover replicate (killed)",
        replicate(stack, &["--once", "--jobs", "1"]),
        &stack.dir.join("replicate-killed.log"),
    );
    // Wait for the round to be under way (some of the files arrived), then kill it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while on_app(stack)["n"].as_u64().unwrap() == 0 {
        assert!(Instant::now() < deadline, "the round never started copying");
        std::thread::sleep(Duration::from_millis(100));
    }
    killed.kill();
    let partial = on_app(stack)["n"].as_u64().unwrap();
    let out = replicate(stack, &["--once", "--json"]).output().unwrap();
    assert!(
        out.status.success() || out.status.code() == Some(2),
        "{out:?}"
    );
    let after = on_app(stack);
    assert_eq!(
        (after["n"].as_u64(), after["d"].as_u64()),
        (Some(24), Some(24)),
        "partial was {partial}"
    );
    let again = replicate(stack, &["--once", "--json"]).output().unwrap();
    let round: Value = serde_json::from_str(
        String::from_utf8_lossy(&again.stdout)
            .lines()
            .last()
            .unwrap_or("{}"),
    )
    .unwrap();
    assert_eq!(round["legacy_to_app"]["changes"], json!(0), "{round}");
    assert_eq!(on_app(stack), after);
    forget(stack);
}

/// A fresh access token of `name` from the side `ip` is on (the token then keeps
/// its requests on that side for the replication bound).
fn token_on(stack: &Stack, ip: &str, name: &str, side: &str) -> String {
    let (status, by, body) = send_json(
        gateway(Method::POST, stack, "/api/accounts/login/", ip)
            .json(&json!({"username": name, "password": PASSWORD})),
    );
    assert_eq!((status, by.as_str()), (200, side), "{body}");
    body["access"].as_str().unwrap().to_string()
}

/// The user tags of each of `name`'s files on the side `token` belongs to.
fn files_on(stack: &Stack, ip: &str, token: &str) -> std::collections::BTreeMap<String, Value> {
    let (status, _, listing) = send_json(
        gateway(Method::GET, stack, "/api/list_cutter/list_saved_files/", ip).bearer_auth(token),
    );
    assert_eq!(status, 200, "{listing}");
    listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file_id"].as_str().unwrap().to_string(),
                f["user_tags"].clone(),
            )
        })
        .collect()
}

/// Polls `check` for up to 10 s.
fn within_ten_seconds(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: not within 10 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// With the replicator running at 50%: a file deleted on either side is gone
/// from the other within 10 s and stays gone (no later round brings it back),
/// tags added on the app reach legacy, and a file tagged on both sides between
/// two rounds is reported as a conflict and merged on both.
fn deletions_and_tags_travel_both_ways_and_a_double_change_is_reported(stack: &Stack) {
    let (on_legacy, on_app, replicator) = at_half_replicating(stack, "replicate-deletions.log");
    let name = unique("repl_del");
    let (status, _, body) = send_json(
        gateway(Method::POST, stack, "/api/accounts/register/", &on_legacy)
            .json(&json!({"username": name, "password": PASSWORD, "password2": PASSWORD})),
    );
    assert_eq!(status, 201, "{body}");
    let legacy_token = token_on(stack, &on_legacy, &name, "legacy");
    let ids: Vec<String> = (0..3)
        .map(|i| {
            let bytes = format!("n\n{name}-{i}\n").into_bytes();
            let (status, by, body) = upload(
                stack,
                &on_legacy,
                &json!(legacy_token),
                &format!("{name}-{i}.csv"),
                &bytes,
            );
            assert_eq!((status, by.as_str()), (200, "legacy"), "{body}");
            body["file_id"].as_str().unwrap().to_string()
        })
        .collect();
    let mut app_token = String::new();
    within_ten_seconds("the files on the app", || {
        let (status, by, body) = send_json(
            gateway(Method::POST, stack, "/api/accounts/login/", &on_app)
                .json(&json!({"username": name, "password": PASSWORD})),
        );
        if status != 200 || by != "app-blue" {
            return false;
        }
        app_token = body["access"].as_str().unwrap().to_string();
        ids.iter()
            .all(|id| files_on(stack, &on_app, &app_token).contains_key(id))
    });

    // Deleted on the app, tagged on the app: legacy follows. (Fresh tokens: each
    // keeps its side for the replication bound only.)
    let legacy_token = token_on(stack, &on_legacy, &name, "legacy");
    assert_eq!(
        delete(stack, &on_app, &app_token, &ids[0]),
        (204, "app-blue".into())
    );
    let (status, _, body) = update_tags(stack, &on_app, &app_token, &ids[1], &["from-app"]);
    assert_eq!(status, 200, "{body}");
    within_ten_seconds("the app's deletion and tag on legacy", || {
        let on = files_on(stack, &on_legacy, &legacy_token);
        !on.contains_key(&ids[0]) && on[&ids[1]] == json!(["from-app"])
    });
    // Deleted on legacy: the app follows.
    assert_eq!(
        delete(stack, &on_legacy, &legacy_token, &ids[1]),
        (204, "legacy".into())
    );
    within_ten_seconds("legacy's deletion on the app", || {
        !files_on(stack, &on_app, &app_token).contains_key(&ids[1])
    });
    // Later rounds bring nothing back.
    std::thread::sleep(Duration::from_secs(3));
    let legacy_token = token_on(stack, &on_legacy, &name, "legacy");
    let app_token = token_on(stack, &on_app, &name, "app-blue");
    for (ip, token) in [(&on_app, &app_token), (&on_legacy, &legacy_token)] {
        let on = files_on(stack, ip, token);
        assert!(
            !on.contains_key(&ids[0]) && !on.contains_key(&ids[1]),
            "{on:?}"
        );
        assert!(on.contains_key(&ids[2]), "{on:?}");
    }
    drop(replicator);

    // Tagged on both sides between two rounds: one conflict, tags merged on both.
    let (status, _, body) = update_tags(stack, &on_app, &app_token, &ids[2], &["app-side"]);
    assert_eq!(status, 200, "{body}");
    stack.psql(&format!(
        "UPDATE list_cutter_savedfile SET user_tags = ARRAY['legacy-side'] WHERE file_id = '{}'",
        ids[2]
    ));
    let (report, stderr) = round(stack);
    assert_eq!(report["legacy_to_app"]["conflicts"], json!(1), "{report}");
    assert_eq!(report["app_to_legacy"]["conflicts"], json!(1), "{report}");
    assert!(
        stderr.contains(&format!(
            "file {}: changed on both sides since the last round",
            ids[2]
        )),
        "{stderr}"
    );
    let on_app = stack.d1_execute(&format!(
        "SELECT user_tags FROM files WHERE file_id = '{}'",
        ids[2]
    ));
    let app_tags: Vec<String> =
        serde_json::from_str(on_app[0]["user_tags"].as_str().unwrap()).unwrap();
    let legacy_tags = stack.psql(&format!(
        "SELECT array_to_string(user_tags, ',') FROM list_cutter_savedfile WHERE file_id = '{}'",
        ids[2]
    ));
    let mut sorted = app_tags.clone();
    sorted.sort();
    assert_eq!(sorted, ["app-side", "legacy-side"], "on the app");
    let mut legacy: Vec<&str> = legacy_tags.trim().split(',').collect();
    legacy.sort();
    assert_eq!(legacy, ["app-side", "legacy-side"], "on legacy");

    // A deletion wins over a change even when it lands after a round read the
    // logs. Deleted on the app, tagged on legacy: an import of the file (what
    // that round would send) is refused as a conflict and brings nothing back.
    // (A fresh token holds its side for the replication bound.)
    let app_ip = stack.ip_routed_to(Backend::App, 50);
    let app_token = token_on(stack, &app_ip, &name, "app-blue");
    let gone = &ids[2];
    assert_eq!(
        delete(stack, &app_ip, &app_token, gone),
        (204, "app-blue".into())
    );
    stack.psql(&format!(
        "UPDATE list_cutter_savedfile SET user_tags = ARRAY['late'] WHERE file_id = '{gone}'"
    ));
    let owner: i64 = stack
        .psql(&format!(
            "SELECT user_id FROM list_cutter_savedfile WHERE file_id = '{gone}'"
        ))
        .trim()
        .parse()
        .unwrap();
    let record = json!({"file_id": gone, "user_id": owner, "file_name": "x.csv",
        "uploaded_at": "2025-01-01T00:00:00Z", "size": 2, "sha256": "0".repeat(64)});
    let (status, _, body) = send_json(
        client()
            .post(format!("{}/api/admin/import/files", stack.gateway))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({ "files": [record] })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["status"], "conflict", "{body}");
    assert!(
        body["results"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("the deletion wins"),
        "{body}"
    );
    // Deleted on legacy, tagged on the app, for a file the app made: writing the
    // app's files back (what the same round's other half does) leaves it deleted.
    let app_token = token_on(stack, &app_ip, &name, "app-blue");
    let (status, by, body) = upload(
        stack,
        &app_ip,
        &json!(app_token),
        &format!("{name}-app.csv"),
        b"n\n1\n",
    );
    assert_eq!((status, by.as_str()), (200, "app-blue"), "{body}");
    let made = body["file_id"].as_str().unwrap().to_string();
    round(stack);
    let on_legacy_count = |id: &str| {
        stack.psql(&format!(
            "SELECT count(*) FROM list_cutter_savedfile WHERE file_id = '{id}'"
        ))
    };
    assert_eq!(on_legacy_count(&made).trim(), "1", "copied to legacy");
    stack.psql(&format!(
        "DELETE FROM list_cutter_savedfile WHERE file_id = '{made}'"
    ));
    let app_token = token_on(stack, &app_ip, &name, "app-blue");
    let (status, by, body) = update_tags(stack, &app_ip, &app_token, &made, &["late"]);
    assert_eq!((status, by.as_str()), (200, "app-blue"), "{body}");
    let database = format!("postgresql://postgres@127.0.0.1:{}/legacy", stack.pg_port);
    let state = stack.dir.join("reverse-deletion-wins.json");
    let out = stack
        .cutover_command(&stack.gateway, &database, &stack.dir.join("media"))
        .args(["reverse-sync", "--json", "--state", state.to_str().unwrap()])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("file {made}")) && report.contains("the deletion wins"),
        "{report}"
    );
    assert_eq!(on_legacy_count(&made).trim(), "0", "brought back: {report}");
    // The next round carries both deletions over; neither file is anywhere.
    round(stack);
    assert_eq!(on_legacy_count(gone).trim(), "0");
    let on_app = stack.d1_execute(&format!(
        "SELECT count(*) AS n FROM files WHERE file_id IN ('{gone}', '{made}')"
    ));
    assert_eq!(on_app[0]["n"], json!(0), "{on_app:?}");
    forget(stack);
    stack.set_percentage("0");
}

/// Sets a saved file's tags through the gateway from `ip`: the status, who
/// answered, and the body.
fn update_tags(
    stack: &Stack,
    ip: &str,
    token: &str,
    file_id: &str,
    tags: &[&str],
) -> (u16, String, Value) {
    send_json(
        gateway(
            Method::PATCH,
            stack,
            &format!("/api/list_cutter/update_tags/{file_id}/"),
            ip,
        )
        .bearer_auth(token)
        .json(&json!({ "user_tags": tags })),
    )
}

/// Deletes a saved file through the gateway from `ip`: the status, and who answered.
fn delete(stack: &Stack, ip: &str, token: &str, file_id: &str) -> (u16, String) {
    let resp = gateway(
        Method::DELETE,
        stack,
        &format!("/api/list_cutter/delete/{file_id}/"),
        ip,
    )
    .bearer_auth(token)
    .send()
    .unwrap();
    (resp.status().as_u16(), served_by(&resp))
}

/// One `replicate --once` round: its report, and what it printed on stderr.
fn round(stack: &Stack) -> (Value, String) {
    let out = replicate(stack, &["--once", "--json"]).output().unwrap();
    assert!(
        out.status.success() || out.status.code() == Some(2),
        "{out:?}"
    );
    let report = serde_json::from_str(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("{}"),
    )
    .unwrap();
    (report, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A cut of `original` saved on legacy as `name`: its id and the path of its bytes.
fn save_cut(
    user: &crate::session::User,
    name: &str,
    original: &str,
) -> (String, std::path::PathBuf) {
    let form = reqwest::blocking::multipart::Form::new()
        .part("file", Part::bytes(b"a\n2\n".to_vec()).file_name("cut.csv"))
        .text("file_name", name.to_string())
        .text(
            "metadata",
            r#"{"generated_file_details":{"columns":["a"]}}"#,
        )
        .text("original_file_id", original.to_string());
    let (status, body, _) = crate::session::send(
        user,
        user.req(Method::POST, "save_generated_file/")
            .multipart(form),
    );
    assert_eq!(status, 201, "{body}");
    (
        body["file_id"].as_str().unwrap().to_string(),
        std::path::PathBuf::from(body["file_path"].as_str().unwrap()),
    )
}

/// A cut whose file a round could not copy yet (its bytes were away): the round
/// does not give up its two lineage rows but keeps them in legacy's log, and the
/// round that copies the file brings them; nothing waits after that. Rows of a
/// file deleted meanwhile stop waiting.
fn a_lineage_row_waits_in_legacys_log_for_its_file(stack: &Stack) {
    let name = unique("repl_edge");
    let user = crate::session::User::register(stack, false, &name);
    let (status, body) = crate::session::upload(&user, &format!("{name}.csv"), b"a\n1\n2\n");
    assert_eq!(status, 200, "{body}");
    let original = body["file_id"].as_str().unwrap().to_string();
    round(stack);
    let (cut, path) = save_cut(&user, &format!("{name}-cut.csv"), &original);
    let away = path.with_extension("away");
    std::fs::rename(&path, &away).unwrap();
    let waiting = |stack: &Stack| {
        stack
            .psql("SELECT count(*) FROM cutover_changes WHERE kind = 'edge'")
            .trim()
            .to_string()
    };
    let lineage_on_app = |stack: &Stack| {
        stack.d1_execute(&format!(
            "SELECT count(*) AS n FROM file_relationships WHERE child_id = '{cut}' AND parent_id = '{original}'"
        ))[0]["n"]
            .clone()
    };

    let (report, stderr) = round(stack);
    assert!(stderr.contains(&format!("file {cut}")), "{stderr}");
    assert!(
        stderr.contains("2 relationship(s) wait for a file to reach the app"),
        "{stderr}"
    );
    assert!(!stderr.contains("given up"), "{stderr}");
    assert_eq!(report["legacy_to_app"]["backlog"], json!(2), "{report}");
    assert_eq!(waiting(stack), "2");
    assert_eq!(lineage_on_app(stack), json!(0));

    // The bytes are back and the file changes again: the next round copies the
    // file, then the two rows that waited for it.
    std::fs::rename(&away, &path).unwrap();
    stack.psql(&format!(
        "UPDATE list_cutter_savedfile SET user_tags = ARRAY['back'] WHERE file_id = '{cut}'"
    ));
    let (report, stderr) = round(stack);
    assert_eq!(lineage_on_app(stack), json!(2), "{report} {stderr}");
    assert_eq!(waiting(stack), "0");
    assert_eq!(report["legacy_to_app"]["backlog"], json!(0), "{report}");
    assert_eq!(
        report["legacy_to_app"]["errors"],
        json!(0),
        "{report} {stderr}"
    );

    // A cut whose file is deleted on legacy while its rows wait: legacy keeps
    // the lineage rows of a deleted file, the app never can; they stop waiting.
    let (gone, gone_path) = save_cut(&user, &format!("{name}-gone.csv"), &original);
    std::fs::remove_file(gone_path).unwrap();
    round(stack);
    assert_eq!(waiting(stack), "2");
    stack.psql(&format!(
        "DELETE FROM list_cutter_savedfile WHERE file_id = '{gone}'"
    ));
    let (report, stderr) = round(stack);
    assert_eq!(waiting(stack), "0", "{report} {stderr}");
    assert_eq!(report["legacy_to_app"]["backlog"], json!(0), "{report}");
    forget(stack);
}
