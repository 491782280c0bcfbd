//! The metrics Durable Object. One instance ("global") holds the rolling window
//! for every isolate, so `/metrics`, the admin status and the alert cron all see
//! the same numbers. Each 10 s slice is its own storage key: a batch rewrites
//! only the slices it touches, whatever the history length. It also keeps the
//! audit trail, the beta tokens issued and the shadow comparisons' counts: the
//! object runs one request's storage reads and writes without interleaving
//! another's, so concurrent changes each keep their entry.

use serde::de::DeserializeOwned;
use serde::Serialize;
use shared::ops::alerts::AlertState;
use shared::ops::audit::{self, AuditEntry};
use shared::ops::beta::{self, BetaRecord};
use shared::ops::metrics::{Sample, SliceStats, Window};
use shared::shadow::{Book, Observation};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use worker::{
    durable_object, js_sys, wasm_bindgen::JsValue, Date, DurableObject, Env, ListOptions, Method,
    Request, Response, Result, State,
};

const SLICE_PREFIX: &str = "slice:";
const ALERT_STATE_KEY: &str = "alert_state";
const AUDIT_KEY: &str = "audit_log";
const BETA_KEY: &str = "beta_tokens";
const REPLICATION_KEY: &str = "replication";
const SHADOW_KEY: &str = "shadow";

#[durable_object]
pub struct MetricsWindow {
    state: State,
    /// Loaded from storage on first use, then kept in memory.
    window: RefCell<Option<Window>>,
}

impl DurableObject for MetricsWindow {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            window: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let now = Date::now().as_millis();
        self.load().await?;
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/record") => {
                let batch: Vec<Sample> = req.json().await?;
                self.record(&batch, now).await?;
                self.beta_seen(&batch).await?;
                Response::empty()
            }
            (Method::Get, "/summary") => Response::from_json(&self.read(|w| w.summary(now))),
            (Method::Get, "/history") => Response::from_json(&self.read(|w| w.history(now))),
            (Method::Get, "/alert-state") => {
                Response::from_json(&self.stored::<AlertState>(ALERT_STATE_KEY).await?)
            }
            (Method::Put, "/alert-state") => {
                let state: AlertState = req.json().await?;
                self.store(ALERT_STATE_KEY, &state).await?;
                Response::empty()
            }
            (Method::Get, "/audit") => {
                let raw: Option<String> = self.state.storage().get(AUDIT_KEY).await?;
                Response::from_json(&audit::parse(raw.as_deref()))
            }
            (Method::Get, "/replication") => {
                let report: Option<serde_json::Value> = self.stored(REPLICATION_KEY).await?;
                Response::from_json(&report)
            }
            (Method::Put, "/replication") => {
                let raw = req.text().await?;
                self.state.storage().put(REPLICATION_KEY, raw).await?;
                Response::empty()
            }
            (Method::Delete, "/replication") => self.forget(REPLICATION_KEY).await,
            (Method::Get, "/shadow") => Response::from_json(&self.shadow_book().await?),
            (Method::Post, "/shadow") => {
                let batch: Vec<Observation> = req.json().await?;
                let mut book = self.shadow_book().await?;
                book.record(&batch, now);
                self.store(SHADOW_KEY, &book).await?;
                Response::empty()
            }
            (Method::Delete, "/shadow") => self.forget(SHADOW_KEY).await,
            (Method::Get, "/beta") => Response::from_json(&self.beta_records().await?),
            (Method::Post, "/beta") => {
                let record: BetaRecord = req.json().await?;
                let records = beta::add_record(self.beta_records().await?, record, unix(now));
                self.save_beta(&records).await?;
                Response::empty()
            }
            // Revokes `{"id", "at"}`; answers the ids the router must refuse, or 404.
            (Method::Post, "/beta/revoke") => {
                let ask: serde_json::Value = req.json().await?;
                let (id, at) = (
                    ask["id"].as_str().unwrap_or(""),
                    ask["at"].as_str().unwrap_or(""),
                );
                let mut records = self.beta_records().await?;
                if !beta::revoke(&mut records, id, at) {
                    return Response::error("no such beta token", 404);
                }
                self.save_beta(&records).await?;
                Response::from_json(&beta::revoked_ids(&records, unix(now)))
            }
            (Method::Post, "/audit") => {
                let entry: AuditEntry = req.json().await?;
                let raw: Option<String> = self.state.storage().get(AUDIT_KEY).await?;
                self.store(AUDIT_KEY, &audit::append(raw.as_deref(), entry))
                    .await?;
                Response::empty()
            }
            _ => Response::error("not found", 404),
        }
    }
}

