//! The stack itself: the gateway reaches the legacy stand-in at 0% and the app
//! at 100%, and the stand-in's accounts API works through the gateway.

use crate::common::{keys, send_json, served_by};
use crate::TestFn;
use e2e::{client, Stack};
use serde_json::json;

pub const TESTS: &[(&str, TestFn)] = &[
    (
        "foundation::legacy_serves_at_zero_percent",
        legacy_serves_at_zero_percent,
    ),
    (
        "foundation::app_serves_at_hundred_percent",
        app_serves_at_hundred_percent,
    ),
    (
        "foundation::legacy_accounts_work_through_gateway",
        legacy_accounts_work_through_gateway,
    ),
    (
        "foundation::app_health_probes_its_bindings",
        app_health_probes_its_bindings,
    ),
];

const IP: &str = "198.51.100.10";

fn legacy_serves_at_zero_percent(stack: &Stack) {
    stack.set_percentage("0");
    let (status, by, body) = send_json(
        client()
            .get(format!("{}/api/accounts/user/", stack.gateway))
            .header("CF-Connecting-IP", IP),
    );
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
    let resp = client()
        .get(format!("{}/api/no-such-endpoint", stack.gateway))
        .header("CF-Connecting-IP", IP)
        .send()
        .unwrap();
    assert_eq!(served_by(&resp), "app-blue");
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<serde_json::Value>().unwrap(),
        json!({"error": "Not found"})
    );
    stack.set_percentage("0");
}

fn legacy_accounts_work_through_gateway(stack: &Stack) {
    stack.set_percentage("0");
    let api = |path: &str| format!("{}/api/accounts/{path}", stack.gateway);
    let c = client();
    let user = json!({"username": "gw_alice", "email": "alice@example.org",
                      "password": "s3cret-pass", "password2": "s3cret-pass"});

    let (status, by, body) = send_json(
        c.post(api("register/"))
            .header("CF-Connecting-IP", IP)
            .json(&user),
    );
    assert_eq!((status, by.as_str()), (201, "legacy"), "{body}");
    assert_eq!(body, json!({"detail": "User created successfully"}));

    let (status, _, body) = send_json(
        c.post(api("register/"))
            .header("CF-Connecting-IP", IP)
            .json(&user),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["username"],
        json!(["A user with that username already exists."])
    );

    let login = json!({"username": "gw_alice", "password": "s3cret-pass"});
    let (status, by, tokens) = send_json(
        c.post(api("login/"))
            .header("CF-Connecting-IP", IP)
            .json(&login),
    );
    assert_eq!((status, by.as_str()), (200, "legacy"));
    assert_eq!(keys(&tokens), ["access", "refresh"]);

    let (status, _, me) = send_json(
        c.get(api("user/"))
            .header("CF-Connecting-IP", IP)
            .bearer_auth(tokens["access"].as_str().unwrap()),
    );
    assert_eq!(status, 200);
    assert_eq!(me["username"], "gw_alice");
    assert_eq!(me["email"], "alice@example.org");
    assert!(me["id"].is_i64());

    let wrong = json!({"username": "gw_alice", "password": "nope"});
    let (status, _, body) = send_json(
        c.post(api("login/"))
            .header("CF-Connecting-IP", IP)
            .json(&wrong),
    );
    assert_eq!(status, 401);
    assert_eq!(
        body["detail"],
        "No active account found with the given credentials"
    );
}

/// The app's own `/health` (the gateway keeps the public one): each binding
/// probed and timed, the version and environment named.
fn app_health_probes_its_bindings(stack: &Stack) {
    let (app, _guard) = stack.start_app_alone();
    let (status, _, body) = send_json(client().get(format!("{app}/health")));
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
}
