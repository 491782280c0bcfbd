//! The admin API end to end: authorization, the migration control endpoint
//! and its audit trail, maintenance modes, blue/green switching, metrics, and
//! the alert cron's webhook and automatic rollback.

use crate::common::{header, send_json, served_by};
use e2e::{client, Stack, CONFIG_CACHE_MS, JWT_SECRET};
use reqwest::blocking::RequestBuilder;
use serde_json::{json, Value};
use shared::jwt::{issue, JwtConfig, TokenType, TokenUser};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

crate::tests!(
    admin:
    requests_without_admin_rights_are_refused_and_change_nothing,
    percentage_updates_route_traffic_and_are_audited,
    concurrent_changes_each_keep_their_audit_entry,
    invalid_actions_get_400_and_change_nothing,
    status_reports_config_users_and_error_rates,
    write_freeze_passes_reads_and_refuses_writes_on_both_branches,
    full_maintenance_answers_503_page_or_json,
    deployment_switch_requires_a_healthy_target,
    app_errors_reach_metrics_and_the_cron_alerts_once_and_rolls_back,
    health_reports_each_check,
);

/// The operator token of the local config.
pub use e2e::ADMIN_TOKEN;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An access token as the app issues it.
pub fn jwt(username: &str, is_admin: bool, token_type: TokenType) -> String {
    let cfg = JwtConfig::new(JWT_SECRET, "list-cutter", "list-cutter-api");
    let user = TokenUser {
        id: 42,
        username: username.into(),
        is_admin,
    };
    issue(
        &cfg,
        &user,
        token_type,
        now(),
        format!("e2e-{username}-{}", now()),
    )
    .unwrap()
    .0
}

/// An access token of a real admin: an admin JWT counts only while its user is
/// still an active admin of the app, so this one is signed in, not minted.
fn admin_jwt(stack: &Stack) -> String {
    crate::common::app_admin_token(stack, "ops-admin")
}

fn get(stack: &Stack, path_and_query: &str, bearer: Option<&str>) -> RequestBuilder {
    let req = client().get(format!("{}{path_and_query}", stack.gateway));
    match bearer {
        Some(b) => req.bearer_auth(b),
        None => req,
    }
}

fn migration(stack: &Stack, query: &str, bearer: &str) -> (u16, Value) {
    let (status, by, body) = send_json(get(
        stack,
        &format!("/admin/migration?{query}"),
        Some(bearer),
    ));
    assert_eq!(by, "gateway", "/admin is answered by the gateway itself");
    (status, body)
}

fn status(stack: &Stack) -> Value {
    let (code, body) = migration(stack, "action=get_status", ADMIN_TOKEN);
    assert_eq!(code, 200, "{body}");
    body
}

fn audit(stack: &Stack) -> Vec<Value> {
    let (code, _, body) = send_json(get(stack, "/admin/audit", Some(ADMIN_TOKEN)));
    assert_eq!(code, 200);
    body["entries"].as_array().cloned().unwrap_or_default()
}

fn set_pct_via_api(stack: &Stack, pct: u8) {
    let (code, body) = migration(
        stack,
        &format!("action=update_percentage&percentage={pct}&reason=e2e+setup"),
        ADMIN_TOKEN,
    );
    assert_eq!(code, 200, "{body}");
}

