use worker::*;

mod cutter;
mod http;
mod storage;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    // API paths answer with or without their trailing slash, like Django's.
    let path = req.path();
    match (req.method(), path.trim_end_matches('/')) {
        (Method::Post, "/api/list_cutter/csv_cutter") => cutter::upload(req, &env).await,
        (Method::Post, "/api/list_cutter/export_csv") => cutter::export(req, &env).await,
        (Method::Get, "/health") => Response::from_json(&serde_json::json!({
            "status": "healthy",
            "environment": env.var("ENVIRONMENT").map(|v| v.to_string()).unwrap_or_default(),
        })),
        _ => Response::from_json(&serde_json::json!({"error": "Not found"}))
            .map(|r| r.with_status(404)),
    }
}
