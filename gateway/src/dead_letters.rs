//! The app's dead letters (queue messages it gave up on, kept in its D1) for
//! `/metrics`, `GET /admin/dead-letters` and the dashboard. The gateway has no D1,
//! so it asks the serving slot with the operator token.

use crate::settings;
use shared::routing::Slot;
use worker::{Env, Method, Request, Result};

/// The app's `{"count", "dead_letters": [...]}`.
pub async fn list(env: &Env, slot: Slot) -> Result<serde_json::Value> {
    let probe = Request::new("https://app/api/admin/dead-letters", Method::Get)?;
    let token = settings::var(env, "ADMIN_API_TOKEN").unwrap_or_default();
    probe
        .headers()
        .set("Authorization", &format!("Bearer {token}"))?;
    let mut resp = env.service(slot.binding())?.fetch_request(probe).await?;
    match resp.status_code() {
        200 => resp.json().await,
        other => Err(worker::Error::RustError(format!(
            "the app's dead letters answered {other}"
        ))),
    }
}
