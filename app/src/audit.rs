//! The `audit_logs` trail of account actions.

use crate::http;
use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request};

/// Writes one row: `action` (`register`, `login`, `login_failed`, `login_throttled`,
/// `admin_login_refused`, `token_refresh`, `logout`) by or about `user`. A failure
/// is logged, not returned: the account action itself succeeded and the client
/// must not see it fail (or retry it) because of the trail.
pub async fn record(env: &Env, req: &Request, user: Option<i64>, action: &str, metadata: Value) {
    let user_id = user.map_or(JsValue::NULL, |id| JsValue::from(id as f64));
    let resource_id = user.map_or(JsValue::NULL, |id| JsValue::from(id.to_string()));
    let opt = |s: Option<String>| s.map_or(JsValue::NULL, JsValue::from);
    let result = async {
        crate::bindings::db(env)?
            .prepare(
                "INSERT INTO audit_logs \
                 (user_id, action, resource_type, resource_id, metadata, ip_address, user_agent) \
                 VALUES (?1, ?2, 'user', ?3, ?4, ?5, ?6)",
            )
            .bind(&[
                user_id,
                action.into(),
                resource_id,
                metadata.to_string().into(),
                opt(http::client_ip(req)),
                opt(http::user_agent(req)),
            ])?
            .run()
            .await
    }
    .await;
    if let Err(e) = result {
        worker::console_error!("audit log ({}): {e}", action);
    }
}
