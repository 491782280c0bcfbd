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

use crate::error::{Error, Result};

const ATTEMPTS: u32 = 4;

#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    http: Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Result<Api> {
        let http = Client::builder()
            .timeout(Duration::from_secs(600))
            .pool_max_idle_per_host(16)
            .build()
            .map_err(Error::Client)?;
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `make()` until it is answered without a retryable failure: a
    /// refusal ([`Error::is_refusal`]) comes back at once, no answer (or a 5xx)
    /// after the retries.
    fn send(&self, what: &str, make: impl Fn() -> Result<RequestBuilder>) -> Result<Response> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 << attempt));
            }
            match make()?.bearer_auth(&self.token).send() {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.text().unwrap_or_default();
                    let message = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| v["error"].as_str().map(str::to_string))
                        .unwrap_or(body);
                    let refused = Error::Status {
                        call: what.to_string(),
                        status,
                        message,
                    };
                    if refused.is_refusal() {
                        return Err(refused);
                    }
                    last = Some(refused);
                }
                Err(source) => {
                    last = Some(Error::Unanswered {
                        call: what.to_string(),
                        source,
                    })
                }
            }
        }
        Err(last.expect("at least one attempt"))
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        self.send(path, || Ok(self.http.get(self.url(path))))?
            .json()
            .map_err(|source| unanswered(path, source))
    }

    /// One call of the gateway's admin API, sent once (an issue or a revoke is
    /// not repeated on a failure); the answer, or its refusal as an error.
    pub fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().map_err(|source| unanswered(path, source))?;
        let status = resp.status();
        let answer: Value = resp.json().unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(Error::Status {
                call: path.to_string(),
                status: status.as_u16(),
                message: answer["error"]
                    .as_str()
                    .unwrap_or("no reason given")
                    .to_string(),
            });
        }
        Ok(answer)
    }

    /// The `results` of an import batch, or the app's refusal of the whole batch
    /// (`Ok(Err)`, to report per record); `Err` when the app could not answer.
    pub fn import(&self, what: &str, key: &str, items: Value) -> Result<Result<Vec<Value>>> {
        let path = format!("/api/admin/import/{what}");
        let body = serde_json::json!({ key: items });
        let sent = self.send(&path, || Ok(self.http.post(self.url(&path)).json(&body)));
        refusal_apart(sent, |resp| {
            let answer: Value = resp.json().map_err(|source| unanswered(&path, source))?;
            Ok(answer["results"].as_array().cloned().unwrap_or_default())
        })
    }

    /// Streams the file at `path` as the bytes of `record`.
    /// A refusal (`Ok(Err)`) is this record's; `Err` when the app could not answer.
    pub fn put_file(&self, record: &FileRecord, path: &Path) -> Result<Result<Value>> {
        let header = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(record)?);
        let url = self.url(&format!("/api/admin/import/files/{}", record.file_id));
        let what = format!("file {}", record.file_id);
        let sent = self.send(&what, || {
            let file = std::fs::File::open(path).map_err(|source| Error::Io {
                role: None,
                path: path.to_path_buf(),
                source,
            })?;
            let body = reqwest::blocking::Body::sized(file, record.size);
            Ok(self
                .http
                .put(&url)
                .header("X-Import-File", &header)
                .header("Content-Type", "application/octet-stream")
                .body(body))
        });
        refusal_apart(sent, |resp| {
            resp.json().map_err(|source| unanswered(&what, source))
        })
    }

    /// Sends small files in one request (`shared::migration::bundle`), read
    /// whole into memory. The app's answer per file, in order; a refusal of the
    /// bundle, or a file that could not be read, is `Ok(Err)` (the caller sends
    /// them one by one to learn which); `Err` when the app could not answer.
    pub fn put_bundle(&self, files: &[(&FileRecord, &Path)]) -> Result<Result<Vec<Value>>> {
        let records: Vec<&FileRecord> = files.iter().map(|(r, _)| *r).collect();
        let mut body = bundle_head(&records);
        for (_, path) in files {
            match std::fs::read(path) {
                Ok(bytes) => body.extend_from_slice(&bytes),
                Err(source) => {
                    return Ok(Err(Error::Io {
                        role: None,
                        path: path.to_path_buf(),
                        source,
                    }))
                }
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
        refusal_apart(sent, |resp| {
            let answer: Value = resp.json().map_err(|source| unanswered(path, source))?;
            match answer["results"].as_array() {
                Some(results) if results.len() == files.len() => Ok(results.clone()),
                _ => Err(Error::Check(format!(
                    "{path}: not one result per file: {answer}"
                ))),
            }
        })
    }

    /// The stored bytes of an app file, as a reader, and the checksum the app
    /// recorded; `None` when the app has no such file (any more).
    /// A refusal ([`Error::is_refusal`]) concerns this file; no answer (or a
    /// 5xx after the retries) concerns the run.
    pub fn download(&self, file_id: &str) -> Result<Option<(impl Read, String)>> {
        let path = format!("/api/admin/export/files/{file_id}/content");
        let resp = match self.send(&path, || Ok(self.http.get(self.url(&path)))) {
            Ok(resp) => resp,
            Err(e) if e.status().is_some_and(|(status, _)| status == 404) => return Ok(None),
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
        mut each: impl FnMut(Value) -> Result<()>,
    ) -> Result<()> {
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

    /// The app's `USER_ID_OFFSET`: ids below it are legacy's, from it up the app's.
    pub fn user_id_offset(&self) -> Result<i64> {
        self.get("/api/admin/export/summary")?["user_id_offset"]
            .as_i64()
            .ok_or_else(|| Error::Check("the app's summary has no user_id_offset".into()))
    }
}

fn unanswered(call: &str, source: reqwest::Error) -> Error {
    Error::Unanswered {
        call: call.to_string(),
        source,
    }
}

/// A sent request's answer read by `read`; a refusal apart (`Ok(Err)`), to be
/// reported for the request's records, from an app that could not answer.
fn refusal_apart<T>(
    sent: Result<Response>,
    read: impl FnOnce(Response) -> Result<T>,
) -> Result<Result<T>> {
    match sent {
        Ok(resp) => read(resp).map(Ok),
        Err(e) if e.is_refusal() => Ok(Err(e)),
        Err(e) => Err(e),
    }
}
