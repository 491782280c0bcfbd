//! `/api/accounts/*`: the legacy accounts API, same shapes and status codes as Django's.

use crate::audit;
use crate::auth::AuthUser;
use crate::body::json_body;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, detail, json};
use crate::{limits, settings, tokens, users};
use serde_json::{json, Value};
use shared::accounts::{self as rules, BAD_CREDENTIALS, USERNAME_TAKEN};
use shared::jwt::{self, simplejwt_error_body, JwtConfig, TokenType};
use shared::password;
use worker::{Env, Request};

/// Verified against when the username is unknown, so that a miss costs the same time as a
/// wrong password and does not reveal which usernames exist (Django does the same).
const TIMING_DUMMY_HASH: &str =
    "pbkdf2_sha256$870000$timingdummysalt0000000$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// Iterations hashed between yields: about 10 ms of CPU in workerd.
const HASH_SLICE: u32 = 20_000;

/// Runs a password hash slice by slice. One isolate serves many requests at
/// once, and a whole hash holds all of them up for about half a second;
/// yielding to the event loop between slices lets them through.
async fn sliced<S: password::Slices>(mut work: S) -> S {
    while !work.advance(HASH_SLICE) {
        worker::Delay::from(std::time::Duration::ZERO).await;
    }
    work
}

fn jwt_config(env: &Env) -> ApiResult<JwtConfig> {
    settings::jwt(env).ok_or_else(|| ApiError::internal("config", "JWT_SECRET is not set"))
}

fn internal(context: &'static str) -> impl FnOnce(worker::Error) -> ApiError {
    move |e| ApiError::internal(context, e)
}

/// A new token pair for `user`.
async fn issue(
    env: &Env,
    cfg: &JwtConfig,
    user: &users::User,
    now: i64,
    session: Option<&str>,
) -> ApiResult<tokens::Pair> {
    tokens::issue_pair(env, cfg, &user.token_user(), now, session)
        .await
        .map_err(internal("issue tokens"))
}

/// Records an account event about the username a request gave.
async fn record_username(
    env: &Env,
    req: &Request,
    user: Option<i64>,
    action: &str,
    username: &str,
) {
    audit::record(env, req, user, action, json!({"username": username})).await;
}

/// The body sent with a new token pair: the legacy keys, the Workers-era names and the user.
fn pair_body(pair: &tokens::Pair, user: &users::User, extra: &[(&str, Value)]) -> Value {
    let mut body = pair.body();
    body.insert("user".into(), user.public());
    for (k, v) in extra {
        body.insert((*k).into(), v.clone());
    }
    Value::Object(body)
}

pub async fn register(req: &mut Request, env: &Env) -> ApiResult {
    let body = json_body(req).await?;
    let taken = match rules::candidate_username(&body) {
        Some(name) => users::exists(env, &name)
            .await
            .map_err(internal("user lookup"))?,
        None => false,
    };
    let form = rules::validate_registration(&body, taken)
        .map_err(|e| ApiError::Body(400, Value::Object(e)))?;
    let cfg = jwt_config(env)?;
    let salt = password::make_salt(&http::random_bytes::<32>().map_err(internal("salt"))?);
    let hash = sliced(password::hashing(
        &form.password,
        &salt,
        password::DJANGO_DEFAULT_ITERATIONS,
    ))
    .await
    .encoded();
    let offset = settings::user_id_offset(env);
    let user = match users::create(env, offset, &form.username, &form.email, &hash).await {
        Ok(user) => user,
        Err(users::CreateError::UsernameTaken) => {
            return Err(ApiError::Body(400, json!({"username": [USERNAME_TAKEN]})))
        }
        Err(users::CreateError::Db(e)) => return Err(ApiError::internal("user insert", e)),
    };
    let pair = issue(env, &cfg, &user, http::now_unix(), None).await?;
    record_username(env, req, Some(user.id), "register", &user.username).await;
    let detail = ("detail", json!("User created successfully"));
    Ok(json(201, &pair_body(&pair, &user, &[detail])))
}

pub async fn login(req: &mut Request, env: &Env) -> ApiResult {
    sign_in(req, env, false).await
}

/// `POST /api/admin/login`, the dashboard's sign-in: the same checks and the same
/// per-address and per-username throttles as `login/`; a user who is not an admin
/// gets a 403 and no tokens.
pub async fn admin_login(req: &mut Request, env: &Env) -> ApiResult {
    sign_in(req, env, true).await
}

