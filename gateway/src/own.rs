//! Paths the gateway answers itself: `/health`, `/metrics`, `/admin/*`.

use crate::rollout::Snapshot;
use worker::{Env, Request, Response, Result};

pub async fn handle(req: Request, _env: &Env, snapshot: &Snapshot) -> Result<Response> {
    match req.path().trim_end_matches('/') {
        "/health" => Response::from_json(&serde_json::json!({
            "status": "healthy",
            "traffic_percentage": snapshot.config.percentage,
            "current_version": snapshot.slot.name(),
        })),
        _ => crate::respond::error(404, "not found"),
    }
}