/// Where a fresh client (no cookie) is routed, waiting out the config cache.
fn routes_to(stack: &Stack, ip: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_millis(CONFIG_CACHE_MS * 5 + 2_000);
    loop {
        let resp = stack.get_from("/api/", ip).send().unwrap();
        let by = served_by(&resp);
        if by == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{ip} still served by {by}, expected {expected}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn requests_without_admin_rights_are_refused_and_change_nothing(stack: &Stack) {
    set_pct_via_api(stack, 0);
    let write = "/admin/migration?action=update_percentage&percentage=100";
    let before = audit(stack).len();
    let cases: Vec<(Option<String>, u16)> = vec![
        (None, 401),
        (Some("garbage".into()), 401),
        (Some("local-dev-admin-token-x".into()), 401),
        (Some(jwt("someone", false, TokenType::Access)), 403),
        (Some(jwt("ops-admin", true, TokenType::Refresh)), 401),
    ];
    for (bearer, expected) in cases {
        for path in [write, "/admin/audit", "/admin/deployment/current"] {
            let (code, by, body) = send_json(get(stack, path, bearer.as_deref()));
            assert_eq!(code, expected, "{path} with {bearer:?}: {body}");
            assert_eq!(by, "gateway");
            assert!(body["error"].is_string(), "JSON error body: {body}");
        }
    }
    // A token signed with another key, and one from another issuer.
    let admin_access = |secret: &str, issuer: &str, jti: &str| {
        let cfg = JwtConfig::new(secret, issuer, "list-cutter-api");
        let user = TokenUser {
            id: 1,
            username: "x".into(),
            is_admin: true,
        };
        issue(&cfg, &user, TokenType::Access, now(), jti.into())
            .unwrap()
            .0
    };
    let forged = admin_access("not-the-secret", "list-cutter", "f");
    let foreign = admin_access(JWT_SECRET, "someone-else", "g");
    for bearer in [forged, foreign] {
        assert_eq!(
            get(stack, write, Some(&bearer)).send().unwrap().status(),
            401
        );
    }
    // /admin/* is never proxied, even to a client the split sends to the app.
    let resp = client()
        .get(format!("{}/admin/anything", stack.gateway))
        .header("X-Beta-User", "true")
        .send()
        .unwrap();
    assert_eq!(
        (resp.status().as_u16(), served_by(&resp)),
        (401, "gateway".into())
    );

    // Guessing spends the address's credential-attempt budget (30 a minute locally).
    let guesser = stack.ip();
    let codes: Vec<u16> = (0..105)
        .map(|n| {
            get(stack, write, Some(&format!("guess-{n}")))
                .header("CF-Connecting-IP", &guesser)
                .send()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert_eq!(codes[0], 401);
    assert_eq!(codes.last(), Some(&429), "{codes:?}");

    std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 100));
    assert_eq!(status(stack)["traffic_percentage"], 0);
    assert_eq!(
        audit(stack).len(),
        before,
        "refused requests are not audited"
    );
    routes_to(stack, &stack.ip(), "legacy");
}

/// Ten operators changing the percentage at once: every change is in the trail.
fn concurrent_changes_each_keep_their_audit_entry(stack: &Stack) {
    let before = audit(stack).len();
    std::thread::scope(|scope| {
        for n in 0..10u8 {
            scope.spawn(move || {
                let (code, body) = migration(
                    stack,
                    &format!("action=update_percentage&percentage={n}&reason=concurrent+{n}"),
                    ADMIN_TOKEN,
                );
                assert_eq!(code, 200, "{body}");
            });
        }
    });
    let trail = audit(stack);
    assert_eq!(trail.len(), (before + 10).min(200));
    let mut reasons: Vec<String> = trail[..10]
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
        .collect();
    reasons.sort();
    let mut expected: Vec<String> = (0..10).map(|n| format!("concurrent {n}")).collect();
    expected.sort();
    assert_eq!(reasons, expected);
    set_pct_via_api(stack, 0);
}

fn percentage_updates_route_traffic_and_are_audited(stack: &Stack) {
    set_pct_via_api(stack, 0);
    let ip = stack.ip();
    routes_to(stack, &ip, "legacy");

    let (code, body) = migration(
        stack,
        "action=update_percentage&percentage=100&reason=canary+looks+good",
        &admin_jwt(stack),
    );
    assert_eq!(
        (code, &body),
        (200, &json!({"success": true, "percentage": 100}))
    );
    routes_to(stack, &ip, "app-blue");
    let st = status(stack);
    assert_eq!(st["traffic_percentage"], 100);
    assert!(st["last_updated"].is_string(), "{st}");

    // POST works too (the seed's contract is GET|POST), with the operator token.
    let resp = client()
        .post(format!(
            "{}/admin/migration?action=update_percentage&percentage=0",
            stack.gateway
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    routes_to(stack, &ip, "legacy");

    let trail = audit(stack);
    let (latest, previous) = (&trail[0], &trail[1]);
    assert_eq!(latest["who"], "admin-token");
    assert_eq!(
        (&latest["old"], &latest["new"]),
        (&json!("100"), &json!("0"))
    );
    assert_eq!(previous["who"], "ops-admin");
    assert_eq!(previous["action"], "update_percentage");
    assert_eq!(
        (&previous["old"], &previous["new"]),
        (&json!("0"), &json!("100"))
    );
    assert_eq!(previous["reason"], "canary looks good");
    assert!(previous["at"].as_str().unwrap().ends_with('Z'));
}

fn invalid_actions_get_400_and_change_nothing(stack: &Stack) {
    set_pct_via_api(stack, 7);
    let before = audit(stack).len();
    for query in [
        "action=update_percentage&percentage=101",
        "action=update_percentage&percentage=-1",
        "action=update_percentage&percentage=50.5",
        "action=update_percentage&percentage=abc",
        "action=update_percentage",
        "action=enable_maintenance&mode=half",
        "action=explode",
    ] {
        let (code, body) = migration(stack, query, ADMIN_TOKEN);
        assert_eq!(code, 400, "{query}: {body}");
        assert!(body["error"].is_string(), "{query}: {body}");
    }
    let (code, _, body) = send_json(
        client()
            .post(format!("{}/admin/deployment/switch", stack.gateway))
            .bearer_auth(ADMIN_TOKEN)
            .body(r#"{"version":"purple"}"#),
    );
    assert_eq!(code, 400, "{body}");
    let (code, _, _) = send_json(
        client()
            .post(format!("{}/admin/deployment/switch", stack.gateway))
            .bearer_auth(ADMIN_TOKEN)
            .body("not json"),
    );
    assert_eq!(code, 400);
    let st = status(stack);
    assert_eq!(st["traffic_percentage"], 7);
    assert_eq!(st["maintenance_mode"], "off");
    assert_eq!(st["current_version"], "blue");
    assert_eq!(audit(stack).len(), before);
    set_pct_via_api(stack, 0);
}

fn status_reports_config_users_and_error_rates(stack: &Stack) {
    set_pct_via_api(stack, 0);
    let c = client();
    for _ in 0..3 {
        c.get(format!("{}/__test__/status?code=200", stack.gateway))
            .header("CF-Connecting-IP", stack.ip())
            .send()
            .unwrap();
    }
    let st = status(stack);
    for key in [
        "traffic_percentage",
        "maintenance_mode",
        "last_updated",
        "config_age_seconds",
        "active_users",
        "error_rate",
    ] {
        assert!(st.get(key).is_some(), "{key} missing in {st}");
    }
    assert!(st["config_age_seconds"].as_i64().unwrap() >= 0, "{st}");
    assert!(st["active_users"]["legacy"].as_u64().unwrap() >= 3, "{st}");
    assert!(st["active_users"]["total"].as_u64().unwrap() >= 3, "{st}");
    assert!(st["error_rate"]["total"].is_number(), "{st}");
    assert!(st["error_rate"]["legacy"].is_number(), "{st}");
}

fn write_freeze_passes_reads_and_refuses_writes_on_both_branches(stack: &Stack) {
    set_pct_via_api(stack, 0);
    let (code, body) = migration(
        stack,
        "action=enable_maintenance&mode=write_freeze&reason=final+sync",
        &admin_jwt(stack),
    );
    assert_eq!(code, 200, "{body}");
    std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 200));
    let ip = stack.ip();
    let c = client();
    let legacy_read = c
        .get(format!("{}/__test__/status?code=200", stack.gateway))
        .header("CF-Connecting-IP", &ip)
        .send()
        .unwrap();
    assert_eq!(
        (legacy_read.status().as_u16(), served_by(&legacy_read)),
        (200, "legacy".into())
    );
    let app_read = c
        .get(format!("{}/api/", stack.gateway))
        .header("CF-Connecting-IP", &ip)
        .header("X-Beta-User", "true")
        .send()
        .unwrap();
    assert_eq!(served_by(&app_read), "app-blue");
    assert!(app_read.status().as_u16() < 500);
    for beta in [false, true] {
        let mut req = c
            .post(format!("{}/__test__/echo", stack.gateway))
            .header("CF-Connecting-IP", &ip)
            .body("x");
        if beta {
            req = req.header("X-Beta-User", "true");
        }
        let resp = req.send().unwrap();
        assert_eq!(resp.status(), 503, "write on beta={beta}");
        assert_eq!(header(&resp, "retry-after").as_deref(), Some("120"));
        assert_eq!(resp.json::<Value>().unwrap()["maintenance"], "write_freeze");
    }
    assert_eq!(status(stack)["maintenance_mode"], "write_freeze");

    let (code, _) = migration(stack, "action=disable_maintenance", ADMIN_TOKEN);
    assert_eq!(code, 200);
    std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 200));
    let resp = c
        .post(format!("{}/__test__/echo", stack.gateway))
        .header("CF-Connecting-IP", &ip)
        .body("x")
        .send()
        .unwrap();
    assert_eq!(
        (resp.status().as_u16(), served_by(&resp)),
        (200, "legacy".into())
    );
    let trail = audit(stack);
    assert_eq!(trail[0]["action"], "disable_maintenance");
    assert_eq!(
        (&trail[0]["old"], &trail[0]["new"]),
        (&json!("write_freeze"), &json!("off"))
    );
    assert_eq!(trail[1]["reason"], "final sync");
}

fn full_maintenance_answers_503_page_or_json(stack: &Stack) {
    let (code, _) = migration(stack, "action=enable_maintenance", ADMIN_TOKEN);
    assert_eq!(code, 200);
    std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 200));
    let c = client();
    let url = format!("{}/__test__/status?code=200", stack.gateway);
    let ip = stack.ip();
    let page = c
        .get(&url)
        .header("CF-Connecting-IP", &ip)
        .header("Accept", "text/html")
        .send()
        .unwrap();
    let page_retry = header(&page, "retry-after");
    let page_status = page.status().as_u16();
    let html = page.text().unwrap();
    let api = c.get(&url).header("CF-Connecting-IP", &ip).send().unwrap();
    let api_status = api.status().as_u16();
    let api_body = api.json::<Value>().unwrap();
    // Operators keep their API during maintenance.
    let st = status(stack);
    let (code, _) = migration(stack, "action=disable_maintenance", ADMIN_TOKEN);
    assert_eq!(code, 200);
    std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 200));

    assert_eq!((page_status, page_retry.as_deref()), (503, Some("120")));
    assert!(html.contains("<html"), "{html}");
    assert_eq!(
        (api_status, &api_body["maintenance"]),
        (503, &json!("full"))
    );
    assert_eq!(st["maintenance_mode"], "full");
    let resp = c.get(&url).header("CF-Connecting-IP", &ip).send().unwrap();
    assert_eq!(resp.status(), 200);
}

