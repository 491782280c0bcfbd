//! Canary testers: beta tokens issued, listed and revoked by admins only (and
//! audited), joined through an invite link in a real browser at 0%, refused
//! cleanly when revoked, expired or forged, and carried in `X-Beta-User` by API
//! clients whatever the plain header's switch says.

use crate::admin::{jwt, metrics, ADMIN_TOKEN};
use crate::common::{header, run_browser, send_json, served_by, unique};
use e2e::{client, Stack, CONFIG_CACHE_MS, ROUTING_SECRET};
use reqwest::Method;
use serde_json::{json, Value};
use shared::jwt::TokenType;
use shared::routing::{mint_beta_token, SigningKey};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

crate::tests!(
    beta:
    only_admins_issue_list_and_revoke_and_each_is_audited,
    an_invite_link_opens_the_new_app_in_a_browser_at_zero,
    revoked_expired_and_forged_tokens_are_refused_cleanly,
    the_signed_x_beta_user_works_with_the_plain_header_off,
);

fn admin(method: Method, stack: &Stack, path: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut req = client()
        .request(method, format!("{}{path}", stack.gateway))
        .header("CF-Connecting-IP", stack.ip());
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let (status, by, body) = send_json(req);
    assert_eq!(by, "gateway");
    (status, body)
}

/// Issues a token with the operator token: (id, token, the whole answer).
fn issue(stack: &Stack, label: &str, expires_in: &str) -> (String, String, Value) {
    let (status, body) = send_json_body(
        client()
            .post(format!("{}/admin/beta", stack.gateway))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"label": label, "expires_in": expires_in})),
    );
    assert_eq!(status, 201, "{body}");
    let s = |k: &str| body[k].as_str().unwrap().to_string();
    (s("id"), s("token"), body)
}

fn send_json_body(req: reqwest::blocking::RequestBuilder) -> (u16, Value) {
    let (status, _, body) = send_json(req);
    (status, body)
}

fn listed(stack: &Stack) -> Vec<Value> {
    let (status, body) = admin(Method::GET, stack, "/admin/beta", Some(ADMIN_TOKEN));
    assert_eq!(status, 200, "{body}");
    body["tokens"].as_array().cloned().unwrap_or_default()
}

fn audit_actions(stack: &Stack) -> Vec<String> {
    let (_, body) = admin(Method::GET, stack, "/admin/audit", Some(ADMIN_TOKEN));
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["new"].as_str().unwrap_or("")
            )
        })
        .collect()
}

fn only_admins_issue_list_and_revoke_and_each_is_audited(stack: &Stack) {
    let before = listed(stack).len();
    let user = jwt("someone", false, TokenType::Access);
    for (bearer, expected) in [(None, 401), (Some(user.as_str()), 403)] {
        let (status, body) = admin(Method::POST, stack, "/admin/beta", bearer);
        assert_eq!(status, expected, "{body}");
        let (status, _) = admin(Method::GET, stack, "/admin/beta", bearer);
        assert_eq!(status, expected);
        let (status, _) = admin(Method::DELETE, stack, "/admin/beta/abc", bearer);
        assert_eq!(status, expected);
    }
    assert_eq!(listed(stack).len(), before, "refusals change nothing");

    // Bad requests: 400, nothing issued.
    for body in [
        json!({}),
        json!({"label": ""}),
        json!({"label": "x", "expires_in": "1y"}),
        json!({"label": "x", "expires_in": "365d"}),
    ] {
        let (status, answer) = send_json_body(
            client()
                .post(format!("{}/admin/beta", stack.gateway))
                .bearer_auth(ADMIN_TOKEN)
                .json(&body),
        );
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].is_string());
    }
    assert_eq!(listed(stack).len(), before);

    let label = unique("qa-team-");
    let (id, token, answer) = issue(stack, &label, "2d");
    assert_eq!(
        answer["invite_link"],
        json!(format!("{}/beta/join?token={token}", stack.gateway))
    );
    let list = listed(stack);
    assert_eq!(list.len(), before + 1);
    assert_eq!(
        (&list[0]["id"], &list[0]["label"]),
        (&json!(id), &json!(label))
    );
    assert_eq!(list[0]["issued_by"], "admin-token");
    assert!(list[0]["revoked_at"].is_null());
    assert!(audit_actions(stack)[0].starts_with(&format!("issue_beta {id}")));

    let (status, _) = admin(Method::DELETE, stack, "/admin/beta/nope", Some(ADMIN_TOKEN));
    assert_eq!(status, 404);
    let (status, body) = admin(
        Method::DELETE,
        stack,
        &format!("/admin/beta/{id}"),
        Some(ADMIN_TOKEN),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["revoked"].as_array().unwrap().contains(&json!(id)));
    assert!(audit_actions(stack)[0].starts_with("revoke_beta"));
    assert!(listed(stack)[0]["revoked_at"].is_string());
}

