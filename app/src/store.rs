//! The saved files' store: the D1 `files` rows and their R2 objects, always kept
//! together (no row without its object, no object without its row), and only
//! ever the caller's own.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use shared::csv_cut::UploadSummary;
use shared::files as logic;
use worker::wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, Env, Result};

pub use crate::bindings::db;
use crate::error::{ApiError, ApiResult};
use crate::storage::ObjectWriter;

pub fn num(v: i64) -> JsValue {
    JsValue::from(v as f64)
}

pub fn not_found() -> ApiError {
    ApiError::Client(404, "File not found.".into())
}

/// The number a `SELECT COUNT(*) AS n` query answers.
pub async fn count(query: D1PreparedStatement) -> Result<i64> {
    Ok(query.first::<i64>(Some("n")).await?.unwrap_or(0))
}

/// The row `sql` selects by `?1` (an id) and `?2` (its owner, the caller), or
/// `missing`: another person's row is as absent as one that never was.
pub async fn owned_row<T: DeserializeOwned>(
    env: &Env,
    sql: &str,
    id: &str,
    user_id: i64,
    missing: fn() -> ApiError,
) -> ApiResult<T> {
    db(env)?
        .prepare(sql)
        .bind(&[id.into(), num(user_id)])?
        .first::<T>(None)
        .await?
        .ok_or_else(missing)
}

pub fn object_key(user_id: i64, file_id: &str) -> String {
    format!("uploads/user-{user_id}/{file_id}.csv")
}

/// The R2 key of `user_id`'s saved file whose `file_path` is `file_path` (what
/// `export_csv/` accepts besides anonymous ids).
pub async fn owned_key(env: &Env, user_id: i64, file_path: &str) -> ApiResult<String> {
    #[derive(Deserialize)]
    struct Key {
        r2_key: String,
    }
    let sql = "SELECT r2_key FROM files WHERE r2_key = ?1 AND user_id = ?2";
    let missing = || ApiError::Client(404, "File not found".into());
    let key: Key = owned_row(env, sql, file_path, user_id, missing).await?;
    Ok(key.r2_key)
}

/// `id, file_name, r2_key` of the caller's file `file_id`.
#[derive(Deserialize)]
pub struct Owned {
    pub file_name: String,
    pub r2_key: String,
    pub size: i64,
    pub user_tags: String,
}

pub async fn owned(env: &Env, user_id: i64, file_id: &str) -> ApiResult<Owned> {
    let sql = "SELECT file_name, r2_key, size, user_tags FROM files \
               WHERE file_id = ?1 AND user_id = ?2";
    owned_row(env, sql, file_id, user_id, not_found).await
}

/// `wanted` (sanitised), made unique among the caller's names like legacy `set_file_name`.
pub async fn choose_name(env: &Env, user_id: i64, wanted: &str) -> ApiResult<String> {
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

/// A new saved file.
pub struct NewFile<'a> {
    pub file_id: &'a str,
    pub user_id: i64,
    pub key: &'a str,
    pub name: &'a str,
    /// `uploaded` or `generated`.
    pub system_tag: &'a str,
    pub metadata: Option<&'a str>,
    /// The file it was cut from, if any: the lineage rows go in with its own.
    pub parent: Option<&'a str>,
}

impl<'a> NewFile<'a> {
    pub fn new(
        file_id: &'a str,
        user_id: i64,
        key: &'a str,
        name: &'a str,
        system_tag: &'a str,
    ) -> Self {
        NewFile {
            file_id,
            user_id,
            key,
            name,
            system_tag,
            metadata: None,
            parent: None,
        }
    }

    pub fn with_metadata(self, metadata: &'a str) -> Self {
        NewFile {
            metadata: Some(metadata),
            ..self
        }
    }

    pub fn cut_from(self, parent: Option<&'a str>) -> Self {
        NewFile { parent, ..self }
    }
}

/// Publishes the object `writer` holds, then inserts the file's row (and its
/// lineage rows) in one batch; if D1 fails the object is deleted again, so there
/// is never a row without its object nor an object without its row.
pub async fn keep(
    env: &Env,
    writer: ObjectWriter,
    summary: &UploadSummary,
    file: NewFile<'_>,
) -> ApiResult<()> {
    let mut statements = vec![insert_file(env, summary, &file)?];
    if let Some(parent) = file.parent {
        statements.extend(lineage_edges(env, parent, file.file_id)?);
    }
    writer.finish().await?;
    if let Err(error) = db(env)?.batch(statements).await {
        if let Err(e) = crate::bindings::bucket(env)?.delete(file.key).await {
            worker::console_error!("removing {} after a failed insert: {e}", file.key);
        }
        return Err(ApiError::Internal(error));
    }
    Ok(())
}

fn insert_file(env: &Env, summary: &UploadSummary, f: &NewFile<'_>) -> Result<D1PreparedStatement> {
    db(env)?
        .prepare(
            "INSERT INTO files (file_id, user_id, file_name, r2_key, size, checksum, \
             system_tags, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(&[
            f.file_id.into(),
            num(f.user_id),
            f.name.into(),
            f.key.into(),
            num(summary.size as i64),
            summary.sha256.as_str().into(),
            json!([f.system_tag]).to_string().into(),
            f.metadata.map_or(JsValue::NULL, JsValue::from),
        ])
}

/// The lineage rows of `child` cut from `parent` (the legacy CUT_TO/CUT_FROM pair).
fn lineage_edges(env: &Env, parent: &str, child: &str) -> Result<Vec<D1PreparedStatement>> {
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

/// Removes the caller's file: the row and its lineage rows, then the object.
pub async fn remove(env: &Env, user_id: i64, file_id: &str) -> ApiResult<()> {
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
