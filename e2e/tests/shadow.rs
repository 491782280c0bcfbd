//! Shadow diffing end to end, at a 100% sample: a person known to both sides (made
//! on the stand-in, copied to the app by one `cutover replicate` round) reads
//! through the gateway; the side that did not serve gets a copy of each read and
//! the gateway counts equal and differing answers per route. A file only legacy
//! has is a deliberate difference. Writes are never mirrored; the user's answer is
//! the same byte for byte with shadowing on or off; a slow or dead shadow side
//! neither slows nor fails the user.

use crate::admin::ADMIN_TOKEN;
use crate::common::{run_browser, send_json, served_by, unique};
use crate::session::{file_form, upload, User};
use e2e::{client, Stack, CONFIG_CACHE_MS, SHADOW_TIMEOUT_MS};
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

crate::tests!(
    shadow:
    identical_answers_count_as_equal_both_ways,
    the_users_answer_is_byte_identical_with_shadowing_on_and_off,
    a_file_on_one_side_only_is_counted_shown_redacted_and_holds_raises,
    writes_are_never_mirrored,
    a_slow_or_dead_shadow_side_neither_slows_nor_fails_the_user,
    bad_rates_are_refused_and_change_nothing,
    dashboard_shows_the_comparisons_and_sets_the_rate,
);

const USER: &str = "GET /api/accounts/user/";
const LIST: &str = "GET /api/list_cutter/list_saved_files/";
const FETCH: &str = "GET /api/list_cutter/fetch_saved_file/{file_id}/";
const LINEAGE: &str = "GET /api/list_cutter/fetch_file_lineage/{file_id}/";

fn admin(method: Method, stack: &Stack, path: &str) -> RequestBuilder {
    client()
        .request(method, format!("{}{path}", stack.gateway))
        .bearer_auth(ADMIN_TOKEN)
}

/// Sets the sample rate through the admin API and waits out the config cache.
fn set_rate(stack: &Stack, rate: f64) {
    let (status, _, body) =
        send_json(admin(Method::PUT, stack, "/admin/shadow").json(&json!({ "rate": rate })));
    assert_eq!(status, 200, "{body}");
    std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 200));
}

fn reset(stack: &Stack) -> Value {
    let (status, _, body) = send_json(admin(Method::DELETE, stack, "/admin/shadow"));
    assert_eq!(status, 200, "{body}");
    body
}

fn report(stack: &Stack) -> Value {
    let (status, _, body) = send_json(admin(Method::GET, stack, "/admin/shadow"));
    assert_eq!(status, 200, "{body}");
    body
}

/// The report once `n` mirrored requests are counted (compared or failed).
fn counted(stack: &Stack, n: u64) -> Value {
    let started = Instant::now();
    loop {
        let r = report(stack);
        let total = &r["total"];
        let seen = total["compared"].as_u64().unwrap() + total["errors"].as_u64().unwrap();
        if seen >= n {
            assert_eq!(seen, n, "more mirrored than sent: {r:#}");
            return r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{n} mirrored requests never counted: {r:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn migration(stack: &Stack, query: &str) -> (u16, Value) {
    let (status, _, body) = send_json(admin(
        Method::POST,
        stack,
        &format!("/admin/migration?{query}"),
    ));
    (status, body)
}

/// Shadowing at `rate` for one test (counts reset, all legacy); however the test
/// ends, the rate goes back to 0, the counts are reset and legacy is fast again.
struct Shadowing<'a> {
    stack: &'a Stack,
}

impl<'a> Shadowing<'a> {
    fn on(stack: &'a Stack, rate: f64) -> Self {
        stack.set_percentage("0");
        reset(stack);
        set_rate(stack, rate);
        Shadowing { stack }
    }
}

impl Drop for Shadowing<'_> {
    fn drop(&mut self) {
        self.stack.set_legacy_delay(0);
        let _ = admin(Method::PUT, self.stack, "/admin/shadow")
            .json(&json!({ "rate": 0 }))
            .send();
        let _ = admin(Method::DELETE, self.stack, "/admin/shadow").send();
        self.stack.set_percentage("0");
    }
}

/// A person with one file, on legacy and, after one replication round, on the
/// app with the same id, file and file id; `access` is a Django token.
struct Person<'s> {
    user: User<'s>,
    name: String,
    file_id: String,
}

const PASSWORD: &str = "correct horse 42";

fn person_on_both_sides(stack: &Stack) -> Person<'_> {
    let name = unique("shadow_");
    let user = User::register(stack, false, &name);
    let (status, body) = upload(&user, &format!("{name}.csv"), b"name,n\nann,1\nbob,2\n");
    assert_eq!(status, 200, "{body}");
    let out = stack
        .replicate_command("replicate-state.json", &["--once"])
        .output()
        .expect("cutover replicate");
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "replicate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The round reported itself; a replicator that no longer runs must not hold
    // percentage raises later.
    let resp = admin(Method::DELETE, stack, "/admin/replication")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    Person {
        user,
        name,
        file_id: body["file_id"].as_str().unwrap().to_string(),
    }
}

