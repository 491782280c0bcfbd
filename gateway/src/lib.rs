//! The edge gateway. Each request goes through the phases of a proxy: request
//! filter (what the gateway refuses or redirects outright) → decide (which
//! backend; pure, in `shared::routing`) → limit (the rate limit of the route's
//! class) → upstream (stream it there, a shadow copy to the other side) → log
//! (the metrics window) → finish (the response filter: headers every response
//! carries). This crate binds those to KV, fetch and service bindings.

mod admin;
mod alerting;
mod beta;
mod bindings;
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
    let by_gateway = |resp| respond::finish(resp, Finish::new(ServedBy::Gateway, &request_id));
    if let Some(resp) = request_filter(&req, &settings)? {
        return by_gateway(resp);
    }
    let snapshot = rollout::load(&env, &settings).await;
    let incoming = Incoming::read(&req)?;
    let facts = incoming.facts(&settings);
    let decision = routing::decide(
        &facts,
        &snapshot.config,
        &settings.signing_key,
        !settings.local_dev,
    );
    let route = match decision {
        Decision::Gateway => {
            let path = routing::normalize_path(incoming.url.path());
            return by_gateway(own::handle(req, &env, &settings, &snapshot, &path).await);
        }
        Decision::Maintenance { write_freeze } => {
            return by_gateway(respond::maintenance(&req, write_freeze));
        }
        Decision::Route {
            backend,
            reason,
            set_sticky,
            ..
        } => Route {
            backend,
            reason,
            set_sticky,
            facts,
            host: &incoming.host,
            request_id: &request_id,
        },
    };
    if let Some(resp) = limit(&req, &env, &route).await {
        return by_gateway(resp);
    }
    let started = Date::now().as_millis();
    let (resp, served_by, beta) = proxy(req, &env, &ctx, &settings, &snapshot, &route).await;
    log(&env, &ctx, &route, &resp, &served_by, beta, started);
    let mut finish = Finish::new(served_by, &request_id);
    finish.set_cookie = route.set_sticky;
    finish.reason = Some(route.reason.as_str());
    respond::finish(resp, finish)
}

/// A request the decision sends to a backend.
struct Route<'a> {
    backend: routing::Backend,
    reason: routing::Reason,
    set_sticky: Option<String>,
    facts: RequestFacts<'a>,
    host: &'a str,
    request_id: &'a str,
}

/// The upstream phase: the request to its backend (the serving app slot, or
/// the one a pinned beta token names), a sign-in with the login fallback, and a
/// shadow copy to the other side when sampled. The answer, who gave it, and the
/// id of the beta token that routed it.
async fn proxy(
    req: Request,
    env: &Env,
    ctx: &Context,
    settings: &Settings,
    snapshot: &rollout::Snapshot,
    route: &Route<'_>,
) -> (Result<Response>, ServedBy, Option<String>) {
    let token = (route.reason == routing::Reason::BetaToken)
        .then(|| routing::beta_token(&route.facts, &snapshot.config, &settings.signing_key))
        .flatten();
    let pinned = token
        .and_then(|t| routing::beta_token_claims(&settings.signing_key, t, route.facts.now_unix))
        .and_then(|c| c.slot);
    let mirror = shadow::plan(
        &req,
        snapshot,
        route.backend,
        route.reason,
        route.request_id,
        route.host,
    );
    let up = upstream::Upstream {
        env,
        settings,
        slot: pinned.unwrap_or(snapshot.slot),
        request_id: route.request_id,
        host: route.host,
    };
    let (sent, served_by) =
        if settings.login_fallback && routing::is_sign_in(route.facts.method, route.facts.path) {
            sign_in::send(req, route.backend, &up).await
        } else {
            upstream::send(req, route.backend, &up).await
        };
    // Only a backend's own answer is compared; the gateway's 502/504 is not.
    let resp = match (sent, mirror) {
        (Ok(Ok(resp)), Some(plan)) => shadow::mirror(plan, resp, env, ctx),
        (Ok(Ok(resp)), None) => Ok(resp),
        (Ok(Err(failure)), _) => failure.into_response(),
        (Err(err), _) => Err(err),
    };
    (resp, served_by, token.and_then(routing::token_id))
}

