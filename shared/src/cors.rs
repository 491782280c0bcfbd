//! The app's CORS policy: an allow-list of origins per environment
//! (`CORS_ALLOWED_ORIGINS`). Legacy reflected any origin with credentials, which
//! lets any site act for a signed-in user; the app answers only the origins listed.
//! Same-origin use (the frontend, the gateway's dashboard) needs no entry.

/// Methods a cross-origin caller may use.
pub const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
/// Request headers a cross-origin caller may send.
pub const ALLOW_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "x-requested-with",
    "x-request-id",
];
/// How long a browser may cache a preflight answer (seconds).
pub const MAX_AGE_SECS: u32 = 600;

/// The allow-list from its var: origins separated by commas or whitespace; an
/// entry is compared without a trailing `/` and case-insensitively. `*` is not
/// accepted: with credentials a wildcard would be any site.
pub fn parse_allowed(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\n', '\t'])
        .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
        .filter(|o| !o.is_empty() && o != "*" && o != "null")
        .collect()
}

/// Whether `origin` (an `Origin` header) is on the list.
pub fn is_allowed(origin: &str, allowed: &[String]) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

/// What to answer a preflight (`OPTIONS` with `Access-Control-Request-Method`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preflight {
    /// 204 with these headers.
    Allow(Vec<(&'static str, String)>),
    /// 403 with this message.
    Refuse(String),
}

/// Decides a preflight from its `Origin`, `Access-Control-Request-Method` and
/// `Access-Control-Request-Headers`.
pub fn preflight(
    origin: &str,
    method: &str,
    request_headers: Option<&str>,
    allowed: &[String],
) -> Preflight {
    if !is_allowed(origin, allowed) {
        return Preflight::Refuse(format!("origin {origin} is not allowed"));
    }
    let method = method.trim();
    if !ALLOW_METHODS.split(", ").any(|m| m == method) {
        return Preflight::Refuse(format!("method {method} is not allowed"));
    }
    let asked: Vec<String> = request_headers
        .unwrap_or_default()
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if let Some(h) = asked.iter().find(|h| !ALLOW_HEADERS.contains(&h.as_str())) {
        return Preflight::Refuse(format!("header {h} is not allowed"));
    }
    let mut headers = response_headers(origin);
    headers.push(("Access-Control-Allow-Methods", ALLOW_METHODS.into()));
    headers.push(("Access-Control-Allow-Headers", ALLOW_HEADERS.join(", ")));
    headers.push(("Access-Control-Max-Age", MAX_AGE_SECS.to_string()));
    Preflight::Allow(headers)
}

/// Headers for an actual response to an allowed origin.
pub fn response_headers(origin: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Access-Control-Allow-Origin", origin.trim().to_string()),
        ("Access-Control-Allow-Credentials", "true".into()),
        ("Vary", "Origin".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Vec<String> {
        parse_allowed("https://listcutter.example, http://localhost:5173/ *,null")
    }

    #[test]
    fn the_list_takes_origins_only() {
        assert_eq!(
            list(),
            ["https://listcutter.example", "http://localhost:5173"]
        );
        assert!(is_allowed("https://ListCutter.example", &list()));
        assert!(!is_allowed("https://evil.example", &list()));
        assert!(!is_allowed("https://listcutter.example.evil", &list()));
        assert!(!is_allowed("null", &list()));
        assert!(parse_allowed("").is_empty());
    }

    #[test]
    fn preflights_are_answered_for_listed_origins_methods_and_headers() {
        let Preflight::Allow(h) = preflight(
            "https://listcutter.example",
            "POST",
            Some("Content-Type, Authorization"),
            &list(),
        ) else {
            panic!("refused")
        };
        assert!(h.contains(&(
            "Access-Control-Allow-Origin",
            "https://listcutter.example".into()
        )));
        assert!(h.contains(&("Access-Control-Allow-Credentials", "true".into())));
        assert!(h.iter().any(|(k, _)| *k == "Access-Control-Max-Age"));
        for (origin, method, headers) in [
            ("https://evil.example", "POST", None),
            ("https://listcutter.example", "PROPFIND", None),
            ("https://listcutter.example", "GET", Some("x-secret")),
        ] {
            assert!(
                matches!(
                    preflight(origin, method, headers, &list()),
                    Preflight::Refuse(_)
                ),
                "{origin} {method} {headers:?}"
            );
        }
    }
}
