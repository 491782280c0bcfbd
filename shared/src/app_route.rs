//! The app Worker's route table: every API endpoint, parsed once from the method
//! and the path, with who may call it. The app dispatches on [`Route`]; how a
//! known path refuses a method, and what is not found, are decided here too, so
//! that the order of the answers (405 before 401, admin 404s only after the
//! admin check) lives in one place.

/// An endpoint of the app's API, grouped by who may call it, so that a handler
/// of a signed-in route cannot be reached without its caller. A parameter is one
/// path segment (a file name of a legacy endpoint is percent-decoded; ids are
/// taken as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Anyone; a handler may still look at credentials (e.g. `export_csv/`).
    Public(PublicRoute),
    /// A signed-in user: a valid access token of an active user.
    User(UserRoute),
    /// An admin: an admin's access token, or the operator token.
    Admin(AdminRoute),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicRoute {
    Health,
    Register,
    Login,
    RefreshToken,
    /// `/api/admin/login`, the dashboard's sign-in.
    AdminLogin,
    /// `/api/list_cutter/csv_cutter/`, the anonymous cutter's upload.
    CsvCutter,
    ExportCsv,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRoute {
    Logout,
    CurrentUser,
    // `/api/list_cutter/`: saved files, legacy shapes.
    Upload,
    ListSavedFiles,
    SaveGeneratedFile,
    Download(String),
    DeleteSavedFile(String),
    UpdateTags(String),
    FetchSavedFile(String),
    FileLineage(String),
    // `/api/files`: the same files, Workers-era shapes.
    FilesUpload,
    FilesList,
    FileGet(String),
    FileDelete(String),
    FileDownload(String),
    // `/api/filters`
    FiltersList,
    FilterCreate,
    FilterGet(String),
    FilterUpdate(String),
    FilterDelete(String),
    FilterApply(String),
}

/// `/api/admin/`, the cutover tool's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRoute {
    Whoami,
    ImportUsers,
    ImportFileRows,
    ImportFileContent(String),
    ImportFileDeletions,
    ImportFileBundle,
    ImportRelationships,
    ExportSummary,
    ExportUsers,
    ExportFiles,
    ExportFileContent(String),
    ExportRelationships,
    ExportChanges,
    AcknowledgeChanges,
    DeadLetters,
    ClearDeadLetter(String),
    DeleteUser(String),
    /// No admin endpoint has this method and path (`rest` is the path after
    /// `/api/admin/`). Answered only to an admin: nobody else learns which exist.
    Unknown {
        method: String,
        rest: String,
    },
}

/// How a known path refuses a method it does not serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// DRF's `{"detail": "Method \"X\" not allowed."}`.
    Drf,
    /// `{"error": "method not allowed"}` (the admin API's shape).
    Plain,
}

/// What the table makes of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Route(Route),
    /// A 405 in this shape; no credential is looked at first.
    MethodNotAllowed(Refusal),
    /// `{"error": "Not found"}`.
    NotFound,
}

/// The route of `method` (upper case, e.g. `GET`) and `path` (as the URL has it).
/// Legacy paths end with a slash and clients of the Workers era leave it off:
/// both work.
pub fn resolve(method: &str, path: &str) -> Resolved {
    let path = path.strip_suffix('/').unwrap_or(path);
    if let Some(rest) = path.strip_prefix("/api/admin/") {
        return admin(method, rest);
    }
    let found = if let Some(rest) = path.strip_prefix("/api/list_cutter/") {
        list_cutter(method, rest)
    } else if let Some(rest) = path.strip_prefix("/api/accounts/") {
        accounts(method, rest)
    } else if let Some(rest) = path.strip_prefix("/api/files") {
        files(method, rest)
    } else if let Some(rest) = path.strip_prefix("/api/filters") {
        filters(method, rest)
    } else if path == "/health" && method == "GET" {
        Some(Resolved::Route(Route::Public(PublicRoute::Health)))
    } else {
        None
    };
    found.unwrap_or(Resolved::NotFound)
}

