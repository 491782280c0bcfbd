//! Shadow diffing on the request path (the rules are `shared::shadow`). For a
//! sampled safe request on a shadowable route, the user's answer goes back as it
//! came — same status, headers and bytes, its body one branch of a tee — and in
//! `wait_until` the gateway reads the other branch, then asks the side that did not
//! serve (and now and then the serving side again, to learn noise), compares, and
//! hands the result to the metrics Durable Object in batches. Nothing here can
//! delay or fail the user's request: a shadow request that fails or outlasts
//! `SHADOW_TIMEOUT_MS` is counted as a shadow error.

use crate::rollout::Snapshot;
use crate::settings::Settings;
use crate::upstream;
use futures_util::future::{join, select, Either};
use shared::ops::batch::Batch;
use shared::routing::Slot;
use shared::routing::{Backend, Reason};
use shared::shadow::compare::{Answer, MAX_BODY_BYTES};
use shared::shadow::{self, Observation, Outcome, Route};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use worker::wasm_bindgen::JsCast;
use worker::{
    js_sys, web_sys, Context, Date, Delay, Env, Headers, Method, Request, RequestInit, Response,
    ResponseBuilder, Result,
};

/// How long after the served answer is read the copies are sent.
const DEFER_MS: u64 = 3;

thread_local! {
    static BUFFER: RefCell<Batch<Observation>> = const { RefCell::new(Batch::new()) };
    /// Requests mirrored per route in this isolate (for `rate::probes_noise`).
    static MIRRORED: RefCell<BTreeMap<&'static str, u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// A request to mirror, taken before the original goes upstream.
pub struct Plan {
    route: &'static Route,
    method: Method,
    url: String,
    path: String,
    /// The client's headers as they came (the token included: both sides accept
    /// each other's tokens), marked `X-Shadow: 1`.
    headers: Headers,
    primary: Backend,
    slot: Slot,
    request_id: String,
    host: String,
    probe_noise: bool,
}

/// Whether this request is mirrored, and how.
pub fn plan(
    req: &Request,
    snapshot: &Snapshot,
    backend: Backend,
    reason: Reason,
    request_id: &str,
    host: &str,
) -> Option<Plan> {
    // A body can be sent once; a safe request with one is not mirrored.
    if snapshot.shadow_rate <= 0.0 || reason == Reason::AppAdmin || req.inner().body().is_some() {
        return None;
    }
    let method = req.method();
    let url = req.url().ok()?;
    let route = shadow::shadowable(method.as_ref(), url.path())?;
    if !shadow::rate::sampled(snapshot.shadow_rate, js_sys::Math::random()) {
        return None;
    }
    let nth = MIRRORED.with(|m| {
        let mut m = m.borrow_mut();
        let n = m.entry(route.path).or_default();
        *n += 1;
        *n - 1
    });
    let headers = upstream::copy(req.headers()).ok()?;
    headers.set("X-Shadow", "1").ok()?;
    Some(Plan {
        route,
        method,
        url: url.to_string(),
        path: url.path().to_string(),
        headers,
        primary: backend,
        slot: snapshot.slot,
        request_id: request_id.to_string(),
        host: host.to_string(),
        probe_noise: shadow::rate::probes_noise(nth),
    })
}

impl Plan {
    fn branch(&self, side: Backend) -> &'static str {
        match side {
            Backend::Legacy => "legacy",
            Backend::App => self.slot.branch(),
        }
    }
}

/// The user's answer, unchanged, with the comparison started behind it.
pub fn mirror(plan: Plan, resp: Response, env: &Env, ctx: &Context) -> Result<Response> {
    let raw = web_sys::Response::from(resp);
    let status = raw.status();
    let headers = Headers(web_sys::Headers::new_with_headers(&raw.headers())?);
    let (user_body, copy) = match raw.body() {
        Some(body) => {
            let branches = body.tee();
            (
                Some(branches.get(0).unchecked_into::<web_sys::ReadableStream>()),
                Some(branches.get(1).unchecked_into::<web_sys::ReadableStream>()),
            )
        }
        None => (None, None),
    };
    let compared: Vec<(String, String)> = headers.entries().collect();
    let builder = ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers);
    let user = match user_body {
        Some(body) => builder.stream(body),
        None => builder.empty(),
    };
    let env = env.clone();
    ctx.wait_until(async move {
        let observation = compare(&plan, &env, status, compared, copy).await;
        if let Some(batch) = BUFFER.with(|b| b.borrow_mut().push(observation, now())) {
            if let Err(err) = crate::metrics::record_shadow(&env, &batch).await {
                worker::console_warn!("shadow flush of {} results failed: {err}", batch.len());
            }
        }
    });
    Ok(user)
}

/// Sends what this isolate still holds (for readers that must see it).
pub async fn flush(env: &Env) -> Result<()> {
    let batch = BUFFER.with(|b| b.borrow_mut().take());
    if batch.is_empty() {
        return Ok(());
    }
    crate::metrics::record_shadow(env, &batch).await
}

