//! The anonymous cutter: `csv_cutter/` stores an upload under `anon/` and answers its
//! columns; `export_csv/` streams a cut of it. Neither holds a whole file in memory.

use std::collections::BTreeMap;

use futures_util::{stream, StreamExt};
use serde_json::Value;
use shared::csv_cut::{CutSpec, Cutter, UploadCheck};
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
        let bucket = env.bucket("FILE_STORAGE")?;
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
    let mut cutter = Cutter::new(parse_spec(&body)?).map_err(|e| Reject::bad_request(e.message))?;
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
    let bucket = env.bucket("FILE_STORAGE")?;
    let object = bucket.get(&key).execute().await?.ok_or_else(not_found)?;
    if anonymous && is_expired(&object.custom_metadata()?) {
        bucket.delete(&key).await?;
        return Err(not_found());
    }
    let mut input = object.body().ok_or_else(not_found)?.stream()?;

    // Cut up to the header row, so a bad column is still a JSON answer.
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
    let state = CutStream {
        cutter,
        input: rest,
        first: Some(first),
    };
    let headers = Headers::new();
    headers.set("content-type", "text/csv")?;
    headers.set(
        "content-disposition",
        "attachment; filename=\"filtered.csv\"",
    )?;
    Ok(Response::from_stream(stream::unfold(Some(state), CutStream::next))?.with_headers(headers))
}

/// The rest of a cut, produced as the response body is read.
struct CutStream {
    cutter: Cutter,
    input: Option<ByteStream>,
    first: Option<Vec<u8>>,
}

type CutItem = Result<Vec<u8>>;

impl CutStream {
    async fn next(state: Option<CutStream>) -> Option<(CutItem, Option<CutStream>)> {
        let mut s = state?;
        if let Some(first) = s.first.take() {
            return Some((Ok(first), Some(s)));
        }
        s.input.as_ref()?;
        let mut out = Vec::new();
        loop {
            let next = s.input.as_mut().expect("checked above").next().await;
            let step = match next {
                Some(Ok(chunk)) => s.cutter.push(&chunk, &mut out),
                Some(Err(error)) => return Some((Err(error), None)),
                None => {
                    s.input = None;
                    s.cutter.finish(&mut out).map(|_| ())
                }
            };
            // A file fault past the header (it passed the upload checks, so only a
            // damaged object) can only abort the stream: the status is already sent.
            if let Err(error) = step {
                return Some((Err(worker::Error::RustError(error.message)), None));
            }
            if !out.is_empty() || s.input.is_none() {
                return Some((Ok(out), Some(s)));
            }
        }
    }
}

/// The columns and filters of an export request.
fn parse_spec(body: &Value) -> std::result::Result<CutSpec, Reject> {
    let columns_error = || Reject::bad_request("columns must be a list of column names");
    let columns: Vec<String> = match body.get("columns") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| c.as_str().map(str::to_string).ok_or_else(columns_error))
            .collect::<std::result::Result<_, _>>()?,
        Some(_) => return Err(columns_error()),
    };
    if columns.is_empty() {
        return Err(Reject::bad_request("No columns provided."));
    }
    let filters: BTreeMap<String, String> = match body.get("filters") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(column, expression)| match expression {
                Value::String(e) => Ok((column.clone(), e.clone())),
                Value::Null => Ok((column.clone(), String::new())),
                _ => Err(Reject::bad_request(format!(
                    "The filter for column '{column}' must be a string"
                ))),
            })
            .collect::<std::result::Result<_, _>>()?,
        Some(_) => {
            return Err(Reject::bad_request(
                "filters must be an object of column: expression",
            ))
        }
    };
    Ok(CutSpec::new(columns, filters))
}
