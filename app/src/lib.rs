mod accounts;
mod admin;
mod audit;
mod auth;
mod bindings;
mod cors;
mod counts;
mod cutter;
mod dead_letters;
mod export;
mod files;
mod files_api;
mod filters;
mod frontend;
mod health;
mod http;
mod import;
mod limits;
mod lineage;
mod settings;
mod storage;
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
    let resp = api(req, &env).await?;
    Ok(cors::finish(origin.as_deref(), &env, resp))
}

async fn api(mut req: Request, env: &Env) -> Result<Response> {
    // Legacy paths end with a slash; clients of the Workers era leave it off. Both work.
    let path = req.path();
    let route = path.strip_suffix('/').unwrap_or(&path);
    let method = req.method();
    if let Some(rest) = route.strip_prefix("/api/admin/") {
        let rest = rest.to_string();
        return admin::handle(&rest, req, env).await;
    }
    if let Some(endpoint) = route
        .strip_prefix("/api/list_cutter/")
        .and_then(files::endpoint)
    {
        return files::handle(endpoint, req, env).await;
    }
    if let Some(answer) = files_api::route(route, &mut req, env).await {
        return answer;
    }
    if let Some(answer) = filters::route(route, &mut req, env).await {
        return answer;
    }
    let answer = match route {
        "/health" if method == Method::Get => Ok(health::report(env).await),
        "/api/accounts/register" if method == Method::Post => accounts::register(req, env).await,
        "/api/accounts/login" if method == Method::Post => accounts::login(req, env).await,
        "/api/accounts/token/refresh" if method == Method::Post => {
            accounts::refresh(req, env).await
        }
        "/api/accounts/logout" if method == Method::Post => accounts::logout(req, env).await,
        "/api/accounts/user" if method == Method::Get => accounts::current_user(req, env).await,
        "/api/list_cutter/csv_cutter" if method == Method::Post => {
            return cutter::upload(req, env).await
        }
        "/api/list_cutter/export_csv" if method == Method::Post => {
            return cutter::export(req, env).await
        }
        "/api/accounts/register"
        | "/api/accounts/login"
        | "/api/accounts/token/refresh"
        | "/api/accounts/logout"
        | "/api/accounts/user" => Err(http::method_not_allowed(&req)),
        _ => Err(http::json(404, &serde_json::json!({"error": "Not found"}))),
    };
    Ok(answer.unwrap_or_else(|resp| resp))
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
