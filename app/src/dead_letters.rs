//! Dead letters: queue messages that failed for good, kept in D1 (`dead_letters`)
//! until an operator has handled them, so that nothing the `CSV_QUEUE` consumer
//! gives up on is only a log line. The admin API lists them
//! (`GET /api/admin/dead-letters`, which the gateway's `/metrics` and dashboard and
//! `cutover verify` read) and clears one once handled
//! (`DELETE /api/admin/dead-letters/<id>`).

use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{Env, Result};

use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::store::{self, db, num};

/// The most dead letters one listing returns (newest first); `count` is all of them.
const LISTED: i64 = 100;

/// Why a message is dead.
#[derive(Clone, Copy)]
pub enum Reason {
    /// The stored bytes are not the recorded ones: retrying cannot heal that.
    ChecksumMismatch,
    /// Every retry failed.
    Failed,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::ChecksumMismatch => "checksum_mismatch",
            Reason::Failed => "failed",
        }
    }
}

/// Whether a batch comes from a dead-letter queue: by convention its name is the
/// queue's own with `-dlq` after it (`dead_letter_queue` in `wrangler.app.toml`).
pub fn is_dead_letter_queue(queue: &str) -> bool {
    queue.ends_with("-dlq")
}

/// Keeps a dead letter of `file_id`; a repeat of the same file and reason adds
/// to its `occurrences` and keeps the newest detail.
pub async fn record(
    env: &Env,
    queue: &str,
    file_id: &str,
    reason: Reason,
    detail: &str,
) -> Result<()> {
    db(env)?
        .prepare(
            "INSERT INTO dead_letters (queue, file_id, reason, detail) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (file_id, reason) DO UPDATE SET detail = excluded.detail, \
             queue = excluded.queue, occurrences = occurrences + 1, \
             last_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        )
        .bind(&[
            queue.into(),
            file_id.into(),
            reason.as_str().into(),
            detail.into(),
        ])?
        .run()
        .await?;
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct DeadLetter {
    id: i64,
    queue: String,
    file_id: String,
    reason: String,
    detail: String,
    occurrences: i64,
    first_at: String,
    last_at: String,
}

/// `GET /api/admin/dead-letters`: `{"count", "dead_letters": [...]}`, newest first.
pub async fn list(env: &Env) -> ApiResult {
    let db = db(env)?;
    let count = store::count(db.prepare("SELECT COUNT(*) AS n FROM dead_letters")).await?;
    let letters = db
        .prepare(
            "SELECT id, queue, file_id, reason, detail, occurrences, first_at, last_at \
             FROM dead_letters ORDER BY last_at DESC, id DESC LIMIT ?1",
        )
        .bind(&[num(LISTED)])?
        .all()
        .await?
        .results::<DeadLetter>()?;
    Ok(http::json(
        200,
        &json!({"count": count, "dead_letters": letters}),
    ))
}

/// `DELETE /api/admin/dead-letters/<id>`, once it has been handled.
pub async fn clear(env: &Env, id: &str) -> ApiResult {
    let id: i64 = id.parse().map_err(|_| {
        ApiError::bad_request(format!("Dead letter id must be an integer, got {id:?}"))
    })?;
    let removed = db(env)?
        .prepare("DELETE FROM dead_letters WHERE id = ?1 RETURNING id")
        .bind(&[num(id)])?
        .all()
        .await?
        .results::<serde_json::Value>()?;
    if removed.is_empty() {
        return Err(ApiError::Client(404, format!("No dead letter {id}")));
    }
    Ok(http::json(200, &json!({"deleted": id})))
}
