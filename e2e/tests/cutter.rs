//! The anonymous cutter (`csv_cutter/`, `export_csv/`) through the gateway on the
//! app Worker: uploads stream into R2, cuts stream out of it, every bad input is a
//! JSON 4xx that leaves R2 as it was, and the shapes match the legacy endpoints.

use crate::common::{header, keys, native_cut, served_by, MAX_FILE_SIZE, PEOPLE};
use crate::session::file_form;
use e2e::{client, sample_csv, Stack};
use reqwest::blocking::multipart::Form;
use reqwest::blocking::RequestBuilder;
use serde_json::{json, Value};

crate::tests!(
    cutter:
    upload_answers_columns_and_stores_under_anon,
    filters_keep_the_expected_rows,
    columns_in_request_order_with_rfc4180_quoting,
    bad_uploads_get_4xx_json_and_leave_r2_unchanged,
    bad_exports_get_4xx_json,
    expired_uploads_are_not_found_and_deleted,
    matches_the_legacy_endpoints_except_documented_fixes,
    upload_and_cut_50mb_through_the_gateway,
);

/// A POST to `base`, the gateway (as a beta tester: the app serves) or the
/// stand-in, from a new client address each time (the gateway allows 100 a
/// minute per address).
fn post(stack: &Stack, base: &str, path: &str) -> RequestBuilder {
    client()
        .post(format!("{base}{path}"))
        .header("X-Beta-User", "true")
        .header("CF-Connecting-IP", stack.ip())
}

/// Uploads a file; returns (status, served-by, JSON).
fn upload(stack: &Stack, base: &str, name: &str, bytes: &[u8]) -> (u16, String, Value) {
    let resp = post(stack, base, "/api/list_cutter/csv_cutter/")
        .multipart(file_form(name, bytes))
        .send()
        .expect("upload");
    let (status, by) = (resp.status().as_u16(), served_by(&resp));
    (status, by, resp.json().unwrap_or(Value::Null))
}

struct Export {
    status: u16,
    by: String,
    content_type: Option<String>,
    disposition: Option<String>,
    body: Vec<u8>,
}

impl Export {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 export")
    }
}

fn export(stack: &Stack, base: &str, request: &Value) -> Export {
    let resp = post(stack, base, "/api/list_cutter/export_csv/")
        .json(request)
        .send()
        .expect("export");
    Export {
        status: resp.status().as_u16(),
        by: served_by(&resp),
        content_type: header(&resp, "content-type"),
        disposition: header(&resp, "content-disposition"),
        body: resp.bytes().expect("export body").to_vec(),
    }
}

/// Uploads through the gateway and returns the `file_path`.
fn upload_ok(stack: &Stack, name: &str, bytes: &[u8]) -> String {
    let (status, by, body) = upload(stack, &stack.gateway, name, bytes);
    assert_eq!((status, by.as_str()), (200, "app-blue"), "{body}");
    body["file_path"].as_str().expect("file_path").to_string()
}

fn upload_answers_columns_and_stores_under_anon(stack: &Stack) {
    let before = stack.r2().state();
    let (status, by, body) = upload(stack, &stack.gateway, "people.csv", PEOPLE.as_bytes());
    assert_eq!((status, by.as_str()), (200, "app-blue"), "{body}");
    assert_eq!(keys(&body), ["columns", "file_path"]);
    assert_eq!(body["columns"], json!(["name", "age", "city", "salary"]));
    let id = body["file_path"].as_str().unwrap();
    assert_eq!(id.len(), 36, "an opaque UUID, not a path: {id}");
    let after = stack.r2().state();
    let mut expected = before.keys.clone();
    expected.push(format!("anon/{id}.csv"));
    expected.sort();
    assert_eq!(after.keys, expected);

    // A `.txt` name and a BOM are accepted too (the BOM is not part of the name).
    let (status, _, body) = upload(
        stack,
        &stack.gateway,
        "x.TXT",
        "\u{feff}a,a,,b\n1,2,3,4\n".as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["columns"], json!(["a", "a.1", "Unnamed: 2", "b"]));
}

