//! Routing decision: which backend serves a request.
//!
//! Pure and deterministic so the gateway stays a thin adapter and every rule of
//! the cutover can be tested without a Worker. Precedence, first match wins:
//!
//! 1. gateway paths (`/admin*`, `/health`, `/metrics`); the app's admin API
//!    (`/api/admin/*`, the cutover tool's import/export) → app, whatever the
//!    maintenance mode, pins or split say
//! 2. maintenance (full, or write freeze for non-read methods)
//! 3. route pins
//! 4. staging hosts → app
//! 5. beta testers (`X-Beta-User: true` when enabled, or a signed, unrevoked beta
//!    token in the `lc_beta` cookie, `X-Beta-Token` or `X-Beta-User`) → app
//! 6. a valid access token (either side's) → the bucket of its user id; a token
//!    younger than the replication bound → the side that issued it
//! 7. a valid sticky cookie → its bucket
//! 8. the bucket of the client's IP (and set the sticky cookie)

mod bucket;
mod config;
mod http;
pub mod http1;
mod identity;
mod last_known;
mod limits;
mod revocation;
mod signed;
mod slot;

pub use bucket::{bucket_of, client_key, fnv1a64, BUCKETS, UNKNOWN_CLIENT_KEY};
pub use config::{
    config_from_raw, keys, parse_flag, parse_maintenance, parse_percentage, parse_route_pins,
    parse_staging_hosts, Backend, ConfigError, Maintenance, RawConfig, RolloutConfig, RoutePin,
    DEFAULT_IDENTITY_HOLD_SECS,
};
pub use http::{
    bearer, closes_connection, cookie_value, forwarded_headers, https_redirect, is_app_admin_path,
    is_gateway_path, is_known_method, is_sign_in, normalize_host, normalize_path, valid_request_id,
    KNOWN_METHODS, SECURITY_HEADERS, SIGN_IN_BODY_LIMIT,
};
pub use identity::{identity, user_bucket, Identity};
pub use last_known::LastKnown;
pub use limits::{limit_for, Limit, LimitClass, LimitFacts};
pub use revocation::{parse_revoked, token_id, TOKEN_ID_LEN};
pub use signed::{
    beta_token_claims, mint_beta_token, sticky_cookie_value, sticky_set_cookie, verify_beta_token,
    verify_sticky, BetaClaims, SigningKey, BETA_COOKIE_NAME, BETA_TOKEN_HEADER, STICKY_COOKIE_NAME,
    STICKY_MAX_AGE_SECS,
};
pub use slot::Slot;

use serde::Serialize;

/// What the gateway knows about a request, already extracted from headers so
/// the decision needs no HTTP types.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// URL path as received (a query part is tolerated); the decision reads it
    /// through [`normalize_path`], as the origins will.
    pub path: &'a str,
    /// `Host` header (port allowed).
    pub host: &'a str,
    /// `CF-Connecting-IP`.
    pub client_ip: Option<&'a str>,
    /// `X-Beta-User`: `true`, or a signed beta token.
    pub beta_header: Option<&'a str>,
    /// The `lc_beta` cookie, else the `X-Beta-Token` header.
    pub beta_token: Option<&'a str>,
    /// The `lc_route` cookie value.
    pub sticky_cookie: Option<&'a str>,
    /// The person signed in, from a valid access token ([`identity`]).
    pub identity: Option<Identity>,
    /// Current time, for beta token expiry.
    pub now_unix: i64,
}

/// Why a request went where it did, for `X-Route-Reason`, logs and metrics, so
/// an operator can tell a percentage move from a pin or a tester.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A route pin matched.
    Pin,
    /// The host is a staging host.
    Staging,
    /// `X-Beta-User: true` with the header switch on.
    BetaHeader,
    /// A valid signed beta token.
    BetaToken,
    /// The bucket came from the signed-in person's id.
    Identity,
    /// A token younger than the replication bound: the side that issued it.
    IdentityFresh,
    /// The bucket came from a valid sticky cookie.
    Sticky,
    /// The bucket came from the client's IP.
    Bucket,
    /// The app's admin API, which exists only on the app.
    AppAdmin,
}

impl Reason {
    /// Stable name for the `X-Route-Reason` header and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Pin => "pin",
            Reason::Staging => "staging",
            Reason::BetaHeader => "beta_header",
            Reason::BetaToken => "beta_token",
            Reason::Identity => "identity",
            Reason::IdentityFresh => "identity_fresh",
            Reason::Sticky => "sticky",
            Reason::Bucket => "bucket",
            Reason::AppAdmin => "app_admin",
        }
    }
}

/// The outcome for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The gateway answers itself (admin, health, metrics).
    Gateway,
    /// Answer 503 with `Retry-After`; `write_freeze` tells the adapter to
    /// explain that only writes are paused.
    Maintenance {
        /// True when reads still pass and only this write is refused.
        write_freeze: bool,
    },
    /// Proxy to a backend.
    Route {
        /// Where to send it.
        backend: Backend,
        /// Which rule decided.
        reason: Reason,
        /// The client's bucket when a bucket decided (sticky or IP).
        bucket: Option<u8>,
        /// A full `Set-Cookie` value to add to the response, when the client
        /// has no valid sticky cookie yet.
        set_sticky: Option<String>,
    },
}

