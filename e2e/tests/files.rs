//! Saved files of signed-in users (`upload/`, `list_saved_files/`, `download/`,
//! `delete/`, `save_generated_file/`, `update_tags/`, `fetch_saved_file/`,
//! `fetch_file_lineage/`): one user journey against the Django stand-in (directly)
//! and the app (through the gateway) with the same statuses and keys bar the
//! documented fixes; other users get 404 for everything; bad inputs change nothing.

use crate::common::{header, keys, unique, MAX_FILE_SIZE, PEOPLE};
use crate::session::{file_form, send, str_of, upload, User};
use e2e::{client, Stack};
use reqwest::blocking::multipart::Form;
use reqwest::blocking::RequestBuilder;
use reqwest::Method;
use serde_json::{json, Value};

crate::tests!(
    files:
    journey_matches_legacy_except_documented_fixes,
    other_users_get_404_and_change_nothing,
    bad_inputs_get_4xx_and_leave_d1_and_r2_unchanged,
);

fn generated_form(file_name: &str, bytes: &[u8], original: Option<&str>) -> Form {
    let form = file_form("blob", bytes)
        .text("file_name", file_name.to_string())
        .text("metadata", r#"{"columns":["name","city"],"filters":{}}"#);
    match original {
        Some(id) => form.text("original_file_id", id.to_string()),
        None => form,
    }
}

/// One step of the journey: its name, status and the keys of its JSON answer.
type Step = (&'static str, u16, Vec<String>);

/// The journey for one side; asserts what holds on both and returns the steps.
fn journey(stack: &Stack, app: bool) -> Vec<Step> {
    let user = User::register(stack, app, &unique(if app { "fa" } else { "fl" }));
    let mut steps: Vec<Step> = Vec::new();
    let base = unique("journey");
    let name = format!("{base}.csv");

    let (status, first) = upload(&user, &name, PEOPLE.as_bytes());
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["file_name"], json!(name));
    assert_eq!(first["message"], json!("File uploaded successfully"));
    steps.push(("upload", status, keys(&first)));
    let (status, second) = upload(&user, &name, PEOPLE.as_bytes());
    assert_eq!(second["file_name"], json!(format!("{base}_1.csv")));
    steps.push(("upload again", status, keys(&second)));
    let id = str_of(&first, "file_id");

    let (status, list, _) = send(&user, user.req(Method::GET, "list_saved_files/"));
    let files = list["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{list}");
    assert_eq!(files[0]["file_id"], json!(id));
    assert_eq!(files[0]["system_tags"], json!(["uploaded"]));
    steps.push(("list", status, keys(&list)));
    steps.push(("list item", status, keys(&files[0])));

    let (status, fetched, _) = send(
        &user,
        user.req(Method::GET, &format!("fetch_saved_file/{id}/")),
    );
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched["rowCount"], json!(5));
    assert_eq!(fetched["columns"], json!(["name", "age", "city", "salary"]));
    assert_eq!(fetched["content"], json!(PEOPLE));
    assert_eq!(fetched["size"], json!(PEOPLE.len()));
    steps.push(("fetch", status, keys(&fetched)));

    let (status, _, cut) = send(
        &user,
        user.req(Method::POST, "export_csv/").json(&json!({
            "columns": ["name", "city"],
            "file_path": fetched["file_path"],
            "filters": {"city": "= NYC"},
        })),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&cut));
    assert_eq!(
        // Legacy leaves the last record unterminated (a documented difference).
        String::from_utf8_lossy(&cut)
            .replace("\r\n", "\n")
            .trim_end(),
        "name,city\nJohn,NYC\nBob,NYC"
    );
    steps.push(("export", status, vec![]));

    let cut_name = format!("{base}-cut.csv");
    let (status, saved, _) = send(
        &user,
        user.req(Method::POST, "save_generated_file/")
            .multipart(generated_form(&cut_name, &cut, Some(&id))),
    );
    assert_eq!(status, 201, "{saved}");
    steps.push(("save generated", status, keys(&saved)));
    let cut_id = str_of(&saved, "file_id");

    // Legacy routed update_tags/ through <int:file_id>: a real (uuid) id never
    // reached the view, a 404 page. The app takes the string id (deliberate fix).
    let (status, tagged, _) = send(
        &user,
        user.req(Method::PATCH, &format!("update_tags/{id}/"))
            .json(&json!({"user_tags": ["q1", "q2"]})),
    );
    if app {
        assert_eq!(status, 200, "{tagged}");
        let (_, body, _) = send(
            &user,
            user.req(Method::PATCH, &format!("update_tags/{id}/"))
                .json(&json!({"user_tags": ["q2", "q3"]})),
        );
        assert_eq!(body["user_tags"], json!(["q1", "q2", "q3"]));
    } else {
        assert_eq!(status, 404);
    }

    let (status, lineage, _) = send(
        &user,
        user.req(Method::GET, &format!("fetch_file_lineage/{cut_id}/")),
    );
    assert_eq!(status, 200, "{lineage}");
    assert_eq!(
        lineage,
        json!({
            "nodes": [{"file_id": id, "file_name": name}, {"file_id": cut_id, "file_name": cut_name}],
            "edges": [{"source": id, "target": cut_id, "type": "CUT_TO"}],
        })
    );
    let (_, from_original, _) = send(
        &user,
        user.req(Method::GET, &format!("fetch_file_lineage/{id}/")),
    );
    assert_eq!(
        from_original["edges"],
        json!([{"source": cut_id, "target": id, "type": "CUT_FROM"}])
    );
    steps.push(("lineage", status, keys(&lineage)));

    let resp = user
        .req(Method::GET, &format!("download/{name}/"))
        .send()
        .expect("download");
    let status = resp.status().as_u16();
    let disposition = header(&resp, "content-disposition").unwrap_or_default();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(disposition.contains(&name), "{disposition}");
    assert_eq!(resp.text().expect("download body"), PEOPLE);
    steps.push(("download", status, vec![]));

    let (status, _, _) = send(&user, user.req(Method::DELETE, &format!("delete/{id}/")));
    steps.push(("delete", status, vec![]));
    let (status, body, _) = send(&user, user.req(Method::DELETE, &format!("delete/{id}/")));
    assert_eq!(body, json!({"error": "File not found."}));
    steps.push(("delete again", status, keys(&body)));
    let (_, list, _) = send(&user, user.req(Method::GET, "list_saved_files/"));
    assert_eq!(list["files"].as_array().map(Vec::len), Some(2), "{list}");
    steps
}