fn switch(stack: &Stack, body: &str) -> (u16, Value) {
    let (code, _, body) = send_json(
        client()
            .post(format!("{}/admin/deployment/switch", stack.gateway))
            .bearer_auth(ADMIN_TOKEN)
            .body(body.to_string()),
    );
    (code, body)
}

fn deployment(stack: &Stack, bearer: &str) -> Value {
    let (code, _, body) = send_json(get(stack, "/admin/deployment/current", Some(bearer)));
    assert_eq!(code, 200, "{body}");
    body
}

fn beta_request(stack: &Stack, ip: &str) -> reqwest::blocking::Response {
    stack
        .get_from("/api/", ip)
        .header("X-Beta-User", "true")
        .send()
        .unwrap()
}

/// Locally green is not deployed (its binding is "not connected"): a switch to
/// it fails its health check unless forced; blue is the healthy target.
fn deployment_switch_requires_a_healthy_target(stack: &Stack) {
    let ip = stack.ip();
    let jwt = admin_jwt(stack);
    assert_eq!(deployment(stack, &jwt)["version"], "blue");

    let (code, body) = switch(stack, r#"{"version":"green","force":false}"#);
    assert_eq!(code, 409, "{body}");
    assert!(
        body["failing"][0].as_str().unwrap().starts_with("health"),
        "{body}"
    );
    assert_eq!(deployment(stack, &jwt)["version"], "blue");

    let (code, body) = switch(
        stack,
        r#"{"version":"green","force":true,"reason":"drill"}"#,
    );
    assert_eq!((code, &body["forced"]), (200, &json!(true)), "{body}");
    assert_eq!(deployment(stack, ADMIN_TOKEN)["version"], "green");
    assert!(deployment(stack, ADMIN_TOKEN)["switched_at"].is_string());
    std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 200));
    // The serving slot cannot vouch for an admin JWT now: refused (503), not
    // passed on its claims; the operator token needs no such check.
    let (code, _, body) = send_json(get(stack, "/admin/deployment/current", Some(&jwt)));
    assert_eq!(
        (code, &body["error"]),
        (503, &json!("admin check unavailable"))
    );
    let resp = beta_request(stack, &ip);
    assert_eq!(served_by(&resp), "app-green");
    assert!(resp.status().as_u16() >= 500, "green is down locally");

    let (code, body) = switch(stack, r#"{"version":"blue"}"#);
    assert_eq!((code, &body["forced"]), (200, &json!(false)), "{body}");
    assert!(body["checks"]["health"]["latency_ms"].as_u64().unwrap() < 1_000);
    std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 200));
    let resp = beta_request(stack, &ip);
    assert_eq!(
        (resp.status().as_u16() < 500, served_by(&resp)),
        (true, "app-blue".into())
    );

    let trail = audit(stack);
    assert_eq!(trail[0]["action"], "switch_deployment");
    assert_eq!(
        (&trail[0]["old"], &trail[0]["new"]),
        (&json!("green"), &json!("blue"))
    );
    assert!(
        trail[1]["reason"]
            .as_str()
            .unwrap()
            .contains("forced past: health"),
        "{}",
        trail[1]
    );
}

