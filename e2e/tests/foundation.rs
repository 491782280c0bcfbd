//! The stack itself: the gateway reaches the legacy stand-in at 0% and the app
//! at 100%, and the stand-in's accounts API works through the gateway.

use crate::common::{keys, send_json, served_by, PEOPLE};
use e2e::{client, Stack};
use reqwest::blocking::multipart::{Form, Part};
use serde_json::{json, Value};

crate::tests!(
    foundation:
    legacy_serves_at_zero_percent,
    app_serves_at_hundred_percent,
    legacy_accounts_work_through_gateway,
    app_alone_health_and_expiry_cron,
    an_app_without_its_storage_is_unhealthy_and_says_so,
    a_gateway_without_its_metrics_object_or_kv_still_routes,
);

fn legacy_serves_at_zero_percent(stack: &Stack) {
    stack.set_percentage("0");
    let (status, by, body) = send_json(stack.get_from("/api/accounts/user/", &stack.ip()));
    assert_eq!(by, "legacy");
    assert_eq!(status, 401);
    // DRF's own wording: the stand-in (real Django REST framework) answered.
    assert_eq!(
        body,
        json!({"detail": "Authentication credentials were not provided."})
    );
}

fn app_serves_at_hundred_percent(stack: &Stack) {
    stack.set_percentage("100");
    let resp = stack
        .get_from("/api/no-such-endpoint", &stack.ip())
        .send()
        .unwrap();
    assert_eq!(served_by(&resp), "app-blue");
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().unwrap(), json!({"error": "Not found"}));
    stack.set_percentage("0");
}

fn legacy_accounts_work_through_gateway(stack: &Stack) {
    stack.set_percentage("0");
    let api = |path: &str| format!("{}/api/accounts/{path}", stack.gateway);
    let c = client();
    let ip = stack.ip();
    let user = json!({"username": "gw_alice", "email": "alice@example.org",
                      "password": "s3cret-pass", "password2": "s3cret-pass"});
    let post =
        |path: &str, body: &Value| c.post(api(path)).header("CF-Connecting-IP", &ip).json(body);

    let (status, by, body) = send_json(post("register/", &user));
    assert_eq!((status, by.as_str()), (201, "legacy"), "{body}");
    assert_eq!(body, json!({"detail": "User created successfully"}));

    let (status, _, body) = send_json(post("register/", &user));
    assert_eq!(status, 400);
    assert_eq!(
        body["username"],
        json!(["A user with that username already exists."])
    );

    let login = json!({"username": "gw_alice", "password": "s3cret-pass"});
    let (status, by, tokens) = send_json(post("login/", &login));
    assert_eq!((status, by.as_str()), (200, "legacy"));
    assert_eq!(keys(&tokens), ["access", "refresh"]);

    let (status, _, me) = send_json(
        c.get(api("user/"))
            .header("CF-Connecting-IP", &ip)
            .bearer_auth(tokens["access"].as_str().unwrap()),
    );
    assert_eq!(status, 200);
    assert_eq!(me["username"], "gw_alice");
    assert_eq!(me["email"], "alice@example.org");
    assert!(me["id"].is_i64());

    let wrong = json!({"username": "gw_alice", "password": "nope"});
    let (status, _, body) = send_json(post("login/", &wrong));
    assert_eq!(status, 401);
    assert_eq!(
        body["detail"],
        "No active account found with the given credentials"
    );
}

