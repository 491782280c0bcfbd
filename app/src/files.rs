//! Saved files of signed-in users: `upload/`, `list_saved_files/`, `download/<name>/`,
//! `delete/<id>/`, `save_generated_file/`, `update_tags/<id>/`, `fetch_saved_file/<id>/`
//! (and `fetch_file_lineage/<id>/` in `lineage.rs`). Objects live in R2 under
//! `uploads/user-<id>/<file_id>.csv`, rows in D1 `files`; every endpoint sees only
//! the caller's files (another user's file is a 404, as an unknown one).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use shared::csv_cut::{Counter, UploadCheck, UploadSummary};
use shared::files as logic;
use shared::multipart::{Limits, Multipart, PartInfo};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, Response, Result};

use crate::auth::{authenticate, caller};
use crate::cutter::{check_csv_name, csv_message, max_file_size, receive};
use crate::http::{self, read_json, Reject};
use crate::storage::{new_anon_id, stored, ObjectWriter};

type Outcome = std::result::Result<Response, Reject>;

/// Largest text field of a multipart request (`metadata` of a generated file).
const MAX_FIELD_BYTES: usize = 64 << 10;
/// Most of a file `fetch_saved_file/` returns as `content` (legacy sent it all; a
/// Worker's memory is 128 MB, so the rest is only counted).
pub const MAX_CONTENT_BYTES: usize = 1 << 20;

/// A file endpoint under `/api/list_cutter/`.
pub enum Endpoint {
    Upload,
    List,
    SaveGenerated,
    Download(String),
    Delete(String),
    UpdateTags(String),
    Fetch(String),
    Lineage(String),
}

/// The endpoint of `rest` (the path after `/api/list_cutter/`, without its final
/// slash), if it is a file endpoint. A parameter is one percent-decoded segment.
pub fn endpoint(rest: &str) -> Option<Endpoint> {
    let (head, param) = match rest.split_once('/') {
        Some((head, param)) => (head, Some(param)),
        None => (rest, None),
    };
    let param = match param {
        None => None,
        Some(p) if p.is_empty() || p.contains('/') => return None,
        // An undecodable segment names no file.
        Some(p) => Some(logic::percent_decode(p).unwrap_or_default()),
    };
    Some(match (head, param) {
        ("upload", None) => Endpoint::Upload,
        ("list_saved_files", None) => Endpoint::List,
        ("save_generated_file", None) => Endpoint::SaveGenerated,
        ("download", Some(p)) => Endpoint::Download(p),
        ("delete", Some(p)) => Endpoint::Delete(p),
        ("update_tags", Some(p)) => Endpoint::UpdateTags(p),
        ("fetch_saved_file", Some(p)) => Endpoint::Fetch(p),
        ("fetch_file_lineage", Some(p)) => Endpoint::Lineage(p),
        _ => return None,
    })
}

/// Answers a file endpoint: method, then authentication, then the handler.
pub async fn handle(endpoint: Endpoint, mut req: Request, env: &Env) -> Result<Response> {
    let expected = match endpoint {
        Endpoint::Upload | Endpoint::SaveGenerated => Method::Post,
        Endpoint::Delete(_) => Method::Delete,
        Endpoint::UpdateTags(_) => Method::Patch,
        _ => Method::Get,
    };
    let user_id = match caller(&req, env, req.method() == expected).await {
        Ok(id) => id,
        Err(response) => return Ok(response),
    };
    let outcome = match endpoint {
        Endpoint::Upload => upload(&mut req, env, user_id).await,
        Endpoint::List => list(env, user_id).await,
        Endpoint::SaveGenerated => save_generated(&mut req, env, user_id).await,
        Endpoint::Download(name) => download(env, user_id, &name).await,
        Endpoint::Delete(id) => delete(env, user_id, &id).await,
        Endpoint::UpdateTags(id) => update_tags(&mut req, env, user_id, &id).await,
        Endpoint::Fetch(id) => fetch(env, user_id, &id).await,
        Endpoint::Lineage(id) => crate::lineage::fetch(env, user_id, &id).await,
    };
    outcome.or_else(Reject::into_response)
}

pub fn num(v: i64) -> JsValue {
    JsValue::from(v as f64)
}

pub use crate::bindings::db;

pub fn not_found() -> Reject {
    Reject::Client(404, "File not found.".into())
}

pub fn object_key(user_id: i64, file_id: &str) -> String {
    format!("uploads/user-{user_id}/{file_id}.csv")
}

