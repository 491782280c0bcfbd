//! The export half of the admin API: pages of users, files and lineage rows in id
//! order (keyset pagination: `after` is the last id of the previous page, `next`
//! the one to ask with), a file's bytes, and table counts. The cutover tool reads
//! them to verify a migration and to write the app's data back to legacy.

use serde::Deserialize;
use serde_json::{json, Value};
use shared::migration::{FileRecord, UserRecord};
use worker::{Env, Headers, Request, Response};

use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::import::{parse_rows, FILE_JSON, USER_JSON};
use crate::settings;
use crate::storage::stored;
use crate::store::{db, num};

/// Largest page.
const MAX_PAGE: i64 = 1000;

/// The query's `after` (default 0) and `limit` (default and most [`MAX_PAGE`]).
struct Page {
    after: i64,
    limit: i64,
    params: Vec<(String, String)>,
}

fn page(req: &Request) -> ApiResult<Page> {
    let params: Vec<(String, String)> = req.url()?.query_pairs().into_owned().collect();
    let number = |name: &str, default: i64| -> ApiResult<i64> {
        match params.iter().find(|(k, _)| k == name) {
            None => Ok(default),
            Some((_, v)) => v.parse().ok().filter(|n: &i64| *n >= 0).ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be a non-negative integer"))
            }),
        }
    };
    Ok(Page {
        after: number("after", 0)?,
        limit: number("limit", MAX_PAGE)?.clamp(1, MAX_PAGE),
        params,
    })
}

