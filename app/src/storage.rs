//! R2 objects of the anonymous cutter: opaque ids, keys under `anon/`, expiry, and
//! writing an object as it streams in.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat};
use worker::{Bucket, Date, HttpMetadata, Include, MultipartUpload, Result, UploadedPart};

/// Size of every multipart part but the last (R2: at least 5 MiB, all equal). It is
/// also the most an upload holds in memory.
pub const PART_SIZE: usize = 5 << 20;
/// How long an anonymous upload stays readable.
const ANON_TTL_MS: i64 = 24 * 3600 * 1000;

/// A fresh random id (UUID v4 text): an anonymous upload's `file_path`, a saved
/// file's `file_id`.
pub fn new_anon_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the Workers runtime provides crypto randomness");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The R2 key of an anonymous id, or `None` when `id` is not exactly one of ours
/// (so no client string ever becomes a key: no `../`, no other prefix).
pub fn anon_key(id: &str) -> Option<String> {
    let well_formed = id.len() == 36
        && id.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => matches!(c, b'0'..=b'9' | b'a'..=b'f'),
        });
    well_formed.then(|| format!("anon/{id}.csv"))
}

/// Custom metadata of a new anonymous object: it expires 24 h from now.
pub fn anon_metadata(name: &str) -> HashMap<String, String> {
    let expires = DateTime::from_timestamp_millis(Date::now().as_millis() as i64 + ANON_TTL_MS)
        .expect("a current timestamp is in range");
    HashMap::from([
        (
            "expires_at".to_string(),
            expires.to_rfc3339_opts(SecondsFormat::Secs, true),
        ),
        original_name(name),
    ])
}

/// The `original_name` entry of an object's custom metadata. R2 allows 2 KiB of
/// custom metadata per object: a long client name is cut.
pub fn original_name(name: &str) -> (String, String) {
    (
        "original_name".to_string(),
        name.chars().take(255).collect(),
    )
}

/// True when the metadata's `expires_at` has passed (or cannot be read).
pub fn is_expired(metadata: &HashMap<String, String>) -> bool {
    metadata
        .get("expires_at")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .is_none_or(|t| t.timestamp_millis() <= Date::now().as_millis() as i64)
}

/// The object stored under `key` in `FILE_STORAGE`, if any.
pub async fn stored(env: &worker::Env, key: &str) -> Result<Option<worker::Object>> {
    crate::bindings::bucket(env)?.get(key).execute().await
}

/// Most anonymous objects one sweep looks at (R2 lists 1000 a page), so that a
/// backlog is worked off over several runs instead of outrunning one invocation.
const SWEEP_MAX_LISTED: usize = 10_000;

/// Deletes the anonymous uploads whose 24 h have passed (readers also delete an
/// expired one they meet, but nobody may read it again); the count deleted.
pub async fn sweep_expired(bucket: &Bucket) -> Result<usize> {
    let mut cursor: Option<String> = None;
    let (mut listed, mut deleted) = (0, 0);
    loop {
        let mut list = bucket
            .list()
            .prefix("anon/")
            .include(vec![Include::CustomMetadata]);
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await?;
        let mut expired = Vec::new();
        for object in page.objects() {
            if is_expired(&object.custom_metadata()?) {
                expired.push(object.key());
            }
        }
        listed += page.objects().len();
        deleted += expired.len();
        if !expired.is_empty() {
            bucket.delete_multiple(expired).await?;
        }
        cursor = page.cursor().filter(|_| page.truncated());
        if cursor.is_none() || listed >= SWEEP_MAX_LISTED {
            return Ok(deleted);
        }
    }
}

/// Writes one object from a stream of chunks: a single `put` when it fits in one
/// part, else an R2 multipart upload of `PART_SIZE` parts. Nothing is visible under
/// the key until [`ObjectWriter::finish`]; [`ObjectWriter::abort`] leaves nothing.
pub struct ObjectWriter {
    bucket: Bucket,
    key: String,
    metadata: HashMap<String, String>,
    buf: Vec<u8>,
    upload: Option<MultipartUpload>,
    parts: Vec<UploadedPart>,
}

impl ObjectWriter {
    pub fn new(bucket: Bucket, key: String, metadata: HashMap<String, String>) -> Self {
        ObjectWriter {
            bucket,
            key,
            metadata,
            buf: Vec::new(),
            upload: None,
            parts: Vec::new(),
        }
    }

    /// Adds custom metadata known only at the end (a checksum). R2 fixes a multipart
    /// upload's metadata when it starts, so it reaches the object here only when
    /// the file fit in one part (`counts.rs` adds it to larger saved files).
    pub fn insert_metadata(&mut self, key: &str, value: String) {
        self.metadata.insert(key.to_string(), value);
    }

    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(data);
        while self.buf.len() >= PART_SIZE {
            let rest = self.buf.split_off(PART_SIZE);
            let part = std::mem::replace(&mut self.buf, rest);
            self.upload_part(part).await?;
        }
        Ok(())
    }

    async fn upload_part(&mut self, part: Vec<u8>) -> Result<()> {
        if self.upload.is_none() {
            let upload = self
                .bucket
                .create_multipart_upload(&self.key)
                .http_metadata(csv_http_metadata())
                .custom_metadata(self.metadata.clone())
                .execute()
                .await?;
            self.upload = Some(upload);
        }
        let upload = self.upload.as_ref().expect("created above");
        let number = u16::try_from(self.parts.len() + 1)
            .map_err(|_| worker::Error::RustError("too many parts".into()))?;
        self.parts.push(upload.upload_part(number, part).await?);
        Ok(())
    }

    /// Makes the object visible under its key.
    pub async fn finish(mut self) -> Result<()> {
        let last = std::mem::take(&mut self.buf);
        if self.upload.is_none() {
            self.bucket
                .put(&self.key, last)
                .http_metadata(csv_http_metadata())
                .custom_metadata(self.metadata)
                .execute()
                .await?;
            return Ok(());
        }
        if !last.is_empty() {
            self.upload_part(last).await?;
        }
        let upload = self.upload.take().expect("checked above");
        upload.complete(self.parts).await?;
        Ok(())
    }

    /// Drops the parts uploaded so far; no object is left behind.
    pub async fn abort(self) {
        if let Some(upload) = self.upload {
            if let Err(error) = upload.abort().await {
                worker::console_error!("aborting the multipart upload of {}: {error}", self.key);
            }
        }
    }
}

pub fn csv_http_metadata() -> HttpMetadata {
    HttpMetadata {
        content_type: Some("text/csv".into()),
        ..Default::default()
    }
}
