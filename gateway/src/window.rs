//! The metrics Durable Object. One instance ("global") holds the rolling window
//! for every isolate, so `/metrics`, the admin status and the alert cron all see
//! the same numbers. Each 10 s slice is its own storage key: a batch rewrites
//! only the slices it touches, whatever the history length. It also keeps the
//! audit trail: the object runs one request's storage reads and writes without
//! interleaving another's, so concurrent changes each keep their entry.

use shared::ops::alerts::AlertState;
use shared::ops::audit::{self, AuditEntry};
use shared::ops::metrics::{Sample, SliceStats, Window};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use worker::{
    durable_object, js_sys, wasm_bindgen::JsValue, Date, DurableObject, Env, ListOptions, Method,
    Request, Response, Result, State,
};

const SLICE_PREFIX: &str = "slice:";
const ALERT_STATE_KEY: &str = "alert_state";
const AUDIT_KEY: &str = "audit_log";

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
                Response::empty()
            }
            (Method::Get, "/summary") => Response::from_json(&self.read(|w| w.summary(now))),
            (Method::Get, "/history") => Response::from_json(&self.read(|w| w.history(now))),
            (Method::Get, "/alert-state") => {
                let raw: Option<String> = self.state.storage().get(ALERT_STATE_KEY).await?;
                let state: AlertState = raw
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default();
                Response::from_json(&state)
            }
            (Method::Put, "/alert-state") => {
                let state: AlertState = req.json().await?;
                let raw = serde_json::to_string(&state)?;
                self.state.storage().put(ALERT_STATE_KEY, raw).await?;
                Response::empty()
            }
            (Method::Get, "/audit") => {
                let raw: Option<String> = self.state.storage().get(AUDIT_KEY).await?;
                Response::from_json(&audit::parse(raw.as_deref()))
            }
            (Method::Post, "/audit") => {
                let entry: AuditEntry = req.json().await?;
                let raw: Option<String> = self.state.storage().get(AUDIT_KEY).await?;
                let trail = audit::append(raw.as_deref(), entry);
                let raw = serde_json::to_string(&trail)?;
                self.state.storage().put(AUDIT_KEY, raw).await?;
                Response::empty()
            }
            _ => Response::error("not found", 404),
        }
    }
}

impl MetricsWindow {
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