/// The route whose method is `method` among `allowed`, else DRF's 405.
fn pick(method: &str, allowed: Vec<(&str, Route)>) -> Option<Resolved> {
    Some(
        allowed
            .into_iter()
            .find(|(m, _)| *m == method)
            .map_or(Resolved::MethodNotAllowed(Refusal::Drf), |(_, route)| {
                Resolved::Route(route)
            }),
    )
}

fn accounts(method: &str, rest: &str) -> Option<Resolved> {
    let route = match rest {
        "register" => Route::Public(PublicRoute::Register),
        "login" => Route::Public(PublicRoute::Login),
        "token/refresh" => Route::Public(PublicRoute::RefreshToken),
        "logout" => Route::User(UserRoute::Logout),
        "user" => return pick(method, vec![("GET", Route::User(UserRoute::CurrentUser))]),
        _ => return None,
    };
    pick(method, vec![("POST", route)])
}

/// `/api/list_cutter/<head>[/<param>]`.
fn list_cutter(method: &str, rest: &str) -> Option<Resolved> {
    use UserRoute::*;
    let (head, param) = match rest.split_once('/') {
        Some((head, param)) => (head, Some(param)),
        None => (rest, None),
    };
    let param = match param {
        None => None,
        Some(p) if p.is_empty() || p.contains('/') => return None,
        // An undecodable segment names no file.
        Some(p) => Some(crate::files::percent_decode(p).unwrap_or_default()),
    };
    let public = |route| Some(Resolved::Route(Route::Public(route)));
    let (allowed, route) = match (head, param) {
        // The anonymous cutter has no 405: another method is not found.
        ("csv_cutter", None) if method == "POST" => return public(PublicRoute::CsvCutter),
        ("export_csv", None) if method == "POST" => return public(PublicRoute::ExportCsv),
        ("upload", None) => ("POST", Upload),
        ("list_saved_files", None) => ("GET", ListSavedFiles),
        ("save_generated_file", None) => ("POST", SaveGeneratedFile),
        ("download", Some(p)) => ("GET", Download(p)),
        ("delete", Some(p)) => ("DELETE", DeleteSavedFile(p)),
        ("update_tags", Some(p)) => ("PATCH", UpdateTags(p)),
        ("fetch_saved_file", Some(p)) => ("GET", FetchSavedFile(p)),
        ("fetch_file_lineage", Some(p)) => ("GET", FileLineage(p)),
        _ => return None,
    };
    pick(method, vec![(allowed, Route::User(route))])
}

/// The segments of `rest`, a path under a prefix that has no slash of its own
/// (`""` is the prefix itself, `"/x/y"` is below it); `None` for anything else
/// or for an empty segment.
fn below(rest: &str) -> Option<Vec<&str>> {
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let segments: Vec<&str> = rest.strip_prefix('/')?.split('/').collect();
    segments.iter().all(|s| !s.is_empty()).then_some(segments)
}

/// DRF's 405 unless `method` is one of the signed-in routes in `allowed`.
fn user_pick(method: &str, allowed: Vec<(&str, UserRoute)>) -> Option<Resolved> {
    pick(
        method,
        allowed
            .into_iter()
            .map(|(m, route)| (m, Route::User(route)))
            .collect(),
    )
}

fn files(method: &str, rest: &str) -> Option<Resolved> {
    use UserRoute::*;
    match below(rest)?.as_slice() {
        [] => user_pick(method, vec![("GET", FilesList)]),
        ["upload"] => user_pick(method, vec![("POST", FilesUpload)]),
        [id] => user_pick(
            method,
            vec![
                ("GET", FileGet(id.to_string())),
                ("DELETE", FileDelete(id.to_string())),
            ],
        ),
        [id, "download"] => user_pick(method, vec![("GET", FileDownload(id.to_string()))]),
        _ => None,
    }
}