impl Person<'_> {
    /// A fresh Django token (younger than the replication bound: routed to
    /// legacy whatever the percentage, unless a beta header says otherwise).
    fn sign_in(&mut self, stack: &Stack) {
        let (status, _, body) = send_json(
            client()
                .post(format!("{}/api/accounts/login/", stack.legacy))
                .json(&json!({"username": self.name, "password": PASSWORD})),
        );
        assert_eq!(status, 200, "{body}");
        self.user.access = body["access"].as_str().unwrap().to_string();
    }

    fn reads(&self) -> Vec<String> {
        vec![
            "/api/accounts/user/".into(),
            "/api/list_cutter/list_saved_files/".into(),
            format!("/api/list_cutter/fetch_saved_file/{}/", self.file_id),
            format!("/api/list_cutter/fetch_file_lineage/{}/", self.file_id),
        ]
    }

    /// A request of this person through the gateway; `on_app`: with the beta
    /// header, so the app serves and the copy goes to legacy.
    fn via_gateway(
        &self,
        stack: &Stack,
        method: Method,
        path: &str,
        on_app: bool,
    ) -> RequestBuilder {
        let req = client()
            .request(method, format!("{}{path}", stack.gateway))
            .bearer_auth(&self.user.access)
            .header("CF-Connecting-IP", stack.ip());
        if on_app {
            req.header("X-Beta-User", "true")
        } else {
            req
        }
    }

    fn get(&self, stack: &Stack, path: &str, on_app: bool) -> Response {
        let resp = self
            .via_gateway(stack, Method::GET, path, on_app)
            .send()
            .unwrap();
        let side = if on_app { "app-blue" } else { "legacy" };
        assert_eq!(served_by(&resp), side, "{path}");
        resp
    }
}

fn identical_answers_count_as_equal_both_ways(stack: &Stack) {
    let mut person = person_on_both_sides(stack);
    person.sign_in(stack);
    let _shadowing = Shadowing::on(stack, 1.0);
    for on_app in [false, true] {
        reset(stack);
        for path in person.reads() {
            assert_eq!(person.get(stack, &path, on_app).status(), 200, "{path}");
        }
        let r = counted(stack, 4);
        for route in [USER, LIST, FETCH, LINEAGE] {
            let counts = &r["routes"][route];
            assert_eq!(
                (&counts["compared"], &counts["equal"], &counts["errors"]),
                (&json!(1), &json!(1), &json!(0)),
                "{route} served by {}: {r:#}",
                if on_app { "the app" } else { "legacy" }
            );
        }
        assert_eq!(r["total"]["diff_rate"], 0.0);
        assert!(r["problems"].as_array().unwrap().is_empty(), "{r}");
    }
}

/// Status, every header but `Date`, and the body bytes.
fn snapshot(resp: Response) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let status = resp.status().as_u16();
    let mut headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str() != "date")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    headers.sort();
    (status, headers, resp.bytes().unwrap().to_vec())
}

fn the_users_answer_is_byte_identical_with_shadowing_on_and_off(stack: &Stack) {
    let mut person = person_on_both_sides(stack);
    let _shadowing = Shadowing::on(stack, 0.0);
    let mut mirrored = 0;
    for on_app in [false, true] {
        for path in person.reads() {
            // The same token and request id both times, so the answers may be equal.
            person.sign_in(stack);
            let read = |person: &Person| {
                snapshot(
                    person
                        .via_gateway(stack, Method::GET, &path, on_app)
                        .header("X-Request-Id", "shadow-identical-0001")
                        .send()
                        .unwrap(),
                )
            };
            set_rate(stack, 0.0);
            let off = read(&person);
            set_rate(stack, 1.0);
            let on = read(&person);
            mirrored += 1;
            assert_eq!(off.0, 200, "{path}");
            assert_eq!(
                (off.0, &off.1, String::from_utf8_lossy(&off.2)),
                (on.0, &on.1, String::from_utf8_lossy(&on.2)),
                "{path}, served by the app: {on_app}"
            );
        }
    }
    // The ones with shadowing on were mirrored indeed.
    let r = counted(stack, mirrored);
    assert_eq!(r["total"]["equal"], mirrored, "{r:#}");
}

