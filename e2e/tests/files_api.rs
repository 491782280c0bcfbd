//! The JSON files surface (`/api/files/*`): upload, list, one file, ranged
//! downloads, delete; the queue's row and column counts; another user's files are
//! 404s; bad requests are 4xx and change nothing.

use crate::common::unique;
use crate::common::{header, PEOPLE};
use crate::session::{file_form, send, str_of, User};
use e2e::{sample_csv, sha256_hex, Stack};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

crate::tests!(
    files_api:
    upload_list_ranges_counts_and_delete,
    a_multipart_upload_gets_its_checksum_into_r2_metadata,
    other_users_and_bad_requests_get_4xx_and_change_nothing,
);

/// `POST /api/files/upload`; the file object of the 201.
pub fn upload(user: &User, name: &str, bytes: &[u8]) -> Value {
    let (status, body, _) = send(
        user,
        user.api(Method::POST, "/api/files/upload")
            .multipart(file_form(name, bytes)),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["success"], true, "{body}");
    body["file"].clone()
}

/// The file once the queue consumer has counted it (it runs after the upload
/// answered, so this polls). Once a second, under the gateway's read limit per
/// person; the queue may still be counting an earlier test's 50 MB file.
pub fn counted(user: &User, file_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body, _) = send(
            user,
            user.api(Method::GET, &format!("/api/files/{file_id}")),
        );
        assert_eq!(status, 200, "{body}");
        if !body["file"]["row_count"].is_null() {
            return body["file"].clone();
        }
        assert!(Instant::now() < deadline, "never counted: {body}");
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn upload_list_ranges_counts_and_delete(stack: &Stack) {
    let user = User::register(stack, true, &unique("fx"));
    let bytes = PEOPLE.as_bytes();
    let size = bytes.len();
    let file = upload(&user, "people.csv", bytes);
    let id = str_of(&file, "file_id");
    assert_eq!(file["file_name"], "people.csv");
    assert_eq!(file["size"], size);
    assert_eq!(file["checksum"], sha256_hex(bytes));
    assert_eq!(
        file["file_path"],
        format!("uploads/user-{}/{id}.csv", file_owner(stack, &id))
    );

    let (status, list, _) = send(&user, user.api(Method::GET, "/api/files"));
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 1);
    assert_eq!(list["files"][0]["file_id"], id.as_str());

    let counted = counted(&user, &id);
    assert_eq!(
        (
            counted["row_count"].as_i64(),
            counted["column_count"].as_i64()
        ),
        (Some(5), Some(4))
    );
    assert_eq!(counted["columns"], json!(["name", "age", "city", "salary"]));

    let download = format!("/api/files/{id}/download");
    let resp = user.api(Method::GET, &download).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "accept-ranges").as_deref(), Some("bytes"));
    assert_eq!(
        header(&resp, "etag"),
        Some(format!("\"{}\"", sha256_hex(bytes)))
    );
    assert_eq!(resp.bytes().unwrap(), bytes);

    for (range, start, end) in [
        ("bytes=0-9", 0, 9),
        ("bytes=-6", size - 6, size - 1),
        ("bytes=21-", 21, size - 1),
    ] {
        let resp = user
            .api(Method::GET, &download)
            .header("range", range)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 206, "{range}");
        assert_eq!(
            header(&resp, "content-range"),
            Some(format!("bytes {start}-{end}/{size}")),
            "{range}"
        );
        assert_eq!(resp.bytes().unwrap(), &bytes[start..=end], "{range}");
    }
    let resp = user
        .api(Method::GET, &download)
        .header("range", format!("bytes={size}-"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 416);
    assert_eq!(
        header(&resp, "content-range"),
        Some(format!("bytes */{size}"))
    );

    let key = str_of(&file, "file_path");
    assert!(stack.r2().state().keys.contains(&key));
    let (status, body, _) = send(&user, user.api(Method::DELETE, &format!("/api/files/{id}")));
    assert_eq!(
        (status, &body["success"]),
        (200, &Value::Bool(true)),
        "{body}"
    );
    let (status, _, _) = send(&user, user.api(Method::GET, &format!("/api/files/{id}")));
    assert_eq!(status, 404);
    assert!(!stack.r2().state().keys.contains(&key));
    let (_, list, _) = send(&user, user.api(Method::GET, "/api/files"));
    assert_eq!(list["total"], 0);
}

