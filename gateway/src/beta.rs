//! Canary testers' beta access (`shared::ops::beta`): admins issue, list and
//! revoke tokens (`/admin/beta`); a tester opens the invite link
//! (`/beta/join?token=...`), which puts the token in the `lc_beta` cookie, and
//! `/beta/leave` takes it out. The records live in the metrics Durable Object;
//! the revoked ids go to `MIGRATION_KV` `beta_revoked`, which every isolate reads
//! with its rollout config, so no request looks a token up.

use crate::control::{self, Change};
use crate::metrics;
use crate::respond;
use crate::rollout::Snapshot;
use crate::settings::Settings;
use serde_json::json;
use shared::ops::admin::Admin;
use shared::ops::beta::{self, BetaRecord};
use shared::routing::{self, keys};
use worker::{Date, Env, Method, Request, Response, Result};

fn now_unix() -> i64 {
    (Date::now().as_millis() / 1000) as i64
}

/// `POST /admin/beta` `{label, expires_in, slot}`: a new token and its invite
/// link (201); a token with a slot is served by that app slot.
pub async fn issue(
    mut req: Request,
    env: &Env,
    settings: &Settings,
    admin: &Admin,
) -> Result<Response> {
    let body = req.text().await.unwrap_or_default();
    let ask = match beta::parse_issue(&body) {
        Ok(ask) => ask,
        Err(message) => return respond::error(400, &message),
    };
    let expires_at = now_unix() + ask.lifetime_secs;
    let token = routing::mint_beta_token(&settings.signing_key, expires_at, &ask.label, ask.slot);
    let id = routing::token_id(&token).expect("a minted token has a signature");
    let record = BetaRecord {
        id: id.clone(),
        label: ask.label.clone(),
        issued_by: admin.name.clone(),
        issued_at: control::now_iso(),
        expires_at,
        last_seen: None,
        revoked_at: None,
        slot: ask.slot.map(|s| s.name().to_string()),
    };
    metrics::add_beta_record(env, &record).await?;
    let change = Change {
        who: &admin.name,
        action: "issue_beta",
        old: String::new(),
        new: format!("{id} ({})", ask.label),
        reason: None,
    };
    control::record(env, &record.issued_at, change).await?;
    let origin = req.url()?.origin().ascii_serialization();
    let resp = Response::from_json(&json!({
        "id": id,
        "label": record.label,
        "token": token,
        "invite_link": beta::invite_link(&origin, &token),
        "expires_at": expires_at,
        "slot": record.slot,
        "issued_by": record.issued_by,
        "issued_at": record.issued_at,
    }))?;
    Ok(resp.with_status(201))
}

/// `GET /admin/beta`: every token issued (newest first), with its last request.
pub async fn list(env: &Env) -> Result<Response> {
    Response::from_json(&json!({ "tokens": metrics::beta_records(env).await? }))
}

/// `DELETE /admin/beta/<id>`: the token stops routing within the config cache time.
pub async fn revoke(env: &Env, admin: &Admin, id: &str) -> Result<Response> {
    let at = control::now_iso();
    let Some(revoked) = metrics::revoke_beta(env, id, &at).await? else {
        return respond::error(404, &format!("no beta token {id}"));
    };
    let kv = crate::bindings::migration_kv(env)?;
    kv.put(keys::BETA_REVOKED, serde_json::to_string(&revoked)?)?
        .execute()
        .await?;
    let change = Change {
        who: &admin.name,
        action: "revoke_beta",
        old: id.to_string(),
        new: "revoked".into(),
        reason: None,
    };
    control::record(env, &at, change).await?;
    Response::from_json(&json!({ "success": true, "id": id, "revoked": revoked }))
}

/// `GET /beta/join?token=...`: a valid token goes into the `lc_beta` cookie and the
/// tester is sent to `/` without it in the address; anything else is refused
/// (403, a page or JSON) and spends the address's credential-attempt budget, so
/// tokens cannot be guessed faster than passwords.
pub async fn join(
    req: Request,
    env: &Env,
    settings: &Settings,
    snapshot: &Snapshot,
) -> Result<Response> {
    if !matches!(req.method(), Method::Get | Method::Head) {
        return respond::error(405, "method not allowed");
    }
    let token = respond::query_param(&req, "token")?;
    let now = now_unix();
    let claims = routing::beta_token_claims(&settings.signing_key, &token, now).filter(|_| {
        routing::token_id(&token).is_some_and(|id| !snapshot.config.beta_revoked.contains(&id))
    });
    let Some(claims) = claims else {
        let ip = req.headers().get("CF-Connecting-IP")?;
        let attempt = routing::Limit::auth_attempt(ip.as_deref());
        if let Some(refusal) = crate::rate_limited(env, &attempt).await {
            return refusal;
        }
        return respond::page_or_json(
            &req,
            403,
            "Invitation not valid",
            "This beta invitation is not valid: it has expired, was revoked, or the link is incomplete. Ask for a new one.",
            ("beta", "refused"),
        );
    };
    let cookie = beta::join_cookie(&token, claims.expires_at_unix - now, !settings.local_dev);
    redirect_home(&cookie)
}

/// `/beta/leave`: the cookie expired, back to `/` (and so to the split).
pub fn leave(settings: &Settings) -> Result<Response> {
    redirect_home(&beta::leave_cookie(!settings.local_dev))
}

fn redirect_home(cookie: &str) -> Result<Response> {
    let resp = Response::empty()?.with_status(302);
    let headers = resp.headers();
    headers.set("Location", "/")?;
    headers.set("Set-Cookie", cookie)?;
    headers.set("Cache-Control", "no-store")?;
    Ok(resp)
}