fn filters_keep_the_expected_rows(stack: &Stack) {
    let id = upload_ok(stack, "people.csv", PEOPLE.as_bytes());
    let cases: &[(Value, &str)] = &[
        (json!({"city": "= NYC"}), "name\nJohn\nBob\n"),
        (
            json!({"age": "BETWEEN 28 AND 35"}),
            "name\nJane\nBob\nAlice\n",
        ),
        (
            json!({"age": ">= 28", "salary": "> 60000", "city": "IN (LA, Chicago)"}),
            "name\nJane\nAlice\nCharlie\n",
        ),
        (json!({}), "name\nJohn\nJane\nBob\nAlice\nCharlie\n"),
    ];
    for (filters, expected) in cases {
        let r = export(
            stack,
            &stack.gateway,
            &json!({"columns": ["name"], "file_path": id, "filters": filters}),
        );
        assert_eq!(
            (r.status, r.by.as_str()),
            (200, "app-blue"),
            "{filters}: {}",
            r.text()
        );
        assert_eq!(r.text(), *expected, "{filters}");
        assert_eq!(r.content_type.as_deref(), Some("text/csv"));
        assert_eq!(
            r.disposition.as_deref(),
            Some("attachment; filename=\"filtered.csv\"")
        );
    }
    // Without `filters` at all, and with the path's trailing slash left out.
    let resp = post(stack, &stack.gateway, "/api/list_cutter/export_csv")
        .json(&json!({"columns": ["salary", "name"], "file_path": id}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().unwrap(),
        "salary,name\n50000,John\n75000,Jane\n60000,Bob\n65000,Alice\n80000,Charlie\n"
    );
}

fn columns_in_request_order_with_rfc4180_quoting(stack: &Stack) {
    let file =
        "id,text,n\r\n1,\"a, b\",10\r\n2,\"say \"\"hi\"\"\",20\r\n3,\"two\nlines\",30\r\n4,,40\r\n";
    let id = upload_ok(stack, "q.csv", file.as_bytes());
    let r = export(
        stack,
        &stack.gateway,
        &json!({"columns": ["n", "text", "id"], "file_path": id, "filters": {"n": ">= 20"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        "n,text,id\n20,\"say \"\"hi\"\"\",2\n30,\"two\nlines\",3\n40,,4\n"
    );
}

fn bad_uploads_get_4xx_json_and_leave_r2_unchanged(stack: &Stack) {
    let before = stack.r2().state();
    let cut = || post(stack, &stack.gateway, "/api/list_cutter/csv_cutter/");
    let file = |name: &str, bytes: &[u8]| cut().multipart(file_form(name, bytes));
    let cases: Vec<(&str, RequestBuilder, u16, &str)> = vec![
        (
            "no file part",
            cut().multipart(Form::new().text("note", "hello")),
            400,
            "No file uploaded",
        ),
        (
            "not multipart",
            cut().json(&json!({"file": "a,b"})),
            400,
            "multipart",
        ),
        (
            "truncated body",
            cut()
                .header("content-type", "multipart/form-data; boundary=b0")
                .body(
                    "--b0\r\nContent-Disposition: form-data; name=\"file\"; \
                     filename=\"t.csv\"\r\n\r\na,b\n1,2\n",
                ),
            400,
            "ended before its closing boundary",
        ),
        (
            "no body at all",
            cut().header("content-type", "multipart/form-data; boundary=b0"),
            400,
            "",
        ),
        ("empty file", file("e.csv", b""), 400, "empty"),
        (
            "header-less file",
            file("h.csv", b",,\n1,2,3\n"),
            400,
            "header",
        ),
        (
            "invalid UTF-8 after the header",
            file("u.csv", b"a,b\n1,2\n\xff\xfe,3\n"),
            400,
            "UTF-8",
        ),
        (
            "not a CSV name",
            file("p.png", PEOPLE.as_bytes()),
            400,
            "Only CSV and TXT",
        ),
        (
            "binary content under a CSV name",
            file("b.csv", b"a,b\n\x00\x01\x02\n"),
            400,
            "NUL",
        ),
        (
            "one byte over MAX_FILE_SIZE, past one R2 part",
            file("big.csv", &sample_csv(MAX_FILE_SIZE + 1)),
            413,
            "File size exceeds 50.00MB limit",
        ),
    ];
    for (what, request, status, message) in cases {
        let resp = request.send().expect(what);
        assert_eq!(served_by(&resp), "app-blue", "{what}");
        let got = resp.status().as_u16();
        let body: Value = resp.json().unwrap_or(Value::Null);
        assert_eq!(got, status, "{what}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{what}: {body}");
        assert_eq!(stack.r2().state(), before, "{what} changed R2");
    }
}

fn bad_exports_get_4xx_json(stack: &Stack) {
    let id = upload_ok(stack, "people.csv", PEOPLE.as_bytes());
    let missing = "00000000-0000-4000-8000-000000000000";
    let cases: &[(&str, Value, u16, &str)] = &[
        (
            "no columns",
            json!({"file_path": id}),
            400,
            "No columns provided.",
        ),
        (
            "empty columns",
            json!({"columns": [], "file_path": id}),
            400,
            "No columns provided.",
        ),
        (
            "bad filter",
            json!({"columns": ["name"], "file_path": id, "filters": {"age": "~ 3"}}),
            400,
            "age",
        ),
        (
            "unknown selected column",
            json!({"columns": ["name", "nope"], "file_path": id}),
            400,
            "nope",
        ),
        (
            "unknown filter column",
            json!({"columns": ["name"], "file_path": id, "filters": {"zip": "= 1"}}),
            400,
            "zip",
        ),
        (
            "unknown id",
            json!({"columns": ["name"], "file_path": missing}),
            404,
            "File not found",
        ),
        (
            "traversal",
            json!({"columns": ["name"], "file_path": format!("../anon/{id}")}),
            404,
            "File not found",
        ),
        (
            "a full key instead of an id",
            json!({"columns": ["name"], "file_path": format!("anon/{id}.csv")}),
            404,
            "File not found",
        ),
        (
            "a server path",
            json!({"columns": ["name"], "file_path": "/etc/passwd.csv"}),
            404,
            "File not found",
        ),
        (
            "no file_path",
            json!({"columns": ["name"]}),
            400,
            "file_path",
        ),
    ];
    for (what, request, status, message) in cases {
        let r = export(stack, &stack.gateway, request);
        assert_eq!(
            (r.status, r.by.as_str()),
            (*status, "app-blue"),
            "{what}: {}",
            r.text()
        );
        let body = r.json();
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{what}: {body}");
    }
    let raw = |body: Vec<u8>| {
        let resp = post(stack, &stack.gateway, "/api/list_cutter/export_csv/")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().unwrap()["error"].clone())
    };
    assert_eq!(
        raw(b"{not json".to_vec()),
        (400, json!("Invalid JSON body"))
    );
    assert_eq!(raw(Vec::new()), (400, json!("Invalid JSON body")));
    // A body too large for a request of a few names is refused, not buffered.
    assert_eq!(
        raw(vec![b' '; 2 << 20]),
        (413, json!("Request body too large"))
    );
}

fn expired_uploads_are_not_found_and_deleted(stack: &Stack) {
    let id = upload_ok(stack, "people.csv", PEOPLE.as_bytes());
    let key = format!("anon/{id}.csv");
    let request = json!({"columns": ["name"], "file_path": id});
    assert_eq!(export(stack, &stack.gateway, &request).status, 200);
    stack.r2().set_custom_metadata(
        &key,
        r#"{"expires_at":"2020-01-01T00:00:00Z","original_name":"people.csv"}"#,
    );
    let r = export(stack, &stack.gateway, &request);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json(), json!({"error": "File not found"}));
    assert!(
        !stack.r2().state().keys.contains(&key),
        "the expired object is deleted"
    );
}

fn matches_the_legacy_endpoints_except_documented_fixes(stack: &Stack) {
    let (app, legacy) = (&stack.gateway, &stack.legacy);
    let (a_status, _, a_body) = upload(stack, app, "people.csv", PEOPLE.as_bytes());
    let (l_status, _, l_body) = upload(stack, legacy, "people.csv", PEOPLE.as_bytes());
    assert_eq!((a_status, l_status), (200, 200));
    assert_eq!(keys(&a_body), keys(&l_body));
    assert_eq!(a_body["columns"], l_body["columns"]);
    // Deliberate: an opaque id instead of the legacy absolute server path.
    assert!(l_body["file_path"].as_str().unwrap().starts_with('/'));

    let cut = |base: &str, file_path: &Value, filters: Value| {
        export(
            stack,
            base,
            &json!({"columns": ["name", "city"], "file_path": file_path, "filters": filters}),
        )
    };
    let (a, l) = (
        cut(app, &a_body["file_path"], json!({"city": "= NYC"})),
        cut(legacy, &l_body["file_path"], json!({"city": "= NYC"})),
    );
    assert_eq!((a.status, l.status), (200, 200));
    // The same records while no cell needs quoting (legacy never quotes); legacy
    // leaves the last record unterminated, the app ends every record with `\n`.
    assert_eq!(a.text(), format!("{}\n", l.text()));
    assert_eq!(a.disposition, l.disposition);

    // Same status and body for a missing file and for missing columns.
    for base in [app, legacy] {
        let resp = post(stack, base, "/api/list_cutter/csv_cutter/")
            .multipart(Form::new().text("note", "x"))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(
            resp.json::<Value>().unwrap(),
            json!({"error": "No file uploaded"})
        );
    }
    let (a, l) = (
        export(
            stack,
            app,
            &json!({"columns": [], "file_path": a_body["file_path"]}),
        ),
        export(
            stack,
            legacy,
            &json!({"columns": [], "file_path": l_body["file_path"]}),
        ),
    );
    assert_eq!((a.status, l.status), (400, 400));
    assert_eq!(a.json(), l.json());

    // Deliberate: a bad filter is a 400 naming it, where legacy drops every row.
    let (a, l) = (
        cut(app, &a_body["file_path"], json!({"age": "~ 3"})),
        cut(legacy, &l_body["file_path"], json!({"age": "~ 3"})),
    );
    assert_eq!((a.status, l.status), (400, 200));
    assert_eq!(l.text().trim_end(), "name,city");
}

fn upload_and_cut_50mb_through_the_gateway(stack: &Stack) {
    let file = sample_csv(MAX_FILE_SIZE);
    assert_eq!(file.len(), MAX_FILE_SIZE);
    let id = upload_ok(stack, "big.csv", &file);
    let filters = [("amount", ">= 50000"), ("city", "IN (NYC, \"São Paulo\")")];
    let columns = ["note", "id", "city"];
    let r = export(
        stack,
        &stack.gateway,
        &json!({"columns": columns, "file_path": id, "filters": {"amount": filters[0].1, "city": filters[1].1}}),
    );
    assert_eq!((r.status, r.by.as_str()), (200, "app-blue"));
    let expected = native_cut(&file, &columns, &filters);
    assert!(
        expected.len() > 5 << 20,
        "the cut is large enough to stream"
    );
    assert_eq!(r.body.len(), expected.len());
    assert!(
        r.body == expected,
        "the Worker's cut differs from the engine's"
    );
}
