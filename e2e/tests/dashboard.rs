//! The dashboard in a real headless Chromium (driven by playwright-core from
//! `e2e/browser/dashboard.mjs`), and how the gateway serves it.

use crate::admin::ADMIN_TOKEN;
use crate::common::{header, run_browser, served_by};
use e2e::{client, Stack};
use serde_json::{json, Value};

crate::tests!(
    dashboard:
    is_served_with_a_strict_csp_and_no_outside_assets,
    browser_signs_in_with_token_and_changes_the_percentage,
    browser_signs_in_with_an_admin_password,
    login_is_handed_to_the_app,
);

fn is_served_with_a_strict_csp_and_no_outside_assets(stack: &Stack) {
    for path in ["/admin", "/admin/"] {
        let resp = client()
            .get(format!("{}{path}", stack.gateway))
            .send()
            .unwrap();
        assert_eq!(
            (resp.status().as_u16(), served_by(&resp)),
            (200, "gateway".into())
        );
        let csp = header(&resp, "content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert_eq!(header(&resp, "x-frame-options").as_deref(), Some("DENY"));
        let html = resp.text().unwrap();
        assert!(html.contains("/admin/assets/app.js"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "outside asset in {html}"
        );
        assert!(
            !html.contains("<script>") && !html.contains("style="),
            "inline code"
        );
    }
    let resp = client()
        .post(format!("{}/admin/", stack.gateway))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 405);
    for (asset, kind) in [("app.js", "javascript"), ("app.css", "css")] {
        let resp = client()
            .get(format!("{}/admin/assets/{asset}", stack.gateway))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(header(&resp, "content-type").unwrap().contains(kind));
    }
}

fn browser_signs_in_with_token_and_changes_the_percentage(stack: &Stack) {
    let seen = drive_dashboard(stack, &format!("token:{ADMIN_TOKEN}"), 42);
    assert!(
        seen["audit"].as_str().unwrap().contains("admin-token"),
        "{seen}"
    );
}

/// An admin of the app signs in with username and password (the gateway hands
/// the login to the app and keeps the admin JWT it answers).
fn browser_signs_in_with_an_admin_password(stack: &Stack) {
    let (name, password) = ("dash_admin", "correct horse 42");
    let resp = client()
        .post(format!("{}/api/accounts/register/", stack.gateway))
        .header("X-Beta-User", "true")
        .header("CF-Connecting-IP", stack.ip())
        .json(&json!({"username": name, "password": password, "password2": password}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201, "{:?}", resp.text());
    stack.d1_execute(&format!(
        "UPDATE users SET is_admin = 1 WHERE username = '{name}'"
    ));
    let seen = drive_dashboard(stack, &format!("login:{name}:{password}"), 17);
    assert!(seen["audit"].as_str().unwrap().contains(name), "{seen}");
}

/// Runs `e2e/browser/dashboard.mjs` to set `percentage` and checks the page
/// showed it, the audit table got the change and the change is real; returns
/// what the page showed.
fn drive_dashboard(stack: &Stack, credentials: &str, percentage: u8) -> Value {
    let seen = run_browser(
        stack,
        "dashboard.mjs",
        &[&stack.gateway, credentials, &percentage.to_string()],
    );
    assert_eq!(seen["shown"], percentage.to_string(), "{seen}");
    assert!(
        seen["audit"].as_str().unwrap().contains("dashboard test"),
        "{seen}"
    );

    // The change is real, not just on the page.
    let status: Value = client()
        .get(format!(
            "{}/admin/migration?action=get_status",
            stack.gateway
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status["traffic_percentage"], percentage);
    stack.set_percentage("0");
    seen
}

fn login_is_handed_to_the_app(stack: &Stack) {
    let url = format!("{}/admin/login", stack.gateway);
    let resp = client().get(&url).send().unwrap();
    assert_eq!(resp.status(), 405);
    // Bad credentials: the app refuses them (its accounts API decides how); a
    // 502 would mean the gateway could not reach it.
    let resp = client()
        .post(&url)
        .header("Content-Type", "application/json")
        .body(r#"{"username":"nobody","password":"wrong"}"#)
        .send()
        .unwrap();
    assert_eq!(served_by(&resp), "gateway");
    let status = resp.status().as_u16();
    assert!((400..500).contains(&status) && status != 405, "{status}");
}
