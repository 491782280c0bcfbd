//! Uploads coming in: a multipart body streamed through the upload checks into
//! an unpublished R2 object, with the name and size rules of the legacy app.
//! The anonymous cutter, the legacy and Workers-era uploads and saved
//! generated files all come in here; the caller publishes or aborts.

use std::cell::RefCell;
use std::collections::HashMap;

use futures_util::{Stream, StreamExt};
use shared::csv_cut::{UploadCheck, UploadSummary};
use shared::multipart::{Event, Limits, Multipart, MultipartErrorKind, PartInfo};
use worker::{ByteStream, Env, Request};

use crate::error::{ApiError, ApiResult};
use crate::settings;
use crate::storage::{anon_metadata, new_anon_id, original_name, ObjectWriter};
use crate::store::{self, NewFile};

/// What an upload becomes, which decides its checks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The anonymous cutter's upload: a `.csv`/`.txt` name, small fields, expiry.
    Anonymous,
    /// A saved file uploaded by its owner: a `.csv`/`.txt` name.
    Upload,
    /// A file the frontend generated (any name), with its `metadata` field.
    Generated,
}

impl Kind {
    /// Largest text field accepted next to the file.
    fn max_field_bytes(self) -> usize {
        match self {
            Kind::Anonymous => 4096,
            Kind::Upload | Kind::Generated => 64 << 10,
        }
    }

    /// The object's custom metadata for a part named `filename`.
    fn metadata(self, filename: &str) -> HashMap<String, String> {
        match self {
            Kind::Anonymous => anon_metadata(filename),
            Kind::Upload | Kind::Generated => HashMap::from([original_name(filename)]),
        }
    }
}

/// A file received, checked, not yet published: the caller keeps or aborts it.
pub struct Received {
    pub writer: ObjectWriter,
    pub summary: UploadSummary,
    pub filename: String,
}

impl Received {
    /// The value of `step`, or on its error the object aborted, so that a refusal
    /// leaves nothing in R2.
    pub async fn or_abort<T>(self, step: ApiResult<T>) -> ApiResult<(Received, T)> {
        match step {
            Ok(value) => Ok((self, value)),
            Err(error) => {
                self.writer.abort().await;
                Err(error)
            }
        }
    }

    /// Keeps the file as `file` (object, row and lineage together), then asks for
    /// its counts.
    pub async fn keep(self, env: &Env, file: NewFile<'_>) -> ApiResult<()> {
        let file_id = file.file_id;
        store::keep(env, self.writer, &self.summary, file).await?;
        crate::counts::enqueue(env, file_id).await;
        Ok(())
    }
}

/// Streams the `file` part of the request into an unpublished object at `key`,
/// through the upload checks; with the body's text fields. `None` when the body
/// had no file part. On an error nothing is left in R2.
pub async fn receive_file(
    req: &mut Request,
    env: &Env,
    key: &str,
    kind: Kind,
) -> ApiResult<(Option<Received>, HashMap<String, String>)> {
    let max = settings::max_file_size(env);
    let content_type = req.headers().get("content-type")?.unwrap_or_default();
    let limits = Limits {
        max_file_bytes: max,
        max_field_bytes: kind.max_field_bytes(),
    };
    let mut parser =
        Multipart::new(&content_type, limits).map_err(|e| ApiError::bad_request(e.message))?;
    let mut body = req
        .stream()
        .map_err(|_| ApiError::bad_request("No file uploaded"))?;
    let filename = RefCell::new(String::new());
    let start = |info: &PartInfo| -> ApiResult<ObjectWriter> {
        if kind != Kind::Generated {
            check_csv_name(&info.filename)?;
        }
        *filename.borrow_mut() = info.filename.clone();
        Ok(ObjectWriter::new(
            crate::bindings::bucket(env)?,
            key.to_string(),
            kind.metadata(&info.filename),
        ))
    };
    let mut file: Option<(ObjectWriter, UploadCheck)> = None;
    let mut fields = Vec::new();
    let outcome = receive(&mut body, &mut parser, &mut file, &mut fields, &start, max).await;
    // Read what is left (the epilogue, or the rest of a refused body) so that the
    // client gets the answer rather than a reset while it is still sending.
    while let Some(Ok(_)) = body.next().await {}
    let fields: HashMap<String, String> = fields.into_iter().collect();
    if let Err(error) = outcome {
        if let Some((writer, _)) = file {
            writer.abort().await;
        }
        return Err(error);
    }
    let Some((mut writer, check)) = file else {
        return Ok((None, fields));
    };
    match check.finish() {
        Ok(summary) => {
            writer.insert_metadata("sha256", summary.sha256.clone());
            let filename = filename.into_inner();
            let received = Received {
                writer,
                summary,
                filename,
            };
            Ok((Some(received), fields))
        }
        Err(error) => {
            writer.abort().await;
            Err(ApiError::bad_request(csv_message(&error.message)))
        }
    }
}

