//! Per-request metrics, and the client of the metrics Durable Object. On the
//! request path this only writes an Analytics Engine data point (non-blocking)
//! and appends to this isolate's buffer (`shared::ops::batch`); a due batch goes
//! to the object in `wait_until`. Readers (`/metrics`, status, the cron) flush
//! this isolate's buffer first.

use serde::de::DeserializeOwned;
use serde::Serialize;
use shared::ops::alerts::AlertState;
use shared::ops::audit::AuditEntry;
use shared::ops::batch::Batch;
use shared::ops::beta::BetaRecord;
use shared::ops::metrics::{HistoryPoint, Sample, Summary};
use shared::ops::replication::RoundReport;
use shared::shadow::Book;
use std::cell::RefCell;
use worker::{
    AnalyticsEngineDataPointBuilder, Context, Date, Env, Method, Request, RequestInit, Response,
    Result, Stub,
};

thread_local! {
    static BUFFER: RefCell<Batch<Sample>> = const { RefCell::new(Batch::new()) };
}

/// One proxied request.
pub struct Observation<'a> {
    pub branch: &'static str,
    pub reason: &'static str,
    pub status: u16,
    pub latency_ms: u32,
    pub client_key: &'a str,
    /// The id of the beta token that routed it.
    pub beta: Option<String>,
}

pub fn observe(env: &Env, ctx: &Context, o: Observation) {
    let now = Date::now().as_millis();
    if let Ok(dataset) = env.analytics_engine("ANALYTICS") {
        let written = AnalyticsEngineDataPointBuilder::new()
            .indexes([o.branch])
            .add_blob(o.branch)
            .add_blob(o.reason)
            .add_double(o.status)
            .add_double(o.latency_ms)
            .write_to(&dataset);
        if let Err(err) = written {
            worker::console_warn!("analytics engine write failed: {err}");
        }
    }
    let sample = Sample {
        at_ms: now,
        branch: o.branch.to_string(),
        status: o.status,
        latency_ms: o.latency_ms,
        // A hash, not the address: the window only needs to tell clients apart.
        client: shared::routing::fnv1a64(o.client_key.as_bytes()) as u32,
        beta: o.beta,
    };
    if let Some(batch) = BUFFER.with(|b| b.borrow_mut().push(sample, now)) {
        let env = env.clone();
        ctx.wait_until(async move {
            if let Err(err) = send(&env, &batch).await {
                worker::console_warn!("metrics flush of {} samples failed: {err}", batch.len());
            }
        });
    }
}

/// Sends what this isolate still holds (for readers that must see it).
pub async fn flush(env: &Env) -> Result<()> {
    let batch = BUFFER.with(|b| b.borrow_mut().take());
    if batch.is_empty() {
        return Ok(());
    }
    send(env, &batch).await
}

async fn send(env: &Env, batch: &[Sample]) -> Result<()> {
    send_json(env, Method::Post, "/record", batch).await
}

pub async fn summary(env: &Env) -> Result<Summary> {
    flush(env).await?;
    get_json(env, "/summary").await
}

pub async fn history(env: &Env) -> Result<Vec<HistoryPoint>> {
    flush(env).await?;
    get_json(env, "/history").await
}

pub async fn alert_state(env: &Env) -> Result<AlertState> {
    get_json(env, "/alert-state").await
}

pub async fn save_alert_state(env: &Env, state: &AlertState) -> Result<()> {
    send_json(env, Method::Put, "/alert-state", state).await
}

pub async fn audit(env: &Env, entry: &AuditEntry) -> Result<()> {
    send_json(env, Method::Post, "/audit", entry).await
}

pub async fn audit_trail(env: &Env) -> Result<Vec<AuditEntry>> {
    get_json(env, "/audit").await
}

/// The replicator's last round, if one was ever reported.
pub async fn replication(env: &Env) -> Result<Option<RoundReport>> {
    get_json(env, "/replication").await
}

pub async fn save_replication(env: &Env, report: &RoundReport) -> Result<()> {
    send_json(env, Method::Put, "/replication", report).await
}

pub async fn forget_replication(env: &Env) -> Result<()> {
    call(env, Method::Delete, "/replication", None).await?;
    Ok(())
}

pub async fn beta_records(env: &Env) -> Result<Vec<BetaRecord>> {
    flush(env).await?;
    get_json(env, "/beta").await
}

pub async fn add_beta_record(env: &Env, record: &BetaRecord) -> Result<()> {
    send_json(env, Method::Post, "/beta", record).await
}

/// Revokes `id`; the ids now revoked, or `None` for an unknown id.
pub async fn revoke_beta(env: &Env, id: &str, at: &str) -> Result<Option<Vec<String>>> {
    let body = serde_json::json!({ "id": id, "at": at }).to_string();
    match call(env, Method::Post, "/beta/revoke", Some(body)).await {
        Ok(mut resp) => Ok(Some(resp.json().await?)),
        Err(worker::Error::RustError(e)) if e.contains("answered 404") => Ok(None),
        Err(e) => Err(e),
    }
}

/// The shadow comparisons' counts (`shared::shadow::book`).
pub async fn shadow_book(env: &Env) -> Result<Book> {
    get_json(env, "/shadow").await
}

pub async fn record_shadow(env: &Env, batch: &[shared::shadow::Observation]) -> Result<()> {
    send_json(env, Method::Post, "/shadow", batch).await
}

pub async fn reset_shadow(env: &Env) -> Result<()> {
    call(env, Method::Delete, "/shadow", None).await?;
    Ok(())
}

/// What the object holds at `path`, read as JSON.
async fn get_json<T: DeserializeOwned>(env: &Env, path: &str) -> Result<T> {
    call(env, Method::Get, path, None).await?.json().await
}

/// Hands `value` to the object as JSON; the answer carries nothing to read.
async fn send_json<T: Serialize + ?Sized>(
    env: &Env,
    method: Method,
    path: &str,
    value: &T,
) -> Result<()> {
    call(env, method, path, Some(serde_json::to_string(value)?)).await?;
    Ok(())
}

fn stub(env: &Env) -> Result<Stub> {
    crate::bindings::metrics(env)?.get_by_name("global")
}

async fn call(env: &Env, method: Method, path: &str, body: Option<String>) -> Result<Response> {
    let mut init = RequestInit::new();
    init.with_method(method);
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    let req = Request::new_with_init(&format!("https://metrics{path}"), &init)?;
    let resp = stub(env)?.fetch_with_request(req).await?;
    if resp.status_code() >= 400 {
        return Err(worker::Error::RustError(format!(
            "metrics object answered {} to {path}",
            resp.status_code()
        )));
    }
    Ok(resp)
}
