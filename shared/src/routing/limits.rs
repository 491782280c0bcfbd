//! Which rate limit a request spends, if any, and under which key.
//!
//! One budget per client address for everything made a browser with a few tabs
//! (each page load fetches a dozen hashed assets) or an office behind one address
//! run out. So:
//!
//! - content-hashed static files (the frontend's `/assets/...`) spend nothing: they
//!   are cheap, cacheable and never a way to guess anything (nor do health probes:
//!   `/health` is the gateway's own, answered before any limit);
//! - a signed-in person (a valid access token) is limited per user id, so people
//!   behind one address do not share a budget; anyone else per address;
//! - each route class has its own budget: credential attempts (sign-in,
//!   registration, token refresh, and refused admin or beta credentials) the
//!   strictest, always per address since the credential is what is being tried;
//!   writes medium; reads the loosest.

use super::{client_key, normalize_path, Identity};

/// A budget of its own, one rate-limit binding each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitClass {
    /// Credential attempts: sign-in, registration, token refresh, refused
    /// admin and beta credentials.
    Auth,
    /// Requests that change something (any method but GET, HEAD, OPTIONS).
    Write,
    /// GET, HEAD and OPTIONS.
    Read,
}

impl LimitClass {
    pub const ALL: [LimitClass; 3] = [LimitClass::Auth, LimitClass::Write, LimitClass::Read];

    /// The gateway's `[[ratelimits]]` binding of this class.
    pub fn binding(self) -> &'static str {
        match self {
            LimitClass::Auth => "RATE_LIMIT_AUTH",
            LimitClass::Write => "RATE_LIMIT_WRITE",
            LimitClass::Read => "RATE_LIMIT_READ",
        }
    }

    /// Stable name for logs and the 429's body.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitClass::Auth => "auth",
            LimitClass::Write => "write",
            LimitClass::Read => "read",
        }
    }
}

/// The budget a request spends: its class and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub class: LimitClass,
    /// `user:<id>` or `ip:<client key>` (an IPv6 client's /64, see [`client_key`]).
    pub key: String,
}

impl Limit {
    /// A credential attempt from `client_ip`: always the address's budget.
    pub fn auth_attempt(client_ip: Option<&str>) -> Limit {
        Limit {
            class: LimitClass::Auth,
            key: address_key(client_ip),
        }
    }
}

/// What the limit of a proxied request depends on.
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitFacts<'a> {
    pub method: &'a str,
    /// The path as received; read through [`normalize_path`] as the decision is.
    pub path: &'a str,
    /// `CF-Connecting-IP`.
    pub client_ip: Option<&'a str>,
    /// The person of a valid access token ([`super::identity`]).
    pub identity: Option<Identity>,
    /// The operator token on the app's admin API: the cutover tool's bulk
    /// traffic (the app checks the token again; a wrong one is limited).
    pub operator: bool,
}

/// The limit a request to a backend spends; `None` when it spends none.
pub fn limit_for(facts: &LimitFacts) -> Option<Limit> {
    let path = normalize_path(facts.path);
    let read = ["GET", "HEAD", "OPTIONS"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(facts.method));
    if facts.operator || (read && crate::frontend::is_hashed(&path)) {
        return None;
    }
    if !read && is_credential_route(&path) {
        return Some(Limit::auth_attempt(facts.client_ip));
    }
    let key = match facts.identity {
        Some(person) => format!("user:{}", person.user_id),
        None => address_key(facts.client_ip),
    };
    let class = if read {
        LimitClass::Read
    } else {
        LimitClass::Write
    };
    Some(Limit { class, key })
}

fn address_key(client_ip: Option<&str>) -> String {
    format!("ip:{}", client_key(client_ip))
}