/// Writes a file produced here (a saved filter's cut) into an unpublished object
/// at `key`, through the same checks as an upload. On an error nothing is left
/// in R2.
pub async fn receive_stream(
    env: &Env,
    key: &str,
    filename: &str,
    mut input: impl Stream<Item = worker::Result<Vec<u8>>> + Unpin,
) -> ApiResult<Received> {
    let bucket = crate::bindings::bucket(env)?;
    let metadata = Kind::Generated.metadata(filename);
    let mut writer = ObjectWriter::new(bucket, key.to_string(), metadata);
    let mut check = UploadCheck::new();
    let written = async {
        while let Some(chunk) = input.next().await {
            let chunk = chunk?;
            check
                .push(&chunk)
                .map_err(|e| ApiError::bad_request(csv_message(&e.message)))?;
            writer.write(&chunk).await?;
        }
        check
            .finish()
            .map_err(|e| ApiError::bad_request(csv_message(&e.message)))
    }
    .await;
    match written {
        Ok(summary) => {
            writer.insert_metadata("sha256", summary.sha256.clone());
            Ok(Received {
                writer,
                summary,
                filename: filename.to_string(),
            })
        }
        Err(error) => {
            writer.abort().await;
            Err(error)
        }
    }
}

/// Reads the body: the first `file` part goes to storage through the checks (its
/// writer made by `start`, which may refuse the part); text fields are collected in
/// `fields`; other file parts are read and dropped. Nothing is published: the
/// caller finishes or aborts the writer.
async fn receive(
    body: &mut ByteStream,
    parser: &mut Multipart,
    file: &mut Option<(ObjectWriter, UploadCheck)>,
    fields: &mut Vec<(String, String)>,
    start: &dyn Fn(&PartInfo) -> ApiResult<ObjectWriter>,
    max: u64,
) -> ApiResult<()> {
    let mut in_file = false;
    while let Some(chunk) = body.next().await {
        parser.push(&chunk?);
        while let Some(event) = parser.next_event().map_err(|e| match e.kind {
            MultipartErrorKind::FileTooLarge => ApiError::Client(
                413,
                format!("File size exceeds {:.2}MB limit", max as f64 / 1048576.0),
            ),
            _ => ApiError::bad_request(e.message),
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
                        .map_err(|e| ApiError::bad_request(csv_message(&e.message)))?;
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
    parser
        .finish()
        .map_err(|e| ApiError::bad_request(e.message))
}

/// Refuses a file part without a name or without a `.csv`/`.txt` name.
fn check_csv_name(filename: &str) -> ApiResult<()> {
    if filename.is_empty() {
        return Err(ApiError::bad_request("No file uploaded"));
    }
    let lower = filename.to_ascii_lowercase();
    if !(lower.ends_with(".csv") || lower.ends_with(".txt")) {
        return Err(ApiError::bad_request(
            "Invalid file type. Only CSV and TXT files are allowed.",
        ));
    }
    Ok(())
}

/// The engine's message as a sentence for the client.
pub fn csv_message(message: &str) -> String {
    format!("Invalid CSV file: {message}")
}

/// A file kept by [`store_upload`].
pub struct Stored {
    pub file_id: String,
    pub file_name: String,
    pub key: String,
}

/// Keeps the `file` part of a multipart upload as a new file of the caller's
/// (R2 object, then D1 row) and asks for its counts.
pub async fn store_upload(req: &mut Request, env: &Env, user_id: i64) -> ApiResult<Stored> {
    let file_id = new_anon_id();
    let key = store::object_key(user_id, &file_id);
    let (received, _) = receive_file(req, env, &key, Kind::Upload).await?;
    let received = received.ok_or_else(|| ApiError::bad_request("No file uploaded"))?;
    let wanted = received.filename.clone();
    let (received, name) = received
        .or_abort(store::choose_name(env, user_id, &wanted).await)
        .await?;
    let file = NewFile::new(&file_id, user_id, &key, &name, "uploaded");
    received.keep(env, file).await?;
    Ok(Stored {
        file_id,
        file_name: name,
        key,
    })
}
