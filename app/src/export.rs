//! The export half of the admin API: pages of users, files and lineage rows in id
//! order (keyset pagination: `after` is the last id of the previous page, `next`
//! the one to ask with), a file's bytes, and table counts. The cutover tool reads
//! them to verify a migration and to write the app's data back to legacy.

use serde::Deserialize;
use serde_json::{json, Value};
use shared::migration::{FileRecord, UserRecord};
use worker::{Env, Headers, Request, Response};

use crate::files::{db, num};
use crate::http::{self, Reject};
use crate::import::{parse_rows, FILE_JSON, USER_JSON};
use crate::settings;
use crate::storage::stored;

type Answer = std::result::Result<Response, Reject>;

/// Largest page.
const MAX_PAGE: i64 = 1000;

/// The query's `after` (default 0) and `limit` (default and most [`MAX_PAGE`]).
struct Page {
    after: i64,
    limit: i64,
    params: Vec<(String, String)>,
}

fn page(req: &Request) -> Result<Page, Reject> {
    let params: Vec<(String, String)> = req.url()?.query_pairs().into_owned().collect();
    let number = |name: &str, default: i64| -> Result<i64, Reject> {
        match params.iter().find(|(k, _)| k == name) {
            None => Ok(default),
            Some((_, v)) => v.parse().ok().filter(|n: &i64| *n >= 0).ok_or_else(|| {
                Reject::bad_request(format!("{name} must be a non-negative integer"))
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

fn listing(key: &str, items: Vec<Value>, last: Option<i64>, limit: i64) -> Answer {
    // A short page is the last one.
    let next = last.filter(|_| items.len() as i64 == limit);
    Ok(http::json(200, &json!({ key: items, "next": next })))
}

/// `GET /api/admin/export/summary`: row counts and the app's `USER_ID_OFFSET`.
pub async fn summary(env: &Env) -> Answer {
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
pub async fn users(req: &Request, env: &Env) -> Answer {
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
pub async fn files(req: &Request, env: &Env) -> Answer {
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
pub async fn content(env: &Env, file_id: &str) -> Answer {
    #[derive(Deserialize)]
    struct Row {
        r2_key: String,
        checksum: Option<String>,
    }
    let not_found = || Reject::Client(404, format!("File {file_id} not found"));
    let row = db(env)?
        .prepare("SELECT r2_key, checksum FROM files WHERE file_id = ?1")
        .bind(&[file_id.into()])?
        .first::<Row>(None)
        .await?
        .ok_or_else(not_found)?;
    let object = stored(env, &row.r2_key)
        .await?
        .ok_or_else(|| Reject::Client(404, format!("File {file_id} has no object in R2")))?;
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
pub async fn relationships(req: &Request, env: &Env) -> Answer {
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
