//! Small HTTP rules the gateway applies around the routing decision, kept here
//! so they are tested natively rather than only through a running Worker.

/// Headers on every gateway response. HSTS with preload because the site is
/// https-only outside local dev; the rest close off sniffing, framing and
/// referrer leaks for both backends alike.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "Strict-Transport-Security",
        "max-age=31536000; includeSubDomains; preload",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("X-XSS-Protection", "1; mode=block"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
];

/// The methods either backend implements. Anything else (`PROPFIND`, `MKCOL`,
/// `PURGE`, `TRACE`, ...) is answered by the gateway itself with a 501: passed on, it
/// failed inside the proxy and was counted as the app's 5xx, which let any client
/// push the error rate that drives automatic rollback.
pub const KNOWN_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Whether `method` is one of [`KNOWN_METHODS`] (methods are case-sensitive).
pub fn is_known_method(method: &str) -> bool {
    KNOWN_METHODS.contains(&method)
}

/// Whether a request to the legacy origin goes on a connection of its own
/// (`http1`), never a pooled one. Legacy's `delete/<id>/` answers `204 No Content` with
/// `Content-Length: 40` and a JSON body: a client that honours the 204 leaves
/// those bytes on the connection, and the next request on it reads them as its
/// status line and fails, though the origin did handle it (so it cannot be
/// retried). A DELETE is the only request whose answer is a 204 there.
pub fn closes_connection(method: &str) -> bool {
    method.eq_ignore_ascii_case("DELETE")
}

/// The path as the origins will interpret it, for the routing decision only (what
/// is forwarded stays as the client sent it): percent-escapes decoded (WSGI hands
/// Django a decoded `PATH_INFO`, so `/admin%2flogin%2f` *is* `/admin/login/` there),
/// backslashes kept, runs of `/` collapsed and `.`/`..` segments resolved. A query
/// or fragment is dropped. Decoded bytes that are not UTF-8 are replaced, which
/// cannot make a path look like another known prefix.
pub fn normalize_path(raw: &str) -> String {
    let raw = raw.split(['?', '#']).next().unwrap_or(raw);
    let decoded = percent_decode(raw);
    let mut segments: Vec<&str> = Vec::new();
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap() * 16 + hex(l).unwrap()) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Paths the gateway answers itself, before maintenance or routing: the admin
/// API and dashboard must stay reachable to lift a maintenance, health and
/// metrics must describe the gateway even when a backend is down, and a tester
/// joins or leaves the beta (`/beta/join`, `/beta/leave`) at the gateway.
pub fn is_gateway_path(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path == "/admin"
        || path.starts_with("/admin/")
        || matches!(
            path.trim_end_matches('/'),
            "/health" | "/metrics" | "/beta/join" | "/beta/leave"
        )
}

/// A sign-in (`POST /api/accounts/login/`, with or without the slash): the one
/// request whose person the gateway cannot tell before the answer, so a 401 from
/// one side is asked of the other (an account the replicator has not carried
/// over yet still signs in). Its body is small enough to hold: at most
/// [`SIGN_IN_BODY_LIMIT`] bytes.
pub fn is_sign_in(method: &str, path: &str) -> bool {
    method.eq_ignore_ascii_case("POST")
        && normalize_path(path).trim_end_matches('/') == "/api/accounts/login"
}

/// The largest sign-in body the gateway holds to send twice; a larger one goes
/// through once, as any request.
pub const SIGN_IN_BODY_LIMIT: usize = 16 * 1024;

/// The app's admin API (`/api/admin`, `/api/admin/...`).
pub fn is_app_admin_path(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path == "/api/admin" || path.starts_with("/api/admin/")
}

/// The `Location` for a 301 to https, or `None` when the request may be served
/// as is (already https, local dev over plain http, or a host that cannot be
/// put in a URL safely).
///
/// `scheme` may be given with or without the trailing `:` (URL APIs differ).
/// An explicit `:80` is dropped since it would be wrong for https; any other
/// port is kept.
pub fn https_redirect(
    scheme: &str,
    host: &str,
    path_and_query: &str,
    local_dev: bool,
) -> Option<String> {
    let scheme = scheme.strip_suffix(':').unwrap_or(scheme);
    if local_dev || !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let host = host.strip_suffix(":80").unwrap_or(host);
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    if !host_ok {
        return None;
    }
    let path = if path_and_query.starts_with('/') {
        path_and_query.to_string()
    } else {
        format!("/{path_and_query}")
    };
    Some(format!("https://{host}{path}"))
}

/// `X-Forwarded-*` for the backend. `X-Forwarded-For` is replaced, not
/// appended to: the gateway is the edge, so whatever the client sent in it is
/// unverified, while `CF-Connecting-IP` is set by Cloudflare. It is left out
/// when the client address is unknown rather than filled with a placeholder.
pub fn forwarded_headers(
    client_ip: Option<&str>,
    original_host: &str,
    scheme: &str,
) -> Vec<(&'static str, String)> {
    let proto = scheme
        .strip_suffix(':')
        .unwrap_or(scheme)
        .to_ascii_lowercase();
    let mut headers = Vec::with_capacity(3);
    if let Some(ip) = client_ip.map(str::trim).filter(|ip| !ip.is_empty()) {
        headers.push(("X-Forwarded-For", ip.to_string()));
    }
    headers.push(("X-Forwarded-Proto", proto));
    headers.push(("X-Forwarded-Host", original_host.to_string()));
    headers
}