async fn sign_in(req: &mut Request, env: &Env, admins_only: bool) -> ApiResult {
    let body = json_body(req).await?;
    let creds = rules::validate_login(&body).map_err(|e| ApiError::Body(400, Value::Object(e)))?;
    let cfg = jwt_config(env)?;
    let now = http::now_unix();
    let ip = http::client_ip(req);
    if let Some(wait) = limits::retry_after(env, &creds.username, ip.as_deref(), now)
        .await
        .map_err(internal("login limits"))?
    {
        record_username(env, req, None, "login_throttled", &creds.username).await;
        let mut resp = detail(
            429,
            &format!("Request was throttled. Expected available in {wait} seconds."),
        );
        let _ = resp.headers_mut().set("Retry-After", &wait.to_string());
        return Err(ApiError::Answer(resp));
    }
    let user = users::by_username(env, &creds.username)
        .await
        .map_err(internal("user lookup"))?;
    let hash = user
        .as_ref()
        .map_or(TIMING_DUMMY_HASH, |u| u.password.as_str());
    let verified = sliced(password::check(&creds.password, hash))
        .await
        .verified();
    let user = match user {
        Some(user) if verified && user.is_active() => user,
        user => {
            limits::record_failure(env, &creds.username, ip.as_deref(), now)
                .await
                .map_err(internal("login limits"))?;
            record_username(
                env,
                req,
                user.map(|u| u.id),
                "login_failed",
                &creds.username,
            )
            .await;
            return Err(ApiError::Detail(401, BAD_CREDENTIALS.into()));
        }
    };
    if admins_only && !user.is_admin() {
        record_username(
            env,
            req,
            Some(user.id),
            "admin_login_refused",
            &creds.username,
        )
        .await;
        return Err(ApiError::Detail(403, "Admin rights required.".into()));
    }
    limits::clear_user(env, &creds.username)
        .await
        .map_err(internal("login limits"))?;
    users::touch_last_login(env, user.id)
        .await
        .map_err(internal("last login"))?;
    let pair = issue(env, &cfg, &user, now, None).await?;
    audit::record(env, req, Some(user.id), "login", json!({})).await;
    Ok(json(200, &pair_body(&pair, &user, &[])))
}

/// Rotation: a new pair is issued; the presented refresh token is revoked unless
/// `REFRESH_TOKEN_REUSE` keeps it usable, as Django does (see `settings::refresh_reuse`).
pub async fn refresh(req: &mut Request, env: &Env) -> ApiResult {
    let body = json_body(req).await?;
    let token =
        rules::validate_refresh(&body).map_err(|e| ApiError::Body(400, Value::Object(e)))?;
    let cfg = jwt_config(env)?;
    let now = http::now_unix();
    let invalid = || ApiError::Body(401, simplejwt_error_body());
    let claims = jwt::verify(&cfg, &token, TokenType::Refresh, now).map_err(|e| {
        worker::console_log!("refresh token refused: {e}");
        invalid()
    })?;
    let session = tokens::usable_session(env, &cfg, &claims)
        .await
        .map_err(internal("refresh lookup"))?
        .ok_or_else(invalid)?;
    let user = users::by_id(env, claims.user_id)
        .await
        .map_err(internal("user lookup"))?
        .filter(users::User::is_active)
        .ok_or_else(invalid)?;
    if !settings::refresh_reuse(env) {
        tokens::revoke(env, &claims, "token_rotated", now)
            .await
            .map_err(internal("revoke"))?;
    }
    let pair = issue(env, &cfg, &user, now, Some(&session)).await?;
    audit::record(
        env,
        req,
        Some(user.id),
        "token_refresh",
        json!({"legacy_token": claims.is_legacy()}),
    )
    .await;
    Ok(json(200, &pair_body(&pair, &user, &[])))
}

/// Revokes the bearer access token and, when the body names one, the caller's refresh token.
/// A refresh token that is invalid or someone else's refuses the whole logout (nothing is
/// revoked), so a client learns its logout did not take.
pub async fn logout(req: &mut Request, env: &Env, caller: AuthUser) -> ApiResult {
    let AuthUser { user, claims } = caller;
    let body = json_body(req).await?;
    let cfg = jwt_config(env)?;
    let now = http::now_unix();
    let refresh = match body.get("refresh") {
        None | Some(Value::Null) => None,
        Some(Value::String(token)) => {
            let refresh = jwt::verify(&cfg, token, TokenType::Refresh, now)
                .ok()
                .filter(|c| c.user_id == user.id)
                .ok_or_else(|| ApiError::Body(401, simplejwt_error_body()))?;
            Some(refresh)
        }
        Some(_) => {
            return Err(ApiError::Body(
                400,
                json!({"refresh": [rules::NOT_A_STRING]}),
            ))
        }
    };
    tokens::revoke(env, &claims, "user_logout", now)
        .await
        .map_err(internal("revoke"))?;
    if let Some(refresh) = &refresh {
        tokens::revoke_session(env, refresh, now)
            .await
            .map_err(internal("revoke"))?;
    }
    audit::record(
        env,
        req,
        Some(user.id),
        "logout",
        json!({"refresh_revoked": refresh.is_some()}),
    )
    .await;
    Ok(detail(200, "Successfully logged out."))
}

pub fn current_user(caller: &AuthUser) -> ApiResult {
    Ok(json(200, &caller.user.public()))
}
