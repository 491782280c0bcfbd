//! The edge gateway. Each request goes through the phases of a proxy:
//! decide (which backend) → upstream (stream it there) → response filter
//! (headers every response carries). The decision itself is pure and lives in
//! `shared::routing`; this crate binds it to KV, fetch and service bindings.

mod admin;
mod alerting;
mod beta;
mod control;
mod dashboard;
mod dead_letters;
mod health;
mod metrics;
mod own;
mod replication;
mod respond;
mod rollout;
mod settings;
mod shadow;
mod shadow_report;
mod sign_in;
mod upstream;
mod window;

pub use window::MetricsWindow;

use respond::{Finish, ServedBy};
use settings::Settings;
use shared::routing::{self, Decision, RequestFacts};
use worker::*;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let settings = Settings::from_env(&env);
    let request_id = respond::request_id(&req);
    let url = req.url()?;
    let host = req.headers().get("Host")?.unwrap_or_default();

    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    if let Some(location) =
        routing::https_redirect(url.scheme(), &host, &path_and_query, settings.local_dev)
    {
        let resp = ResponseBuilder::new()
            .with_status(301)
            .with_header("Location", &location)?
            .empty();
        return respond::finish(Ok(resp), Finish::new(ServedBy::Gateway, &request_id));
    }

    // Methods neither backend implements are refused here: proxied, they failed
    // inside the proxy and counted as the backend's 5xx, the number that drives
    // alerts and automatic rollback.
    let raw_method = req.inner().method();
    if !routing::is_known_method(&raw_method) {
        let resp =
            respond::error(501, &format!("method {raw_method} is not supported")).and_then(|r| {
                r.headers()
                    .set("Allow", &routing::KNOWN_METHODS.join(", "))
                    .map(|_| r)
            });
        return respond::finish(resp, Finish::new(ServedBy::Gateway, &request_id));
    }

    // Decide.
    let snapshot = rollout::load(&env, &settings).await;
    let headers = req.headers();
    let cookies = headers.get("Cookie")?.unwrap_or_default();
    let client_ip = headers.get("CF-Connecting-IP")?;
    let beta_header = headers.get("X-Beta-User")?;
    let beta_token_header = headers.get(routing::BETA_TOKEN_HEADER)?;
    let method = req.method();
    let now_unix = (Date::now().as_millis() / 1000) as i64;
    let authorization = headers.get("Authorization")?;
    let person = routing::identity(authorization.as_deref(), &settings.jwt, now_unix);
    let facts = RequestFacts {
        method: method.as_ref(),
        path: url.path(),
        host: &host,
        client_ip: client_ip.as_deref(),
        beta_header: beta_header.as_deref(),
        beta_token: routing::cookie_value(&cookies, routing::BETA_COOKIE_NAME)
            .or(beta_token_header.as_deref()),
        sticky_cookie: routing::cookie_value(&cookies, routing::STICKY_COOKIE_NAME),
        identity: person,
        now_unix,
    };
    let decision = routing::decide(
        &facts,
        &snapshot.config,
        &settings.signing_key,
        !settings.local_dev,
    );

    // Upstream.
    match decision {
        Decision::Gateway => {
            let path = routing::normalize_path(url.path());
            let resp = own::handle(req, &env, &settings, &snapshot, &path).await;
            respond::finish(resp, Finish::new(ServedBy::Gateway, &request_id))
        }
        Decision::Maintenance { write_freeze } => {
            let resp = respond::maintenance(&req, write_freeze);
            respond::finish(resp, Finish::new(ServedBy::Gateway, &request_id))
        }
        Decision::Route {
            backend,
            reason,
            set_sticky,
            ..
        } => {
            let key = routing::client_key(client_ip.as_deref());
            let limit = routing::limit_for(&routing::LimitFacts {
                method: method.as_ref(),
                path: url.path(),
                client_ip: client_ip.as_deref(),
                identity: person,
                operator: reason == routing::Reason::AppAdmin && operator_token(&req, &env),
            });
            if let Some(limit) = limit {
                if let Some(resp) = rate_limited(&env, &limit).await {
                    return respond::finish(resp, Finish::new(ServedBy::Gateway, &request_id));
                }
            }
            let token = (reason == routing::Reason::BetaToken)
                .then(|| routing::beta_token(&facts, &snapshot.config, &settings.signing_key))
                .flatten();
            let beta = token.and_then(shared::ops::beta::token_id);
            // A token pinned to a slot (a release's smoke test) goes there.
            let pinned = token
                .and_then(|t| routing::beta_token_claims(&settings.signing_key, t, now_unix))
                .and_then(|c| c.slot);
            let mirror = shadow::plan(&req, &snapshot, backend, reason, &request_id, &host);
            let started = Date::now().as_millis();
            let up = upstream::Upstream {
                env: &env,
                settings: &settings,
                slot: pinned.unwrap_or(snapshot.slot),
                request_id: &request_id,
                host: &host,
            };
            let (sent, served_by) =
                if settings.login_fallback && routing::is_sign_in(method.as_ref(), url.path()) {
                    sign_in::send(req, backend, &up).await
                } else {
                    upstream::send(req, backend, &up).await
                };
            // Only a backend's own answer is compared; the gateway's 502/504 is not.
            let resp = match (sent, mirror) {
                (Ok(Ok(resp)), Some(plan)) => shadow::mirror(plan, resp, &env, &ctx),
                (Ok(Ok(resp)), None) => Ok(resp),
                (Ok(Err(failure)), _) => failure.into_response(),
                (Err(err), _) => Err(err),
            };
            // Bulk imports of large files would read as app latency: the alerts
            // judge user traffic only.
            if reason != routing::Reason::AppAdmin {
                metrics::observe(
                    &env,
                    &ctx,
                    metrics::Observation {
                        branch: served_by.header(),
                        reason: reason.as_str(),
                        // An upstream error becomes the 502 the response filter sends.
                        status: resp.as_ref().map_or(502, |r| r.status_code()),
                        latency_ms: Date::now().as_millis().saturating_sub(started) as u32,
                        client_key: &key,
                        beta,
                    },
                );
            }
            let mut finish = Finish::new(served_by, &request_id);
            finish.set_cookie = set_sticky;
            finish.reason = Some(reason.as_str());
            respond::finish(resp, finish)
        }
    }
}