/// Where a credential is tried: both sides' sign-in, registration and refresh,
/// and the app's admin sign-in (the dashboard's).
fn is_credential_route(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "/api/accounts/login"
            | "/api/accounts/register"
            | "/api/accounts/token/refresh"
            | "/api/admin/login"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(method: &'a str, path: &'a str) -> LimitFacts<'a> {
        LimitFacts {
            method,
            path,
            client_ip: Some("203.0.113.9"),
            ..LimitFacts::default()
        }
    }

    fn person(user_id: i64) -> Option<Identity> {
        Some(Identity {
            user_id,
            from_app: true,
            issued_at: 0,
        })
    }

    fn class(f: LimitFacts) -> Option<LimitClass> {
        limit_for(&f).map(|l| l.class)
    }

    /// The budget an anonymous `method` to `path` spends from is `want`'s.
    fn counted_as(method: &str, path: &str, want: LimitClass) {
        assert_eq!(class(facts(method, path)), Some(want), "{method} {path}");
    }

    #[test]
    fn hashed_assets_spend_nothing() {
        for path in [
            "/assets/index-1a2b3c.js",
            "/assets/index-1a2b3c.css",
            "/assets/../assets/x.js",
            "/%61ssets/x.js",
        ] {
            for method in ["GET", "HEAD", "get"] {
                assert_eq!(limit_for(&facts(method, path)), None, "{method} {path}");
            }
        }
    }

    #[test]
    fn the_rest_of_the_frontend_and_writes_to_asset_paths_are_counted() {
        // index.html and the favicon change with a deploy; they are not immutable.
        for path in ["/", "/login", "/favicon.svg", "/assetsx/a.js", "/api/../x"] {
            counted_as("GET", path, LimitClass::Read);
        }
        // Only reads are exempt: a POST there is a write like any other, and an
        // unknown method is no read.
        counted_as("POST", "/assets/a.js", LimitClass::Write);
        counted_as("PROPFIND", "/assets/a.js", LimitClass::Write);
    }

    #[test]
    fn credential_attempts_are_the_auth_class_whatever_the_spelling() {
        for path in [
            "/api/accounts/login/",
            "/api/accounts/login",
            "/api/accounts/register/",
            "/api/accounts/token/refresh/",
            "/api/admin/login",
            "/api/accounts/%6cogin/",
            "//api/accounts/x/../login/",
        ] {
            counted_as("POST", path, LimitClass::Auth);
        }
        // Reading those paths tries no credential.
        counted_as("GET", "/api/accounts/login/", LimitClass::Read);
        counted_as("POST", "/api/accounts/logout/", LimitClass::Write);
    }

    #[test]
    fn reads_and_writes_by_method() {
        for method in ["GET", "HEAD", "OPTIONS"] {
            counted_as(
                method,
                "/api/list_cutter/list_saved_files/",
                LimitClass::Read,
            );
        }
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            counted_as(method, "/api/list_cutter/delete/x/", LimitClass::Write);
        }
    }

    #[test]
    fn a_signed_in_person_has_their_own_budget_anyone_else_their_address() {
        let mut f = facts("GET", "/api/accounts/user/");
        assert_eq!(limit_for(&f).unwrap().key, "ip:203.0.113.9");
        f.identity = person(42);
        assert_eq!(limit_for(&f).unwrap().key, "user:42");
        // Two people behind one address: two budgets.
        let mut g = f;
        g.identity = person(43);
        assert_ne!(limit_for(&f).unwrap().key, limit_for(&g).unwrap().key);
        // One person on two addresses: one budget.
        g.identity = person(42);
        g.client_ip = Some("198.51.100.1");
        assert_eq!(limit_for(&f), limit_for(&g));
        // Writes too.
        f.method = "DELETE";
        assert_eq!(
            limit_for(&f),
            Some(Limit {
                class: LimitClass::Write,
                key: "user:42".into()
            })
        );
    }

    #[test]
    fn credential_attempts_stay_per_address_even_with_a_token() {
        let mut f = facts("POST", "/api/accounts/login/");
        f.identity = person(42);
        assert_eq!(
            limit_for(&f),
            Some(Limit::auth_attempt(Some("203.0.113.9")))
        );
        assert_eq!(limit_for(&f).unwrap().key, "ip:203.0.113.9");
    }

    #[test]
    fn addresses_are_keyed_as_the_router_keys_them() {
        let mut f = facts("GET", "/");
        f.client_ip = Some("2001:db8:1:2:aaaa::1");
        assert_eq!(limit_for(&f).unwrap().key, "ip:2001:db8:1:2::/64");
        f.client_ip = None;
        assert_eq!(limit_for(&f).unwrap().key, "ip:unknown");
        // A user id never collides with an address.
        assert!(!limit_for(&f).unwrap().key.starts_with("user:"));
    }

    #[test]
    fn the_operator_token_spends_nothing() {
        let mut f = facts("PUT", "/api/admin/import/files/x");
        f.operator = true;
        assert_eq!(limit_for(&f), None);
        f.operator = false;
        assert_eq!(class(f), Some(LimitClass::Write));
    }

    #[test]
    fn each_class_has_its_own_binding() {
        let bindings: std::collections::HashSet<_> =
            LimitClass::ALL.iter().map(|c| c.binding()).collect();
        assert_eq!(bindings.len(), LimitClass::ALL.len());
    }
}
