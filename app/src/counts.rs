//! Row and column counts of saved files, filled in after the upload answered: the
//! upload sends the file id to `CSV_QUEUE`, the consumer below streams the object
//! once and writes `row_count`/`column_count` into D1.

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use shared::csv_cut::Counter;
use worker::{Env, MessageBatch, MessageExt, Result};

use crate::files::{db, num};

/// A queue message: the saved file to count.
#[derive(Serialize, Deserialize)]
pub struct CountFile {
    pub file_id: String,
}

/// Asks for the counts of `file_id`. The file is already saved, so a failed send
/// only leaves its counts empty; it is logged, not reported to the client.
pub async fn enqueue(env: &Env, file_id: &str) {
    let sent = match env.queue("CSV_QUEUE") {
        Ok(queue) => {
            queue
                .send(CountFile {
                    file_id: file_id.to_string(),
                })
                .await
        }
        Err(error) => Err(error),
    };
    if let Err(error) = sent {
        worker::console_error!("queueing the counts of {file_id}: {error}");
    }
}

/// Counts every file of the batch; a message whose file could not be read for a
/// passing reason (R2 or D1 down) is retried, the others are acknowledged.
pub async fn consume(batch: MessageBatch<CountFile>, env: &Env) -> Result<()> {
    for message in batch.messages()? {
        match count(env, &message.body().file_id).await {
            Ok(()) => message.ack(),
            Err(error) => {
                worker::console_error!("counting {}: {error}", message.body().file_id);
                message.retry();
            }
        }
    }
    Ok(())
}

async fn count(env: &Env, file_id: &str) -> Result<()> {
    #[derive(Deserialize)]
    struct Row {
        r2_key: String,
    }
    let db = db(env)?;
    let Some(row) = db
        .prepare("SELECT r2_key FROM files WHERE file_id = ?1")
        .bind(&[file_id.into()])?
        .first::<Row>(None)
        .await?
    else {
        return Ok(()); // deleted meanwhile
    };
    let Some(object) = env
        .bucket("FILE_STORAGE")?
        .get(&row.r2_key)
        .execute()
        .await?
    else {
        return Ok(());
    };
    let Some(body) = object.body() else {
        return Ok(());
    };
    let mut input = body.stream()?;
    let mut counter = Counter::new();
    let mut read = Ok(());
    while let Some(chunk) = input.next().await {
        read = counter.push(&chunk?);
        if read.is_err() {
            break;
        }
    }
    let counts = match read.and_then(|()| counter.finish()) {
        Ok(counts) => counts,
        Err(error) => {
            // Saved files passed the upload checks; a damaged one keeps no counts.
            worker::console_error!("{file_id} does not read as CSV: {error}");
            return Ok(());
        }
    };
    db.prepare("UPDATE files SET row_count = ?1, column_count = ?2 WHERE file_id = ?3")
        .bind(&[
            num(counts.rows as i64),
            num(counts.columns as i64),
            file_id.into(),
        ])?
        .run()
        .await?;
    Ok(())
}
