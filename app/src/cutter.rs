//! The anonymous cutter: `csv_cutter/` stores an upload under `anon/` and answers its
//! columns; `export_csv/` streams a cut of it. Neither holds a whole file in memory.

use futures_util::{stream, Stream, StreamExt};
use serde_json::Value;
use shared::csv_cut::Cutter;
use shared::cut_request::parse_spec;
use worker::{ByteStream, Env, Headers, Request, Response, Result};

use crate::body::read_json;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::ingest::{self, Kind};
use crate::storage::{anon_key, is_expired, new_anon_id};
use crate::{auth, store};

/// `POST /api/list_cutter/csv_cutter/` (multipart `file`): the columns, and the
/// id to cut it by.
pub async fn upload(req: &mut Request, env: &Env) -> ApiResult {
    let id = new_anon_id();
    let key = anon_key(&id).expect("a fresh id is well formed");
    let (received, _) = ingest::receive_file(req, env, &key, Kind::Anonymous).await?;
    let received = received.ok_or_else(|| ApiError::bad_request("No file uploaded"))?;
    received.writer.finish().await?;
    Ok(http::json(
        200,
        &serde_json::json!({
            "columns": received.summary.header.columns,
            "file_path": id,
        }),
    ))
}

/// `POST /api/list_cutter/export_csv/` (JSON `{columns, file_path, filters}`): the
/// cut as a `text/csv` attachment, streamed. Every error that can be known before
/// the first byte (request, filters, file, columns against its header) is a JSON 4xx.
pub async fn export(req: &mut Request, env: &Env) -> ApiResult {
    let body = read_json(req).await?;
    let cutter = parse_spec(&body).map_err(ApiError::bad_request)?;
    let file_path = body
        .get("file_path")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("No file_path provided."))?;
    let not_found = || ApiError::Client(404, "File not found".into());
    // An anonymous upload's id, or (signed in) the `file_path` of one of the caller's
    // saved files.
    let (key, anonymous) = match anon_key(file_path) {
        Some(key) => (key, true),
        None if file_path.starts_with("uploads/") => {
            let caller = auth::authenticate(req, env).await?;
            (
                store::owned_key(env, caller.user.id, file_path).await?,
                false,
            )
        }
        None => return Err(not_found()),
    };
    let bucket = crate::bindings::bucket(env)?;
    let object = bucket.get(&key).execute().await?.ok_or_else(not_found)?;
    if anonymous && is_expired(&object.custom_metadata()?) {
        bucket.delete(&key).await?;
        return Err(not_found());
    }
    let input = object.body().ok_or_else(not_found)?.stream()?;
    CutStream::start(cutter, input)
        .await?
        .into_response("attachment; filename=\"filtered.csv\"")
}

/// A cut of a stored file, produced as it is read (as a response body, or into a
/// new object).
pub struct CutStream {
    cutter: Cutter,
    input: Option<ByteStream>,
    first: Option<Vec<u8>>,
    /// A failure past the first byte, still to be raised as the stream's error.
    failed: Option<worker::Error>,
}

pub type CutItem = Result<Vec<u8>>;

impl CutStream {
    /// Cuts `input` up to the header row, so that a bad column is still a JSON 4xx
    /// rather than a broken stream.
    pub async fn start(mut cutter: Cutter, mut input: ByteStream) -> ApiResult<CutStream> {
        let mut first = Vec::new();
        let rest = loop {
            match input.next().await {
                Some(chunk) => {
                    cutter
                        .push(&chunk?, &mut first)
                        .map_err(|e| ApiError::bad_request(e.message))?;
                    if cutter.header().is_some() {
                        break Some(input);
                    }
                }
                None => {
                    cutter
                        .finish(&mut first)
                        .map_err(|e| ApiError::bad_request(e.message))?;
                    break None;
                }
            }
        };
        Ok(CutStream {
            cutter,
            input: rest,
            first: Some(first),
            failed: None,
        })
    }

    /// The cut as a `text/csv` response with this `Content-Disposition`.
    pub fn into_response(self, disposition: &str) -> ApiResult {
        let headers = Headers::new();
        headers.set("content-type", "text/csv")?;
        headers.set("content-disposition", disposition)?;
        Ok(Response::from_stream(self.into_stream())?.with_headers(headers))
    }

    /// The cut as a stream of its pieces.
    pub fn into_stream(self) -> impl Stream<Item = CutItem> {
        stream::unfold(self, |mut cut| async move {
            cut.chunk().await.map(|item| (item, cut))
        })
    }

    /// The next piece of output; `None` at the end. A file fault past the header
    /// (it passed the upload checks, so only bytes kept before them, such as an
    /// imported legacy file, or a damaged object) must not look like a shorter
    /// file: the output ends with a line naming the error, then the stream errors,
    /// which aborts the response (a response's status is already sent by then).
    /// The line is there because a proxy may deliver an aborted body as a clean
    /// end, as local `wrangler dev` does.
    pub async fn chunk(&mut self) -> Option<CutItem> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        if let Some(error) = self.failed.take() {
            return Some(Err(error));
        }
        let mut out = Vec::new();
        loop {
            let step = match self.input.as_mut()?.next().await {
                Some(Ok(chunk)) => self.cutter.push(&chunk, &mut out),
                Some(Err(error)) => {
                    self.input = None;
                    return Some(Err(error));
                }
                None => {
                    self.input = None;
                    self.cutter.finish(&mut out).map(|_| ())
                }
            };
            if let Err(error) = step {
                self.input = None;
                worker::console_error!("cut stopped: {}", error.message);
                out.extend_from_slice(format!("\n# cut failed: {}\n", error.message).as_bytes());
                self.failed = Some(worker::Error::RustError(error.message));
                return Some(Ok(out));
            }
            if !out.is_empty() || self.input.is_none() {
                return Some(Ok(out));
            }
        }
    }
}