pub fn metrics(stack: &Stack) -> Value {
    let (code, by, body) = send_json(get(stack, "/metrics", Some(ADMIN_TOKEN)));
    assert_eq!((code, by.as_str()), (200, "gateway"), "{body}");
    body
}

/// Errors on the app branch (green, which is down locally, forced in) show in
/// `/metrics`; the cron then alerts the webhook once and rolls the percentage back.
fn app_errors_reach_metrics_and_the_cron_alerts_once_and_rolls_back(stack: &Stack) {
    let receiver = stack.webhook_receiver();
    set_pct_via_api(stack, 30);
    let (code, body) = switch(stack, r#"{"version":"green","force":true}"#);
    assert_eq!(code, 200, "{body}");
    std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 200));

    // Enough errors for > 5% of the app's whole window, whatever earlier tests sent.
    let before = metrics(stack);
    let app_requests: u64 = ["app-blue", "app-green"]
        .iter()
        .filter_map(|b| before["branches"][b]["requests"].as_u64())
        .sum();
    let errors = (app_requests / 9).max(30);
    let green_before = before["branches"]["app-green"]["errors"]
        .as_u64()
        .unwrap_or(0);
    // 50 per client stays under the rate limiter's 100 per minute.
    let clients = stack.ips(errors.div_ceil(50) as usize);
    let sent_at = Instant::now();
    for n in 0..errors {
        let resp = beta_request(stack, &clients[(n / 50) as usize]);
        assert_eq!(served_by(&resp), "app-green");
        assert!(resp.status().as_u16() >= 500);
    }
    let seen = loop {
        let m = metrics(stack);
        let green = &m["branches"]["app-green"];
        if green["errors"].as_u64().unwrap_or(0) >= green_before + errors {
            break m;
        }
        assert!(
            sent_at.elapsed() < Duration::from_secs(10),
            "errors not in /metrics within 10 s: {m}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let green = &seen["branches"]["app-green"];
    assert!(green["error_rate"].as_f64().unwrap() > 5.0, "{seen}");
    assert!(
        seen["total"]["error_rate"].as_f64().unwrap() > 0.0,
        "{seen}"
    );
    assert!(green["p95_ms"].as_u64().is_some() && green["p50_ms"].as_u64().is_some());

    let cron = || {
        let resp = client()
            .get(format!("{}/__scheduled?cron=*+*+*+*+*", stack.gateway))
            .send()
            .unwrap();
        assert!(
            resp.status().is_success(),
            "cron trigger: {}",
            resp.status()
        );
    };
    cron();
    let alerts = receiver.wait_for(1, Duration::from_secs(10));
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert: Value = serde_json::from_str(&alerts[0]).unwrap();
    assert!(
        alert["summary"].as_str().unwrap().contains("error rate"),
        "{alert}"
    );
    assert_eq!(
        alert["rolled_back_to"], 0,
        "no good percentage known yet: {alert}"
    );
    let st = status(stack);
    assert_eq!(st["traffic_percentage"], 0, "{st}");
    let trail = audit(stack);
    assert_eq!(trail[0]["who"], "auto-rollback");
    assert_eq!(
        (&trail[0]["old"], &trail[0]["new"]),
        (&json!("30"), &json!("0"))
    );
    assert!(
        trail[0]["reason"].as_str().unwrap().contains("error rate"),
        "{}",
        trail[0]
    );

    // Same incident a minute later: no second alert.
    cron();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.bodies().len(), 1, "the incident alerted twice");

    let (code, body) = switch(stack, r#"{"version":"blue"}"#);
    assert_eq!(code, 200, "{body}");
    std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 200));
}