fn unix(now_ms: u64) -> i64 {
    (now_ms / 1000) as i64
}

impl MetricsWindow {
    /// The JSON value kept under `key`; absent or unreadable, the default.
    async fn stored<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T> {
        let raw: Option<String> = self.state.storage().get(key).await?;
        Ok(raw
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or_default())
    }

    async fn store<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        self.state
            .storage()
            .put(key, serde_json::to_string(value)?)
            .await
    }

    /// Drops what is kept under `key`: a `DELETE`'s answer.
    async fn forget(&self, key: &str) -> Result<Response> {
        self.state.storage().delete(key).await?;
        Response::empty()
    }

    /// An unreadable book starts afresh: counts are evidence, not records to keep.
    async fn shadow_book(&self) -> Result<Book> {
        self.stored(SHADOW_KEY).await
    }

    async fn beta_records(&self) -> Result<Vec<BetaRecord>> {
        let raw: Option<String> = self.state.storage().get(BETA_KEY).await?;
        Ok(beta::parse_records(raw.as_deref()))
    }

    async fn save_beta(&self, records: &[BetaRecord]) -> Result<()> {
        self.store(BETA_KEY, records).await
    }

    /// Each beta token's last request in `batch`, into its record.
    async fn beta_seen(&self, batch: &[Sample]) -> Result<()> {
        let mut last: BTreeMap<&str, u64> = BTreeMap::new();
        for s in batch {
            if let Some(id) = &s.beta {
                let at = last.entry(id).or_default();
                *at = (*at).max(s.at_ms);
            }
        }
        if last.is_empty() {
            return Ok(());
        }
        let seen: Vec<(String, String)> = last
            .into_iter()
            .map(|(id, ms)| {
                let at = js_sys::Date::new(&JsValue::from_f64(ms as f64)).to_iso_string();
                (id.to_string(), String::from(at))
            })
            .collect();
        let mut records = self.beta_records().await?;
        if beta::mark_seen(&mut records, &seen) {
            self.save_beta(&records).await?;
        }
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&Window) -> T) -> T {
        f(self.window.borrow().as_ref().expect("loaded"))
    }

    async fn load(&self) -> Result<()> {
        if self.window.borrow().is_some() {
            return Ok(());
        }
        let stored = self
            .state
            .storage()
            .list_with_options(ListOptions::new().prefix(SLICE_PREFIX))
            .await?;
        let mut window = Window::default();
        stored.for_each(&mut |value: JsValue, key: JsValue| {
            let start = key
                .as_string()
                .and_then(|k| k.strip_prefix(SLICE_PREFIX)?.parse::<u64>().ok());
            let stats = value
                .as_string()
                .and_then(|v| serde_json::from_str::<BTreeMap<String, SliceStats>>(&v).ok());
            if let (Some(start), Some(stats)) = (start, stats) {
                window.slices.insert(start, stats);
            }
        });
        *self.window.borrow_mut() = Some(window);
        Ok(())
    }

    async fn record(&self, batch: &[Sample], now: u64) -> Result<()> {
        let (changed, dropped) = {
            let mut guard = self.window.borrow_mut();
            let window = guard.as_mut().expect("loaded");
            let before: BTreeSet<u64> = window.slices.keys().copied().collect();
            window.record(batch, now);
            let touched: BTreeSet<u64> = batch
                .iter()
                .map(|s| s.at_ms - s.at_ms % shared::ops::metrics::SLICE_MS)
                .collect();
            let changed: Vec<(String, String)> = touched
                .iter()
                .filter_map(|start| {
                    let stats = window.slices.get(start)?;
                    Some((slice_key(*start), serde_json::to_string(stats).ok()?))
                })
                .collect();
            let dropped: Vec<String> = before
                .iter()
                .filter(|start| !window.slices.contains_key(start))
                .map(|start| slice_key(*start))
                .collect();
            (changed, dropped)
        };
        let storage = self.state.storage();
        if !changed.is_empty() {
            let values = js_sys::Object::new();
            for (key, value) in &changed {
                js_sys::Reflect::set(&values, &key.into(), &value.into())?;
            }
            storage.put_multiple_raw(values).await?;
        }
        if !dropped.is_empty() {
            storage.delete_multiple(dropped).await?;
        }
        Ok(())
    }
}

fn slice_key(start: u64) -> String {
    // Zero-padded so storage lists slices in time order.
    format!("{SLICE_PREFIX}{start:015}")
}
