//! The single-page frontend the app Worker serves from its static assets: how
//! it is served (SPA fallback, caching, CSP, API paths untouched), and a real
//! headless Chromium (playwright-core, `e2e/browser/frontend.mjs`) driving it
//! through the gateway with all traffic on the app. The browser runs save
//! screenshots of every screen at desktop and 375 px width into `e2e/artifacts/`
//! and fail on console errors, unlabelled controls and horizontal overflow.

use crate::common::unique;
use crate::common::{header, native_cut, run_browser, served_by, PEOPLE};
use e2e::{client, sample_csv, Stack, JWT_SECRET};
use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::RequestBuilder;
use reqwest::Method;
use serde_json::{json, Value};

crate::tests!(
    frontend:
    served_with_spa_fallback_caching_and_csp,
    browser_anonymous_cutter,
    browser_journey_from_register_to_delete,
);

/// All traffic on the app while it lives (the frontend is the app's), back to
/// legacy afterwards even when an assertion fails.
struct AllOnApp<'a>(&'a Stack);

impl<'a> AllOnApp<'a> {
    fn new(stack: &'a Stack) -> Self {
        stack.set_percentage("100");
        AllOnApp(stack)
    }
}

impl Drop for AllOnApp<'_> {
    fn drop(&mut self) {
        self.0.set_percentage("0");
    }
}

fn get(stack: &Stack, method: Method, path: &str) -> RequestBuilder {
    client()
        .request(method, format!("{}{path}", stack.gateway))
        .header("CF-Connecting-IP", stack.ip())
}

fn served_with_spa_fallback_caching_and_csp(stack: &Stack) {
    let _app = AllOnApp::new(stack);
    let resp = get(stack, Method::GET, "/").send().unwrap();
    assert_eq!(
        (resp.status().as_u16(), served_by(&resp)),
        (200, "app-blue".into())
    );
    assert!(header(&resp, "content-type")
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(
        header(&resp, "content-security-policy").as_deref(),
        Some(shared::frontend::CSP)
    );
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-cache"));
    let etag = header(&resp, "etag");
    let index = resp.text().unwrap();
    assert!(
        !index.contains("<script>") && !index.contains("style=") && !index.contains("<style"),
        "inline code in {index}"
    );
    assert!(
        !index.contains("http://") && !index.contains("https://"),
        "outside asset in {index}"
    );

    // App routes (any non-API GET that is not a file) get the same index.
    for path in [
        "/files/some-id/cut",
        "/login?next=%2Ffiles",
        "/no/such/page",
    ] {
        let resp = get(stack, Method::GET, path).send().unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-cache"));
        assert!(header(&resp, "content-security-policy").is_some(), "{path}");
        assert_eq!(resp.text().unwrap(), index, "{path}");
    }
    let resp = get(stack, Method::HEAD, "/files").send().unwrap();
    assert_eq!(resp.status(), 200);
    // An unchanged index revalidates to a 304.
    if let Some(etag) = etag {
        let resp = get(stack, Method::GET, "/")
            .header("If-None-Match", etag)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 304);
    }

    // The hashed files the index names are cached for good, with their types.
    let assets: Vec<&str> = index
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert_eq!(assets.len(), 2, "one script, one stylesheet: {index}");
    for asset in assets {
        let resp = get(stack, Method::GET, asset).send().unwrap();
        assert_eq!(resp.status(), 200, "{asset}");
        assert_eq!(
            header(&resp, "cache-control").as_deref(),
            Some("public, max-age=31536000, immutable")
        );
        let kind = if asset.ends_with(".js") {
            "javascript"
        } else {
            "css"
        };
        assert!(
            header(&resp, "content-type").unwrap().contains(kind),
            "{asset}"
        );
        assert!(header(&resp, "content-security-policy").is_some());
    }
    // A missing hashed file is a 404, never the index in its place.
    let resp = get(stack, Method::GET, "/assets/index-00000000.js")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_ne!(resp.text().unwrap(), index);
    let resp = get(stack, Method::GET, "/favicon.svg").send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-cache"));

    // API paths keep their JSON answers: unknown ones a JSON 404, other
    // methods on a page path too.
    for (method, path) in [
        (Method::GET, "/api/nope"),
        (Method::GET, "/api"),
        (Method::GET, "/api/list_cutter/nope/"),
        (Method::POST, "/files"),
        (Method::DELETE, "/"),
    ] {
        let resp = get(stack, method.clone(), path).send().unwrap();
        assert_eq!(resp.status(), 404, "{method} {path}");
        assert!(header(&resp, "content-type").unwrap().contains("json"));
        let body: Value = resp.json().unwrap();
        assert_eq!(body, json!({"error": "Not found"}), "{method} {path}");
    }
    let resp = get(stack, Method::GET, "/api/accounts/user/")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.json::<Value>().unwrap()["detail"].is_string());
}