/// The R2 key of the caller's saved file whose `file_path` is `file_path` (what
/// `export_csv/` accepts besides anonymous ids); the caller must be signed in.
pub async fn owned_key(
    req: &Request,
    env: &Env,
    file_path: &str,
) -> std::result::Result<String, Reject> {
    let not_found = || Reject::Client(404, "File not found".into());
    if !file_path.starts_with("uploads/") {
        return Err(not_found());
    }
    let user_id = authenticate(req, env)
        .await
        .map_err(Reject::Answer)?
        .user
        .id;
    #[derive(Deserialize)]
    struct Key {
        r2_key: String,
    }
    db(env)?
        .prepare("SELECT r2_key FROM files WHERE r2_key = ?1 AND user_id = ?2")
        .bind(&[file_path.into(), num(user_id)])?
        .first::<Key>(None)
        .await?
        .map(|k| k.r2_key)
        .ok_or_else(not_found)
}

/// `id, file_name, r2_key` of the caller's file `file_id`.
#[derive(Deserialize)]
pub struct Owned {
    pub file_name: String,
    pub r2_key: String,
    pub size: i64,
    pub user_tags: String,
}

pub async fn owned(env: &Env, user_id: i64, file_id: &str) -> std::result::Result<Owned, Reject> {
    db(env)?
        .prepare(
            "SELECT file_name, r2_key, size, user_tags FROM files \
             WHERE file_id = ?1 AND user_id = ?2",
        )
        .bind(&[file_id.into(), num(user_id)])?
        .first::<Owned>(None)
        .await?
        .ok_or_else(not_found)
}

/// A file received from a multipart body, checked, not yet published.
struct Received {
    writer: ObjectWriter,
    summary: UploadSummary,
    filename: String,
    fields: HashMap<String, String>,
}

/// Streams the `file` part of the request into an unpublished object at `key`,
/// through the upload checks; `None` when the body had no file part. On an error
/// nothing is left in R2.
async fn receive_file(
    req: &mut Request,
    env: &Env,
    key: &str,
    csv_name: bool,
) -> std::result::Result<(Option<Received>, HashMap<String, String>), Reject> {
    let max = max_file_size(env);
    let content_type = req.headers().get("content-type")?.unwrap_or_default();
    let limits = Limits {
        max_file_bytes: max,
        max_field_bytes: MAX_FIELD_BYTES,
    };
    let mut parser =
        Multipart::new(&content_type, limits).map_err(|e| Reject::bad_request(e.message))?;
    let mut body = req
        .stream()
        .map_err(|_| Reject::bad_request("No file uploaded"))?;
    let filename = RefCell::new(String::new());
    let start = |info: &PartInfo| -> std::result::Result<ObjectWriter, Reject> {
        if csv_name {
            check_csv_name(&info.filename)?;
        }
        *filename.borrow_mut() = info.filename.clone();
        let metadata = HashMap::from([(
            "original_name".to_string(),
            info.filename.chars().take(255).collect(),
        )]);
        Ok(ObjectWriter::new(
            crate::bindings::bucket(env)?,
            key.to_string(),
            metadata,
        ))
    };
    let mut file: Option<(ObjectWriter, UploadCheck)> = None;
    let mut fields = Vec::new();
    let outcome = receive(&mut body, &mut parser, &mut file, &mut fields, &start, max).await;
    // Read what is left so that the client gets the answer, not a reset.
    while let Some(Ok(_)) = body.next().await {}
    let fields: HashMap<String, String> = fields.into_iter().collect();
    if let Err(reject) = outcome {
        if let Some((writer, _)) = file {
            writer.abort().await;
        }
        return Err(reject);
    }
    let Some((mut writer, check)) = file else {
        return Ok((None, fields));
    };
    match check.finish() {
        Ok(summary) => {
            writer.insert_metadata("sha256", summary.sha256.clone());
            let filename = filename.into_inner();
            Ok((
                Some(Received {
                    writer,
                    summary,
                    filename,
                    fields: fields.clone(),
                }),
                fields,
            ))
        }
        Err(error) => {
            writer.abort().await;
            Err(Reject::bad_request(csv_message(&error.message)))
        }
    }
}