/// The app served alone: its own `/health` (the gateway keeps the public one),
/// each binding probed and timed; its cron sweeping expired anonymous uploads.
fn app_alone_health_and_expiry_cron(stack: &Stack) {
    let app = stack.start_app_alone(&[]);
    let (status, _, body) = send_json(client().get(format!("{}/health", app.url)));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "healthy", "{body}");
    for check in ["database", "storage", "kv"] {
        assert_eq!(body["checks"][check]["ok"], true, "{check}: {body}");
        assert!(body["checks"][check]["latency_ms"].is_u64(), "{body}");
    }
    assert_eq!(body["version"], "v1");
    assert_eq!(body["environment"], "development");
    assert!(
        body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    // The hourly cron removes anonymous uploads past their 24 h, and only those.
    let upload = |name: &str| -> String {
        let form = Form::new().part(
            "file",
            Part::bytes(PEOPLE.as_bytes().to_vec()).file_name(name.to_string()),
        );
        let (status, _, body) = send_json(
            client()
                .post(format!("{}/api/list_cutter/csv_cutter/", app.url))
                .multipart(form),
        );
        assert_eq!(status, 200, "{body}");
        format!("anon/{}.csv", body["file_path"].as_str().unwrap())
    };
    let (old, fresh) = (upload("old.csv"), upload("fresh.csv"));
    app.r2.set_custom_metadata(
        &old,
        r#"{"expires_at":"2020-01-01T00:00:00Z","original_name":"old.csv"}"#,
    );
    let resp = client()
        .get(format!("{}/__scheduled?cron=17+*+*+*+*", app.url))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(app.r2.state().keys, vec![fresh]);
}

/// The app with its R2 binding missing (a copy of the local config without it):
/// `/health` is a 503 naming the storage, what needs no storage still works, and
/// what needs it is a JSON error, not a crash of the Worker.
fn an_app_without_its_storage_is_unhealthy_and_says_so(stack: &Stack) {
    let app = stack.start_app_without("FILE_STORAGE");
    let health = || send_json(client().get(format!("{}/health", app.url)));
    let (status, _, body) = health();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unhealthy", "{body}");
    assert_eq!(body["failing"], json!(["storage"]), "{body}");
    assert_eq!(body["checks"]["storage"]["ok"], false, "{body}");
    assert_eq!(
        body["checks"]["storage"]["binding"], "FILE_STORAGE",
        "{body}"
    );
    for check in ["database", "kv"] {
        assert_eq!(body["checks"][check]["ok"], true, "{check}: {body}");
    }

    // Accounts live in D1 and KV: they work.
    let name = crate::common::unique("nostore");
    let password = "correct horse 42";
    let (status, _, body) = send_json(
        client()
            .post(format!("{}/api/accounts/register/", app.url))
            .json(&json!({"username": name, "password": password, "password2": password})),
    );
    assert_eq!(status, 201, "{body}");
    let access = body["access"].as_str().expect("access").to_string();
    let (status, _, body) = send_json(
        client()
            .get(format!("{}/api/accounts/user/", app.url))
            .bearer_auth(&access),
    );
    assert_eq!((status, &body["username"]), (200, &json!(name)), "{body}");
    // A cut needs the storage: a JSON error, and the Worker goes on answering.
    let resp = client()
        .post(format!("{}/api/list_cutter/csv_cutter/", app.url))
        .multipart(Form::new().part(
            "file",
            Part::bytes(PEOPLE.as_bytes().to_vec()).file_name("people.csv"),
        ))
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().expect("a JSON answer");
    assert!(status >= 500, "{status} {body}");
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(health().0, 503);
}

/// Routing does not lean on the metrics Durable Object or on KV. A gateway
/// without its `METRICS` binding routes as before (its counts are lost, not its
/// requests); one without `MIGRATION_KV` routes on its defaults (all legacy,
/// beta header honoured), which is what an isolate with no config read yet
/// does when KV fails. Neither answers a 5xx.
fn a_gateway_without_its_metrics_object_or_kv_still_routes(stack: &Stack) {
    for binding in ["METRICS", "MIGRATION_KV"] {
        let gateway = stack.start_gateway_without(binding);
        let user = || client().get(format!("{}/api/accounts/user/", gateway.url));
        for _ in 0..5 {
            let ip = stack.ip();
            let (status, by, body) = send_json(user().header("CF-Connecting-IP", &ip));
            assert_eq!(
                (status, by.as_str()),
                (401, "legacy"),
                "without {binding}: {body}"
            );
            let beta = user()
                .header("CF-Connecting-IP", &ip)
                .header("X-Beta-User", "true");
            let (status, by, body) = send_json(beta);
            assert_eq!(
                (status, by.as_str()),
                (401, "app-blue"),
                "without {binding}: {body}"
            );
        }
    }
}