/// Runs one scenario of `e2e/browser/frontend.mjs`; returns what it saw.
fn browse(stack: &Stack, scenario: &str, options: Value) -> Value {
    let mut options = options;
    options["ip"] = json!(stack.ip());
    options["artifacts"] = json!(stack.root.join("e2e/artifacts").to_str().unwrap());
    options["fixture"] = json!(PEOPLE);
    run_browser(
        stack,
        "frontend.mjs",
        &[scenario, &stack.gateway, &options.to_string()],
    )
}

/// `[header, rows...]` of a CSV without quoting (the fixture's cuts).
fn table(csv: &[u8]) -> Value {
    let text = std::str::from_utf8(csv).unwrap();
    json!(text
        .lines()
        .map(|line| line.split(',').collect::<Vec<_>>())
        .collect::<Vec<_>>())
}

fn browser_anonymous_cutter(stack: &Stack) {
    let _app = AllOnApp::new(stack);
    let filters = [("city", "IN (NYC, Chicago)")];
    let expected = native_cut(PEOPLE.as_bytes(), &["name", "age"], &filters);
    let sample = String::from_utf8(sample_csv(8_192)).unwrap();
    let sample_filters = [("city", "IN (Zürich, \"São Paulo\")")];
    let sample_cut = native_cut(sample.as_bytes(), &["name", "note"], &sample_filters);
    let seen = browse(
        stack,
        "anonymous",
        json!({
            "columns": ["name", "age"],
            "filters": {filters[0].0: filters[0].1},
            "sample": {"csv": sample, "columns": ["name", "note"],
                       "filters": {sample_filters[0].0: sample_filters[0].1}},
        }),
    );
    assert_eq!(seen["columns"], json!(["name", "age", "city", "salary"]));
    assert_eq!(seen["preview"], table(&expected), "{seen}");
    assert_eq!(
        seen["download"].as_str().unwrap().as_bytes(),
        expected.as_slice()
    );
    // The preview reads quoted cells as the engine wrote them, and only the
    // first 20 rows.
    let records: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(sample_cut.as_slice())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert!(records.len() > 21, "the cut is longer than the preview");
    assert_eq!(seen["samplePreview"], json!(records[..21]), "{seen}");
    assert_eq!(
        seen["samplePreviewTitle"],
        "Preview: 20 rows (the first 20)"
    );
    assert_eq!(seen["notFound"], "Page not found");
    assert!(seen["grammar"]
        .as_str()
        .unwrap()
        .contains("BETWEEN a AND b"));
    assert_eq!(
        seen["screens"],
        json!(["anonymous-cutter", "anonymous-cut", "not-found", "about"])
    );
}

/// What the API itself answers to a cut with `filter` (on an anonymous upload
/// of the fixture): the message the page must show.
fn api_error_for(stack: &Stack, filter: (&str, &str)) -> String {
    let form = Form::new().part(
        "file",
        Part::bytes(PEOPLE.as_bytes().to_vec()).file_name("people.csv"),
    );
    let upload: Value = get(stack, Method::POST, "/api/list_cutter/csv_cutter/")
        .multipart(form)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let resp = get(stack, Method::POST, "/api/list_cutter/export_csv/")
        .json(
            &json!({"columns": ["name"], "file_path": upload["file_path"],
                      "filters": {filter.0: filter.1}}),
        )
        .send()
        .unwrap();
    assert_eq!(resp.status(), 400);
    resp.json::<Value>().unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string()
}

