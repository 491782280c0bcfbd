//! `GET fetch_file_lineage/<file_id>/`: the caller's file's ancestors and
//! descendants. `file_relationships` holds, for each cut, a `CUT_TO` and a `CUT_FROM`
//! row with `parent_id` the original and `child_id` the new file; as legacy's graph
//! edges those are `original -[CUT_TO]-> new` and `new -[CUT_FROM]-> original`.

use std::collections::HashMap;

use serde::Deserialize;
use shared::files::{self as logic, Edge};
use worker::Env;

use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::store::{db, num};

/// The rows of every chain through the file: parents' rows up the tree, children's
/// rows down it, with both ends' names.
const LINEAGE_SQL: &str = "\
WITH RECURSIVE
  up(id) AS (
    SELECT ?1
    UNION SELECT r.parent_id FROM file_relationships r JOIN up ON r.child_id = up.id
  ),
  down(id) AS (
    SELECT ?1
    UNION SELECT r.child_id FROM file_relationships r JOIN down ON r.parent_id = down.id
  )
SELECT r.id, r.parent_id, r.child_id, r.relationship,
       COALESCE(p.file_name, '') AS parent_name, COALESCE(c.file_name, '') AS child_name
FROM file_relationships r
LEFT JOIN files p ON p.file_id = r.parent_id
LEFT JOIN files c ON c.file_id = r.child_id
WHERE r.child_id IN (SELECT id FROM up) OR r.parent_id IN (SELECT id FROM down)
ORDER BY r.id";

#[derive(Deserialize)]
struct Row {
    id: i64,
    parent_id: String,
    child_id: String,
    relationship: String,
    parent_name: String,
    child_name: String,
}

pub async fn fetch(env: &Env, user_id: i64, file_id: &str) -> ApiResult {
    let db = db(env)?;
    let owned = db
        .prepare("SELECT 1 AS one FROM files WHERE file_id = ?1 AND user_id = ?2")
        .bind(&[file_id.into(), num(user_id)])?
        .first::<serde_json::Value>(None)
        .await?;
    if owned.is_none() {
        return Err(ApiError::Client(404, "File not found.".into()));
    }
    let rows = db
        .prepare(LINEAGE_SQL)
        .bind(&[file_id.into()])?
        .all()
        .await?
        .results::<Row>()?;
    let mut names = HashMap::new();
    let edges: Vec<Edge> = rows
        .into_iter()
        .map(|r| {
            names.insert(r.parent_id.clone(), r.parent_name);
            names.insert(r.child_id.clone(), r.child_name);
            let (source, target) = if r.relationship == logic::CUT_TO {
                (r.parent_id, r.child_id)
            } else {
                (r.child_id, r.parent_id)
            };
            Edge {
                id: r.id,
                source,
                target,
                kind: r.relationship,
            }
        })
        .collect();
    Ok(http::json(200, &logic::lineage(file_id, &edges, &names)))
}