fn a_file_on_one_side_only_is_counted_shown_redacted_and_holds_raises(stack: &Stack) {
    let mut person = person_on_both_sides(stack);
    person.sign_in(stack);
    let _shadowing = Shadowing::on(stack, 1.0);
    // Uploaded on legacy directly while no replicator runs: the app does not have it.
    let secret = unique("cellnobodysees");
    let (status, body) = upload(
        &person.user,
        "only-on-legacy.csv",
        format!("name,n\n{secret},1\n").as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let only_legacy = body["file_id"].as_str().unwrap().to_string();
    for _ in 0..3 {
        let resp = person.get(stack, "/api/list_cutter/list_saved_files/", false);
        assert_eq!(resp.status(), 200);
    }
    let fetch = format!("/api/list_cutter/fetch_saved_file/{only_legacy}/");
    assert_eq!(person.get(stack, &fetch, false).status(), 200);

    let r = counted(stack, 4);
    let list = &r["routes"][LIST];
    assert_eq!(
        (&list["compared"], &list["differing"]),
        (&json!(3), &json!(3)),
        "{r:#}"
    );
    assert_eq!(list["diff_rate"], 100.0);
    let example = &list["examples"][0];
    assert_eq!(example["primary"], "legacy");
    assert_eq!(example["candidate"], "app-blue");
    assert_eq!(example["path"], "/api/list_cutter/list_saved_files/");
    let differences = example["differences"].as_array().unwrap();
    assert_eq!(
        differences[0],
        json!({"path": "$.files", "primary": "array(2)", "candidate": "array(1)"}),
        "{example:#}"
    );
    assert!(
        differences
            .iter()
            .any(|d| d["primary"] == "object(7 keys)" && d["candidate"] == "absent"),
        "{example:#}"
    );
    let fetched = &r["routes"][FETCH]["examples"][0];
    assert_eq!(
        fetched["differences"][0],
        json!({"path": "status", "primary": "200", "candidate": "404"}),
        "{fetched:#}"
    );
    // Redacted: paths and summaries, no token, no file name, no file content.
    let text = r.to_string();
    for secret in [
        secret.as_str(),
        person.user.access.as_str(),
        "only-on-legacy",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // The same numbers in /metrics.
    let metrics = crate::admin::metrics(stack);
    assert_eq!(
        metrics["shadow"]["routes"][LIST]["differing"], 3,
        "{metrics}"
    );

    // And through the operator's CLI.
    let cli = |args: &[&str]| {
        std::process::Command::new(stack.root.join("target/release/cutover"))
            .args(args)
            .env("CUTOVER_APP_URL", &stack.gateway)
            .env("ADMIN_API_TOKEN", ADMIN_TOKEN)
            .output()
            .expect("cutover")
    };
    let out = cli(&["shadow", "report", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["routes"][LIST]["differing"], 3, "{answer}");
    let out = cli(&["shadow", "report"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("differing 3 (100.0%)") && text.contains("$.files: array(2) → array(1)"),
        "{text}"
    );
    let out = cli(&["shadow", "rate", "1.5"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rate must be"),
        "{out:?}"
    );

    // The gate: past SHADOW_HOLD_ABOVE (10) a raise waits, up to it it does not.
    let problems = r["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().starts_with(LIST)),
        "{r:#}"
    );
    let (status, body) = migration(stack, "action=update_percentage&percentage=50");
    assert_eq!(status, 409, "{body}");
    let why = body["error"].as_str().unwrap();
    assert!(
        why.contains("shadow comparisons differ") && why.contains(LIST),
        "{why}"
    );
    let (_, st) = migration(stack, "action=get_status");
    assert_eq!(st["traffic_percentage"], 0, "nothing changed");
    let (status, body) = migration(stack, "action=update_percentage&percentage=10");
    assert_eq!(status, 200, "{body}");
    let (status, body) = migration(
        stack,
        "action=update_percentage&percentage=50&force=true&reason=drill",
    );
    assert_eq!(status, 200, "{body}");
    let (_, _, audit) = send_json(admin(Method::GET, stack, "/admin/audit"));
    let reason = audit["entries"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("drill (forced past shadow differences: "),
        "{reason}"
    );
    // Lowering is never held.
    let (status, _) = migration(stack, "action=update_percentage&percentage=0");
    assert_eq!(status, 200);

    // After a fix, the counts start afresh (audited) and hold nothing.
    let fresh = reset(stack);
    assert_eq!(fresh["total"]["compared"], 0, "{fresh}");
    assert!(fresh["routes"].as_object().unwrap().is_empty(), "{fresh}");
    let (_, _, audit) = send_json(admin(Method::GET, stack, "/admin/audit"));
    assert_eq!(audit["entries"][0]["action"], "reset_shadow", "{audit}");
    assert!(
        audit["entries"][0]["old"]
            .as_str()
            .unwrap()
            .contains("4 differing"),
        "{audit}"
    );
    let (status, body) = migration(stack, "action=update_percentage&percentage=50");
    assert_eq!(status, 200, "{body}");
    stack.set_percentage("0");
}

fn writes_are_never_mirrored(stack: &Stack) {
    let mut person = person_on_both_sides(stack);
    person.sign_in(stack);
    let _shadowing = Shadowing::on(stack, 1.0);
    let name = format!("{}-written.csv", person.name);
    let (status, _, body) = send_json(
        person
            .via_gateway(stack, Method::POST, "/api/list_cutter/upload/", false)
            .multipart(file_form(&name, b"a,b\n1,2\n")),
    );
    assert_eq!(status, 200, "{body}");
    let written = body["file_id"].as_str().unwrap().to_string();
    let writes = [
        (
            Method::PATCH,
            format!("/api/list_cutter/update_tags/{written}/"),
        ),
        (
            Method::DELETE,
            format!("/api/list_cutter/delete/{written}/"),
        ),
        (Method::POST, "/api/accounts/token/refresh/".to_string()),
        (
            Method::PUT,
            "/api/list_cutter/list_saved_files/".to_string(),
        ),
    ];
    for (method, path) in writes {
        let resp = person
            .via_gateway(stack, method.clone(), &path, false)
            .json(&json!({"user_tags": ["x"]}))
            .send()
            .unwrap();
        assert_eq!(served_by(&resp), "legacy", "{method} {path}");
    }
    // A read that is not on the list is not mirrored either.
    let resp = person.get(
        stack,
        &format!("/api/list_cutter/download/{}.csv/", person.name),
        false,
    );
    assert_eq!(resp.status(), 200);
    // One shadowable read: it is the only request counted.
    person.get(stack, "/api/list_cutter/list_saved_files/", false);
    let r = counted(stack, 1);
    let routes: Vec<&String> = r["routes"].as_object().unwrap().keys().collect();
    assert_eq!(routes, vec![LIST], "{r:#}");
    // And the app never saw the upload.
    let rows = stack.d1_execute(&format!(
        "SELECT count(*) AS n FROM files WHERE file_name = '{name}'"
    ));
    assert_eq!(rows[0]["n"], 0);
}

/// Restarts the stand-in when dropped.
struct LegacyDown<'a>(&'a Stack);

impl Drop for LegacyDown<'_> {
    fn drop(&mut self) {
        self.0.start_legacy();
    }
}

fn a_slow_or_dead_shadow_side_neither_slows_nor_fails_the_user(stack: &Stack) {
    let mut person = person_on_both_sides(stack);
    person.sign_in(stack);
    let _shadowing = Shadowing::on(stack, 0.0);
    let path = "/api/accounts/user/";
    // Served by the app; the copies go to legacy.
    let expected = person.get(stack, path, true).bytes().unwrap();
    set_rate(stack, 1.0);
    let legacy_delay = 3 * SHADOW_TIMEOUT_MS;
    stack.set_legacy_delay(legacy_delay);
    let user_answers = |n: u32| {
        for _ in 0..n {
            let started = Instant::now();
            let resp = person.get(stack, path, true);
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.bytes().unwrap(), expected);
            let took = started.elapsed();
            assert!(
                took < Duration::from_millis(SHADOW_TIMEOUT_MS / 2),
                "the user waited {took:?} for a shadow side that takes {legacy_delay} ms"
            );
        }
    };
    user_answers(3);
    let r = counted(stack, 3);
    let route = &r["routes"][USER];
    assert_eq!(
        (&route["errors"], &route["compared"]),
        (&json!(3), &json!(0)),
        "{r:#}"
    );
    assert_eq!(route["error_rate"], 100.0);
    assert!(route["examples"].as_array().unwrap().is_empty());
    stack.set_legacy_delay(0);

    // Legacy down altogether: the same.
    let app_errors = |m: &Value| m["branches"]["app-blue"]["errors"].as_u64().unwrap_or(0);
    let before = app_errors(&crate::admin::metrics(stack));
    stack.stop_legacy();
    let _restart = LegacyDown(stack);
    user_answers(3);
    let r = counted(stack, 6);
    assert_eq!(r["routes"][USER]["errors"], 6, "{r:#}");
    // Shadow failures are not the user's errors: none on the app branch.
    let metrics = crate::admin::metrics(stack);
    assert_eq!(app_errors(&metrics), before, "{metrics}");
}

fn bad_rates_are_refused_and_change_nothing(stack: &Stack) {
    let _shadowing = Shadowing::on(stack, 0.25);
    for bad in [
        json!({"rate": 1.5}),
        json!({"rate": -0.1}),
        json!({"rate": "0.5"}),
        json!({}),
        json!({"rate": 0.5, "sample": 1}),
    ] {
        let (status, _, body) = send_json(admin(Method::PUT, stack, "/admin/shadow").json(&bad));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].as_str().unwrap().contains("rate"), "{body}");
    }
    let (status, _, body) = send_json(admin(Method::PUT, stack, "/admin/shadow").body("not json"));
    assert_eq!(status, 400, "{body}");
    assert_eq!(report(stack)["rate"], 0.25, "nothing changed");
    // Only admins, and only the three methods.
    let resp = client()
        .put(format!("{}/admin/shadow", stack.gateway))
        .header("CF-Connecting-IP", stack.ip())
        .json(&json!({"rate": 1}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = admin(Method::POST, stack, "/admin/shadow").send().unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(report(stack)["rate"], 0.25);
    // The change is audited.
    let (_, _, audit) = send_json(admin(Method::GET, stack, "/admin/audit"));
    let entry = &audit["entries"][0];
    assert_eq!(
        (&entry["action"], &entry["new"]),
        (&json!("set_shadow_rate"), &json!("0.25")),
        "{audit}"
    );
}

/// `e2e/browser/shadow.mjs` in headless Chromium: the panel lists the routes with
/// their counts and example, charts the diff rate and sets the rate.
fn dashboard_shows_the_comparisons_and_sets_the_rate(stack: &Stack) {
    let mut person = person_on_both_sides(stack);
    person.sign_in(stack);
    let _shadowing = Shadowing::on(stack, 1.0);
    let (status, _) = upload(&person.user, "also-only-on-legacy.csv", b"x\n1\n");
    assert_eq!(status, 200);
    person.get(stack, "/api/list_cutter/list_saved_files/", false);
    person.get(stack, "/api/accounts/user/", false);
    counted(stack, 2);
    let seen = run_browser(stack, "shadow.mjs", &[&stack.gateway, ADMIN_TOKEN, "30"]);
    let rows = seen["rows"].as_array().unwrap();
    // Route, compared, equal, differing, errors, diff rate.
    let row = |route: &str| -> Vec<String> {
        let cells = rows
            .iter()
            .find(|r| r[0] == route)
            .unwrap_or_else(|| panic!("no row for {route}: {seen}"));
        cells.as_array().unwrap()[1..6]
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(row(LIST), ["1", "0", "1", "0", "100%"], "{seen}");
    assert_eq!(row(USER), ["1", "1", "0", "0", "0%"], "{seen}");
    assert!(
        seen["example"].as_str().unwrap().contains("$.files"),
        "{seen}"
    );
    assert_eq!(seen["charts"], 1, "{seen}");
    assert_eq!(seen["rate"], "30%", "{seen}");
    assert_eq!(report(stack)["rate"], 0.3, "the change is real");
}
