//! The routes a shadow copy may be sent for: reads that change nothing on either
//! side and answer the same shape on both. Writes, the admin APIs and the
//! gateway's own paths are never listed, so they are never mirrored. `/api/files`
//! is left out: legacy never had it, so every comparison would only say that.

use crate::routing::normalize_path;

/// A shadowable route and what its answers may differ in without meaning it.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    /// The path with `{name}` for a parameter segment and the trailing slash
    /// legacy uses, e.g. `/api/list_cutter/fetch_saved_file/{file_id}/`.
    pub path: &'static str,
    /// JSON arrays (paths as in [`super::compare::Difference::pattern`]) whose
    /// order the API does not promise: legacy lists files in database order and
    /// merges tags as a set.
    pub unordered: &'static [&'static str],
    /// Values where `null` and `[]` both mean "none": legacy answers `null` for
    /// a file nobody tagged, the app `[]`.
    pub null_is_empty: &'static [&'static str],
}

impl Route {
    /// The name counts are kept under, e.g. `GET /api/accounts/user/`.
    pub fn template(&self, method: &str) -> String {
        format!("{} {}", method.to_ascii_uppercase(), self.path)
    }
}

pub const ROUTES: &[Route] = &[
    Route {
        path: "/api/accounts/user/",
        unordered: &[],
        null_is_empty: &[],
    },
    Route {
        path: "/api/list_cutter/list_saved_files/",
        unordered: &["$.files", "$.files[*].system_tags", "$.files[*].user_tags"],
        null_is_empty: &["$.files[*].system_tags", "$.files[*].user_tags"],
    },
    Route {
        path: "/api/list_cutter/fetch_saved_file/{file_id}/",
        unordered: &[],
        null_is_empty: &[],
    },
    Route {
        path: "/api/list_cutter/fetch_file_lineage/{file_id}/",
        unordered: &["$.nodes", "$.edges"],
        null_is_empty: &[],
    },
];

/// Whether a method is safe to send twice: only GET and HEAD are ever mirrored.
pub fn is_safe_method(method: &str) -> bool {
    method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")
}

/// The shadowable route of a request, if any. The path is read as the routing
/// decision reads it (escapes decoded, dot segments resolved); the trailing
/// slash is optional, as on the app.
pub fn shadowable(method: &str, raw_path: &str) -> Option<&'static Route> {
    if !is_safe_method(method) {
        return None;
    }
    let path = normalize_path(raw_path);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    ROUTES.iter().find(|route| {
        let pattern: Vec<&str> = route.path.trim_matches('/').split('/').collect();
        pattern.len() == segments.len()
            && pattern.iter().zip(&segments).all(|(p, s)| {
                if p.starts_with('{') {
                    !s.is_empty()
                } else {
                    p == s
                }
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_of_the_listed_routes_are_shadowable() {
        let r = shadowable("GET", "/api/list_cutter/list_saved_files/").unwrap();
        assert_eq!(r.template("get"), "GET /api/list_cutter/list_saved_files/");
        assert_eq!(
            shadowable("HEAD", "/api/accounts/user").unwrap().path,
            "/api/accounts/user/"
        );
        let r = shadowable("GET", "/api/list_cutter/fetch_saved_file/abc-123/").unwrap();
        assert_eq!(r.path, "/api/list_cutter/fetch_saved_file/{file_id}/");
        assert!(shadowable("GET", "/api/list_cutter/fetch_file_lineage/x").is_some());
        // Read the way the origins read it.
        assert!(shadowable("GET", "/api//list_cutter/./list_saved_files/").is_some());
    }

    #[test]
    fn writes_and_everything_else_are_not() {
        for method in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            assert!(shadowable(method, "/api/list_cutter/list_saved_files/").is_none());
        }
        for path in [
            "/admin/shadow",
            "/metrics",
            "/health",
            "/api/admin/export/users",
            "/api/files",
            "/api/list_cutter/upload/",
            "/api/list_cutter/download/a.csv/",
            "/api/list_cutter/fetch_saved_file/",
            "/api/list_cutter/fetch_saved_file/a/b/",
            "/api/list_cutter/list_saved_files/extra/",
            "/api/accounts/login/",
        ] {
            assert!(shadowable("GET", path).is_none(), "{path}");
        }
    }
}
