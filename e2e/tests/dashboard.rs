//! The dashboard in a real headless Chromium (driven by playwright-core from
//! `e2e/browser/dashboard.mjs`), and how the gateway serves it.

use crate::admin::ADMIN_TOKEN;
use crate::common::{header, run_browser, served_by};
use crate::TestFn;
use e2e::{client, Stack};
use serde_json::Value;

pub const TESTS: &[(&str, TestFn)] = &[
    (
        "dashboard::is_served_with_a_strict_csp_and_no_outside_assets",
        is_served_with_a_strict_csp_and_no_outside_assets,
    ),
    (
        "dashboard::browser_signs_in_with_token_and_changes_the_percentage",
        browser_signs_in_with_token_and_changes_the_percentage,
    ),
    (
        "dashboard::login_is_handed_to_the_app",
        login_is_handed_to_the_app,
    ),
];

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
    let seen = run_browser(stack, "dashboard.mjs", &[&stack.gateway, ADMIN_TOKEN, "42"]);
    assert_eq!(seen["shown"], "42", "{seen}");
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
    assert_eq!(status["traffic_percentage"], 42);
    stack.set_percentage("0");
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