fn an_invite_link_opens_the_new_app_in_a_browser_at_zero(stack: &Stack) {
    stack.set_percentage("0");
    let label = unique("browser-tester-");
    let seen = run_browser(stack, "beta.mjs", &[&stack.gateway, ADMIN_TOKEN, &label]);
    let link = seen["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/beta/join?token=v1.", stack.gateway)),
        "{seen}"
    );
    assert_eq!(seen["copyButton"], true);
    assert!(seen["listed"].as_str().unwrap().contains(&label), "{seen}");
    // Joined: the token left the address, the frontend came from the app.
    assert_eq!(
        seen["joinedUrl"],
        json!(format!("{}/", stack.gateway)),
        "{seen}"
    );
    assert_eq!(seen["joinedBy"], "app-blue", "{seen}");
    assert_eq!(seen["joinedReason"], "beta_token", "{seen}");
    assert_eq!(seen["cookie"]["httpOnly"], true, "{seen}");
    assert_eq!(seen["cookie"]["sameSite"], "Lax", "{seen}");
    assert!(
        seen["cookie"]["expires"].as_f64().unwrap() > 0.0,
        "expires with the token: {seen}"
    );
    // Left: back on the legacy side.
    assert_eq!(seen["leftUrl"], json!(format!("{}/", stack.gateway)));
    assert_eq!(seen["leftBy"], "legacy", "{seen}");
    assert_eq!(seen["cookieAfterLeave"], false);
}

fn join(stack: &Stack, token: &str, ip: &str, html: bool) -> reqwest::blocking::Response {
    let mut req = stack.get_from(&format!("/beta/join?token={token}"), ip);
    if html {
        req = req.header("Accept", "text/html");
    }
    req.send().unwrap()
}

/// Where a request with the `lc_beta` cookie `token` goes, waiting out the
/// config cache for `expected`.
fn cookie_routes_to(stack: &Stack, token: &str, ip: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_millis(CONFIG_CACHE_MS * 5 + 2_000);
    loop {
        let resp = stack
            .get_from("/api/", ip)
            .header("Cookie", format!("lc_beta={token}"))
            .send()
            .unwrap();
        if served_by(&resp) == expected {
            return;
        }
        assert!(Instant::now() < deadline, "still {}", served_by(&resp));
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn revoked_expired_and_forged_tokens_are_refused_cleanly(stack: &Stack) {
    stack.set_percentage("0");
    let ip = stack.ip();
    let (id, token, _) = issue(stack, &unique("revocable-"), "1d");
    let resp = join(stack, &token, &ip, false);
    assert_eq!(resp.status(), 302);
    assert_eq!(header(&resp, "location").as_deref(), Some("/"));
    let cookie = header(&resp, "set-cookie").unwrap();
    assert!(
        cookie.starts_with(&format!(
            "lc_beta={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age="
        )),
        "{cookie}"
    );
    let max_age: i64 = cookie.rsplit('=').next().unwrap().parse().unwrap();
    assert!((86_000..=86_400).contains(&max_age), "{cookie}");
    cookie_routes_to(stack, &token, &ip, "app-blue");
    // Seen, and counted as beta traffic.
    let m = metrics(stack);
    assert!(m["beta"]["requests"].as_u64().unwrap() > 0, "{m}");
    let seen = listed(stack)
        .into_iter()
        .find(|t| t["id"] == json!(id))
        .unwrap();
    assert!(seen["last_seen"].is_string(), "{seen}");

    let (status, _) = admin(
        Method::DELETE,
        stack,
        &format!("/admin/beta/{id}"),
        Some(ADMIN_TOKEN),
    );
    assert_eq!(status, 200);
    cookie_routes_to(stack, &token, &ip, "legacy");

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expired = mint_beta_token(&SigningKey::new(ROUTING_SECRET), now - 5, "late", None);
    let forged = mint_beta_token(
        &SigningKey::new("not-the-secret"),
        now + 3_600,
        "forger",
        None,
    );
    for bad in [token.as_str(), &expired, &forged, "", "v1.garbage"] {
        let resp = join(stack, bad, &ip, false);
        assert_eq!(resp.status(), 403, "{bad}");
        assert!(header(&resp, "set-cookie").is_none(), "{bad}");
        let body: Value = resp.json().unwrap();
        assert_eq!(body["beta"], "refused", "{body}");
        let page = join(stack, bad, &ip, true);
        assert_eq!(page.status(), 403);
        assert!(page
            .text()
            .unwrap()
            .contains("<h1>Invitation not valid</h1>"));
    }
    // Refusals spend the client's rate limit like any traffic.
    let guesser = stack.ip();
    let statuses: Vec<u16> = (0..105)
        .map(|_| {
            join(stack, "v1.1.x.guess", &guesser, false)
                .status()
                .as_u16()
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(!statuses.iter().any(|s| *s >= 500), "{statuses:?}");
}

fn the_signed_x_beta_user_works_with_the_plain_header_off(stack: &Stack) {
    stack.set_percentage("0");
    stack.kv_put("MIGRATION_KV", "beta_header_enabled", "false");
    let (_, token, _) = issue(stack, &unique("api-client-"), "1h");
    let ip = stack.ip();
    let with = |value: &str| {
        stack
            .get_from("/api/", &ip)
            .header("X-Beta-User", value)
            .send()
            .unwrap()
    };
    let signed = with(&token);
    let plain = with("true");
    stack.kv_delete("MIGRATION_KV", "beta_header_enabled");
    assert_eq!(
        (served_by(&signed), header(&signed, "x-route-reason")),
        ("app-blue".into(), Some("beta_token".into()))
    );
    assert_eq!(served_by(&plain), "legacy");
}
