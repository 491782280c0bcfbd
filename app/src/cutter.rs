//! The anonymous cutter: `csv_cutter/` stores an upload under `anon/` and answers its
//! columns; `export_csv/` streams a cut of it. Neither holds a whole file in memory.

use futures_util::{stream, StreamExt};
use serde_json::Value;
use shared::csv_cut::{Cutter, UploadCheck};
use shared::cut_request::parse_spec;
use shared::multipart::{Event, Limits, Multipart, MultipartErrorKind, PartInfo};
use worker::{ByteStream, Env, Headers, Request, Response, Result};

use crate::http::{json_error, read_json, Reject};
use crate::storage::{anon_key, anon_metadata, is_expired, new_anon_id, ObjectWriter};

/// Largest text field accepted next to the file.
const MAX_FIELD_BYTES: usize = 4096;

/// `MAX_FILE_SIZE` (bytes), 50 MiB when unset.
pub fn max_file_size(env: &Env) -> u64 {
    env.var("MAX_FILE_SIZE")
        .ok()
        .and_then(|v| v.to_string().parse().ok())
        .unwrap_or(50 << 20)
}

/// `POST /api/list_cutter/csv_cutter/` (multipart `file`).
pub async fn upload(mut req: Request, env: &Env) -> Result<Response> {
    let max = max_file_size(env);
    let content_type = req.headers().get("content-type")?.unwrap_or_default();
    let limits = Limits {
        max_file_bytes: max,
        max_field_bytes: MAX_FIELD_BYTES,
    };
    let mut parser = match Multipart::new(&content_type, limits) {
        Ok(parser) => parser,
        Err(error) => return json_error(400, &error.message),
    };
    let Ok(mut body) = req.stream() else {
        return json_error(400, "No file uploaded");
    };
    let id = new_anon_id();
    let key = anon_key(&id).expect("a fresh id is well formed");
    let mut file: Option<(ObjectWriter, UploadCheck)> = None;

    let start = |info: &PartInfo| -> std::result::Result<ObjectWriter, Reject> {
        check_csv_name(&info.filename)?;
        let bucket = crate::bindings::bucket(env)?;
        Ok(ObjectWriter::new(
            bucket,
            key.clone(),
            anon_metadata(&info.filename),
        ))
    };
    let mut fields = Vec::new();
    let outcome = receive(&mut body, &mut parser, &mut file, &mut fields, &start, max).await;
    let stored = match outcome {
        Ok(()) => store(file).await,
        Err(reject) => {
            if let Some((writer, _)) = file {
                writer.abort().await;
            }
            Err(reject)
        }
    };
    // Read what is left (the epilogue, or the rest of a refused body) so that the
    // client gets the answer rather than a reset while it is still sending.
    while let Some(Ok(_)) = body.next().await {}
    match stored {
        Ok(columns) => Response::from_json(&serde_json::json!({
            "columns": columns,
            "file_path": id,
        })),
        Err(reject) => reject.into_response(),
    }
}

/// Keeps the object if the whole file passed the checks, else leaves nothing.
async fn store(
    file: Option<(ObjectWriter, UploadCheck)>,
) -> std::result::Result<Vec<String>, Reject> {
    let (writer, check) = file.ok_or_else(|| Reject::bad_request("No file uploaded"))?;
    match check.finish() {
        Ok(summary) => {
            writer.finish().await?;
            Ok(summary.header.columns)
        }
        Err(error) => {
            writer.abort().await;
            Err(Reject::bad_request(csv_message(&error.message)))
        }
    }
}

/// Refuses a file part without a name or without a `.csv`/`.txt` name.
pub fn check_csv_name(filename: &str) -> std::result::Result<(), Reject> {
    if filename.is_empty() {
        return Err(Reject::bad_request("No file uploaded"));
    }
    if !has_csv_extension(filename) {
        return Err(Reject::bad_request(
            "Invalid file type. Only CSV and TXT files are allowed.",
        ));
    }
    Ok(())
}

