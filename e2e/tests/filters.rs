//! Saved filters (`/api/filters`): create, list, read, update, apply as a download
//! and as a new file with lineage, delete; another user's filters and files are
//! 404s; bad bodies are a 400 naming the problem and change nothing.

use crate::common::unique;
use crate::common::PEOPLE;
use crate::files_api::{counted, upload};
use crate::session::{send, str_of, User};
use e2e::Stack;
use reqwest::blocking::RequestBuilder;
use reqwest::Method;
use serde_json::{json, Value};

crate::tests!(
    filters:
    create_list_update_apply_and_delete,
    other_users_and_bad_bodies_get_4xx_and_change_nothing,
);

/// The third fixture cut: Jane, Alice and Charlie (Alice, 28, 65000, Chicago,
/// passes all three filters).
fn well_paid(file_id: &str) -> Value {
    json!({
        "name": "Well paid, west",
        "file_id": file_id,
        "columns": ["name", "city"],
        "filters": {"age": ">= 28", "salary": "> 60000", "city": "IN (LA, Chicago)"},
    })
}

/// The fixture cut by [`well_paid`].
const WELL_PAID_CUT: &str = "name,city\nJane,LA\nAlice,Chicago\nCharlie,LA\n";

/// The CSV a request answers with a 200.
fn csv_of(user: &User, req: RequestBuilder) -> String {
    let (status, _, csv) = send(user, req);
    assert_eq!(status, 200);
    String::from_utf8(csv).unwrap()
}

/// `user` uploads the fixture and saves [`well_paid`] on it: (the file's id, the
/// filter as created).
fn saved_filter(user: &User) -> (String, Value) {
    let source = upload(user, "people.csv", PEOPLE.as_bytes());
    let source_id = str_of(&source, "file_id");
    let (status, created, _) = send(
        user,
        user.api(Method::POST, "/api/filters")
            .json(&well_paid(&source_id)),
    );
    assert_eq!(status, 201, "{created}");
    (source_id, created)
}