impl Page {
    fn text(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn listing(key: &str, items: Vec<Value>, last: Option<i64>, limit: i64) -> ApiResult {
    // A short page is the last one.
    let next = last.filter(|_| items.len() as i64 == limit);
    Ok(http::json(200, &json!({ key: items, "next": next })))
}

/// `GET /api/admin/export/summary`: row counts and the app's `USER_ID_OFFSET`.
pub async fn summary(env: &Env) -> ApiResult {
    #[derive(Deserialize, serde::Serialize)]
    struct Counts {
        users: i64,
        files: i64,
        relationships: i64,
        legacy_files: i64,
    }
    let counts = db(env)?
        .prepare(
            "SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM files) AS files, \
             (SELECT COUNT(*) FROM file_relationships) AS relationships, \
             (SELECT COUNT(*) FROM files WHERE origin = 'legacy') AS legacy_files",
        )
        .first::<Counts>(None)
        .await?;
    Ok(http::json(
        200,
        &json!({"user_id_offset": settings::user_id_offset(env), "counts": counts}),
    ))
}

/// `GET /api/admin/export/users?after=<id>&limit=<n>`.
pub async fn users(req: &Request, env: &Env) -> ApiResult {
    let page = page(req)?;
    let users: Vec<UserRecord> = parse_rows(
        db(env)?
            .prepare(format!(
                "SELECT {USER_JSON} AS j FROM users WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .bind(&[num(page.after), num(page.limit)])?
            .all()
            .await?
            .results()?,
    )?;
    let last = users.last().map(|u| u.id);
    let items = users.into_iter().map(|u| json!(u)).collect();
    listing("users", items, last, page.limit)
}

/// `GET /api/admin/export/files?after=<row>&limit=<n>[&origin=app|legacy][&updated_since=<ts>]`:
/// file records with `seq` (the row id to page with), `origin` and `updated_at`.
pub async fn files(req: &Request, env: &Env) -> ApiResult {
    let page = page(req)?;
    #[derive(Deserialize)]
    struct Row {
        seq: i64,
        j: String,
        origin: String,
        updated_at: String,
    }
    let optional = |v: Option<&str>| v.map_or(worker::wasm_bindgen::JsValue::NULL, Into::into);
    let rows = db(env)?
        .prepare(format!(
            "SELECT id AS seq, {FILE_JSON} AS j, origin, updated_at FROM files \
             WHERE id > ?1 AND (?2 IS NULL OR origin = ?2) AND (?3 IS NULL OR updated_at >= ?3) \
             ORDER BY id LIMIT ?4"
        ))
        .bind(&[
            num(page.after),
            optional(page.text("origin")),
            optional(page.text("updated_since")),
            num(page.limit),
        ])?
        .all()
        .await?
        .results::<Row>()?;
    let last = rows.last().map(|r| r.seq);
    let items = rows
        .into_iter()
        .map(|r| {
            let record: FileRecord =
                serde_json::from_str(&r.j).map_err(|e| worker::Error::RustError(e.to_string()))?;
            let mut item = json!(record);
            item["seq"] = json!(r.seq);
            item["origin"] = json!(r.origin);
            item["updated_at"] = json!(r.updated_at);
            Ok(item)
        })
        .collect::<worker::Result<Vec<Value>>>()?;
    listing("files", items, last, page.limit)
}

/// `GET /api/admin/export/files/<file_id>/content`: the stored bytes, streamed, with
/// the row's checksum in `X-Content-SHA256` (the reader hashes what it received).
pub async fn content(env: &Env, file_id: &str) -> ApiResult {
    #[derive(Deserialize)]
    struct Row {
        r2_key: String,
        checksum: Option<String>,
    }
    let not_found = || ApiError::Client(404, format!("File {file_id} not found"));
    let row = db(env)?
        .prepare("SELECT r2_key, checksum FROM files WHERE file_id = ?1")
        .bind(&[file_id.into()])?
        .first::<Row>(None)
        .await?
        .ok_or_else(not_found)?;
    let object = stored(env, &row.r2_key)
        .await?
        .ok_or_else(|| ApiError::Client(404, format!("File {file_id} has no object in R2")))?;
    let size = object.size();
    let body = object.body().ok_or_else(not_found)?.stream()?;
    let headers = Headers::new();
    headers.set("content-type", "application/octet-stream")?;
    headers.set("content-length", &size.to_string())?;
    headers.set("x-content-sha256", &row.checksum.unwrap_or_default())?;
    Ok(Response::from_stream(body)?.with_headers(headers))
}

/// `GET /api/admin/export/relationships?after=<row>&limit=<n>`: lineage rows with
/// the origin of their child file (app-created cuts are the ones to write back).
pub async fn relationships(req: &Request, env: &Env) -> ApiResult {
    let page = page(req)?;
    #[derive(Deserialize, serde::Serialize)]
    struct Row {
        seq: i64,
        parent_id: String,
        child_id: String,
        relationship: String,
        child_origin: String,
    }
    let rows = db(env)?
        .prepare(
            "SELECT r.id AS seq, r.parent_id, r.child_id, r.relationship, \
             COALESCE(c.origin, '') AS child_origin FROM file_relationships r \
             LEFT JOIN files c ON c.file_id = r.child_id WHERE r.id > ?1 ORDER BY r.id LIMIT ?2",
        )
        .bind(&[num(page.after), num(page.limit)])?
        .all()
        .await?
        .results::<Row>()?;
    let last = rows.last().map(|r| r.seq);
    let items = rows.into_iter().map(|r| json!(r)).collect();
    listing("relationships", items, last, page.limit)
}

/// `GET /api/admin/export/changes?after=<seq>&limit=<n>`: the change log past the
/// replicator's checkpoint, each change with the record as it is now (`record`;
/// `null` once it is gone), and `head`, the log's last sequence number (0 when
/// everything was acknowledged).
pub async fn changes(req: &Request, env: &Env) -> ApiResult {
    let page = page(req)?;
    #[derive(Deserialize)]
    struct Row {
        seq: i64,
        kind: String,
        key: String,
        op: String,
        at: String,
    }
    let db = db(env)?;
    let head = db
        .prepare("SELECT COALESCE(MAX(seq), 0) AS head FROM changes")
        .first::<i64>(Some("head"))
        .await?
        .unwrap_or(0);
    let rows = db
        .prepare("SELECT seq, kind, key, op, at FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2")
        .bind(&[num(page.after), num(page.limit)])?
        .all()
        .await?
        .results::<Row>()?;
    let keys = |kind: &str| -> String {
        json!(rows
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| &r.key)
            .collect::<Vec<_>>())
        .to_string()
    };
    let records = |sql: String, keys: String| {
        let db = &db;
        async move {
            let rows: Vec<crate::import::JsonRow> = db
                .prepare(sql)
                .bind(&[keys.into()])?
                .all()
                .await?
                .results()?;
            rows.into_iter()
                .map(|r| serde_json::from_str::<Value>(&r.j))
                .collect::<Result<Vec<Value>, _>>()
                .map_err(|e| worker::Error::RustError(e.to_string()))
        }
    };
    let users = records(
        format!(
            "SELECT {USER_JSON} AS j FROM users \
             WHERE CAST(id AS TEXT) IN (SELECT value FROM json_each(?1))"
        ),
        keys("user"),
    )
    .await?;
    let files = records(
        format!(
            "SELECT json_set({FILE_JSON}, '$.origin', origin) AS j FROM files \
             WHERE file_id IN (SELECT value FROM json_each(?1))"
        ),
        keys("file"),
    )
    .await?;
    let edges = records(
        "SELECT json_object('parent_id', parent_id, 'child_id', child_id, \
         'relationship', relationship) AS j FROM file_relationships \
         WHERE parent_id || ' ' || child_id || ' ' || relationship \
         IN (SELECT value FROM json_each(?1))"
            .to_string(),
        keys("edge"),
    )
    .await?;
    let find = |kind: &str, key: &str| -> Value {
        let matches = |v: &&Value| match kind {
            "user" => v["id"].as_i64().map(|id| id.to_string()).as_deref() == Some(key),
            "file" => v["file_id"] == key,
            _ => {
                format!(
                    "{} {} {}",
                    v["parent_id"].as_str().unwrap_or_default(),
                    v["child_id"].as_str().unwrap_or_default(),
                    v["relationship"].as_str().unwrap_or_default()
                ) == key
            }
        };
        let pool = match kind {
            "user" => &users,
            "file" => &files,
            _ => &edges,
        };
        pool.iter().find(matches).cloned().unwrap_or(Value::Null)
    };
    let last = rows.last().map(|r| r.seq);
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"seq": r.seq, "kind": r.kind, "key": r.key, "op": r.op, "at": r.at,
                   "record": find(&r.kind, &r.key)})
        })
        .collect();
    let next = last.filter(|_| items.len() as i64 == page.limit);
    Ok(http::json(
        200,
        &json!({ "changes": items, "next": next, "head": head }),
    ))
}

/// `POST /api/admin/changes/ack` `{"through": <seq>}`: the replicator applied the
/// log up to `through`; those entries are dropped.
pub async fn acknowledge(req: &mut Request, env: &Env) -> ApiResult {
    let body = crate::body::read_json(req).await?;
    let through = body["through"]
        .as_i64()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::bad_request("through must be a non-negative integer"))?;
    let done = db(env)?
        .prepare("DELETE FROM changes WHERE seq <= ?1")
        .bind(&[num(through)])?
        .run()
        .await?;
    let pruned = done.meta()?.and_then(|m| m.changes).unwrap_or(0);
    Ok(http::json(200, &json!({ "pruned": pruned })))
}
