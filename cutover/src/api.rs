//! The app's admin API (`/api/admin/...`) over HTTP, with the operator token.
//! Connection failures, 5xx and 429 are retried (every call is idempotent); a 4xx
//! comes back as an error naming the problem (a write that lost a race with a user's
//! request is a 409: reported, and done by the next run).

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;
use shared::migration::bundle::bundle_head;
use shared::migration::FileRecord;

use crate::reverse::Logged;

const ATTEMPTS: u32 = 4;

/// Why a call did not succeed: the app refused it (a 4xx: the request is wrong),
/// or no answer came (connection, 5xx) after the retries.
pub enum CallError {
    Refused(String),
    Failed(String),
}

impl From<CallError> for String {
    fn from(e: CallError) -> String {
        match e {
            CallError::Refused(why) | CallError::Failed(why) => why,
        }
    }
}

#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    http: Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Result<Api, String> {
        let http = Client::builder()
            .timeout(Duration::from_secs(600))
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `make()` until it is answered without a retryable failure.
    fn send(
        &self,
        what: &str,
        make: impl Fn() -> Result<RequestBuilder, String>,
    ) -> Result<Response, CallError> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 << attempt));
            }
            match make()
                .map_err(CallError::Failed)?
                .bearer_auth(&self.token)
                .send()
            {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.text().unwrap_or_default();
                    let message = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| v["error"].as_str().map(str::to_string))
                        .unwrap_or(body);
                    last = format!("{what}: HTTP {status}: {message}");
                    if status < 500 && status != 429 {
                        return Err(CallError::Refused(last));
                    }
                }
                Err(e) => last = format!("{what}: {e}"),
            }
        }
        Err(CallError::Failed(last))
    }

    pub fn get(&self, path: &str) -> Result<Value, String> {
        self.send(path, || Ok(self.http.get(self.url(path))))?
            .json()
            .map_err(|e| format!("{path}: {e}"))
    }

    /// One call of the gateway's admin API, sent once (an issue or a revoke is
    /// not repeated on a failure); the answer, or its refusal as an error.
    pub fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status();
        let answer: Value = resp.json().unwrap_or(Value::Null);
        if !status.is_success() {
            let why = answer["error"].as_str().unwrap_or("no reason given");
            return Err(format!("{path}: HTTP {}: {why}", status.as_u16()));
        }
        Ok(answer)
    }

    /// The `results` of an import batch, or the app's refusal of the whole batch
    /// (`Ok(Err)`, to report per record); `Err` when the app could not answer.
    pub fn import(
        &self,
        what: &str,
        key: &str,
        items: Value,
    ) -> Result<Result<Vec<Value>, String>, String> {
        let path = format!("/api/admin/import/{what}");
        let body = serde_json::json!({ key: items });
        match self.send(&path, || Ok(self.http.post(self.url(&path)).json(&body))) {
            Ok(resp) => {
                let answer: Value = resp.json().map_err(|e| format!("{path}: {e}"))?;
                Ok(Ok(answer["results"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()))
            }
            Err(CallError::Refused(why)) => Ok(Err(why)),
            Err(CallError::Failed(why)) => Err(why),
        }
    }

    /// Streams the file at `path` as the bytes of `record`.
    /// A refusal (`Ok(Err)`) is this record's; `Err` when the app could not answer.
    pub fn put_file(
        &self,
        record: &FileRecord,
        path: &Path,
    ) -> Result<Result<Value, String>, String> {
        let header = base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(record).map_err(|e| e.to_string())?);
        let url = self.url(&format!("/api/admin/import/files/{}", record.file_id));
        let sent = self.send(&format!("file {}", record.file_id), || {
            let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let body = reqwest::blocking::Body::sized(file, record.size);
            Ok(self
                .http
                .put(&url)
                .header("X-Import-File", &header)
                .header("Content-Type", "application/octet-stream")
                .body(body))
        });
        match sent {
            Ok(resp) => resp.json().map(Ok).map_err(|e| e.to_string()),
            Err(CallError::Refused(why)) => Ok(Err(why)),
            Err(CallError::Failed(why)) => Err(why),
        }
    }

    /// Sends small files in one request (`shared::migration::bundle`), read
    /// whole into memory. The app's answer per file, in order; a refusal of the
    /// bundle, or a file that could not be read, is `Ok(Err)` (the caller sends
    /// them one by one to learn which); `Err` when the app could not answer.
    pub fn put_bundle(
        &self,
        files: &[(&FileRecord, &Path)],
    ) -> Result<Result<Vec<Value>, String>, String> {
        let records: Vec<&FileRecord> = files.iter().map(|(r, _)| *r).collect();
        let mut body = bundle_head(&records);
        for (_, path) in files {
            match std::fs::read(path) {
                Ok(bytes) => body.extend_from_slice(&bytes),
                Err(e) => return Ok(Err(format!("{}: {e}", path.display()))),
            }
        }
        let path = "/api/admin/import/files/bundle";
        let sent = self.send(path, || {
            Ok(self
                .http
                .post(self.url(path))
                .header("Content-Type", "application/octet-stream")
                .body(body.clone()))
        });
        match sent {
            Ok(resp) => {
                let answer: Value = resp.json().map_err(|e| format!("{path}: {e}"))?;
                match answer["results"].as_array() {
                    Some(results) if results.len() == files.len() => Ok(Ok(results.clone())),
                    _ => Err(format!("{path}: not one result per file: {answer}")),
                }
            }
            Err(CallError::Refused(why)) => Ok(Err(why)),
            Err(CallError::Failed(why)) => Err(why),
        }
    }

    /// The stored bytes of an app file, as a reader, and the checksum the app
    /// recorded; `None` when the app has no such file (any more).
    /// A refusal and an app that cannot be reached (or answers 5xx after the
    /// retries) are told apart: the first concerns this file, the second the run.
    pub fn download(&self, file_id: &str) -> Result<Option<(impl Read, String)>, CallError> {
        let path = format!("/api/admin/export/files/{file_id}/content");
        let resp = match self.send(&path, || Ok(self.http.get(self.url(&path)))) {
            Ok(resp) => resp,
            Err(CallError::Refused(why)) if why.contains(": HTTP 404:") => return Ok(None),
            Err(e) => return Err(e),
        };
        let sha = resp
            .headers()
            .get("x-content-sha256")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok(Some((resp, sha)))
    }

    /// Every item of an export listing (`key`) past `start_after`, page by page.
    pub fn export_all(
        &self,
        what: &str,
        key: &str,
        start_after: i64,
        query: &str,
        mut each: impl FnMut(Value) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut after = start_after;
        loop {
            let page = self.get(&format!("/api/admin/export/{what}?after={after}{query}"))?;
            for item in page[key].as_array().cloned().unwrap_or_default() {
                each(item)?;
            }
            match page["next"].as_i64() {
                Some(next) => after = next,
                None => return Ok(()),
            }
        }
    }
}

/// Up to `limit` entries of the app's change log after `after`, with the log's
/// last sequence number.
pub fn changes(api: &Api, after: i64, limit: i64) -> Result<(Vec<Logged>, i64), String> {
    let page = api.get(&format!(
        "/api/admin/export/changes?after={after}&limit={limit}"
    ))?;
    let changes = serde_json::from_value(page["changes"].clone())
        .map_err(|e| format!("the app's change log: {e}"))?;
    Ok((changes, page["head"].as_i64().unwrap_or(0)))
}

/// Tells the app its log is applied up to `through` (it prunes those entries).
pub fn acknowledge(api: &Api, through: i64) -> Result<(), String> {
    api.admin(
        reqwest::Method::POST,
        "/api/admin/changes/ack",
        Some(&serde_json::json!({ "through": through })),
    )
    .map(|_| ())
}

/// The app's `USER_ID_OFFSET`: ids below it are legacy's, from it up the app's.
pub fn user_id_offset(api: &Api) -> Result<i64, String> {
    api.get("/api/admin/export/summary")?["user_id_offset"]
        .as_i64()
        .ok_or_else(|| "the app's summary has no user_id_offset".to_string())
}
