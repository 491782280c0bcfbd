//! Saved filters (`/api/filters`): a named cut (columns + filter expressions) of
//! one of the caller's files, kept in D1 `saved_filters`, and applied on demand as
//! a download or as a new saved file with lineage. Every filter and file is the
//! caller's own; anything else is a 404.

use serde::Deserialize;
use serde_json::{json, Value};
use shared::csv_cut::Cutter;
use shared::saved_filters::{self as logic, FilterFields};
use worker::{Env, Request, Response};

use crate::body::{read_json, read_optional_json};
use crate::cutter::CutStream;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::ingest;
use crate::storage::new_anon_id;
use crate::store::{self, db, num, owned, NewFile};

#[derive(Deserialize)]
struct Row {
    filter_id: String,
    file_id: Option<String>,
    name: String,
    columns: String,
    filters: String,
    created_at: String,
    updated_at: String,
}

impl Row {
    fn fields(&self) -> FilterFields {
        logic::from_stored(
            self.name.clone(),
            self.file_id.clone().unwrap_or_default(),
            &self.columns,
            &self.filters,
        )
    }

    fn to_json(&self) -> Value {
        let fields = self.fields();
        json!({
            "id": self.filter_id,
            "name": fields.name,
            "file_id": self.file_id,
            "columns": fields.columns,
            "filters": fields.filters,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

const COLUMNS: &str = "filter_id, file_id, name, columns, filters, created_at, updated_at";

fn filter_not_found() -> ApiError {
    ApiError::Client(404, "Filter not found.".into())
}

async fn find(env: &Env, user_id: i64, filter_id: &str) -> ApiResult<Row> {
    let sql = format!("SELECT {COLUMNS} FROM saved_filters WHERE filter_id = ?1 AND user_id = ?2");
    store::owned_row(env, &sql, filter_id, user_id, filter_not_found).await
}

/// The body's fields over `base`, checked against the file they name: it must be
/// the caller's, and every column must be in its header.
async fn checked_fields(
    req: &mut Request,
    env: &Env,
    user_id: i64,
    base: Option<&FilterFields>,
) -> ApiResult<FilterFields> {
    let body = read_json(req).await?;
    let fields = logic::parse(&body, base).map_err(ApiError::bad_request)?;
    // Reading up to the header row checks the columns as a cut would.
    open_cut(env, user_id, &fields).await?;
    Ok(fields)
}

/// The cut `fields` describe, started over the caller's file (404 when the file is
/// not theirs or is gone; 400 naming an unknown column).
async fn open_cut(
    env: &Env,
    user_id: i64,
    fields: &FilterFields,
) -> ApiResult<(CutStream, store::Owned)> {
    let file = owned(env, user_id, &fields.file_id).await?;
    let object = crate::bindings::bucket(env)?
        .get(&file.r2_key)
        .execute()
        .await?
        .ok_or_else(store::not_found)?;
    let input = object.body().ok_or_else(store::not_found)?.stream()?;
    let cutter = Cutter::new(fields.spec()).map_err(|e| ApiError::bad_request(e.message))?;
    Ok((CutStream::start(cutter, input).await?, file))
}

/// `GET /api/filters` (optionally `?file_id=`): newest first.
pub async fn list(req: &Request, env: &Env, user_id: i64) -> ApiResult {
    let url = req.url()?;
    let file_id = url
        .query_pairs()
        .find(|(k, _)| k == "file_id")
        .map(|(_, v)| v.into_owned());
    let db = db(env)?;
    let statement = match &file_id {
        Some(file_id) => db
            .prepare(format!(
                "SELECT {COLUMNS} FROM saved_filters WHERE user_id = ?1 AND file_id = ?2 \
                 ORDER BY id DESC"
            ))
            .bind(&[num(user_id), file_id.as_str().into()])?,
        None => db
            .prepare(format!(
                "SELECT {COLUMNS} FROM saved_filters WHERE user_id = ?1 ORDER BY id DESC"
            ))
            .bind(&[num(user_id)])?,
    };
    let rows = statement.all().await?.results::<Row>()?;
    let filters: Vec<Value> = rows.iter().map(Row::to_json).collect();
    Ok(http::json(200, &json!({ "filters": filters })))
}

/// `POST /api/filters` {name, file_id, columns, filters} → 201.
pub async fn create(req: &mut Request, env: &Env, user_id: i64) -> ApiResult {
    let fields = checked_fields(req, env, user_id, None).await?;
    let filter_id = new_anon_id();
    db(env)?
        .prepare(
            "INSERT INTO saved_filters (filter_id, user_id, file_id, name, columns, filters) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&[
            filter_id.as_str().into(),
            num(user_id),
            fields.file_id.as_str().into(),
            fields.name.as_str().into(),
            fields.columns_json().into(),
            fields.filters_json().into(),
        ])?
        .run()
        .await?;
    Ok(http::json(
        201,
        &find(env, user_id, &filter_id).await?.to_json(),
    ))
}

pub async fn get(env: &Env, user_id: i64, filter_id: &str) -> ApiResult {
    Ok(http::json(
        200,
        &find(env, user_id, filter_id).await?.to_json(),
    ))
}

/// `PUT /api/filters/<id>`: the fields named replace the stored ones.
pub async fn update(req: &mut Request, env: &Env, user_id: i64, filter_id: &str) -> ApiResult {
    let existing = find(env, user_id, filter_id).await;
    let base = existing.as_ref().map(Row::fields).ok();
    // The body is read even for an unknown filter, so the client gets the 404.
    let fields = checked_fields(req, env, user_id, base.as_ref()).await;
    existing?;
    let fields = fields?;
    db(env)?
        .prepare(
            "UPDATE saved_filters SET file_id = ?1, name = ?2, columns = ?3, filters = ?4, \
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
             WHERE filter_id = ?5 AND user_id = ?6",
        )
        .bind(&[
            fields.file_id.as_str().into(),
            fields.name.as_str().into(),
            fields.columns_json().into(),
            fields.filters_json().into(),
            filter_id.into(),
            num(user_id),
        ])?
        .run()
        .await?;
    get(env, user_id, filter_id).await
}

pub async fn delete(env: &Env, user_id: i64, filter_id: &str) -> ApiResult {
    find(env, user_id, filter_id).await?;
    db(env)?
        .prepare("DELETE FROM saved_filters WHERE filter_id = ?1 AND user_id = ?2")
        .bind(&[filter_id.into(), num(user_id)])?
        .run()
        .await?;
    Ok(Response::empty()?.with_status(204))
}

/// `POST /api/filters/<id>/apply`: `{}` (or no body) streams the cut as a CSV
/// download; `{"save_as": name}` keeps it as a new file cut from the filter's file.
pub async fn apply(req: &mut Request, env: &Env, user_id: i64, filter_id: &str) -> ApiResult {
    let body = read_optional_json(req).await?;
    let save_as = match body.get("save_as") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if !name.trim().is_empty() => Some(name.trim().to_string()),
        Some(_) => return Err(ApiError::bad_request("save_as must be a file name.")),
    };
    let filter = find(env, user_id, filter_id).await?;
    let fields = filter.fields();
    let (cut, source) = open_cut(env, user_id, &fields).await?;
    match save_as {
        None => cut.into_response(&http::attachment(&format!("{}.csv", fields.name))),
        Some(name) => save_cut(env, user_id, cut, &name, &filter, &source).await,
    }
}

/// Streams `cut` into a new saved file named like `name`, with a lineage edge from
/// the filter's file; nothing is kept when any step fails.
async fn save_cut(
    env: &Env,
    user_id: i64,
    cut: CutStream,
    name: &str,
    filter: &Row,
    source: &store::Owned,
) -> ApiResult {
    let file_id = new_anon_id();
    let key = store::object_key(user_id, &file_id);
    let received = ingest::receive_stream(env, &key, name, Box::pin(cut.into_stream())).await?;
    let chosen = store::choose_name(env, user_id, name).await;
    let (received, chosen) = received.or_abort(chosen).await?;
    let fields = filter.fields();
    let metadata = json!({
        "source_file_id": fields.file_id,
        "source_file_name": source.file_name,
        "filter_id": filter.filter_id,
        "columns": fields.columns,
        "filters": fields.filters,
    })
    .to_string();
    let file = NewFile::new(&file_id, user_id, &key, &chosen, "generated")
        .with_metadata(&metadata)
        .cut_from(Some(&fields.file_id));
    received.keep(env, file).await?;
    Ok(http::json(
        201,
        &json!({"file_id": file_id, "file_name": chosen, "file_path": key}),
    ))
}
