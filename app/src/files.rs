//! Saved files of signed-in users: `upload/`, `list_saved_files/`, `download/<name>/`,
//! `delete/<id>/`, `save_generated_file/`, `update_tags/<id>/`, `fetch_saved_file/<id>/`
//! (and `fetch_file_lineage/<id>/` in `lineage.rs`). Objects live in R2 under
//! `uploads/user-<id>/<file_id>.csv`, rows in D1 `files`; every endpoint sees only
//! the caller's files (another user's file is a 404, as an unknown one).

use std::collections::HashMap;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use shared::csv_cut::Counter;
use shared::files as logic;
use worker::{Env, Headers, Request, Response};

use crate::body::read_json;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::ingest::{self, Kind};
use crate::storage::{new_anon_id, stored};
use crate::store::{self, db, not_found, num, owned, NewFile};

/// Most of a file `fetch_saved_file/` returns as `content` (legacy sent it all; a
/// Worker's memory is 128 MB, so the rest is only counted).
pub const MAX_CONTENT_BYTES: usize = 1 << 20;

/// `POST upload/` (multipart `file`).
pub async fn upload(req: &mut Request, env: &Env, user_id: i64) -> ApiResult {
    let stored = ingest::store_upload(req, env, user_id).await?;
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
) -> ApiResult<(String, String, Option<String>)> {
    let file_name = fields
        .get("file_name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("No file or filename provided."))?;
    let metadata = fields
        .get("metadata")
        .ok_or_else(|| ApiError::bad_request("metadata is required."))?;
    if serde_json::from_str::<Value>(metadata).is_err() {
        return Err(ApiError::bad_request("metadata must be JSON."));
    }
    let original = match fields.get("original_file_id").filter(|id| !id.is_empty()) {
        Some(id) => {
            owned(env, user_id, id).await?;
            Some(id.clone())
        }
        None => None,
    };
    let name = store::choose_name(env, user_id, file_name).await?;
    Ok((name, metadata.clone(), original))
}

/// `POST save_generated_file/` (multipart `file`, `file_name`, `metadata`, optional
/// `original_file_id`). Every check happens before the file is kept, so a refusal
/// leaves nothing and a kept file is always a 201.
pub async fn save_generated(req: &mut Request, env: &Env, user_id: i64) -> ApiResult {
    let file_id = new_anon_id();
    let key = store::object_key(user_id, &file_id);
    let (received, fields) = ingest::receive_file(req, env, &key, Kind::Generated).await?;
    let Some(received) = received else {
        // Still refuse a bad original before the missing file, as the checks run.
        generated_fields(env, user_id, &fields).await?;
        return Err(ApiError::bad_request("No file or filename provided."));
    };
    let checked = generated_fields(env, user_id, &fields).await;
    let (received, (name, metadata, original)) = received.or_abort(checked).await?;
    let file = NewFile::new(&file_id, user_id, &key, &name, "generated")
        .with_metadata(&metadata)
        .cut_from(original.as_deref());
    received.keep(env, file).await?;
    Ok(http::json(
        201,
        &json!({"message": "File saved successfully.", "file_path": key, "file_id": file_id}),
    ))
}

/// `GET list_saved_files/`.
pub async fn list(env: &Env, user_id: i64) -> ApiResult {
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
pub async fn download(env: &Env, user_id: i64, name: &str) -> ApiResult {
    #[derive(Deserialize)]
    struct Row {
        r2_key: String,
        file_name: String,
    }
    let not_found = || ApiError::Client(404, "File not found".into());
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
    headers.set("content-disposition", &http::attachment(&row.file_name))?;
    Ok(Response::from_stream(body)?.with_headers(headers))
}

/// `DELETE delete/<file_id>/`.
pub async fn delete(env: &Env, user_id: i64, file_id: &str) -> ApiResult {
    store::remove(env, user_id, file_id).await?;
    Ok(Response::empty()?.with_status(204))
}

/// `PATCH update_tags/<file_id>/` (`{"user_tags": [...]}`): adds the tags.
pub async fn update_tags(req: &mut Request, env: &Env, user_id: i64, file_id: &str) -> ApiResult {
    let body = read_json(req).await;
    let mut file = owned(env, user_id, file_id).await?;
    let new = logic::parse_user_tags(&body?).map_err(ApiError::bad_request)?;
    // Compare-and-set, so that concurrent updates both land.
    for _ in 0..5 {
        let existing: Vec<String> = serde_json::from_str(&file.user_tags).unwrap_or_default();
        let tags = logic::add_user_tags(&existing, &new).map_err(ApiError::bad_request)?;
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
    Err(ApiError::Client(
        409,
        "The tags changed meanwhile; try again.".into(),
    ))
}

/// `GET fetch_saved_file/<file_id>/`: the file's summary and (at most
/// [`MAX_CONTENT_BYTES`] of) its text, read as a stream.
pub async fn fetch(env: &Env, user_id: i64, file_id: &str) -> ApiResult {
    let file = owned(env, user_id, file_id).await?;
    let object = stored(env, &file.r2_key).await?.ok_or_else(not_found)?;
    let mut input = object.body().ok_or_else(not_found)?.stream()?;
    let mut counter = Counter::new();
    let mut content = Vec::new();
    let mut truncated = false;
    // Only a file kept before the upload checks read whole records (an import of
    // legacy bytes) can fail here: a 422 naming the row, not legacy's 500.
    let unreadable = |e: shared::csv_cut::CsvError| {
        ApiError::Client(422, format!("Error fetching file data: {e}"))
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