fn filters(method: &str, rest: &str) -> Option<Resolved> {
    use UserRoute::*;
    match below(rest)?.as_slice() {
        [] => user_pick(method, vec![("GET", FiltersList), ("POST", FilterCreate)]),
        [id] => user_pick(
            method,
            vec![
                ("GET", FilterGet(id.to_string())),
                ("PUT", FilterUpdate(id.to_string())),
                ("DELETE", FilterDelete(id.to_string())),
            ],
        ),
        [id, "apply"] => user_pick(method, vec![("POST", FilterApply(id.to_string()))]),
        _ => None,
    }
}

/// `/api/admin/<rest>`: every path is the admin API's, so an unknown one is
/// [`AdminRoute::Unknown`] rather than not found.
fn admin(method: &str, rest: &str) -> Resolved {
    use AdminRoute::*;
    if rest == "login" {
        return match method {
            "POST" => Resolved::Route(Route::Public(PublicRoute::AdminLogin)),
            _ => Resolved::MethodNotAllowed(Refusal::Plain),
        };
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let route = match (method, segments.as_slice()) {
        ("GET", ["whoami"]) => Whoami,
        ("POST", ["import", "users"]) => ImportUsers,
        ("POST", ["import", "files"]) => ImportFileRows,
        ("POST", ["import", "files", "delete"]) => ImportFileDeletions,
        ("POST", ["import", "files", "bundle"]) => ImportFileBundle,
        ("PUT", ["import", "files", id]) => ImportFileContent(id.to_string()),
        ("POST", ["import", "relationships"]) => ImportRelationships,
        ("GET", ["export", "summary"]) => ExportSummary,
        ("GET", ["export", "users"]) => ExportUsers,
        ("GET", ["export", "files"]) => ExportFiles,
        ("GET", ["export", "files", id, "content"]) => ExportFileContent(id.to_string()),
        ("GET", ["export", "relationships"]) => ExportRelationships,
        ("GET", ["export", "changes"]) => ExportChanges,
        ("POST", ["changes", "ack"]) => AcknowledgeChanges,
        ("GET", ["dead-letters"]) => DeadLetters,
        ("DELETE", ["dead-letters", id]) => ClearDeadLetter(id.to_string()),
        ("DELETE", ["users", id]) => DeleteUser(id.to_string()),
        _ => Unknown {
            method: method.to_string(),
            rest: rest.to_string(),
        },
    };
    Resolved::Route(Route::Admin(route))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        match resolve(method, path) {
            Resolved::Route(route) => route,
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    fn user(method: &str, path: &str) -> UserRoute {
        match route(method, path) {
            Route::User(route) => route,
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    fn admin(method: &str, path: &str) -> AdminRoute {
        match route(method, path) {
            Route::Admin(route) => route,
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn legacy_paths_work_with_and_without_their_slash() {
        for path in ["/api/accounts/login/", "/api/accounts/login"] {
            assert_eq!(route("POST", path), Route::Public(PublicRoute::Login));
        }
        assert_eq!(
            user("GET", "/api/list_cutter/list_saved_files/"),
            UserRoute::ListSavedFiles
        );
        assert_eq!(user("GET", "/api/files/"), UserRoute::FilesList);
        assert_eq!(route("GET", "/health"), Route::Public(PublicRoute::Health));
        // Only one slash is dropped.
        assert_eq!(resolve("GET", "/api/files//"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/health//"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/api/accounts/nothing/"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/"), Resolved::NotFound);
    }

    #[test]
    fn a_known_path_with_another_method_is_a_drf_405() {
        let drf = Resolved::MethodNotAllowed(Refusal::Drf);
        assert_eq!(resolve("GET", "/api/accounts/login/"), drf);
        assert_eq!(resolve("GET", "/api/accounts/logout/"), drf);
        assert_eq!(resolve("POST", "/api/accounts/user/"), drf);
        assert_eq!(resolve("HEAD", "/api/list_cutter/list_saved_files/"), drf);
        assert_eq!(resolve("GET", "/api/list_cutter/delete/7/"), drf);
        assert_eq!(resolve("PUT", "/api/files/abc"), drf);
        assert_eq!(resolve("GET", "/api/files/upload"), drf);
        assert_eq!(resolve("PATCH", "/api/filters"), drf);
        assert_eq!(resolve("GET", "/api/filters/f1/apply"), drf);
        assert_eq!(
            resolve("GET", "/api/admin/login"),
            Resolved::MethodNotAllowed(Refusal::Plain)
        );
    }

    #[test]
    fn the_anonymous_cutter_and_health_have_no_405() {
        let public = |route| Route::Public(route);
        assert_eq!(
            route("POST", "/api/list_cutter/csv_cutter/"),
            public(PublicRoute::CsvCutter)
        );
        assert_eq!(
            route("POST", "/api/list_cutter/export_csv"),
            public(PublicRoute::ExportCsv)
        );
        assert_eq!(
            resolve("GET", "/api/list_cutter/csv_cutter/"),
            Resolved::NotFound
        );
        assert_eq!(resolve("POST", "/health"), Resolved::NotFound);
        assert_eq!(
            resolve("POST", "/api/list_cutter/csv_cutter/x/"),
            Resolved::NotFound
        );
    }

    #[test]
    fn parameters_are_one_segment_and_legacy_names_are_decoded() {
        use UserRoute::*;
        assert_eq!(
            user("GET", "/api/list_cutter/download/a%20b.csv/"),
            Download("a b.csv".into())
        );
        // An undecodable name is a name no file has.
        assert_eq!(
            user("GET", "/api/list_cutter/download/%zz/"),
            Download(String::new())
        );
        assert_eq!(
            resolve("GET", "/api/list_cutter/download/a/b/"),
            Resolved::NotFound
        );
        assert_eq!(
            resolve("GET", "/api/list_cutter/download//"),
            Resolved::NotFound
        );
        assert_eq!(user("GET", "/api/files/a%20b"), FileGet("a%20b".into()));
        assert_eq!(user("DELETE", "/api/files/x/"), FileDelete("x".into()));
        assert_eq!(
            user("GET", "/api/files/x/download"),
            FileDownload("x".into())
        );
        assert_eq!(user("POST", "/api/files/upload"), FilesUpload);
        assert_eq!(user("PUT", "/api/filters/f1"), FilterUpdate("f1".into()));
        assert_eq!(
            user("POST", "/api/filters/f1/apply"),
            FilterApply("f1".into())
        );
        assert_eq!(user("POST", "/api/filters/"), FilterCreate);
        assert_eq!(resolve("GET", "/api/filesx"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/api/files/a/b"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/api/filters//apply"), Resolved::NotFound);
    }

    #[test]
    fn every_admin_path_is_the_admin_apis() {
        use AdminRoute::*;
        assert_eq!(admin("GET", "/api/admin/whoami"), Whoami);
        assert_eq!(
            admin("PUT", "/api/admin/import/files/f9"),
            ImportFileContent("f9".into())
        );
        assert_eq!(
            admin("POST", "/api/admin/import/files/bundle"),
            ImportFileBundle
        );
        assert_eq!(
            admin("GET", "/api/admin/export/files/f9/content"),
            ExportFileContent("f9".into())
        );
        assert_eq!(
            admin("DELETE", "/api/admin/dead-letters/3"),
            ClearDeadLetter("3".into())
        );
        // Another method on a known path is unknown too, and answered only to an admin.
        assert_eq!(
            admin("GET", "/api/admin/import/users/"),
            Unknown {
                method: "GET".into(),
                rest: "import/users".into()
            }
        );
        assert_eq!(
            route("POST", "/api/admin/login/"),
            Route::Public(PublicRoute::AdminLogin)
        );
        // `/api/admin` itself is no admin path.
        assert_eq!(resolve("GET", "/api/admin/"), Resolved::NotFound);
    }
}
