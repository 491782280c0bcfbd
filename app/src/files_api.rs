//! The Workers-era JSON surface over the same saved files: `POST /api/files/upload`,
//! `GET /api/files`, `GET /api/files/<id>`, `GET /api/files/<id>/download` (with
//! `Range`), `DELETE /api/files/<id>`. Paths end without a slash (one is allowed).

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use shared::byte_range::RangeAnswer;
use shared::csv_cut::{CsvError, HeaderReader};
use shared::files as logic;
use worker::{Env, Headers, Range, Request, Response};

use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::ingest;
use crate::store::{self, db, num};

/// Most files one `GET /api/files` page holds.
const MAX_PAGE: u32 = 200;
const DEFAULT_PAGE: u32 = 50;

/// A `files` row as this surface shows it.
#[derive(Deserialize)]
struct Row {
    file_id: String,
    file_name: String,
    r2_key: String,
    size: i64,
    checksum: Option<String>,
    system_tags: String,
    user_tags: String,
    metadata: Option<String>,
    row_count: Option<i64>,
    column_count: Option<i64>,
    uploaded_at: String,
    updated_at: String,
}

const COLUMNS: &str = "file_id, file_name, r2_key, size, checksum, system_tags, user_tags, \
                       metadata, row_count, column_count, uploaded_at, updated_at";

impl Row {
    fn to_json(&self) -> Value {
        // Metadata is JSON text for files of this side; legacy rows may hold any string.
        let metadata = self
            .metadata
            .as_deref()
            .map(|m| serde_json::from_str::<Value>(m).unwrap_or_else(|_| Value::String(m.into())));
        json!({
            "file_id": self.file_id,
            "file_name": self.file_name,
            "file_path": self.r2_key,
            "size": self.size,
            "checksum": self.checksum,
            "content_type": "text/csv",
            "system_tags": logic::tags_value(&self.system_tags),
            "user_tags": logic::tags_value(&self.user_tags),
            "metadata": metadata,
            "row_count": self.row_count,
            "column_count": self.column_count,
            "uploaded_at": self.uploaded_at,
            "updated_at": self.updated_at,
        })
    }
}

async fn find(env: &Env, user_id: i64, file_id: &str) -> ApiResult<Row> {
    let sql = format!("SELECT {COLUMNS} FROM files WHERE file_id = ?1 AND user_id = ?2");
    store::owned_row(env, &sql, file_id, user_id, store::not_found).await
}

/// `POST /api/files/upload` (multipart `file`) → 201 `{"success": true, "file": ...}`.
pub async fn upload(req: &mut Request, env: &Env, user_id: i64) -> ApiResult {
    let stored = ingest::store_upload(req, env, user_id).await?;
    let file = find(env, user_id, &stored.file_id).await?;
    Ok(http::json(
        201,
        &json!({"success": true, "file": file.to_json()}),
    ))
}

/// A `limit`/`offset` query parameter: absent is `default`, anything but a
/// non-negative integer is a 400.
fn page_param(req: &Request, name: &str, default: u32) -> ApiResult<u32> {
    let url = req.url()?;
    match url.query_pairs().find(|(k, _)| k == name) {
        None => Ok(default),
        Some((_, v)) => v
            .parse()
            .map_err(|_| ApiError::bad_request(format!("{name} must be a non-negative integer."))),
    }
}

/// `GET /api/files?limit=&offset=`: newest first.
pub async fn list(req: &Request, env: &Env, user_id: i64) -> ApiResult {
    let limit = page_param(req, "limit", DEFAULT_PAGE)?;
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}."
        )));
    }
    let offset = page_param(req, "offset", 0)?;
    let db = db(env)?;
    let total = store::count(
        db.prepare("SELECT COUNT(*) AS n FROM files WHERE user_id = ?1")
            .bind(&[num(user_id)])?,
    )
    .await?;
    let rows = db
        .prepare(format!(
            "SELECT {COLUMNS} FROM files WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
        ))
        .bind(&[num(user_id), num(limit.into()), num(offset.into())])?
        .all()
        .await?
        .results::<Row>()?;
    let files: Vec<Value> = rows.iter().map(Row::to_json).collect();
    Ok(http::json(
        200,
        &json!({"success": true, "files": files, "total": total, "limit": limit, "offset": offset}),
    ))
}

/// `GET /api/files/<id>`: the file and its header's column names.
pub async fn one(env: &Env, user_id: i64, file_id: &str) -> ApiResult {
    let file = find(env, user_id, file_id).await?;
    let mut answer = file.to_json();
    answer["columns"] = json!(columns(env, &file.r2_key).await?);
    Ok(http::json(200, &json!({"success": true, "file": answer})))
}

/// The header's names, read from the start of the object only (the rest of the
/// stream is dropped unread), so opening a 50 MB file costs its first row.
async fn columns(env: &Env, key: &str) -> ApiResult<Vec<String>> {
    let object = crate::bindings::bucket(env)?
        .get(key)
        .execute()
        .await?
        .ok_or_else(store::not_found)?;
    let mut input = object.body().ok_or_else(store::not_found)?.stream()?;
    let mut reader = HeaderReader::new();
    // Saved files passed the upload checks; a damaged one is the server's fault.
    let unreadable = |e: CsvError| ApiError::Internal(worker::Error::RustError(e.message));
    while let Some(chunk) = input.next().await {
        if let Some(header) = reader.push(&chunk?).map_err(unreadable)? {
            return Ok(header.columns.clone());
        }
    }
    Ok(reader.finish().map_err(unreadable)?.columns)
}

pub async fn delete(env: &Env, user_id: i64, file_id: &str) -> ApiResult {
    store::remove(env, user_id, file_id).await?;
    Ok(http::json(
        200,
        &json!({"success": true, "file_id": file_id}),
    ))
}

/// `GET /api/files/<id>/download`: the whole file, or the one byte range asked for.
pub async fn download(req: &Request, env: &Env, user_id: i64, file_id: &str) -> ApiResult {
    let file = find(env, user_id, file_id).await?;
    let size = file.size.max(0) as u64;
    let range = RangeAnswer::of(http::header(req, "range").as_deref(), size);
    let headers = Headers::new();
    headers.set("accept-ranges", "bytes")?;
    if range == RangeAnswer::Unsatisfiable {
        headers.set("content-range", &format!("bytes */{size}"))?;
        return Ok(http::json(
            416,
            &json!({"error": format!("Range not satisfiable: the file has {size} bytes.")}),
        )
        .with_headers(headers));
    }
    let bucket = crate::bindings::bucket(env)?;
    let mut get = bucket.get(&file.r2_key);
    if let RangeAnswer::Part { start, end } = range {
        get = get.range(Range::OffsetWithLength {
            offset: start,
            length: end - start + 1,
        });
        headers.set("content-range", &format!("bytes {start}-{end}/{size}"))?;
    }
    let object = get.execute().await?.ok_or_else(store::not_found)?;
    let body = object.body().ok_or_else(store::not_found)?.stream()?;
    headers.set("content-type", "text/csv")?;
    headers.set("content-disposition", &http::attachment(&file.file_name))?;
    if let Some(checksum) = &file.checksum {
        headers.set("etag", &format!("\"{checksum}\""))?;
    }
    let status = if matches!(range, RangeAnswer::Part { .. }) {
        206
    } else {
        200
    };
    Ok(Response::from_stream(body)?
        .with_status(status)
        .with_headers(headers))
}
