//! Row and column counts of saved files, filled in after the upload answered: the
//! upload sends the file id to `CSV_QUEUE`, the consumer below streams the object
//! once and writes `row_count`/`column_count` into D1.
//!
//! The same pass completes the object's metadata. R2 fixes a multipart upload's
//! custom metadata when it starts, before the SHA-256 is known, so a file of more
//! than one part is stored without it; the consumer copies such an object onto
//! itself with the checksum from D1 as its `sha256` metadata, and hands R2 that
//! checksum to verify the bytes against: a mismatch keeps the object unchanged.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use shared::csv_cut::{Counter, Counts, CsvError};
use worker::{
    Conditional, Env, FixedLengthStream, HttpMetadata, MessageBatch, MessageExt, Object, Result,
};

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
        checksum: Option<String>,
    }
    let db = db(env)?;
    let Some(row) = db
        .prepare("SELECT r2_key, checksum FROM files WHERE file_id = ?1")
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
    let has_checksum = object.custom_metadata()?.contains_key("sha256");
    let counted = match row.checksum.as_deref().and_then(|c| hex::decode(c).ok()) {
        Some(sha256) if !has_checksum => {
            rewrite_with_checksum(env, &row.r2_key, object, sha256).await?
        }
        _ => read_counts(object).await?,
    };
    let counts = match counted {
        Some(Ok(counts)) => counts,
        Some(Err(error)) => {
            // Saved files passed the upload checks; a damaged one keeps no counts.
            worker::console_error!("{file_id} does not read as CSV: {error}");
            return Ok(());
        }
        None => return Ok(()),
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

/// Counts as the bytes pass; the first CSV error ends the counting.
struct Tally {
    counter: Counter,
    read: std::result::Result<(), CsvError>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            counter: Counter::new(),
            read: Ok(()),
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if self.read.is_ok() {
            self.read = self.counter.push(chunk);
        }
    }

    fn finish(self) -> std::result::Result<Counts, CsvError> {
        self.read.and_then(|()| self.counter.finish())
    }
}

/// The counts of the object's bytes (`None` when it has no body).
async fn read_counts(object: Object) -> Result<Option<std::result::Result<Counts, CsvError>>> {
    let Some(body) = object.body() else {
        return Ok(None);
    };
    let mut input = body.stream()?;
    let mut tally = Tally::new();
    while let Some(chunk) = input.next().await {
        tally.push(&chunk?);
        if tally.read.is_err() {
            break;
        }
    }
    Ok(Some(tally.finish()))
}

/// Copies `object` onto its key with `sha256` added to its metadata, counting the
/// bytes on the way; R2 checks them against `sha256` and the copy happens only if
/// the object is still the one read. `None` when nothing was written.
async fn rewrite_with_checksum(
    env: &Env,
    key: &str,
    object: Object,
    sha256: Vec<u8>,
) -> Result<Option<std::result::Result<Counts, CsvError>>> {
    let Some(body) = object.body() else {
        return Ok(None);
    };
    let tally = Rc::new(RefCell::new(Tally::new()));
    let seen = Rc::clone(&tally);
    let bytes = body.stream()?.map(move |chunk| {
        if let Ok(chunk) = &chunk {
            seen.borrow_mut().push(chunk);
        }
        chunk
    });
    let mut metadata = object.custom_metadata()?;
    metadata.insert("sha256".into(), hex::encode(&sha256));
    let written = env
        .bucket("FILE_STORAGE")?
        .put(key, FixedLengthStream::wrap(bytes, object.size()))
        .http_metadata(HttpMetadata {
            content_type: Some("text/csv".into()),
            ..Default::default()
        })
        .custom_metadata(metadata)
        .sha256(sha256)
        .only_if(Conditional {
            etag_matches: Some(object.etag()),
            ..Default::default()
        })
        .execute()
        .await;
    match written {
        Ok(Some(_)) => {}
        // Replaced or deleted meanwhile: the new object has its own message.
        Ok(None) => return Ok(None),
        Err(error) => {
            worker::console_error!(
                "{key}: the stored bytes do not match the recorded SHA-256, or R2 failed: {error}"
            );
            return Err(error);
        }
    }
    // The stream may outlive the put inside the runtime: take the state out.
    Ok(Some(tally.replace(Tally::new()).finish()))
}
