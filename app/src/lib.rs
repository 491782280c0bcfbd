mod accounts;
mod admin;
mod audit;
mod auth;
mod bindings;
mod body;
mod cors;
mod counts;
mod cutter;
mod dead_letters;
mod error;
mod export;
mod files;
mod files_api;
mod filters;
mod frontend;
mod health;
mod http;
mod import;
mod ingest;
mod limits;
mod lineage;
mod routes;
mod settings;
mod storage;
mod store;
mod tokens;
mod users;

use worker::*;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    if frontend::wants(&req) {
        return frontend::serve(req, &env).await;
    }
    if let Some(answer) = cors::preflight(&req, &env) {
        return Ok(answer);
    }
    let origin = http::header(&req, "Origin");
    let resp = routes::answer(req, &env).await;
    Ok(cors::finish(origin.as_deref(), &env, resp))
}

#[event(queue)]
async fn queue(batch: MessageBatch<counts::CountFile>, env: Env, _ctx: Context) -> Result<()> {
    counts::consume(batch, &env).await
}

/// The hourly cron (`[triggers] crons`): removes expired anonymous uploads.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let swept = match crate::bindings::bucket(&env) {
        Ok(bucket) => storage::sweep_expired(&bucket).await,
        Err(error) => Err(error),
    };
    match swept {
        Ok(n) => console_log!("removed {n} expired anonymous uploads"),
        Err(error) => console_error!("sweeping expired anonymous uploads: {error}"),
    }
}