/// A file of several R2 parts is stored before its SHA-256 is known; the queue
/// consumer adds it to the metadata (R2 verifying the bytes), counts the rows,
/// and the file still downloads byte for byte.
fn a_multipart_upload_gets_its_checksum_into_r2_metadata(stack: &Stack) {
    let user = User::register(stack, true, &unique("fm"));
    let bytes = sample_csv(12 << 20);
    let file = upload(&user, "big.csv", &bytes);
    let id = str_of(&file, "file_id");
    let key = str_of(&file, "file_path");
    let counted = counted(&user, &id);
    let rows = bytes.iter().filter(|&&b| b == b'\n').count() - 1;
    assert_eq!(counted["row_count"].as_u64(), Some(rows as u64));
    assert_eq!(counted["column_count"].as_u64(), Some(5));
    assert_eq!(
        counted["columns"],
        json!(["id", "name", "city", "amount", "note"])
    );
    let metadata = stack.r2().custom_metadata(&key);
    assert_eq!(metadata["sha256"], sha256_hex(&bytes), "{metadata}");
    assert_eq!(metadata["original_name"], "big.csv", "{metadata}");
    let resp = user
        .api(Method::GET, &format!("/api/files/{id}/download"))
        .send()
        .unwrap();
    assert_eq!(header(&resp, "content-type").as_deref(), Some("text/csv"));
    assert_eq!(sha256_hex(&resp.bytes().unwrap()), sha256_hex(&bytes));
    let (status, _, _) = send(&user, user.api(Method::DELETE, &format!("/api/files/{id}")));
    assert_eq!(status, 200);
}

fn file_owner(stack: &Stack, file_id: &str) -> i64 {
    stack.d1_execute(&format!(
        "SELECT user_id FROM files WHERE file_id = '{file_id}'"
    ))[0]["user_id"]
        .as_i64()
        .expect("a row")
}

fn other_users_and_bad_requests_get_4xx_and_change_nothing(stack: &Stack) {
    let a = User::register(stack, true, &unique("fxa"));
    let b = User::register(stack, true, &unique("fxb"));
    let file = upload(&a, "private.csv", PEOPLE.as_bytes());
    let id = str_of(&file, "file_id");
    counted(&a, &id);
    let state = || {
        (
            stack.d1_execute("SELECT * FROM files ORDER BY id"),
            stack.r2().state().keys,
        )
    };
    let before = state();

    for (method, path) in [
        (Method::GET, format!("/api/files/{id}")),
        (Method::GET, format!("/api/files/{id}/download")),
        (Method::DELETE, format!("/api/files/{id}")),
    ] {
        let (status, body, _) = send(&b, b.api(method.clone(), &path));
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert_eq!(body["error"], "File not found.", "{path}");
    }
    let (_, list, _) = send(&b, b.api(Method::GET, "/api/files"));
    assert_eq!(list["total"], 0, "{list}");

    let bad = [
        ("/api/files?limit=0", "limit must be between 1 and 200."),
        ("/api/files?limit=500", "limit must be between 1 and 200."),
        (
            "/api/files?limit=ten",
            "limit must be a non-negative integer.",
        ),
        (
            "/api/files?offset=-1",
            "offset must be a non-negative integer.",
        ),
    ];
    for (path, message) in bad {
        let (status, body, _) = send(&a, a.api(Method::GET, path));
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(message)),
            "{path}"
        );
    }
    let refusals = [
        (
            "notes.pdf",
            &b"name\nx\n"[..],
            400,
            "Invalid file type. Only CSV and TXT files are allowed.",
        ),
        ("empty.csv", b"", 400, "Invalid CSV file"),
        ("latin1.csv", b"name\ncaf\xe9\n", 400, "Invalid CSV file"),
    ];
    for (name, bytes, code, message) in refusals {
        let (status, body, _) = send(
            &a,
            a.api(Method::POST, "/api/files/upload")
                .multipart(file_form(name, bytes)),
        );
        assert_eq!(status, code, "{name}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with(message),
            "{name}: {body}"
        );
    }
    let (status, _, _) = send(&a, a.api(Method::GET, "/api/files/upload"));
    assert_eq!(status, 405);
    let (status, body, _) = send(&a, a.api(Method::GET, "/api/files").bearer_auth("forged"));
    assert_eq!(status, 401, "{body}");
    assert_eq!(state(), before);
}