/// Methods that change nothing, so a write freeze can let them through.
/// OPTIONS is included so CORS preflights of frozen writes fail on the write,
/// not on the preflight.
fn is_read_method(method: &str) -> bool {
    ["GET", "HEAD", "OPTIONS"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// Whether `host` is one of the staging hosts: equal to an entry, or starting
/// with an entry that ends in `.` (e.g. `staging.`). Port, trailing dot and case
/// are ignored.
pub fn is_staging_host(host: &str, staging_hosts: &[String]) -> bool {
    let host = normalize_host(host);
    if host.is_empty() {
        return false;
    }
    staging_hosts.iter().any(|entry| {
        let entry = entry.trim();
        if entry.is_empty() {
            return false;
        }
        if entry.ends_with('.') {
            host.len() > entry.len()
                && host.as_bytes()[..entry.len()].eq_ignore_ascii_case(entry.as_bytes())
        } else {
            host.eq_ignore_ascii_case(entry.strip_suffix('.').unwrap_or(entry))
        }
    })
}

/// The backend for a bucket at a percentage. Buckets below the percentage go to
/// the app, which is what makes raising it move clients one way only.
pub fn backend_for_bucket(bucket: u8, percentage: u8) -> Backend {
    if bucket < percentage {
        Backend::App
    } else {
        Backend::Legacy
    }
}

/// The request's beta token that routes it to the app: signed, unexpired and not
/// revoked, from the `lc_beta` cookie or `X-Beta-Token`, else from `X-Beta-User`
/// (the header the seed names carries the same token, in every environment).
pub fn beta_token<'a>(
    req: &RequestFacts<'a>,
    cfg: &RolloutConfig,
    key: &SigningKey,
) -> Option<&'a str> {
    let header = req
        .beta_header
        .filter(|v| !v.trim().eq_ignore_ascii_case("true"));
    [req.beta_token, header].into_iter().flatten().find(|t| {
        verify_beta_token(key, t, req.now_unix)
            && token_id(t).is_some_and(|id| !cfg.beta_revoked.contains(&id))
    })
}

/// Decides where a request goes. `cookie_secure` is false only in local dev
/// (plain http), where a `Secure` sticky cookie would never come back.
pub fn decide(
    req: &RequestFacts,
    cfg: &RolloutConfig,
    key: &SigningKey,
    cookie_secure: bool,
) -> Decision {
    let path = normalize_path(req.path);
    if is_gateway_path(&path) {
        return Decision::Gateway;
    }
    let fixed = |backend, reason| Decision::Route {
        backend,
        reason,
        bucket: None,
        set_sticky: None,
    };
    // The final sync runs during a write freeze, so the import API is not frozen.
    if is_app_admin_path(&path) {
        return fixed(Backend::App, Reason::AppAdmin);
    }

    match cfg.maintenance {
        Maintenance::Off => {}
        Maintenance::Full => {
            return Decision::Maintenance {
                write_freeze: false,
            }
        }
        Maintenance::WriteFreeze if !is_read_method(req.method) => {
            return Decision::Maintenance { write_freeze: true }
        }
        Maintenance::WriteFreeze => {}
    }

    if let Some(pin) = cfg.pins.iter().find(|p| p.matches(req.method, &path)) {
        return fixed(pin.backend, Reason::Pin);
    }

    if is_staging_host(req.host, &cfg.staging_hosts) {
        return fixed(Backend::App, Reason::Staging);
    }

    let beta_header = req
        .beta_header
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if cfg.beta_header_enabled && beta_header {
        return fixed(Backend::App, Reason::BetaHeader);
    }
    if beta_token(req, cfg, key).is_some() {
        return fixed(Backend::App, Reason::BetaToken);
    }

    if let Some(person) = req.identity {
        if req.now_unix.saturating_sub(person.issued_at) < i64::from(cfg.identity_hold_secs) {
            let side = if person.from_app {
                Backend::App
            } else {
                Backend::Legacy
            };
            return fixed(side, Reason::IdentityFresh);
        }
        let bucket = user_bucket(person.user_id);
        return Decision::Route {
            backend: backend_for_bucket(bucket, cfg.percentage),
            reason: Reason::Identity,
            bucket: Some(bucket),
            set_sticky: None,
        };
    }

    if let Some(bucket) = req.sticky_cookie.and_then(|v| verify_sticky(key, v)) {
        return Decision::Route {
            backend: backend_for_bucket(bucket, cfg.percentage),
            reason: Reason::Sticky,
            bucket: Some(bucket),
            set_sticky: None,
        };
    }

    let bucket = bucket_of(&client_key(req.client_ip));
    Decision::Route {
        backend: backend_for_bucket(bucket, cfg.percentage),
        reason: Reason::Bucket,
        bucket: Some(bucket),
        set_sticky: Some(sticky_set_cookie(key, bucket, cookie_secure)),
    }
}

#[cfg(test)]
mod tests;