fn create_list_update_apply_and_delete(stack: &Stack) {
    let user = User::register(stack, true, &unique("sf"));
    let (source_id, created) = saved_filter(&user);
    let id = str_of(&created, "id");
    assert_eq!(created["columns"], json!(["name", "city"]));
    assert_eq!(created["filters"]["city"], "IN (LA, Chicago)");
    let (_, list, _) = send(&user, user.api(Method::GET, "/api/filters"));
    assert_eq!(list["filters"], json!([created.clone()]));
    let (_, by_file, _) = send(
        &user,
        user.api(Method::GET, &format!("/api/filters?file_id={source_id}")),
    );
    assert_eq!(by_file["filters"].as_array().map(Vec::len), Some(1));
    let (status, one, _) = send(&user, user.api(Method::GET, &format!("/api/filters/{id}/")));
    assert_eq!((status, &one), (200, &created));

    let apply = format!("/api/filters/{id}/apply");
    assert_eq!(csv_of(&user, user.api(Method::POST, &apply)), WELL_PAID_CUT);

    // An update changes what it names and keeps the rest.
    let (status, updated, _) = send(
        &user,
        user.api(Method::PUT, &format!("/api/filters/{id}"))
            .json(&json!({"columns": ["name"], "filters": {"city": "= NYC"}})),
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Well paid, west");
    assert_eq!(
        csv_of(&user, user.api(Method::POST, &apply).json(&json!({}))),
        "name\nJohn\nBob\n"
    );
    send(
        &user,
        user.api(Method::PUT, &format!("/api/filters/{id}"))
            .json(&well_paid(&source_id)),
    );

    // Saved as a new file: its bytes, its lineage, its counts.
    let (status, saved, _) = send(
        &user,
        user.api(Method::POST, &apply)
            .json(&json!({"save_as": "west.csv"})),
    );
    assert_eq!(status, 201, "{saved}");
    let derived = str_of(&saved, "file_id");
    assert_eq!(saved["file_name"], "west.csv");
    assert_eq!(
        csv_of(&user, user.req(Method::GET, "download/west.csv/")),
        WELL_PAID_CUT
    );
    let (_, lineage, _) = send(
        &user,
        user.req(Method::GET, &format!("fetch_file_lineage/{source_id}/")),
    );
    // The edge as the legacy view of lineage shows it (see the files module).
    let linked = lineage["edges"].as_array().unwrap().iter().any(|e| {
        let ends = [e["source"].as_str(), e["target"].as_str()];
        ends.contains(&Some(source_id.as_str())) && ends.contains(&Some(derived.as_str()))
    });
    assert!(linked, "{lineage}");
    assert!(
        lineage["nodes"]
            .as_array()
            .unwrap()
            .contains(&json!({"file_id": derived, "file_name": "west.csv"})),
        "{lineage}"
    );
    let file = counted(&user, &derived);
    assert_eq!(
        (file["row_count"].as_i64(), file["column_count"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(file["metadata"]["filter_id"], id.as_str());
    assert_eq!(file["system_tags"], json!(["generated"]));

    let (status, _, _) = send(
        &user,
        user.api(Method::DELETE, &format!("/api/filters/{id}")),
    );
    assert_eq!(status, 204);
    let (status, body, _) = send(&user, user.api(Method::GET, &format!("/api/filters/{id}")));
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("Filter not found."))
    );
    let (_, list, _) = send(&user, user.api(Method::GET, "/api/filters"));
    assert_eq!(list["filters"], json!([]));
}

fn other_users_and_bad_bodies_get_4xx_and_change_nothing(stack: &Stack) {
    let a = User::register(stack, true, &unique("sfa"));
    let b = User::register(stack, true, &unique("sfb"));
    let (source_id, created) = saved_filter(&a);
    let id = str_of(&created, "id");
    counted(&a, &source_id);
    let state = || {
        (
            stack.d1_execute("SELECT * FROM saved_filters ORDER BY id"),
            stack.d1_execute("SELECT * FROM files ORDER BY id"),
            stack.r2().state().keys,
        )
    };
    let before = state();

    // B sees none of A's filters or files.
    let with = |changes: Value| {
        let mut body = well_paid(&source_id);
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let b_cases = [
        (Method::GET, format!("/api/filters/{id}"), Value::Null),
        (
            Method::PUT,
            format!("/api/filters/{id}"),
            json!({"name": "mine"}),
        ),
        (Method::DELETE, format!("/api/filters/{id}"), Value::Null),
        (
            Method::POST,
            format!("/api/filters/{id}/apply"),
            json!({"save_as": "stolen.csv"}),
        ),
        (Method::POST, "/api/filters".to_string(), with(json!({}))),
    ];
    for (method, path, body) in b_cases {
        let mut req = b.api(method.clone(), &path);
        if !body.is_null() {
            req = req.json(&body);
        }
        let (status, answer, _) = send(&b, req);
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert!(answer["error"].as_str().is_some(), "{answer}");
    }
    let (_, list, _) = send(&b, b.api(Method::GET, "/api/filters"));
    assert_eq!(list["filters"], json!([]));

    let bad_bodies = [
        (with(json!({"name": ""})), "name is required."),
        (with(json!({"columns": []})), "no columns selected"),
        (with(json!({"columns": ["name", "country"]})), "country"),
        (
            with(json!({"filters": {"age": "about 30"}})),
            "column \"age\"",
        ),
        (with(json!({"filters": {"height": "> 3"}})), "height"),
        (with(json!({"file_id": 7})), "file_id must be a string."),
    ];
    for (body, message) in bad_bodies {
        for (method, path) in [
            (Method::POST, "/api/filters".to_string()),
            (Method::PUT, format!("/api/filters/{id}")),
        ] {
            let (status, answer, _) = send(&a, a.api(method.clone(), &path).json(&body));
            assert_eq!(status, 400, "{method} {body}: {answer}");
            let error = answer["error"].as_str().unwrap_or_default();
            assert!(error.contains(message), "{body}: {error}");
        }
    }
    let (status, answer, _) = send(&a, a.api(Method::POST, "/api/filters").body("{not json"));
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("Invalid JSON body"))
    );
    let (status, answer, _) = send(
        &a,
        a.api(Method::POST, &format!("/api/filters/{id}/apply"))
            .json(&json!({"save_as": 3})),
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("save_as must be a file name."))
    );
    let (status, _, _) = send(&a, a.api(Method::PATCH, &format!("/api/filters/{id}")));
    assert_eq!(status, 405);
    let (status, _, _) = send(&a, a.api(Method::GET, "/api/filters").bearer_auth("forged"));
    assert_eq!(status, 401);
    assert_eq!(state(), before);

    // Once its file is deleted, the filter stays but cannot be applied.
    let (status, _, _) = send(
        &a,
        a.api(Method::DELETE, &format!("/api/files/{source_id}")),
    );
    assert_eq!(status, 200);
    let (status, answer, _) = send(&a, a.api(Method::POST, &format!("/api/filters/{id}/apply")));
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("File not found.")),
        "{answer}"
    );
}
