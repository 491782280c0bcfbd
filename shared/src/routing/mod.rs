//! Routing decision: which backend serves a request.

mod bucket;
mod config;
mod http;
mod signed;

pub use bucket::{bucket_of, client_key, fnv1a64, BUCKETS, UNKNOWN_CLIENT_KEY};
pub use config::{
    config_from_raw, keys, parse_flag, parse_maintenance, parse_percentage, parse_route_pins,
    parse_staging_hosts, Backend, ConfigError, Maintenance, RawConfig, RolloutConfig, RoutePin,
};
pub use http::{
    cookie_value, forwarded_headers, https_redirect, is_gateway_path, normalize_host,
    valid_request_id, SECURITY_HEADERS,
};
pub use signed::{
    beta_token_claims, mint_beta_token, sticky_cookie_value, sticky_set_cookie, verify_beta_token,
    verify_sticky, BetaClaims, SigningKey, BETA_COOKIE_NAME, BETA_TOKEN_HEADER, STICKY_COOKIE_NAME,
    STICKY_MAX_AGE_SECS,
};

/// Chooses the backend for a traffic percentage (0..=100). Placeholder until the
/// bucketing decision lands.
pub fn backend_for_percentage(percentage: u8) -> Backend {
    if percentage >= 100 {
        Backend::App
    } else {
        Backend::Legacy
    }
}
