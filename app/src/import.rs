//! The import half of the admin API: idempotent upserts of legacy users, file rows,
//! file bytes (streamed into R2, SHA-256 checked) and lineage rows, and deletion
//! of imported files. Each batch is checked whole before anything is written and
//! written in one D1 batch (a transaction), so a refused request changes nothing.
//! The rules (what is new, changed, a conflict) are `shared::migration`'s.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shared::csv_cut::{Counter, Counts};
use shared::migration::bundle::Unbundler;
use shared::migration::{
    self as rules, check_edge, check_file, check_user, parse_batch, EdgeRecord, FileRecord,
    Outcome, StoredFile, UserRecord,
};
use worker::wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, Env, Request};

use crate::bindings::bucket;
use crate::body::{self, read_json};
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::settings;
use crate::storage::ObjectWriter;
use crate::store::{count, db, num, object_key};

/// A user row as one JSON value (D1 hands booleans back as 0/1).
pub const USER_JSON: &str = "json_object('id', id, 'username', username, 'email', email, \
     'password', password, 'is_active', json(CASE WHEN is_active THEN 'true' ELSE 'false' END), \
     'is_admin', json(CASE WHEN is_admin THEN 'true' ELSE 'false' END), \
     'created_at', created_at, 'last_login', last_login)";

/// A file row as one JSON value in the shape of [`FileRecord`].
pub const FILE_JSON: &str = "json_object('file_id', file_id, 'user_id', user_id, \
     'file_name', file_name, 'system_tags', json(system_tags), 'user_tags', json(user_tags), \
     'metadata', metadata, 'uploaded_at', uploaded_at, 'size', size, \
     'sha256', COALESCE(checksum, ''))";

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// One column holding a JSON object.
#[derive(Deserialize)]
pub struct JsonRow {
    pub j: String,
}

pub fn parse_rows<T: serde::de::DeserializeOwned>(rows: Vec<JsonRow>) -> worker::Result<Vec<T>> {
    rows.iter()
        .map(|r| serde_json::from_str(&r.j).map_err(|e| worker::Error::RustError(e.to_string())))
        .collect()
}

/// The rows `sql` answers for `keys`, bound as `?1`: the JSON array its
/// `json_each(?1)` reads.
async fn rows_among<T: serde::de::DeserializeOwned>(
    env: &Env,
    sql: &str,
    keys: &[impl serde::Serialize],
) -> worker::Result<Vec<T>> {
    db(env)?
        .prepare(sql)
        .bind(&[json!(keys).to_string().into()])?
        .all()
        .await?
        .results()
}

fn results(items: Vec<Value>) -> ApiResult {
    Ok(http::json(200, &json!({ "results": items })))
}

/// Refuses a batch that names the same record twice (its outcome would be ambiguous).
fn unique_keys(keys: impl Iterator<Item = String>, what: &str) -> ApiResult<()> {
    let mut seen = HashSet::new();
    for key in keys {
        if !seen.insert(key.clone()) {
            return Err(ApiError::bad_request(format!(
                "{what} {key} appears twice in the batch"
            )));
        }
    }
    Ok(())
}