/// Whether a client-sent `X-Request-Id` is kept. Only short ids of URL- and
/// log-safe characters pass, so a client cannot inject into logs or headers.
pub fn valid_request_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The bearer credential of an `Authorization` header, if any.
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The value of cookie `name` in a `Cookie` header, so the adapter does not need
/// its own parser to find `lc_route` and `lc_beta`. The first occurrence wins.
pub fn cookie_value<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
        })
    })
}

/// Host without port, trailing dot or case, so `Staging.Example.com.:8443`
/// compares equal to `staging.example.com`.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let without_port = if let Some(rest) = host.strip_prefix('[') {
        // IPv6 literal: `[::1]:8787`.
        match rest.split_once(']') {
            Some((inner, _)) => inner,
            None => rest,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    without_port
        .strip_suffix('.')
        .unwrap_or(without_port)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_paths() {
        for p in [
            "/admin",
            "/admin/",
            "/admin/migration",
            "/admin/migration?action=get_status",
            "/health",
            "/metrics",
            "/metrics?x=1",
        ] {
            assert!(is_gateway_path(p), "{p}");
        }
        for p in [
            "/",
            "/administrator",
            "/adminx/",
            "/api/admin/",
            "/healthz",
            "/health/deep",
            "/metricsx",
            "/Admin",
            "",
        ] {
            assert!(!is_gateway_path(p), "{p}");
        }
    }

    #[test]
    fn https_redirects() {
        assert_eq!(
            https_redirect("http", "listcutter.example", "/a?b=1", false).as_deref(),
            Some("https://listcutter.example/a?b=1")
        );
        assert_eq!(
            https_redirect("http:", "listcutter.example:80", "", false).as_deref(),
            Some("https://listcutter.example/")
        );
        assert_eq!(https_redirect("http", "127.0.0.1:8787", "/", true), None);
        assert_eq!(
            https_redirect("https", "listcutter.example", "/", false),
            None
        );
        assert_eq!(
            https_redirect("https:", "listcutter.example", "/", false),
            None
        );
        assert_eq!(https_redirect("http", "", "/", false), None);
        assert_eq!(https_redirect("http", "evil.example/x", "/", false), None);
    }

    #[test]
    fn security_headers_present() {
        let get = |name: &str| {
            SECURITY_HEADERS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        assert_eq!(
            get("strict-transport-security"),
            Some("max-age=31536000; includeSubDomains; preload")
        );
        assert_eq!(get("x-content-type-options"), Some("nosniff"));
        assert_eq!(get("x-frame-options"), Some("DENY"));
        assert_eq!(get("x-xss-protection"), Some("1; mode=block"));
        assert_eq!(
            get("referrer-policy"),
            Some("strict-origin-when-cross-origin")
        );
    }

    #[test]
    fn forwarded() {
        assert_eq!(
            forwarded_headers(Some("203.0.113.7"), "listcutter.example", "https:"),
            vec![
                ("X-Forwarded-For", "203.0.113.7".to_string()),
                ("X-Forwarded-Proto", "https".to_string()),
                ("X-Forwarded-Host", "listcutter.example".to_string()),
            ]
        );
        let no_ip = forwarded_headers(None, "h", "http");
        assert!(no_ip.iter().all(|(n, _)| *n != "X-Forwarded-For"));
    }

    #[test]
    fn request_ids() {
        assert!(valid_request_id("abc-123"));
        assert!(valid_request_id("0f3c.a_b:c-D"));
        assert!(valid_request_id(&"a".repeat(128)));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id(&"a".repeat(129)));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id("a\r\nX-Evil: 1"));
        assert!(!valid_request_id("é"));
        assert!(!valid_request_id("a/b"));
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Bearer")), None);
        assert_eq!(bearer(Some("Token abc")), None);
    }

    #[test]
    fn cookies() {
        let h = "theme=dark; lc_route=v1.42.sig; lc_beta=\"tok\"; lc_route=second";
        assert_eq!(cookie_value(h, "lc_route"), Some("v1.42.sig"));
        assert_eq!(cookie_value(h, "lc_beta"), Some("tok"));
        assert_eq!(cookie_value(h, "theme"), Some("dark"));
        assert_eq!(cookie_value(h, "missing"), None);
        assert_eq!(cookie_value("", "lc_route"), None);
        assert_eq!(cookie_value("xlc_route=1", "lc_route"), None);
    }

    #[test]
    fn hosts_normalize() {
        assert_eq!(
            normalize_host("Staging.Example.com.:8443"),
            "staging.example.com"
        );
        assert_eq!(normalize_host("example.com"), "example.com");
        assert_eq!(normalize_host("[::1]:8787"), "::1");
        assert_eq!(normalize_host("127.0.0.1:8787"), "127.0.0.1");
    }
}
