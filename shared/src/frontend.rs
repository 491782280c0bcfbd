//! How the app Worker serves the single-page frontend from its static assets:
//! which paths stay API, which fall back to `index.html`, and the headers every
//! frontend response carries.

/// Vite writes every built file with a content hash in its name under this
/// directory, so such a file never changes and may be cached for good.
const HASHED_DIR: &str = "/assets/";

/// The frontend loads nothing but this origin's own files and API: no inline
/// scripts or styles, no framing, no plugins, forms only to this origin.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
                       form-action 'self'; frame-ancestors 'none'";

/// Who answers a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// The JSON API (an unknown path there is a JSON 404).
    Api,
    /// A file of the built frontend, or `index.html` for an app route.
    Frontend,
}

/// `/api` and everything under it, `/health` and `/metrics` are the API; other
/// GET and HEAD requests are the frontend's. Other methods on a non-API path
/// stay with the API router, which answers them in JSON.
pub fn target(method: &str, path: &str) -> Target {
    let api = path == "/api"
        || path.starts_with("/api/")
        || matches!(path, "/health" | "/health/" | "/metrics" | "/metrics/");
    if api || !matches!(method, "GET" | "HEAD") {
        Target::Api
    } else {
        Target::Frontend
    }
}

/// Whether a path that is not a file gets `index.html` (an app route such as
/// `/files/<id>/cut`). A missing hashed file stays a 404: answering a script
/// request with HTML would only hide a stale deploy.
pub fn falls_back_to_index(path: &str) -> bool {
    !is_hashed(path)
}

/// Whether `path` names a content-hashed build file, one that never changes.
pub fn is_hashed(path: &str) -> bool {
    path.starts_with(HASHED_DIR)
}

/// `Cache-Control` of a frontend response: hashed files forever, anything else
/// (`index.html` above all, which names the current hashed files) revalidated
/// on every use.
pub fn cache_control(path: &str, status: u16) -> &'static str {
    // A 304 refreshes the cached headers, so it must say the same as the 200.
    if is_hashed(path) && (200..400).contains(&status) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads of `path` go to `read`; writes go to the API whatever the path.
    fn assert_target(path: &str, read: Target) {
        for method in ["GET", "HEAD"] {
            assert_eq!(target(method, path), read, "{method} {path}");
        }
        for method in ["POST", "DELETE"] {
            assert_eq!(target(method, path), Target::Api, "{method} {path}");
        }
    }

    #[test]
    fn api_paths_stay_api_whatever_the_method() {
        for path in "/api /api/ /api/nope /api/list_cutter/upload/ /health /metrics/".split(' ') {
            assert_target(path, Target::Api);
        }
    }

    #[test]
    fn other_reads_are_the_frontend_and_other_writes_are_not() {
        for path in "/ /login /files/abc/cut /assets/index-1a2b.js /apiary /healthy".split(' ') {
            assert_target(path, Target::Frontend);
        }
    }

    #[test]
    fn only_app_routes_fall_back_to_index() {
        assert!(falls_back_to_index("/files/abc/lineage"));
        assert!(falls_back_to_index("/"));
        assert!(!falls_back_to_index("/assets/index-deadbeef.js"));
    }

    #[test]
    fn hashed_files_are_immutable_everything_else_revalidates() {
        assert_eq!(
            cache_control("/assets/index-1a2b.css", 200),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            cache_control("/assets/index-1a2b.css", 304),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control("/assets/gone.js", 404), "no-cache");
        assert_eq!(cache_control("/", 200), "no-cache");
        assert_eq!(cache_control("/favicon.svg", 200), "no-cache");
    }

    #[test]
    fn csp_allows_only_this_origin_and_no_framing() {
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(CSP.contains(part), "{part}");
        }
        assert!(!CSP.contains("unsafe"));
    }
}