/// A D1 batch; a uniqueness failure means a concurrent write (e.g. a registration
/// taking a username) got in between: 409, nothing written, the tool retries.
/// The batch holds the `replicating` mark while it runs, so the change log
/// (migrations/0005_changes.sql) does not take the tool's own writes for the app's.
async fn write(env: &Env, statements: Vec<D1PreparedStatement>) -> ApiResult<()> {
    if statements.is_empty() {
        return Ok(());
    }
    let db = db(env)?;
    let mut marked = vec![db.prepare("INSERT INTO replicating (one) VALUES (1)")];
    marked.extend(statements);
    marked.push(db.prepare("DELETE FROM replicating"));
    match db.batch(marked).await {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("UNIQUE constraint failed") => Err(ApiError::Client(
            409,
            format!("A concurrent change got in the way ({e}); nothing was written, retry"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/admin/import/users` `{"users": [UserRecord]}`.
pub async fn users(req: &mut Request, env: &Env) -> ApiResult {
    let body = read_json(req).await?;
    let offset = settings::user_id_offset(env);
    let incoming: Vec<UserRecord> =
        parse_batch(&body, "users", |u| check_user(u, offset)).map_err(ApiError::bad_request)?;
    unique_keys(incoming.iter().map(|u| u.id.to_string()), "user id")?;
    unique_keys(incoming.iter().map(|u| u.username.clone()), "username")?;
    let ids = json!(incoming.iter().map(|u| u.id).collect::<Vec<_>>()).to_string();
    let names = json!(incoming.iter().map(|u| &u.username).collect::<Vec<_>>()).to_string();
    let db = db(env)?;
    let existing: Vec<UserRecord> = parse_rows(
        db.prepare(format!(
            "SELECT {USER_JSON} AS j FROM users WHERE id IN (SELECT value FROM json_each(?1)) \
             OR username IN (SELECT value FROM json_each(?2))"
        ))
        .bind(&[ids.into(), names.into()])?
        .all()
        .await?
        .results()?,
    )?;
    let by_id = rules::index_by(&existing, |u| u.id);
    let by_name = rules::index_by(&existing, |u| u.username.clone());
    let (mut creates, mut updates, mut answers) = (Vec::new(), Vec::new(), Vec::new());
    for user in &incoming {
        let current = by_id.get(&user.id);
        let outcome = rules::user_outcome(user, current, by_name.get(&user.username));
        match outcome {
            Outcome::Created => creates.push(user.clone()),
            Outcome::Updated => updates.push(UserRecord {
                last_login: rules::later(
                    user.last_login.as_deref(),
                    current.and_then(|c| c.last_login.as_deref()),
                ),
                ..user.clone()
            }),
            _ => {}
        }
        answers.push(outcome.to_json("id", json!(user.id)));
    }
    let incoming_rows = "SELECT json_extract(value, '$.id') AS id, \
         json_extract(value, '$.username') AS username, json_extract(value, '$.email') AS email, \
         json_extract(value, '$.password') AS password, \
         json_extract(value, '$.is_active') AS is_active, \
         json_extract(value, '$.is_admin') AS is_admin, \
         json_extract(value, '$.created_at') AS created_at, \
         json_extract(value, '$.last_login') AS last_login FROM json_each(?1)";
    let mut statements = Vec::new();
    if !creates.is_empty() {
        statements.push(
            db.prepare(format!(
                "INSERT INTO users (id, username, email, password, is_active, is_admin, \
                 created_at, last_login) SELECT id, username, email, password, is_active, \
                 is_admin, created_at, last_login FROM ({incoming_rows})"
            ))
            .bind(&[json!(creates).to_string().into()])?,
        );
    }
    if !updates.is_empty() {
        statements.push(
            db.prepare(format!(
                "UPDATE users SET username = j.username, email = j.email, password = j.password, \
                 is_active = j.is_active, is_admin = j.is_admin, created_at = j.created_at, \
                 last_login = j.last_login, updated_at = {NOW} \
                 FROM ({incoming_rows}) AS j WHERE users.id = j.id"
            ))
            .bind(&[json!(updates).to_string().into()])?,
        );
    }
    write(env, statements).await?;
    results(answers)
}

/// The app's rows of these file ids.
async fn stored_files(env: &Env, ids: &[&str]) -> worker::Result<HashMap<String, StoredFile>> {
    #[derive(Deserialize)]
    struct Row {
        j: String,
        origin: String,
    }
    let sql = format!(
        "SELECT {FILE_JSON} AS j, origin FROM files \
         WHERE file_id IN (SELECT value FROM json_each(?1))"
    );
    let rows: Vec<Row> = rows_among(env, &sql, ids).await?;
    rows.into_iter()
        .map(|r| {
            let record: FileRecord =
                serde_json::from_str(&r.j).map_err(|e| worker::Error::RustError(e.to_string()))?;
            Ok((
                record.file_id.clone(),
                StoredFile {
                    record,
                    origin: r.origin,
                },
            ))
        })
        .collect()
}

/// Of these file ids, those the app's people deleted that are still in the
/// change log (not yet carried to legacy by the replicator). A deletion wins
/// over a change: the import does not bring such a file back.
async fn deleted_since(env: &Env, ids: &[&str]) -> worker::Result<HashSet<String>> {
    #[derive(Deserialize)]
    struct Row {
        key: String,
    }
    let sql = "SELECT key FROM changes WHERE kind = 'file' AND op = 'delete' \
               AND key IN (SELECT value FROM json_each(?1))";
    let rows: Vec<Row> = rows_among(env, sql, ids).await?;
    Ok(rows.into_iter().map(|r| r.key).collect())
}

fn deletion_wins(file_id: &str) -> String {
    format!("File {file_id} was deleted on the app since: the deletion wins")
}

/// 409 unless the bytes of `record` may be written over the app's row of that id
/// (`stored`): not a file the app deleted since (`deleted`), not another owner's
/// or an app-made file.
fn may_take_bytes(
    record: &FileRecord,
    stored: Option<&StoredFile>,
    deleted: bool,
) -> ApiResult<()> {
    let why = match stored {
        None if deleted => deletion_wins(&record.file_id),
        Some(old) if old.record.user_id != record.user_id || old.origin != "legacy" => format!(
            "File {} is already on the app as user {}'s {} file",
            record.file_id, old.record.user_id, old.origin
        ),
        _ => return Ok(()),
    };
    Err(ApiError::Client(409, why))
}

/// Which of these user ids exist on the app.
async fn existing_users(env: &Env, ids: &[i64]) -> worker::Result<HashSet<i64>> {
    #[derive(Deserialize)]
    struct Row {
        id: i64,
    }
    let sql = "SELECT id FROM users WHERE id IN (SELECT value FROM json_each(?1))";
    let rows: Vec<Row> = rows_among(env, sql, ids).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// `POST /api/admin/import/files` `{"files": [FileRecord]}`: updates the rows of
/// files whose bytes the app already has; answers `needs_content` for the others
/// (their bytes go through [`file_content`]).
pub async fn file_rows(req: &mut Request, env: &Env) -> ApiResult {
    let body = read_json(req).await?;
    let incoming: Vec<FileRecord> =
        parse_batch(&body, "files", check_file).map_err(ApiError::bad_request)?;
    unique_keys(incoming.iter().map(|f| f.file_id.clone()), "file_id")?;
    let ids: Vec<&str> = incoming.iter().map(|f| f.file_id.as_str()).collect();
    let stored = stored_files(env, &ids).await?;
    let owners: Vec<i64> = incoming.iter().map(|f| f.user_id).collect();
    let present = existing_users(env, &owners).await?;
    let deleted = deleted_since(env, &ids).await?;
    let mut updates = Vec::new();
    let mut answers = Vec::new();
    for file in &incoming {
        if deleted.contains(&file.file_id) && !stored.contains_key(&file.file_id) {
            let outcome = Outcome::Conflict(deletion_wins(&file.file_id));
            answers.push(outcome.to_json("file_id", json!(file.file_id)));
            continue;
        }
        let (outcome, merged) = rules::file_outcome(
            file,
            stored.get(&file.file_id),
            present.contains(&file.user_id),
        );
        updates.extend(merged);
        answers.push(outcome.to_json("file_id", json!(file.file_id)));
    }
    if !updates.is_empty() {
        let stmt = db(env)?
            .prepare(format!(
                "UPDATE files SET file_name = j.file_name, system_tags = j.system_tags, \
                 user_tags = j.user_tags, metadata = j.metadata, uploaded_at = j.uploaded_at, \
                 updated_at = {NOW} FROM (SELECT json_extract(value, '$.file_id') AS file_id, \
                 json_extract(value, '$.file_name') AS file_name, \
                 json_extract(value, '$.system_tags') AS system_tags, \
                 json_extract(value, '$.user_tags') AS user_tags, \
                 json_extract(value, '$.metadata') AS metadata, \
                 json_extract(value, '$.uploaded_at') AS uploaded_at FROM json_each(?1)) AS j \
                 WHERE files.file_id = j.file_id"
            ))
            .bind(&[json!(updates).to_string().into()])?;
        write(env, vec![stmt]).await?;
    }
    results(answers)
}

/// The file record of `X-Import-File` (base64 of its JSON), checked against the path.
fn header_record(req: &Request, file_id: &str) -> ApiResult<FileRecord> {
    let header = http::header(req, "X-Import-File").ok_or_else(|| {
        ApiError::bad_request("X-Import-File header (base64 of the file record's JSON) is required")
    })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(|_| ApiError::bad_request("X-Import-File is not base64"))?;
    let record: FileRecord = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("X-Import-File: {e}")))?;
    check_file(&record).map_err(ApiError::bad_request)?;
    if record.file_id != file_id {
        return Err(ApiError::bad_request(format!(
            "X-Import-File names file {}, the path {file_id}",
            record.file_id
        )));
    }
    Ok(record)
}

/// `PUT /api/admin/import/files/<file_id>`: the body is the file's bytes,
/// `X-Import-File` its record. The bytes stream into R2 through SHA-256; a size
/// or checksum different from the record's is a 400 and leaves nothing (the
/// object becomes visible only once both matched). Then the row is upserted.
pub async fn file_content(req: &mut Request, env: &Env, file_id: &str) -> ApiResult {
    let checked = prepare_content(req, env, file_id).await;
    let (record, existing) = match checked {
        Ok(ok) => ok,
        Err(reject) => {
            body::drain(req).await;
            return Err(reject);
        }
    };
    let key = object_key(record.user_id, &record.file_id);
    let mut writer = ObjectWriter::new(bucket(env)?, key.clone(), object_metadata(&record));
    if let Err(reject) = receive_exact(req, &mut writer, &record).await {
        writer.abort().await;
        return Err(reject);
    }
    writer.finish().await?;
    // The counts come from CSV_QUEUE's pass over the stored object.
    let upsert = upsert(env, &record, &key, existing.as_ref(), None)?;
    if let Err(reject) = write(env, vec![upsert]).await {
        // A new object without its row would be an orphan; a replaced one keeps the
        // old row until the next run.
        if existing.is_none() {
            remove_objects(env, vec![key]).await;
        }
        return Err(reject);
    }
    crate::counts::enqueue(env, &record.file_id).await;
    let status = if existing.is_some() {
        "replaced"
    } else {
        "created"
    };
    Ok(http::json(
        201,
        &json!({"file_id": record.file_id, "status": status, "size": record.size, "sha256": record.sha256}),
    ))
}

/// `POST /api/admin/import/files/bundle`: many small files in one request
/// (`shared::migration::bundle`: a head line of records, then their bytes).
/// Every size, checksum and owner is checked before anything is written, and
/// the rows go in one D1 batch, so a refused bundle leaves nothing; one that
/// fails after its objects were put removes the new ones. The bytes are in
/// memory, so their counts go into the rows at once rather than through
/// `CSV_QUEUE`'s second read of every object. 200 `{"results"}`, one
/// `created|replaced` per record in order.
pub async fn file_bundle(req: &mut Request, env: &Env) -> ApiResult {
    let files = receive_bundle(req).await?;
    let owners: Vec<i64> = files.iter().map(|(r, _)| r.user_id).collect();
    let present = existing_users(env, &owners).await?;
    if let Some((r, _)) = files.iter().find(|(r, _)| !present.contains(&r.user_id)) {
        return Err(ApiError::Client(
            422,
            format!(
                "file {}: Unknown owner: user {} is not on the app",
                r.file_id, r.user_id
            ),
        ));
    }
    let ids: Vec<&str> = files.iter().map(|(r, _)| r.file_id.as_str()).collect();
    let stored = stored_files(env, &ids).await?;
    let deleted = deleted_since(env, &ids).await?;
    for (record, _) in &files {
        may_take_bytes(
            record,
            stored.get(&record.file_id),
            deleted.contains(&record.file_id),
        )?;
    }
    let bucket = bucket(env)?;
    let keys: Vec<String> = files
        .iter()
        .map(|(r, _)| object_key(r.user_id, &r.file_id))
        .collect();
    let new_keys = || -> Vec<String> {
        files
            .iter()
            .zip(&keys)
            .filter(|((r, _), _)| !stored.contains_key(&r.file_id))
            .map(|(_, key)| key.clone())
            .collect()
    };
    // R2 checks each object's bytes against the checksum already verified here.
    let puts = files.iter().zip(&keys).map(|((record, bytes), key)| {
        bucket
            .put(key, bytes.clone())
            .http_metadata(crate::storage::csv_http_metadata())
            .custom_metadata(object_metadata(record))
            .sha256(hex::decode(&record.sha256).unwrap_or_default())
            .execute()
    });
    let put = futures_util::future::join_all(puts).await;
    if let Some(Err(e)) = put.into_iter().find(Result::is_err) {
        remove_objects(env, new_keys()).await;
        return Err(e.into());
    }
    let upserts = files
        .iter()
        .zip(&keys)
        .map(|((record, bytes), key)| {
            let counts = counts_of(bytes);
            upsert(env, record, key, stored.get(&record.file_id), counts)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Err(reject) = write(env, upserts).await {
        remove_objects(env, new_keys()).await;
        return Err(reject);
    }
    let answers = files
        .iter()
        .map(|(r, _)| {
            let status = match stored.contains_key(&r.file_id) {
                true => "replaced",
                false => "created",
            };
            json!({"file_id": r.file_id, "status": status, "size": r.size, "sha256": r.sha256})
        })
        .collect();
    results(answers)
}

/// Reads a whole bundle (bounded: `BUNDLE_BYTES_MAX` and the head line), every
/// file checked against its record. A refused body is still read to its end,
/// so that the client gets the answer, not a reset.
async fn receive_bundle(req: &mut Request) -> ApiResult<Vec<(FileRecord, Vec<u8>)>> {
    let mut reader = Unbundler::new();
    let mut body = req.stream()?;
    while let Some(chunk) = body.next().await {
        if let Err(problem) = reader.push(&chunk?) {
            while let Some(Ok(_)) = body.next().await {}
            return Err(ApiError::bad_request(problem));
        }
    }
    reader.finish().map_err(ApiError::bad_request)
}

/// The R2 custom metadata of an imported file.
fn object_metadata(record: &FileRecord) -> HashMap<String, String> {
    HashMap::from([
        (
            "original_name".to_string(),
            record.file_name.chars().take(255).collect(),
        ),
        ("sha256".to_string(), record.sha256.clone()),
    ])
}

/// Deletes objects written for rows that could not be inserted (orphans otherwise).
async fn remove_objects(env: &Env, keys: Vec<String>) {
    let removed = match bucket(env) {
        Ok(bucket) => bucket.delete_multiple(keys.clone()).await,
        Err(e) => Err(e),
    };
    if let Err(e) = removed {
        worker::console_error!("removing {keys:?} after a failed insert: {e}");
    }
}

/// The row and column counts of a file's bytes (`None` when they do not read as
/// CSV: such a file keeps no counts, as `counts.rs` does).
fn counts_of(bytes: &[u8]) -> Option<Counts> {
    let mut counter = Counter::new();
    counter.push(bytes).and_then(|()| counter.finish()).ok()
}

/// The upsert of an imported file's row whose bytes are now under `key`, with
/// its counts when they are known; the user tags added on the app since are kept.
fn upsert(
    env: &Env,
    record: &FileRecord,
    key: &str,
    existing: Option<&StoredFile>,
    counts: Option<Counts>,
) -> ApiResult<D1PreparedStatement> {
    let user_tags = match existing {
        Some(old) => shared::files::union_tags(&record.user_tags, &old.record.user_tags),
        None => record.user_tags.clone(),
    };
    Ok(db(env)?
        .prepare(format!(
            "INSERT INTO files (file_id, user_id, file_name, r2_key, size, checksum, system_tags, \
             user_tags, metadata, uploaded_at, origin, row_count, column_count) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'legacy', ?11, ?12) \
             ON CONFLICT (file_id) DO UPDATE SET file_name = excluded.file_name, \
             size = excluded.size, checksum = excluded.checksum, \
             system_tags = excluded.system_tags, user_tags = excluded.user_tags, \
             metadata = excluded.metadata, uploaded_at = excluded.uploaded_at, \
             row_count = excluded.row_count, column_count = excluded.column_count, \
             updated_at = {NOW}"
        ))
        .bind(&[
            record.file_id.as_str().into(),
            num(record.user_id),
            record.file_name.as_str().into(),
            key.into(),
            num(record.size as i64),
            record.sha256.as_str().into(),
            json!(record.system_tags).to_string().into(),
            json!(user_tags).to_string().into(),
            record.metadata.as_deref().map_or(JsValue::NULL, Into::into),
            record.uploaded_at.as_str().into(),
            counts.map_or(JsValue::NULL, |c| num(c.rows as i64)),
            counts.map_or(JsValue::NULL, |c| num(c.columns as i64)),
        ])?)
}

/// The record, and the app's row of the file if any, once everything but the bytes
/// checked out: a known owner, no other owner's or app-created file of that id.
async fn prepare_content(
    req: &Request,
    env: &Env,
    file_id: &str,
) -> ApiResult<(FileRecord, Option<StoredFile>)> {
    let record = header_record(req, file_id)?;
    if existing_users(env, &[record.user_id]).await?.is_empty() {
        return Err(ApiError::Client(
            422,
            format!("Unknown owner: user {} is not on the app", record.user_id),
        ));
    }
    let existing = stored_files(env, &[file_id]).await?.remove(file_id);
    let deleted = existing.is_none() && !deleted_since(env, &[file_id]).await?.is_empty();
    may_take_bytes(&record, existing.as_ref(), deleted)?;
    Ok((record, existing))
}

/// Streams the body into `writer`, refusing it as soon as it is longer than the
/// record says, and at the end unless its size and SHA-256 are the record's.
async fn receive_exact(
    req: &mut Request,
    writer: &mut ObjectWriter,
    record: &FileRecord,
) -> ApiResult<()> {
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    if let Ok(mut body) = req.stream() {
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            if size > record.size {
                // The rest is read from this stream (the body opens only once), so
                // the client gets the refusal rather than a reset.
                while let Some(Ok(_)) = body.next().await {}
                return Err(ApiError::bad_request(format!(
                    "Size mismatch: the body is longer than the {} bytes declared",
                    record.size
                )));
            }
            hasher.update(&chunk);
            writer.write(&chunk).await?;
        }
    }
    if size != record.size {
        return Err(ApiError::bad_request(format!(
            "Size mismatch: declared {} bytes, received {size}",
            record.size
        )));
    }
    let received = hex::encode(hasher.finalize());
    if received != record.sha256 {
        return Err(ApiError::bad_request(format!(
            "Checksum mismatch: declared sha256 {}, received {received}",
            record.sha256
        )));
    }
    Ok(())
}

/// `POST /api/admin/import/relationships` `{"relationships": [EdgeRecord]}`,
/// inserted in the order given (lineage answers list edges in row order).
pub async fn relationships(req: &mut Request, env: &Env) -> ApiResult {
    let body = read_json(req).await?;
    let incoming: Vec<EdgeRecord> =
        parse_batch(&body, "relationships", check_edge).map_err(ApiError::bad_request)?;
    let mut ids: Vec<&str> = Vec::new();
    for e in &incoming {
        ids.extend([e.parent_id.as_str(), e.child_id.as_str()]);
    }
    let present: HashSet<String> = stored_files(env, &ids).await?.into_keys().collect();
    let sql = "SELECT parent_id, child_id, relationship FROM file_relationships \
               WHERE child_id IN (SELECT value FROM json_each(?1))";
    let mut existing: HashSet<EdgeRecord> = rows_among::<EdgeRecord>(env, sql, &ids)
        .await?
        .into_iter()
        .collect();
    let mut creates = Vec::new();
    let mut answers = Vec::new();
    for edge in incoming {
        let missing = [&edge.parent_id, &edge.child_id]
            .into_iter()
            .find(|id| !present.contains(*id));
        let outcome = match missing {
            Some(id) => Outcome::Missing(format!("file {id} is not on the app")),
            None if existing.contains(&edge) => Outcome::Unchanged,
            None => Outcome::Created,
        };
        answers.push(json!({
            "parent_id": edge.parent_id, "child_id": edge.child_id,
            "relationship": edge.relationship, "status": outcome.status(),
            "detail": match &outcome { Outcome::Missing(d) => Some(d.clone()), _ => None },
        }));
        if outcome == Outcome::Created {
            existing.insert(edge.clone());
            creates.push(edge);
        }
    }
    if !creates.is_empty() {
        let stmt = db(env)?
            .prepare(
                "INSERT INTO file_relationships (parent_id, child_id, relationship) \
                 SELECT json_extract(value, '$.parent_id'), json_extract(value, '$.child_id'), \
                 json_extract(value, '$.relationship') FROM json_each(?1) ORDER BY key",
            )
            .bind(&[json!(creates).to_string().into()])?;
        write(env, vec![stmt]).await?;
    }
    results(answers)
}

/// `POST /api/admin/import/files/delete` `{"file_ids": [...]}`: removes imported
/// files (rows, lineage rows, then objects) that legacy no longer has. Files the
/// app created are refused (`conflict`), unknown ids are `missing`. With
/// `?replicated=true` the ids are deletions legacy logged, and the app's own
/// files go too (legacy had them from replication and a person deleted them there).
pub async fn delete_files(req: &mut Request, env: &Env) -> ApiResult {
    let replicated = req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == "replicated")
        .map(|(_, v)| v.into_owned());
    let any_origin = match replicated.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("replicated must be true or false")),
    };
    let body = read_json(req).await?;
    let ids: Vec<String> = parse_batch(&body, "file_ids", |id: &String| {
        rules::valid_file_id(id)
            .then_some(())
            .ok_or_else(|| format!("{id:?} is not a file id"))
    })
    .map_err(ApiError::bad_request)?;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let stored = stored_files(env, &refs).await?;
    let mut doomed = Vec::new();
    let mut answers = Vec::new();
    for id in &ids {
        let outcome = match stored.get(id) {
            None => Outcome::Missing("not on the app".into()),
            Some(s) if s.origin != "legacy" && !any_origin => {
                Outcome::Conflict("created on the app; an import never deletes it".into())
            }
            Some(s) => {
                doomed.push((id.clone(), object_key(s.record.user_id, id)));
                Outcome::Updated
            }
        };
        let mut answer = outcome.to_json("file_id", json!(id));
        if outcome == Outcome::Updated {
            answer["status"] = json!("deleted");
        }
        answers.push(answer);
    }
    if !doomed.is_empty() {
        let list = json!(doomed.iter().map(|(id, _)| id).collect::<Vec<_>>()).to_string();
        let db = db(env)?;
        write(
            env,
            vec![
                db.prepare(
                    "DELETE FROM file_relationships WHERE parent_id IN (SELECT value FROM json_each(?1)) \
                     OR child_id IN (SELECT value FROM json_each(?1))",
                )
                .bind(&[list.clone().into()])?,
                db.prepare(
                    "DELETE FROM files WHERE (origin = 'legacy' OR ?2) \
                     AND file_id IN (SELECT value FROM json_each(?1))",
                )
                .bind(&[list.into(), num(i64::from(any_origin))])?,
            ],
        )
        .await?;
        // Rows first, as the file endpoints do: a failure leaves an unlisted object.
        let bucket = crate::bindings::bucket(env)?;
        for (_, key) in &doomed {
            if let Err(e) = bucket.delete(key).await {
                worker::console_error!("deleting {key}: {e}");
            }
        }
    }
    results(answers)
}

/// `DELETE /api/admin/users/<id>?username=<name>`: removes an account that holds
/// nothing, e.g. the test user of `cutover validate`. The username must match (a
/// typed id cannot hit someone else), admins and users with files are refused
/// (409: a delete never cascades into someone's data), and the deletion is not
/// logged for replication: the operator's tool removes the account on each side.
pub async fn delete_user(req: &Request, env: &Env, id: &str) -> ApiResult {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not a user id")))?;
    let username = req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == "username")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ApiError::bad_request("username is required"))?;
    let user = match crate::users::by_id(env, id).await? {
        Some(user) if user.username == username => user,
        _ => {
            return Err(ApiError::Client(
                404,
                format!("No user {id} named {username:?}"),
            ))
        }
    };
    if user.is_admin() {
        return Err(ApiError::Client(
            409,
            "An admin is never deleted here".into(),
        ));
    }
    let files = count(
        db(env)?
            .prepare("SELECT count(*) AS n FROM files WHERE user_id = ?1")
            .bind(&[num(id)])?,
    )
    .await?;
    if files > 0 {
        return Err(ApiError::Client(
            409,
            format!("User {id} still has {files} files; delete them first"),
        ));
    }
    // Only while it still holds no file: one saved meanwhile keeps the account.
    write(
        env,
        vec![db(env)?
            .prepare(
                "DELETE FROM users WHERE id = ?1 AND is_admin = 0 \
                 AND NOT EXISTS (SELECT 1 FROM files WHERE user_id = ?1)",
            )
            .bind(&[num(id)])?],
    )
    .await?;
    Ok(http::json(200, &json!({"id": id, "status": "deleted"})))
}
