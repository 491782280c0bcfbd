//! Row and column counts of saved files, filled in after the upload answered: the
//! upload sends the file id to `CSV_QUEUE`, the consumer below streams the object
//! once and writes `row_count`/`column_count` into D1.
//!
//! The same pass completes the object's metadata. R2 fixes a multipart upload's
//! custom metadata when it starts, before the SHA-256 is known, so a file of more
//! than one part is stored without it; the consumer copies such an object onto
//! itself with the checksum from D1 as its `sha256` metadata, and hands R2 that
//! checksum to verify the bytes against: a mismatch keeps the object unchanged.
//!
//! Every pass also hashes the bytes: stored bytes that are not the ones recorded
//! cannot heal by retrying, so such a file becomes a dead letter at once
//! (`dead_letters.rs`). A message that fails every retry for another reason goes
//! to the consumer's dead-letter queue (`dead_letter_queue` in the config), whose
//! messages this Worker records as dead letters too.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::csv_cut::{Counter, Counts, CsvError};
use worker::{
    Conditional, Env, FixedLengthStream, HttpMetadata, MessageBatch, MessageExt, Object, Result,
};

use crate::dead_letters::{self, Reason};
use crate::store::{db, num};

/// A queue message: the saved file to count.
#[derive(Serialize, Deserialize)]
pub struct CountFile {
    pub file_id: String,
}

/// Asks for the counts of `file_id`. The file is already saved, so a failed send
/// only leaves its counts empty; it is logged, not reported to the client.
pub async fn enqueue(env: &Env, file_id: &str) {
    let message = CountFile {
        file_id: file_id.to_string(),
    };
    let sent = match crate::bindings::csv_queue(env) {
        Ok(queue) => queue.send(message).await,
        Err(error) => Err(error),
    };
    if let Err(error) = sent {
        worker::console_error!("queueing the counts of {file_id}: {error}");
    }
}

/// Counts every file of the batch; a message whose file could not be read for a
/// passing reason (R2 or D1 down) is retried, a file whose bytes do not match
/// its checksum is a dead letter, the others are acknowledged. The batch of the
/// dead-letter queue holds messages that failed every retry.
pub async fn consume(batch: MessageBatch<CountFile>, env: &Env) -> Result<()> {
    let queue = batch.queue();
    let exhausted = dead_letters::is_dead_letter_queue(&queue);
    for message in batch.messages()? {
        let file_id = &message.body().file_id;
        let handled = if exhausted {
            dead_letters::record(
                env,
                &queue,
                file_id,
                Reason::Failed,
                "not counted after every retry; the app's log has each attempt's error",
            )
            .await
        } else {
            match count(env, file_id).await {
                Ok(Checked::Done) => Ok(()),
                Ok(Checked::Mismatch { recorded, stored }) => {
                    let detail = format!("stored bytes have SHA-256 {stored}, recorded {recorded}");
                    worker::console_error!("{file_id}: {detail}");
                    dead_letters::record(env, &queue, file_id, Reason::ChecksumMismatch, &detail)
                        .await
                }
                Err(error) => Err(error),
            }
        };
        match handled {
            Ok(()) => message.ack(),
            Err(error) => {
                worker::console_error!("counting {file_id}: {error}");
                message.retry();
            }
        }
    }
    Ok(())
}

/// What a pass over a saved file found.
enum Checked {
    /// Counted, or nothing to count (deleted or replaced meanwhile).
    Done,
    /// The stored bytes hash to `stored`, not the `recorded` checksum.
    Mismatch { recorded: String, stored: String },
}

async fn count(env: &Env, file_id: &str) -> Result<Checked> {
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
        return Ok(Checked::Done); // deleted meanwhile
    };
    let Some(object) = crate::bindings::bucket(env)?
        .get(&row.r2_key)
        .execute()
        .await?
    else {
        return Ok(Checked::Done);
    };
    let has_checksum = object.custom_metadata()?.contains_key("sha256");
    let recorded = row.checksum.filter(|c| !c.is_empty());
    let read = match recorded.as_deref().and_then(|c| hex::decode(c).ok()) {
        Some(sha256) if !has_checksum => {
            rewrite_with_checksum(env, &row.r2_key, object, sha256).await?
        }
        _ => read_counts(object).await?,
    };
    let Some(read) = read else {
        return Ok(Checked::Done);
    };
    if let Some(recorded) = recorded.filter(|r| !r.eq_ignore_ascii_case(&read.sha256)) {
        return Ok(Checked::Mismatch {
            recorded,
            stored: read.sha256,
        });
    }
    let counts = match read.counts {
        Ok(counts) => counts,
        Err(error) => {
            // Saved files passed the upload checks; a damaged one keeps no counts.
            worker::console_error!("{file_id} does not read as CSV: {error}");
            return Ok(Checked::Done);
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
    Ok(Checked::Done)
}

/// Counts and hashes as the bytes pass; the first CSV error ends the counting,
/// not the hashing.
struct Tally {
    counter: Counter,
    read: std::result::Result<(), CsvError>,
    hasher: Sha256,
    bytes: u64,
}

/// The end of a pass: the counts (or why the bytes are not CSV) and the hex
/// SHA-256 of every byte.
struct Read {
    counts: std::result::Result<Counts, CsvError>,
    sha256: String,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            counter: Counter::new(),
            read: Ok(()),
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        if self.read.is_ok() {
            self.read = self.counter.push(chunk);
        }
    }

    fn finish(self) -> Read {
        Read {
            counts: self.read.and_then(|()| self.counter.finish()),
            sha256: hex::encode(self.hasher.finalize()),
        }
    }
}

/// The counts and hash of the object's bytes (`None` when it has no body).
async fn read_counts(object: Object) -> Result<Option<Read>> {
    let Some(body) = object.body() else {
        return Ok(None);
    };
    let mut input = body.stream()?;
    let mut tally = Tally::new();
    while let Some(chunk) = input.next().await {
        tally.push(&chunk?);
    }
    Ok(Some(tally.finish()))
}

/// Copies `object` onto its key with `sha256` added to its metadata, counting and
/// hashing the bytes on the way; R2 checks them against `sha256` and the copy
/// happens only if the object is still the one read. `None` when nothing was
/// written because the object changed meanwhile. A refused copy whose bytes all
/// passed and hash to something else is a mismatch, reported as such; any other
/// failure is an error (retried).
async fn rewrite_with_checksum(
    env: &Env,
    key: &str,
    object: Object,
    sha256: Vec<u8>,
) -> Result<Option<Read>> {
    let Some(body) = object.body() else {
        return Ok(None);
    };
    let size = object.size();
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
    let written = crate::bindings::bucket(env)?
        .put(key, FixedLengthStream::wrap(bytes, size))
        .http_metadata(HttpMetadata {
            content_type: Some("text/csv".into()),
            ..Default::default()
        })
        .custom_metadata(metadata)
        .sha256(sha256.clone())
        .only_if(Conditional {
            etag_matches: Some(object.etag()),
            ..Default::default()
        })
        .execute()
        .await;
    // The stream may outlive the put inside the runtime: take the state out.
    let tally = tally.replace(Tally::new());
    match written {
        Ok(Some(_)) => Ok(Some(tally.finish())),
        // Replaced or deleted meanwhile: the new object has its own message.
        Ok(None) => Ok(None),
        Err(error) => {
            let whole = tally.bytes == size;
            let read = tally.finish();
            if whole && read.sha256 != hex::encode(&sha256) {
                return Ok(Some(read));
            }
            worker::console_error!("{key}: R2 refused the copy with its checksum: {error}");
            Err(error)
        }
    }
}
