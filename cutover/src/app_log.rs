//! The app's change log (D1 triggers, see `replicate.rs`), read through the
//! admin API by `replicate` and a live `verify`.

use serde_json::Value;
use shared::migration::changes::Change;

use crate::api::Api;
use crate::error::{Context, Result};

/// One entry of the app's change log, with the record as it is now (`null` once
/// it is gone).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Logged {
    #[serde(flatten)]
    pub change: Change,
    #[serde(default)]
    pub record: Value,
}

/// Up to `limit` entries of the app's change log after `after`, with the log's
/// last sequence number.
pub fn changes(api: &Api, after: i64, limit: i64) -> Result<(Vec<Logged>, i64)> {
    let page = api.get(&format!(
        "/api/admin/export/changes?after={after}&limit={limit}"
    ))?;
    let changes =
        serde_json::from_value(page["changes"].clone()).context("the app's change log")?;
    Ok((changes, page["head"].as_i64().unwrap_or(0)))
}

/// Tells the app its log is applied up to `through` (it prunes those entries).
pub fn acknowledge(api: &Api, through: i64) -> Result<()> {
    api.admin(
        reqwest::Method::POST,
        "/api/admin/changes/ack",
        Some(&serde_json::json!({ "through": through })),
    )
    .map(|_| ())
}