fn health_reports_each_check(stack: &Stack) {
    // Without a credential: liveness only, no probe behind it.
    let (code, by, body) = send_json(get(stack, "/health", None));
    assert_eq!((code, by.as_str()), (200, "gateway"), "{body}");
    assert_eq!(body, json!({"status": "ok", "service": "gateway"}));
    let (code, _, body) = send_json(get(stack, "/health", Some("not-the-token")));
    assert_eq!(code, 401, "{body}");
    // Operators get the deep check.
    let (code, by, body) = send_json(get(stack, "/health", Some(ADMIN_TOKEN)));
    assert_eq!((code, by.as_str()), (200, "gateway"), "{body}");
    assert_eq!(body["status"], "healthy", "{body}");
    for check in ["kv", "app", "legacy"] {
        assert_eq!(body["checks"][check]["ok"], true, "{check}: {body}");
        assert!(body["checks"][check]["latency_ms"].is_u64(), "{body}");
    }
    // The legacy origin down: degraded, not unhealthy (the app still answers).
    stack.stop_legacy();
    let (code, _, body) = send_json(get(stack, "/health", Some(ADMIN_TOKEN)));
    stack.start_legacy();
    assert_eq!((code, &body["status"]), (200, &json!("degraded")), "{body}");
    assert_eq!(body["checks"]["legacy"]["ok"], false, "{body}");
}