/// Reads the body: the first `file` part goes to storage through the checks (its
/// writer made by `start`, which may refuse the part); text fields are collected in
/// `fields`; other file parts are read and dropped. Nothing is published: the
/// caller finishes or aborts the writer.
pub async fn receive(
    body: &mut ByteStream,
    parser: &mut Multipart,
    file: &mut Option<(ObjectWriter, UploadCheck)>,
    fields: &mut Vec<(String, String)>,
    start: &dyn Fn(&PartInfo) -> std::result::Result<ObjectWriter, Reject>,
    max: u64,
) -> std::result::Result<(), Reject> {
    let mut in_file = false;
    while let Some(chunk) = body.next().await {
        parser.push(&chunk?);
        while let Some(event) = parser.next_event().map_err(|e| match e.kind {
            MultipartErrorKind::FileTooLarge => Reject::Client(
                413,
                format!("File size exceeds {:.2}MB limit", max as f64 / 1048576.0),
            ),
            _ => Reject::bad_request(e.message),
        })? {
            match event {
                Event::FileStart(info) if info.name == "file" && file.is_none() => {
                    *file = Some((start(&info)?, UploadCheck::new()));
                    in_file = true;
                }
                Event::Field { name, value } => fields.push((name, value)),
                Event::Data(data) if in_file => {
                    let (writer, check) = file.as_mut().expect("in_file");
                    check
                        .push(data)
                        .map_err(|e| Reject::bad_request(csv_message(&e.message)))?;
                    writer.write(data).await?;
                }
                Event::FileEnd => in_file = false,
                _ => {}
            }
        }
        if parser.is_done() {
            break;
        }
    }
    parser.finish().map_err(|e| Reject::bad_request(e.message))
}

fn has_csv_extension(filename: &str) -> bool {
    let lower = filename.to_ascii_lowercase();
    lower.ends_with(".csv") || lower.ends_with(".txt")
}

/// The engine's message as a sentence for the client.
pub fn csv_message(message: &str) -> String {
    format!("Invalid CSV file: {message}")
}

/// `POST /api/list_cutter/export_csv/` (JSON `{columns, file_path, filters}`): the
/// cut as a `text/csv` attachment, streamed. Every error that can be known before
/// the first byte (request, filters, file, columns against its header) is a JSON 4xx.
pub async fn export(mut req: Request, env: &Env) -> Result<Response> {
    match start_export(&mut req, env).await {
        Ok(response) => Ok(response),
        Err(reject) => reject.into_response(),
    }
}

async fn start_export(req: &mut Request, env: &Env) -> std::result::Result<Response, Reject> {
    let body = read_json(req).await?;
    let cutter = parse_spec(&body).map_err(Reject::bad_request)?;
    let file_path = body
        .get("file_path")
        .and_then(Value::as_str)
        .ok_or_else(|| Reject::bad_request("No file_path provided."))?;
    let not_found = || Reject::Client(404, "File not found".into());
    // An anonymous upload's id, or (signed in) the `file_path` of one of the caller's
    // saved files.
    let (key, anonymous) = match anon_key(file_path) {
        Some(key) => (key, true),
        None => (crate::files::owned_key(req, env, file_path).await?, false),
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
    pub async fn start(
        mut cutter: Cutter,
        mut input: ByteStream,
    ) -> std::result::Result<CutStream, Reject> {
        let mut first = Vec::new();
        let rest = loop {
            match input.next().await {
                Some(chunk) => {
                    cutter
                        .push(&chunk?, &mut first)
                        .map_err(|e| Reject::bad_request(e.message))?;
                    if cutter.header().is_some() {
                        break Some(input);
                    }
                }
                None => {
                    cutter
                        .finish(&mut first)
                        .map_err(|e| Reject::bad_request(e.message))?;
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
    pub fn into_response(self, disposition: &str) -> std::result::Result<Response, Reject> {
        let headers = Headers::new();
        headers.set("content-type", "text/csv")?;
        headers.set("content-disposition", disposition)?;
        Ok(
            Response::from_stream(stream::unfold(self, |mut cut| async move {
                cut.chunk().await.map(|item| (item, cut))
            }))?
            .with_headers(headers),
        )
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
