use worker::*;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match (req.method(), req.path().as_str()) {
        (Method::Get, "/health") => Response::from_json(&serde_json::json!({
            "status": "healthy",
            "environment": env.var("ENVIRONMENT").map(|v| v.to_string()).unwrap_or_default(),
        })),
        _ => Response::from_json(&serde_json::json!({"error": "Not found"}))
            .map(|r| r.with_status(404)),
    }
}