/// `wanted` (sanitised), made unique among the caller's names like legacy `set_file_name`.
pub async fn choose_name(env: &Env, user_id: i64, wanted: &str) -> Result<String> {
    #[derive(Deserialize)]
    struct Name {
        file_name: String,
    }
    let wanted = logic::sanitize_name(wanted);
    // The free variant is found among the names with the variants' prefix and
    // suffix (substr counts characters, as `chars()` does); no `LIKE`, whose
    // patterns D1 caps at 50 bytes.
    let (prefix, suffix) = logic::variant_affixes(&wanted);
    let taken: HashSet<String> = db(env)?
        .prepare(
            "SELECT file_name FROM files WHERE user_id = ?1 AND (file_name = ?2 \
             OR (substr(file_name, 1, ?3) = ?4 AND (?5 = 0 OR substr(file_name, -?5) = ?6)))",
        )
        .bind(&[
            num(user_id),
            wanted.as_str().into(),
            num(prefix.chars().count() as i64),
            prefix.as_str().into(),
            num(suffix.chars().count() as i64),
            suffix.as_str().into(),
        ])?
        .all()
        .await?
        .results::<Name>()?
        .into_iter()
        .map(|n| n.file_name)
        .collect();
    Ok(logic::unique_name(&wanted, &taken))
}

/// Publishes the object, then runs `statements` (the row first); if D1 fails the
/// object is deleted again, so there is never a row without its object nor an
/// object without its row.
pub async fn publish(
    env: &Env,
    writer: ObjectWriter,
    key: &str,
    statements: Vec<worker::D1PreparedStatement>,
) -> std::result::Result<(), Reject> {
    writer.finish().await?;
    if let Err(error) = db(env)?.batch(statements).await {
        if let Err(e) = crate::bindings::bucket(env)?.delete(key).await {
            worker::console_error!("removing {key} after a failed insert: {e}");
        }
        return Err(Reject::Internal(error));
    }
    Ok(())
}

/// A new `files` row.
pub struct NewFile<'a> {
    pub file_id: &'a str,
    pub user_id: i64,
    pub name: &'a str,
    pub key: &'a str,
    pub summary: &'a UploadSummary,
    pub system_tag: &'a str,
    pub metadata: Option<&'a str>,
}

pub fn insert_file(env: &Env, f: NewFile<'_>) -> Result<worker::D1PreparedStatement> {
    let NewFile {
        file_id,
        user_id,
        name,
        key,
        summary,
        system_tag,
        metadata,
    } = f;
    db(env)?
        .prepare(
            "INSERT INTO files (file_id, user_id, file_name, r2_key, size, checksum, \
             system_tags, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(&[
            file_id.into(),
            num(user_id),
            name.into(),
            key.into(),
            num(summary.size as i64),
            summary.sha256.as_str().into(),
            json!([system_tag]).to_string().into(),
            metadata.map_or(JsValue::NULL, JsValue::from),
        ])
}

/// The lineage rows of `child` cut from `parent` (the legacy CUT_TO/CUT_FROM pair).
pub fn lineage_edges(
    env: &Env,
    parent: &str,
    child: &str,
) -> Result<Vec<worker::D1PreparedStatement>> {
    [logic::CUT_TO, logic::CUT_FROM]
        .into_iter()
        .map(|kind| {
            db(env)?
                .prepare(
                    "INSERT INTO file_relationships (parent_id, child_id, relationship) \
                     VALUES (?1, ?2, ?3)",
                )
                .bind(&[parent.into(), child.into(), kind.into()])
        })
        .collect()
}

/// A file kept by [`store_upload`].
pub struct Stored {
    pub file_id: String,
    pub file_name: String,
    pub key: String,
}

/// Keeps the `file` part of a multipart upload as a new file of the caller's
/// (R2 object, then D1 row) and asks for its counts.
pub async fn store_upload(
    req: &mut Request,
    env: &Env,
    user_id: i64,
) -> std::result::Result<Stored, Reject> {
    let file_id = new_anon_id();
    let key = object_key(user_id, &file_id);
    let (received, _) = receive_file(req, env, &key, true).await?;
    let received = received.ok_or_else(|| Reject::bad_request("No file uploaded"))?;
    let name = match choose_name(env, user_id, &received.filename).await {
        Ok(name) => name,
        Err(error) => {
            received.writer.abort().await;
            return Err(error.into());
        }
    };
    let insert = insert_file(
        env,
        NewFile {
            file_id: &file_id,
            user_id,
            name: &name,
            key: &key,
            summary: &received.summary,
            system_tag: "uploaded",
            metadata: None,
        },
    )?;
    publish(env, received.writer, &key, vec![insert]).await?;
    crate::counts::enqueue(env, &file_id).await;
    Ok(Stored {
        file_id,
        file_name: name,
        key,
    })
}