/// The log phase: the answer into the metrics window. Bulk imports of large
/// files would read as app latency: the alerts judge user traffic only.
fn log(
    env: &Env,
    ctx: &Context,
    route: &Route<'_>,
    resp: &Result<Response>,
    served_by: &ServedBy,
    beta: Option<String>,
    started: u64,
) {
    if route.reason == routing::Reason::AppAdmin {
        return;
    }
    metrics::observe(
        env,
        ctx,
        metrics::Observation {
            branch: served_by.header(),
            reason: route.reason.as_str(),
            // An upstream error becomes the 502 the response filter sends.
            status: resp.as_ref().map_or(502, |r| r.status_code()),
            latency_ms: Date::now().as_millis().saturating_sub(started) as u32,
            client_key: &routing::client_key(route.facts.client_ip),
            beta,
        },
    );
}

/// The request filter: what the gateway answers before deciding anything. Plain
/// HTTP is redirected to HTTPS (outside local dev), and methods neither backend
/// implements are refused: proxied, they failed inside the proxy and counted as
/// the backend's 5xx, the number that drives alerts and automatic rollback.
fn request_filter(req: &Request, settings: &Settings) -> Result<Option<Result<Response>>> {
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
        return Ok(Some(Ok(resp)));
    }
    let raw_method = req.inner().method();
    if !routing::is_known_method(&raw_method) {
        let resp =
            respond::error(501, &format!("method {raw_method} is not supported")).and_then(|r| {
                r.headers()
                    .set("Allow", &routing::KNOWN_METHODS.join(", "))
                    .map(|_| r)
            });
        return Ok(Some(resp));
    }
    Ok(None)
}

/// What the decision reads of a request, owned so that [`RequestFacts`] can
/// borrow it while the request itself moves on upstream.
struct Incoming {
    url: Url,
    method: String,
    host: String,
    cookies: String,
    client_ip: Option<String>,
    beta_header: Option<String>,
    beta_token_header: Option<String>,
    authorization: Option<String>,
    now_unix: i64,
}

impl Incoming {
    fn read(req: &Request) -> Result<Incoming> {
        let headers = req.headers();
        Ok(Incoming {
            url: req.url()?,
            method: req.method().to_string(),
            host: headers.get("Host")?.unwrap_or_default(),
            cookies: headers.get("Cookie")?.unwrap_or_default(),
            client_ip: headers.get("CF-Connecting-IP")?,
            beta_header: headers.get("X-Beta-User")?,
            beta_token_header: headers.get(routing::BETA_TOKEN_HEADER)?,
            authorization: headers.get("Authorization")?,
            now_unix: (Date::now().as_millis() / 1000) as i64,
        })
    }

    fn facts(&self, settings: &Settings) -> RequestFacts<'_> {
        RequestFacts {
            method: &self.method,
            path: self.url.path(),
            host: &self.host,
            client_ip: self.client_ip.as_deref(),
            beta_header: self.beta_header.as_deref(),
            beta_token: routing::cookie_value(&self.cookies, routing::BETA_COOKIE_NAME)
                .or(self.beta_token_header.as_deref()),
            sticky_cookie: routing::cookie_value(&self.cookies, routing::STICKY_COOKIE_NAME),
            identity: routing::identity(
                self.authorization.as_deref(),
                &settings.jwt,
                self.now_unix,
            ),
            now_unix: self.now_unix,
        }
    }
}

/// The limit phase: the rate limit of a routed request (its class, keyed by
/// user or address); the 429 when its budget is used up. The operator token's
/// bulk imports are not held to it.
async fn limit(req: &Request, env: &Env, route: &Route<'_>) -> Option<Result<Response>> {
    let facts = &route.facts;
    let limit = routing::limit_for(&routing::LimitFacts {
        method: facts.method,
        path: facts.path,
        client_ip: facts.client_ip,
        identity: facts.identity,
        operator: route.reason == routing::Reason::AppAdmin && operator_token(req, env),
    })?;
    rate_limited(env, &limit).await
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