fn journey_matches_legacy_except_documented_fixes(stack: &Stack) {
    let legacy = journey(stack, false);
    let app = journey(stack, true);
    assert_eq!(app, legacy);
    // The app's own facts: where objects and rows are.
    let rows = stack.d1_execute(
        "SELECT COUNT(*) AS n FROM file_relationships r JOIN files f ON f.file_id = r.child_id \
         WHERE f.file_name LIKE 'journey%-cut.csv'",
    );
    assert_eq!(
        rows[0]["n"],
        json!(0),
        "the original's deletion took its lineage rows"
    );
}

/// A's files as the list, R2 keys and lineage rows show them.
fn snapshot(stack: &Stack, user: &User) -> (Value, Vec<String>, Vec<Value>) {
    let (_, list, _) = send(user, user.req(Method::GET, "list_saved_files/"));
    let keys = stack.r2().state().keys;
    let rels = stack.d1_execute("SELECT * FROM file_relationships ORDER BY id");
    (list, keys, rels)
}

fn other_users_get_404_and_change_nothing(stack: &Stack) {
    let a = User::register(stack, true, &unique("fo_a"));
    let b = User::register(stack, true, &unique("fo_b"));
    let (status, up) = upload(&a, "secret.csv", PEOPLE.as_bytes());
    assert_eq!(status, 200, "{up}");
    let id = str_of(&up, "file_id");
    let (status, saved, _) = send(
        &a,
        a.req(Method::POST, "save_generated_file/")
            .multipart(generated_form(
                "secret-cut.csv",
                PEOPLE.as_bytes(),
                Some(&id),
            )),
    );
    assert_eq!(status, 201, "{saved}");
    let before = snapshot(stack, &a);

    let cases: Vec<(&str, RequestBuilder)> = vec![
        ("download", b.req(Method::GET, "download/secret.csv/")),
        ("delete", b.req(Method::DELETE, &format!("delete/{id}/"))),
        (
            "update_tags",
            b.req(Method::PATCH, &format!("update_tags/{id}/"))
                .json(&json!({"user_tags": ["mine"]})),
        ),
        (
            "fetch_saved_file",
            b.req(Method::GET, &format!("fetch_saved_file/{id}/")),
        ),
        (
            "fetch_file_lineage",
            b.req(Method::GET, &format!("fetch_file_lineage/{id}/")),
        ),
        (
            "save_generated_file",
            b.req(Method::POST, "save_generated_file/")
                .multipart(generated_form("b.csv", PEOPLE.as_bytes(), Some(&id))),
        ),
        (
            "export_csv",
            b.req(Method::POST, "export_csv/").json(&json!({
                "columns": ["name"], "file_path": up["file_path"]})),
        ),
    ];
    for (what, req) in cases {
        let (status, body, _) = send(&b, req);
        assert_eq!(status, 404, "{what}: {body}");
        assert!(body["error"].as_str().is_some(), "{what}: {body}");
    }
    let (_, list, _) = send(&b, b.req(Method::GET, "list_saved_files/"));
    assert_eq!(list, json!({"files": []}));
    assert_eq!(snapshot(stack, &a), before);
}