fn now() -> u64 {
    Date::now().as_millis()
}

async fn compare(
    plan: &Plan,
    env: &Env,
    status: u16,
    headers: Vec<(String, String)>,
    copy: Option<web_sys::ReadableStream>,
) -> Observation {
    let candidate_side = match plan.primary {
        Backend::Legacy => Backend::App,
        Backend::App => Backend::Legacy,
    };
    let outcome = match read_capped(copy).await {
        // Nothing to compare against: no copy is sent.
        Err(err) => Outcome::Failed {
            error: format!("reading the served answer: {err}"),
        },
        Ok(body) => {
            let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
            let primary = Answer::new(status, pairs, body.as_deref());
            against(plan, env, &primary, candidate_side).await
        }
    };
    Observation {
        at_ms: now(),
        route: plan.route.template(plan.method.as_ref()),
        path: plan.path.clone(),
        primary: plan.branch(plan.primary).to_string(),
        candidate: plan.branch(candidate_side).to_string(),
        outcome,
    }
}

/// The served answer against `candidate_side`'s, and against the serving side's
/// second answer when this request probes noise.
async fn against(plan: &Plan, env: &Env, primary: &Answer, candidate_side: Backend) -> Outcome {
    let settings = Settings::from_env(env);
    let probe = async {
        match plan.probe_noise {
            true => Some(ask(plan, env, &settings, plan.primary).await),
            false => None,
        }
    };
    // The copies go out once the served answer is read whole and its bytes had a
    // moment to leave: asked at once, the other side's work shares the isolate's
    // thread with the user's answer on its way out (docs/benchmarks.md).
    Delay::from(Duration::from_millis(DEFER_MS)).await;
    let (candidate, probe) = join(ask(plan, env, &settings, candidate_side), probe).await;
    match candidate {
        Err(error) => Outcome::Failed { error },
        Ok(candidate) => {
            let noise = match probe {
                Some(Ok(second)) => Some(
                    shadow::compare(plan.route, primary, &second)
                        .iter()
                        .map(|d| d.pattern())
                        .collect(),
                ),
                _ => None,
            };
            Outcome::Compared {
                differences: shadow::compare(plan.route, primary, &candidate),
                noise,
            }
        }
    }
}

type Sent = Result<std::result::Result<Response, upstream::Failure>>;

/// `side`'s answer to a copy of the request, within `SHADOW_TIMEOUT_MS`
/// (headers and body), or why there was none.
async fn ask(
    plan: &Plan,
    env: &Env,
    settings: &Settings,
    side: Backend,
) -> std::result::Result<Answer, String> {
    let timeout_ms = settings.shadow_timeout_ms;
    let attempt = async move {
        let mut init = RequestInit::new();
        init.with_method(plan.method.clone())
            .with_headers(upstream::copy(&plan.headers)?);
        let req = Request::new_with_init(&plan.url, &init)?;
        let sent: Pin<Box<dyn Future<Output = Sent>>> = match side {
            Backend::Legacy => Box::pin(upstream::send_legacy(
                req,
                settings,
                &plan.request_id,
                &plan.host,
                timeout_ms,
            )),
            Backend::App => Box::pin(upstream::send_app(req, env, plan.slot, &plan.request_id)),
        };
        match sent.await? {
            Ok(resp) => {
                let raw = web_sys::Response::from(resp);
                let headers: Vec<(String, String)> = Headers(raw.headers()).entries().collect();
                let body = read_capped(raw.body()).await?;
                let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                Ok::<_, worker::Error>(Ok(Answer::new(raw.status(), pairs, body.as_deref())))
            }
            Err(failure) => Ok(Err(failure.message.to_string())),
        }
    };
    let timeout = Delay::from(Duration::from_millis(timeout_ms.into()));
    let outcome = select(Box::pin(attempt), timeout).await;
    match outcome {
        Either::Left((Ok(answer), _)) => answer,
        Either::Left((Err(err), _)) => Err(err.to_string()),
        Either::Right(_) => Err(format!("no answer within {timeout_ms} ms")),
    }
}

/// A body's bytes, or `None` past `MAX_BODY_BYTES` (the rest is cancelled, so a
/// long download is never held here).
async fn read_capped(body: Option<web_sys::ReadableStream>) -> Result<Option<Vec<u8>>> {
    let Some(stream) = body else {
        return Ok(Some(Vec::new()));
    };
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut out = Vec::new();
    loop {
        let chunk = worker::wasm_bindgen_futures::JsFuture::from(reader.read()).await?;
        if js_sys::Reflect::get(&chunk, &"done".into())?.is_truthy() {
            return Ok(Some(out));
        }
        let bytes = js_sys::Uint8Array::new(&js_sys::Reflect::get(&chunk, &"value".into())?);
        if out.len() + bytes.length() as usize > MAX_BODY_BYTES {
            let _ = worker::wasm_bindgen_futures::JsFuture::from(reader.cancel()).await;
            return Ok(None);
        }
        out.extend(bytes.to_vec());
    }
}
