//! The edge gateway. Each request goes through the phases of a proxy:
//! decide (which backend) → upstream (stream it there) → response filter
//! (headers every response carries) → log. The decision itself lives in
//! `shared::routing`; this crate binds it to KV, fetch and service bindings.

mod respond;
mod rollout;
mod settings;
mod upstream;

use respond::ServedBy;
use settings::Settings;
use shared::routing::Backend;
use worker::*;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let settings = Settings::from_env(&env);
    let request_id = respond::request_id(&req);

    let snapshot = rollout::load(&env, &settings).await;
    let backend = shared::routing::backend_for_percentage(snapshot.percentage);

    let (resp, served_by) = match backend {
        Backend::Legacy => (
            upstream::to_legacy(req, &settings, &request_id).await,
            ServedBy::Legacy,
        ),
        Backend::App => (
            upstream::to_app(req, &env, snapshot.slot, &request_id).await,
            ServedBy::App(snapshot.slot),
        ),
    };
    respond::finish(resp, served_by, &request_id)
}