/// The alert cron (`[triggers] crons`).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    if let Err(err) = alerting::run(&env).await {
        console_error!("alert cron failed: {err}");
    }
}

/// Whether the request carries the operator token: the cutover tool's thousands of
/// import requests are not held to the per-client budget (the app checks the token
/// again; a wrong one is limited like any client).
fn operator_token(req: &Request, env: &Env) -> bool {
    let auth = req.headers().get("Authorization").ok().flatten();
    let expected = settings::var(env, "ADMIN_API_TOKEN").unwrap_or_default();
    shared::ops::admin::is_operator(auth.as_deref(), &expected)
}

/// The 429 to send when `limit`'s budget is used up (every class allows its
/// number of requests per 60 s, `wrangler.gateway.toml`). A missing or failing
/// limiter lets the request through: the limiter protects the backends, it must
/// not become an outage of its own.
pub(crate) async fn rate_limited(env: &Env, limit: &routing::Limit) -> Option<Result<Response>> {
    let limiter = match env.rate_limiter(limit.class.binding()) {
        Ok(limiter) => limiter,
        Err(err) => {
            console_warn!("rate limiter {} missing: {err}", limit.class.binding());
            return None;
        }
    };
    match limiter.limit(limit.key.clone()).await {
        Ok(outcome) if !outcome.success => Some(respond::too_many_requests(60, limit.class)),
        Ok(_) => None,
        Err(err) => {
            console_warn!("rate limiter {} unavailable: {err}", limit.class.binding());
            None
        }
    }
}