fn browser_journey_from_register_to_delete(stack: &Stack) {
    let _app = AllOnApp::new(stack);
    let username = unique("browser");
    let bad_filter = ("age", "between 30");
    let filters = [("age", ">= 30")];
    let expected = native_cut(PEOPLE.as_bytes(), &["name", "city"], &filters);
    let seen = browse(
        stack,
        "journey",
        json!({
            "username": username,
            "password": "correct horse 42",
            "columns": ["name", "city"],
            "badFilter": [bad_filter.0, bad_filter.1],
            "filters": {filters[0].0: filters[0].1},
            "savedName": "adults.csv",
            "search": "adul",
            "tag": "over-thirty",
            "filterName": "Adults by city",
            "jwtSecret": JWT_SECRET,
        }),
    );

    assert_eq!(seen["emailError"], "Enter a valid email address.", "{seen}");
    assert!(seen["sessionAfterLogout"].is_null());
    // Signed out with an expired access token: the logout was refused once,
    // the tokens refreshed, and the logout sent again with the new refresh
    // token, which the server then revoked (the old one the refresh rotated).
    let sent = seen["logoutRefreshTokens"].as_array().unwrap();
    assert_eq!(sent.len(), 2, "{seen}");
    assert_eq!(sent[0], seen["refreshBeforeLogout"]);
    assert_ne!(sent[1], sent[0]);
    for token in [&seen["refreshBeforeLogout"], &sent[1]] {
        let resp = get(stack, Method::POST, "/api/accounts/token/refresh/")
            .json(&json!({ "refresh": token }))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    assert!(seen["signedInAs"].as_str().unwrap().contains(&username));

    assert!(
        seen["oversizeError"]
            .as_str()
            .unwrap()
            .starts_with("File size exceeds 50.00MB limit"),
        "{seen}"
    );
    assert_eq!(seen["oversizeSentRequests"], 0);
    assert_eq!(seen["sawProgress"], true);

    assert_eq!(
        seen["savedColumns"],
        json!(["name", "age", "city", "salary"])
    );
    assert_eq!(seen["badFilterError"], api_error_for(stack, bad_filter));
    assert_eq!(seen["preview"], table(&expected), "{seen}");

    // The expired access token was refused once, refreshed and the save retried.
    assert_eq!(seen["refreshCalls"], 1);
    assert_eq!(seen["tokenReplaced"], true);
    assert_eq!(seen["errorShownAfterRefresh"], 0);

    assert_eq!(seen["lineageNodes"], json!(["people.csv", "adults.csv"]));
    assert_eq!(seen["lineageSelected"], "adults.csv");
    assert_eq!(seen["lineageEdges"], json!(["people.csv → adults.csv"]));
    assert_eq!(seen["lineageArrows"], 1);

    assert_eq!(seen["taggedFiles"], json!(["adults.csv"]));
    assert_eq!(seen["byName"], json!(["people.csv", "adults.csv"]));
    assert_eq!(seen["searched"], json!(["adults.csv"]));
    assert_eq!(
        seen["download"].as_str().unwrap().as_bytes(),
        expected.as_slice()
    );

    assert!(
        seen["filterListed"]
            .as_str()
            .unwrap()
            .contains("Adults by city"),
        "{seen}"
    );
    assert_eq!(
        seen["filterDownload"].as_str().unwrap().as_bytes(),
        expected.as_slice()
    );
    assert_eq!(
        seen["filterSaved"],
        "Saved Adults by city.csv to your files."
    );
    assert_eq!(seen["filtersLeft"], 0);
    // Newest first: the file the filter saved, then the upload.
    assert_eq!(
        seen["filesLeft"],
        json!(["Adults by city.csv", "people.csv"])
    );

    // The server agrees: the cut saved from the cutter, its lineage rows and the
    // filter are gone; the upload and the filter's file (with its lineage) stay.
    let rows = stack.d1_execute(&format!(
        "SELECT f.file_name FROM files f JOIN users u ON u.id = f.user_id \
         WHERE u.username = '{username}' ORDER BY f.file_name"
    ));
    let names: Vec<&Value> = rows.iter().map(|r| &r["file_name"]).collect();
    assert_eq!(names, [&json!("Adults by city.csv"), &json!("people.csv")]);
    let left = stack.d1_execute(&format!(
        "SELECT (SELECT COUNT(*) FROM file_relationships r JOIN files f ON f.file_id = r.parent_id \
                 JOIN users u ON u.id = f.user_id WHERE u.username = '{username}') AS edges, \
                (SELECT COUNT(*) FROM saved_filters s JOIN users u ON u.id = s.user_id \
                 WHERE u.username = '{username}') AS filters"
    ));
    assert_eq!(left[0], json!({"edges": 2, "filters": 0}));
    assert_eq!(seen["endedNotice"], "Sign in to continue.");
    assert!(seen["sessionAfterEnd"].is_null());
    assert_eq!(
        seen["screens"],
        json!([
            "register-errors",
            "login",
            "upload",
            "cutter",
            "cutter-bad-filter",
            "cutter-preview",
            "lineage",
            "files",
            "filters",
            "files-confirm-delete"
        ])
    );
}