/// `POST upload/` (multipart `file`).
async fn upload(req: &mut Request, env: &Env, user_id: i64) -> Outcome {
    let stored = store_upload(req, env, user_id).await?;
    Ok(http::json(
        200,
        &json!({
            "message": "File uploaded successfully",
            "file_id": stored.file_id,
            "file_name": stored.file_name,
            "file_path": stored.key,
        }),
    ))
}

/// Why a `save_generated_file/` request is refused before anything is kept.
async fn generated_fields(
    env: &Env,
    user_id: i64,
    fields: &HashMap<String, String>,
) -> std::result::Result<(String, String, Option<String>), Reject> {
    let file_name = fields
        .get("file_name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Reject::bad_request("No file or filename provided."))?;
    let metadata = fields
        .get("metadata")
        .ok_or_else(|| Reject::bad_request("metadata is required."))?;
    if serde_json::from_str::<Value>(metadata).is_err() {
        return Err(Reject::bad_request("metadata must be JSON."));
    }
    let original = match fields.get("original_file_id").filter(|id| !id.is_empty()) {
        Some(id) => {
            owned(env, user_id, id).await?;
            Some(id.clone())
        }
        None => None,
    };
    let name = choose_name(env, user_id, file_name).await?;
    Ok((name, metadata.clone(), original))
}

/// `POST save_generated_file/` (multipart `file`, `file_name`, `metadata`, optional
/// `original_file_id`). Every check happens before the file is kept, so a refusal
/// leaves nothing and a kept file is always a 201.
async fn save_generated(req: &mut Request, env: &Env, user_id: i64) -> Outcome {
    let file_id = new_anon_id();
    let key = object_key(user_id, &file_id);
    let (received, fields) = receive_file(req, env, &key, false).await?;
    let Some(received) = received else {
        // Still refuse a bad original before the missing file, as the checks run.
        generated_fields(env, user_id, &fields).await?;
        return Err(Reject::bad_request("No file or filename provided."));
    };
    let (name, metadata, original) = match generated_fields(env, user_id, &received.fields).await {
        Ok(checked) => checked,
        Err(reject) => {
            received.writer.abort().await;
            return Err(reject);
        }
    };
    let mut statements = vec![insert_file(
        env,
        NewFile {
            file_id: &file_id,
            user_id,
            name: &name,
            key: &key,
            summary: &received.summary,
            system_tag: "generated",
            metadata: Some(&metadata),
        },
    )?];
    if let Some(original) = &original {
        statements.extend(lineage_edges(env, original, &file_id)?);
    }
    publish(env, received.writer, &key, statements).await?;
    crate::counts::enqueue(env, &file_id).await;
    Ok(http::json(
        201,
        &json!({"message": "File saved successfully.", "file_path": key, "file_id": file_id}),
    ))
}

/// `GET list_saved_files/`.
async fn list(env: &Env, user_id: i64) -> Outcome {
    #[derive(Deserialize)]
    struct Row {
        file_id: String,
        file_name: String,
        file_path: String,
        uploaded_at: String,
        system_tags: String,
        user_tags: String,
        metadata: Option<String>,
    }
    let rows = db(env)?
        .prepare(
            "SELECT file_id, file_name, r2_key AS file_path, uploaded_at, system_tags, \
             user_tags, metadata FROM files WHERE user_id = ?1 ORDER BY id",
        )
        .bind(&[num(user_id)])?
        .all()
        .await?
        .results::<Row>()?;
    let items = rows
        .into_iter()
        .map(|r| {
            let value = json!({
                "file_id": r.file_id,
                "file_name": r.file_name,
                "file_path": r.file_path,
                "uploaded_at": r.uploaded_at,
                "system_tags": logic::tags_value(&r.system_tags),
                "user_tags": logic::tags_value(&r.user_tags),
                "metadata": r.metadata,
            });
            (r.file_name, r.uploaded_at, value)
        })
        .collect();
    Ok(http::json(
        200,
        &json!({"files": logic::dedupe_by_name(items)}),
    ))
}

/// `GET download/<file_name>/`: the caller's newest file of that name, streamed.
async fn download(env: &Env, user_id: i64, name: &str) -> Outcome {
    #[derive(Deserialize)]
    struct Row {
        r2_key: String,
        file_name: String,
    }
    let not_found = || Reject::Client(404, "File not found".into());
    let row = db(env)?
        .prepare(
            "SELECT r2_key, file_name FROM files WHERE user_id = ?1 AND file_name = ?2 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(&[num(user_id), name.into()])?
        .first::<Row>(None)
        .await?
        .ok_or_else(not_found)?;
    let object = stored(env, &row.r2_key).await?.ok_or_else(not_found)?;
    let body = object.body().ok_or_else(not_found)?.stream()?;
    let headers = Headers::new();
    headers.set("content-type", "text/csv")?;
    headers.set("content-disposition", &attachment(&row.file_name))?;
    Ok(Response::from_stream(body)?.with_headers(headers))
}

/// `attachment` with an ASCII `filename` and the exact name as `filename*`.
pub fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `DELETE delete/<file_id>/`.
async fn delete(env: &Env, user_id: i64, file_id: &str) -> Outcome {
    remove(env, user_id, file_id).await?;
    Ok(Response::empty()?.with_status(204))
}

/// Removes the caller's file: the row and its lineage rows, then the object.
pub async fn remove(env: &Env, user_id: i64, file_id: &str) -> std::result::Result<(), Reject> {
    let file = owned(env, user_id, file_id).await?;
    let db = db(env)?;
    db.batch(vec![
        db.prepare("DELETE FROM file_relationships WHERE parent_id = ?1 OR child_id = ?1")
            .bind(&[file_id.into()])?,
        db.prepare("DELETE FROM files WHERE file_id = ?1 AND user_id = ?2")
            .bind(&[file_id.into(), num(user_id)])?,
    ])
    .await?;
    // The row goes first: a failure here leaves an unlisted object, never a listed
    // file without its bytes.
    if let Err(e) = crate::bindings::bucket(env)?.delete(&file.r2_key).await {
        worker::console_error!("deleting {}: {e}", file.r2_key);
    }
    Ok(())
}

/// `PATCH update_tags/<file_id>/` (`{"user_tags": [...]}`): adds the tags.
async fn update_tags(req: &mut Request, env: &Env, user_id: i64, file_id: &str) -> Outcome {
    let body = read_json(req).await;
    let mut file = owned(env, user_id, file_id).await?;
    let new = logic::parse_user_tags(&body?).map_err(Reject::bad_request)?;
    // Compare-and-set, so that concurrent updates both land.
    for _ in 0..5 {
        let existing: Vec<String> = serde_json::from_str(&file.user_tags).unwrap_or_default();
        let tags = logic::add_user_tags(&existing, &new).map_err(Reject::bad_request)?;
        let result = db(env)?
            .prepare(
                "UPDATE files SET user_tags = ?1, \
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
                 WHERE file_id = ?2 AND user_id = ?3 AND user_tags = ?4",
            )
            .bind(&[
                json!(tags).to_string().into(),
                file_id.into(),
                num(user_id),
                file.user_tags.as_str().into(),
            ])?
            .run()
            .await?;
        let changed = result
            .meta()?
            .and_then(|m| m.changes)
            .is_some_and(|n| n > 0);
        if changed {
            return Ok(http::json(
                200,
                &json!({"message": "Tags updated successfully.", "user_tags": tags}),
            ));
        }
        file = owned(env, user_id, file_id).await?;
    }
    Err(Reject::Client(
        409,
        "The tags changed meanwhile; try again.".into(),
    ))
}

/// `GET fetch_saved_file/<file_id>/`: the file's summary and (at most
/// [`MAX_CONTENT_BYTES`] of) its text, read as a stream.
async fn fetch(env: &Env, user_id: i64, file_id: &str) -> Outcome {
    let file = owned(env, user_id, file_id).await?;
    let object = stored(env, &file.r2_key).await?.ok_or_else(not_found)?;
    let mut input = object.body().ok_or_else(not_found)?.stream()?;
    let mut counter = Counter::new();
    let mut content = Vec::new();
    let mut truncated = false;
    // Only a file kept before the upload checks read whole records (an import of
    // legacy bytes) can fail here: a 422 naming the row, not legacy's 500.
    let unreadable = |e: shared::csv_cut::CsvError| {
        Reject::Client(422, format!("Error fetching file data: {e}"))
    };
    while let Some(chunk) = input.next().await {
        let chunk = chunk?;
        counter.push(&chunk).map_err(unreadable)?;
        let room = MAX_CONTENT_BYTES - content.len();
        truncated |= chunk.len() > room;
        content.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    let (counts, header) = counter.finish_with_header().map_err(unreadable)?;
    let mut answer = json!({
        "name": file.file_name,
        "file_id": file_id,
        "file_name": file.file_name,
        "file_path": file.r2_key,
        "size": file.size,
        "type": "text/csv",
        "content": logic::utf8_prefix(&content),
        "rowCount": counts.rows,
        "columns": header.columns,
    });
    if truncated {
        answer["contentTruncated"] = json!(true);
    }
    Ok(http::json(200, &answer))
}