fn bad_inputs_get_4xx_and_leave_d1_and_r2_unchanged(stack: &Stack) {
    let user = User::register(stack, true, &unique("fb"));
    let (status, up) = upload(&user, "mine.csv", PEOPLE.as_bytes());
    assert_eq!(status, 200, "{up}");
    let id = str_of(&up, "file_id");
    let count = || stack.d1_execute("SELECT COUNT(*) AS n FROM files")[0]["n"].clone();
    let rels = || stack.d1_execute("SELECT COUNT(*) AS n FROM file_relationships")[0]["n"].clone();
    let before = (stack.r2().state(), count(), rels());

    // Rows of CSV, so that only the size is wrong (one 50 MB row would be
    // refused as a row over the record limit first).
    let mut too_big = b"a,b\n".to_vec();
    while too_big.len() <= MAX_FILE_SIZE {
        too_big.extend_from_slice(b"1,2\n");
    }
    let no_token = client()
        .get(format!(
            "{}/api/list_cutter/list_saved_files/",
            stack.gateway
        ))
        .header("X-Beta-User", "true")
        .header("CF-Connecting-IP", stack.ip());
    let to_upload = |form: Form| user.req(Method::POST, "upload/").multipart(form);
    let cases: Vec<(&str, RequestBuilder, u16)> = vec![
        ("no token", no_token, 401),
        ("not CSV", to_upload(file_form("x.png", b"a,b\n1,2\n")), 400),
        ("empty", to_upload(file_form("e.csv", b"")), 400),
        (
            "invalid UTF-8",
            to_upload(file_form("u.csv", b"a,b\n\xff\xfe,1\n")),
            400,
        ),
        ("no file", to_upload(Form::new().text("note", "x")), 400),
        ("too large", to_upload(file_form("big.csv", &too_big)), 413),
        (
            "generated without metadata",
            user.req(Method::POST, "save_generated_file/")
                .multipart(file_form("blob", PEOPLE.as_bytes()).text("file_name", "g.csv")),
            400,
        ),
        (
            "generated with metadata not JSON",
            user.req(Method::POST, "save_generated_file/").multipart(
                file_form("blob", PEOPLE.as_bytes())
                    .text("file_name", "g.csv")
                    .text("metadata", "{not json"),
            ),
            400,
        ),
        (
            "generated from an unknown original",
            user.req(Method::POST, "save_generated_file/")
                .multipart(generated_form("g.csv", PEOPLE.as_bytes(), Some("nope"))),
            404,
        ),
        (
            "generated without a file",
            user.req(Method::POST, "save_generated_file/").multipart(
                Form::new()
                    .text("file_name", "g.csv")
                    .text("metadata", "{}"),
            ),
            400,
        ),
        (
            "tags not a list",
            user.req(Method::PATCH, &format!("update_tags/{id}/"))
                .json(&json!({"user_tags": "x"})),
            400,
        ),
        (
            "tags not JSON",
            user.req(Method::PATCH, &format!("update_tags/{id}/"))
                .body("{"),
            400,
        ),
        (
            "unknown file",
            user.req(Method::GET, "fetch_saved_file/nope/"),
            404,
        ),
        (
            "unknown name",
            user.req(Method::GET, "download/nope.csv/"),
            404,
        ),
    ];
    for (what, req, expected) in cases {
        let (status, body, _) = send(&user, req);
        assert_eq!(status, expected, "{what}: {body}");
        assert!(body.is_object(), "{what}: JSON expected, got {body}");
    }
    assert_eq!((stack.r2().state(), count(), rels()), before);

    // A path-traversal name is only a name.
    let (status, up) = upload(&user, "../../etc/passwd.csv", PEOPLE.as_bytes());
    assert_eq!(status, 200, "{up}");
    assert_eq!(up["file_name"], json!("passwd.csv"));
    assert!(str_of(&up, "file_path").starts_with("uploads/user-"));
}
