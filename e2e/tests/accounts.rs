//! Accounts on both sides: the app's accounts API answers like the Django stand-in, users
//! and tokens move between the two, bad tokens are refused, and abuse is limited.
//!
//! The app is reached through the gateway with `X-Beta-User: true` (so it answers as
//! `app-blue`), the stand-in directly.

use crate::common::{keys, send_json};
use e2e::{client, Stack, JWT_SECRET};
use reqwest::blocking::RequestBuilder;
use reqwest::Method;
use serde_json::{json, Value};
use shared::jwt::{self, JwtConfig, TokenType, TokenUser};

crate::tests!(
    accounts:
    parity_with_legacy,
    the_legacy_clients_session_works_on_the_app,
    django_user_and_token_work_on_app,
    django_tokens_refused_when_turned_off,
    app_user_and_token_work_on_django,
    bad_tokens_are_refused_and_change_nothing,
    ids_above_offset_and_audit_trail,
    sixth_failed_login_is_throttled,
    malformed_json_methods_and_slashes,
);

/// The keys the app adds to legacy success bodies, the one documented difference in shape:
/// the Workers-era names of the tokens (the seed's clients read `access_token`) and `user`
/// on every token answer, and on registration the tokens themselves (legacy returned none,
/// so a new user had to log in right after).
fn app_extra_keys(path: &str) -> &'static [&'static str] {
    match path {
        "register/" => &["access", "refresh", "access_token", "refresh_token", "user"],
        _ => &["access_token", "refresh_token", "user"],
    }
}
/// `USER_ID_OFFSET` of the local config.
const USER_ID_OFFSET: i64 = 1_000_000_000;
const PASSWORD: &str = "correct horse 42";

/// The app's accounts API through the gateway, as a beta tester from `ip`.
fn app(stack: &Stack, ip: &str, method: Method, path: &str) -> RequestBuilder {
    client()
        .request(method, format!("{}/api/accounts/{path}", stack.gateway))
        .header("X-Beta-User", "true")
        .header("CF-Connecting-IP", ip)
}

/// The stand-in's accounts API, directly.
fn legacy(stack: &Stack, method: Method, path: &str) -> RequestBuilder {
    client().request(method, format!("{}/api/accounts/{path}", stack.legacy))
}

/// Sends to the app and checks the app answered; returns (status, body).
fn on_app(req: RequestBuilder) -> (u16, Value) {
    let (status, by, body) = send_json(req);
    assert_eq!(by, "app-blue", "{body}");
    (status, body)
}

fn on_legacy(req: RequestBuilder) -> (u16, Value) {
    let (status, _, body) = send_json(req);
    (status, body)
}

/// Registers `name` on the app from `ip`; returns the 201's body.
fn register_on_app(stack: &Stack, ip: &str, name: &str) -> Value {
    let (status, reg) =
        on_app(app(stack, ip, Method::POST, "register/").json(&register_body(name)));
    assert_eq!(status, 201, "{reg}");
    reg
}

fn without_app_extras(path: &str, body: &Value) -> Vec<String> {
    keys(body)
        .into_iter()
        .filter(|k| !app_extra_keys(path).contains(&k.as_str()))
        .collect()
}

fn register_body(username: &str) -> Value {
    json!({"username": username, "email": format!("{username}@example.org"),
           "password": PASSWORD, "password2": PASSWORD})
}

fn login_body(username: &str, password: &str) -> Value {
    json!({"username": username, "password": password})
}

fn str_of<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

/// The same requests, valid and not, to both sides: same status, same keys (bar the app's
/// documented extras), and for refusals the very same body.
fn parity_with_legacy(stack: &Stack) {
    let ip = &stack.ip();
    let user = "parity_user";
    let json_cases: Vec<(&str, Value)> = vec![
        ("register/", json!({})),
        (
            "register/",
            json!({"username": "p1", "password": "a", "password2": "b"}),
        ),
        (
            "register/",
            json!({"username": "p2", "password": "a", "password2": ""}),
        ),
        (
            "register/",
            json!({"username": "p3", "email": "not-an-email", "password": "a", "password2": "a"}),
        ),
        (
            "register/",
            json!({"username": "bad name!", "password": "a", "password2": "a"}),
        ),
        (
            "register/",
            json!({"username": "x".repeat(151), "password": "a", "password2": "a"}),
        ),
        ("register/", json!({"username": "p4", "password": "a"})),
        (
            "register/",
            json!({"username": null, "email": null, "password": true, "password2": ["a"]}),
        ),
        (
            "register/",
            json!({"username": "  ", "email": format!("{}@example.org", "e".repeat(250)),
                   "password": "p".repeat(129), "password2": "x"}),
        ),
        (
            "register/",
            json!({"username": "p5", "email": "a@b@example.org", "password": " same ", "password2": "same"}),
        ),
        ("register/", json!(["not", "an", "object"])),
        ("register/", register_body(user)),
        ("register/", register_body(user)),
        ("login/", json!({})),
        ("login/", json!({"username": "", "password": ""})),
        ("login/", login_body(user, "wrong password")),
        ("login/", login_body("nobody_here", PASSWORD)),
        ("login/", login_body(user, PASSWORD)),
        ("token/refresh/", json!({})),
        ("token/refresh/", json!({"refresh": "garbage"})),
    ];
    let mut tokens = Vec::new();
    for (path, body) in &json_cases {
        let (ls, lb) = on_legacy(legacy(stack, Method::POST, path).json(body));
        let (a_s, ab) = on_app(app(stack, ip, Method::POST, path).json(body));
        let case = format!("POST {path} {body}: legacy {ls} {lb}, app {a_s} {ab}");
        assert_eq!(ls, a_s, "{case}");
        assert_eq!(keys(&lb), without_app_extras(path, &ab), "{case}");
        if ls >= 400 {
            assert_eq!(lb, ab, "{case}");
        }
        if path == &"login/" && ls == 200 {
            tokens = vec![lb, ab];
        }
    }
    let [legacy_tokens, app_tokens] = <[Value; 2]>::try_from(tokens).expect("both logged in");
    assert_eq!(app_tokens["access_token"], app_tokens["access"]);
    assert_eq!(app_tokens["user"]["username"], user);

    // The current user, with and without a token.
    let (ls, lb) = on_legacy(legacy(stack, Method::GET, "user/"));
    let (a_s, ab) = on_app(app(stack, ip, Method::GET, "user/"));
    assert_eq!((ls, &lb), (a_s, &ab));
    assert_eq!(ls, 401);
    let (ls, lb) = on_legacy(
        legacy(stack, Method::GET, "user/").bearer_auth(str_of(&legacy_tokens, "access")),
    );
    let (a_s, ab) =
        on_app(app(stack, ip, Method::GET, "user/").bearer_auth(str_of(&app_tokens, "access")));
    assert_eq!((ls, a_s), (200, 200));
    assert_eq!(keys(&lb), keys(&ab));
    assert_eq!(
        (&lb["username"], &lb["email"]),
        (&ab["username"], &ab["email"])
    );

    // Rotation on both sides.
    let (ls, lb) = on_legacy(
        legacy(stack, Method::POST, "token/refresh/")
            .json(&json!({"refresh": legacy_tokens["refresh"]})),
    );
    let (a_s, ab) = on_app(
        app(stack, ip, Method::POST, "token/refresh/")
            .json(&json!({"refresh": app_tokens["refresh"]})),
    );
    assert_eq!((ls, a_s), (200, 200), "{lb} {ab}");
    assert_eq!(keys(&lb), without_app_extras("token/refresh/", &ab));
    assert_ne!(ab["refresh"], app_tokens["refresh"]);
}

/// A user created by Django (870 000 iterations) and copied into D1 with its hash logs in to
/// the app; a token Django issued is accepted by the app, and its refresh token rotates once.
/// With `ACCEPT_LEGACY_TOKENS=false` (after the cutover) Django's tokens are
/// refused as invalid while the same user still logs in with their password; with
/// `REFRESH_TOKEN_REUSE=false` a used refresh token is revoked (strict rotation).
fn django_tokens_refused_when_turned_off(stack: &Stack) {
    let name = "dj_dave";
    stack.legacy_manage(&["seed_user", "--username", name, "--password", PASSWORD]);
    let row = stack.psql(&format!(
        "SELECT id, password FROM auth_user WHERE username = '{name}'"
    ));
    let (id, hash) = row.trim().split_once('|').unwrap();
    let (status, dj) =
        on_legacy(legacy(stack, Method::POST, "login/").json(&login_body(name, PASSWORD)));
    assert_eq!(status, 200, "{dj}");

    let app = stack.start_app_alone(&[
        ("ACCEPT_LEGACY_TOKENS", "false"),
        ("REFRESH_TOKEN_REUSE", "false"),
    ]);
    stack.d1_execute_at(
        &app.state,
        &format!(
            "INSERT INTO users (id, username, email, password, is_active, is_admin) \
             VALUES ({id}, '{name}', '', '{hash}', 1, 0)"
        ),
    );
    let url = |path: &str| format!("{}/api/accounts/{path}", app.url);
    let (status, _, me) = send_json(
        client()
            .get(url("user/"))
            .bearer_auth(str_of(&dj, "access")),
    );
    assert_eq!(status, 401, "{me}");
    assert_eq!(me["code"], "token_not_valid", "{me}");
    let (status, _, refreshed) = send_json(
        client()
            .post(url("token/refresh/"))
            .json(&json!({"refresh": dj["refresh"]})),
    );
    assert_eq!(status, 401, "{refreshed}");

    let (status, _, tokens) = send_json(
        client()
            .post(url("login/"))
            .json(&login_body(name, PASSWORD)),
    );
    assert_eq!(status, 200, "{tokens}");
    let (status, _, me) = send_json(
        client()
            .get(url("user/"))
            .bearer_auth(str_of(&tokens, "access")),
    );
    assert_eq!(
        (status, me["id"].to_string()),
        (200, id.to_string()),
        "{me}"
    );
    let refresh = || {
        send_json(
            client()
                .post(url("token/refresh/"))
                .json(&json!({"refresh": tokens["refresh"]})),
        )
    };
    assert_eq!(refresh().0, 200);
    let (status, _, body) = refresh();
    assert_eq!((status, body), (401, jwt::simplejwt_error_body()));
}

fn django_user_and_token_work_on_app(stack: &Stack) {
    let ip = &stack.ip();
    let name = "dj_carol";
    stack.legacy_manage(&[
        "seed_user",
        "--username",
        name,
        "--password",
        PASSWORD,
        "--email",
        "carol@example.org",
    ]);
    let row = stack.psql(&format!(
        "SELECT id, password, email FROM auth_user WHERE username = '{name}'"
    ));
    let mut fields = row.trim().split('|');
    let (id, hash, email) = (
        fields.next().unwrap(),
        fields.next().unwrap(),
        fields.next().unwrap(),
    );
    assert!(hash.starts_with("pbkdf2_sha256$870000$"), "{hash}");
    stack.d1_execute(&format!(
        "INSERT INTO users (id, username, email, password, is_active, is_admin) \
         VALUES ({id}, '{name}', '{email}', '{hash}', 1, 0)"
    ));

    let (status, body) =
        on_app(app(stack, ip, Method::POST, "login/").json(&login_body(name, PASSWORD)));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"].to_string(), id);

    // Django's own tokens, used on the app.
    let (status, dj) =
        on_legacy(legacy(stack, Method::POST, "login/").json(&login_body(name, PASSWORD)));
    assert_eq!(status, 200);
    let (status, me) =
        on_app(app(stack, ip, Method::GET, "user/").bearer_auth(str_of(&dj, "access")));
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me,
        json!({"id": id.parse::<i64>().unwrap(), "username": name, "email": email})
    );
    let refresh = || {
        on_app(
            app(stack, ip, Method::POST, "token/refresh/").json(&json!({"refresh": dj["refresh"]})),
        )
    };
    let (status, rotated) = refresh();
    assert_eq!(status, 200, "{rotated}");
    assert!(rotated["access"].is_string());
    // As on Django, a used refresh token stays usable until it expires
    // (REFRESH_TOKEN_REUSE, on by default).
    let (status, again) = refresh();
    assert_eq!(status, 200, "{again}");
}

/// A user registered on the app, copied into `auth_user`, logs in to Django; a token the app
/// issued is accepted by Django.
fn app_user_and_token_work_on_django(stack: &Stack) {
    let ip = &stack.ip();
    let name = "app_dave";
    let reg = register_on_app(stack, ip, name);
    assert_eq!(reg["detail"], "User created successfully");
    let rows = stack.d1_execute(&format!(
        "SELECT id, username, email, password, is_active, is_admin, created_at \
         FROM users WHERE username = '{name}'"
    ));
    let row = &rows[0];
    let id = row["id"].as_i64().unwrap();
    assert_eq!(reg["user"]["id"], id);
    let hash = str_of(row, "password");
    assert!(hash.starts_with("pbkdf2_sha256$870000$"), "{hash}");
    stack.psql(&format!(
        "INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, \
         last_name, email, is_staff, is_active, date_joined) VALUES \
         ({id}, '{hash}', NULL, false, '{name}', '', '', '{}', false, true, '{}')",
        str_of(row, "email"),
        str_of(row, "created_at"),
    ));

    let (status, body) =
        on_legacy(legacy(stack, Method::POST, "login/").json(&login_body(name, PASSWORD)));
    assert_eq!(status, 200, "{body}");
    let (status, me) =
        on_legacy(legacy(stack, Method::GET, "user/").bearer_auth(str_of(&reg, "access")));
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me,
        json!({"id": id, "username": name, "email": format!("{name}@example.org")})
    );
}

fn mint(secret: &str, user_id: i64, token_type: TokenType, now: i64) -> String {
    let cfg = JwtConfig::new(secret, "list-cutter", "list-cutter-api");
    let user = TokenUser {
        id: user_id,
        username: "whoever".into(),
        is_admin: false,
    };
    jwt::issue(
        &cfg,
        &user,
        token_type,
        now,
        "e2e0000000000000000000000000mint".into(),
    )
    .unwrap()
    .0
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn audit_count(stack: &Stack, user_id: i64) -> i64 {
    stack.d1_execute(&format!(
        "SELECT COUNT(*) AS n FROM audit_logs WHERE user_id = {user_id}"
    ))[0]["n"]
        .as_i64()
        .unwrap()
}

fn bad_tokens_are_refused_and_change_nothing(stack: &Stack) {
    let ip = &stack.ip();
    let name = "tok_erin";
    let reg = register_on_app(stack, ip, name);
    let id = reg["user"]["id"].as_i64().unwrap();
    let access = str_of(&reg, "access");
    let refresh = str_of(&reg, "refresh");

    let expired = mint(JWT_SECRET, id, TokenType::Access, now() - 3_600);
    let forged = mint(
        "some-other-secret-of-enough-length-0123456789",
        id,
        TokenType::Access,
        now(),
    );
    // {"alg":"none","typ":"JWT"} over a real payload, with no signature.
    let payload = access.split('.').nth(1).unwrap();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    let before = audit_count(stack, id);
    for (what, token) in [
        ("expired", expired.as_str()),
        ("wrong signature", forged.as_str()),
        ("alg none", alg_none.as_str()),
        ("refresh as access", refresh),
    ] {
        let (status, body) = on_app(app(stack, ip, Method::GET, "user/").bearer_auth(token));
        assert_eq!(
            (status, &body),
            (401, &jwt::simplejwt_access_error_body()),
            "{what}"
        );
        let (status, _) = on_app(app(stack, ip, Method::POST, "logout/").bearer_auth(token));
        assert_eq!(status, 401, "logout with {what}");
    }
    // An access token is no refresh token, and a forged refresh token is nothing.
    let forged_refresh = mint(
        "some-other-secret-of-enough-length-0123456789",
        id,
        TokenType::Refresh,
        now(),
    );
    for token in [access, forged_refresh.as_str()] {
        let (status, body) =
            on_app(app(stack, ip, Method::POST, "token/refresh/").json(&json!({"refresh": token})));
        assert_eq!((status, body), (401, jwt::simplejwt_error_body()));
    }
    assert_eq!(
        audit_count(stack, id),
        before,
        "refused requests wrote nothing"
    );
    // The real tokens still work: nothing was revoked by the refusals.
    let (status, _) = on_app(app(stack, ip, Method::GET, "user/").bearer_auth(access));
    assert_eq!(status, 200);

    // A used refresh token stays usable (REFRESH_TOKEN_REUSE, as on Django)...
    let (status, rotated) =
        on_app(app(stack, ip, Method::POST, "token/refresh/").json(&json!({"refresh": refresh})));
    assert_eq!(status, 200, "{rotated}");
    let (status, body) =
        on_app(app(stack, ip, Method::POST, "token/refresh/").json(&json!({"refresh": refresh})));
    assert_eq!(status, 200, "{body}");
    // ...until a logout names it.
    let (status, body) = on_app(
        app(stack, ip, Method::POST, "logout/")
            .bearer_auth(str_of(&body, "access"))
            .json(&json!({"refresh": refresh})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        on_app(app(stack, ip, Method::POST, "token/refresh/").json(&json!({"refresh": refresh})));
    assert_eq!((status, body), (401, jwt::simplejwt_error_body()));

    // Logout revokes the access token and the refresh token given with it.
    let new_access = str_of(&rotated, "access");
    let new_refresh = str_of(&rotated, "refresh");
    let (status, body) = on_app(
        app(stack, ip, Method::POST, "logout/")
            .bearer_auth(new_access)
            .json(&json!({"refresh": new_refresh})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = on_app(app(stack, ip, Method::GET, "user/").bearer_auth(new_access));
    assert_eq!((status, body), (401, jwt::simplejwt_access_error_body()));
    let (status, _) = on_app(
        app(stack, ip, Method::POST, "token/refresh/").json(&json!({"refresh": new_refresh})),
    );
    assert_eq!(status, 401);
}

fn ids_above_offset_and_audit_trail(stack: &Stack) {
    let ip = &stack.ip();
    let name = "audit_frank";
    let reg = register_on_app(stack, ip, name);
    let id = reg["user"]["id"].as_i64().unwrap();
    assert!(id >= USER_ID_OFFSET, "{id}");
    let (status, _) =
        on_app(app(stack, ip, Method::POST, "login/").json(&login_body(name, "nope")));
    assert_eq!(status, 401);
    let (status, login) =
        on_app(app(stack, ip, Method::POST, "login/").json(&login_body(name, PASSWORD)));
    assert_eq!(status, 200);
    let (status, rotated) = on_app(
        app(stack, ip, Method::POST, "token/refresh/").json(&json!({"refresh": login["refresh"]})),
    );
    assert_eq!(status, 200);
    let (status, _) =
        on_app(app(stack, ip, Method::POST, "logout/").bearer_auth(str_of(&rotated, "access")));
    assert_eq!(status, 200);

    // The next registration takes the next id.
    let (_, next) =
        on_app(app(stack, ip, Method::POST, "register/").json(&register_body("audit_gina")));
    assert!(next["user"]["id"].as_i64().unwrap() > id);

    let rows = stack.d1_execute(&format!(
        "SELECT action, ip_address, resource_type, resource_id FROM audit_logs \
         WHERE user_id = {id} ORDER BY id"
    ));
    let actions: Vec<&str> = rows.iter().map(|r| str_of(r, "action")).collect();
    assert_eq!(
        actions,
        [
            "register",
            "login_failed",
            "login",
            "token_refresh",
            "logout"
        ]
    );
    for r in &rows {
        assert_eq!(r["ip_address"], *ip);
        assert_eq!(r["resource_type"], "user");
        assert_eq!(r["resource_id"], id.to_string());
    }
}

fn sixth_failed_login_is_throttled(stack: &Stack) {
    let name = "limit_hank";
    let (status, _) =
        on_app(app(stack, &stack.ip(), Method::POST, "register/").json(&register_body(name)));
    assert_eq!(status, 201);
    // Each attempt from another address: the username's own limit is what trips.
    for n in 0..5 {
        let (status, body) = on_app(
            app(stack, &stack.ip(), Method::POST, "login/").json(&login_body(name, "wrong")),
        );
        assert_eq!(status, 401, "attempt {n}: {body}");
    }
    let resp = app(stack, &stack.ip(), Method::POST, "login/")
        .json(&login_body(name, PASSWORD))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: i64 = crate::common::header(&resp, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=900).contains(&retry), "{retry}");
    let body: Value = resp.json().unwrap();
    assert!(
        str_of(&body, "detail").starts_with("Request was throttled."),
        "{body}"
    );
    // One address failing for many usernames is limited too.
    let ip = &stack.ip();
    for n in 0..5 {
        let body = login_body(&format!("nobody_{n}"), "wrong");
        let (status, _) = on_app(app(stack, ip, Method::POST, "login/").json(&body));
        assert_eq!(status, 401, "attempt {n}");
    }
    let (status, body) =
        on_app(app(stack, ip, Method::POST, "login/").json(&login_body("nobody_9", "wrong")));
    assert_eq!(status, 429, "{body}");
    let throttled =
        stack.d1_execute("SELECT COUNT(*) AS n FROM audit_logs WHERE action = 'login_throttled'");
    assert_eq!(throttled[0]["n"], 2, "{throttled:?}");
}

fn malformed_json_methods_and_slashes(stack: &Stack) {
    let ip = &stack.ip();
    for path in ["register/", "login/", "token/refresh/"] {
        let (status, body) = on_app(
            app(stack, ip, Method::POST, path)
                .header("Content-Type", "application/json")
                .body("{\"username\": "),
        );
        assert_eq!(status, 400, "{path}");
        assert!(
            str_of(&body, "detail").starts_with("JSON parse error - "),
            "{body}"
        );
        let (ls, lb) = on_legacy(
            legacy(stack, Method::POST, path)
                .header("Content-Type", "application/json")
                .body("{\"username\": "),
        );
        assert_eq!(ls, 400);
        assert!(
            str_of(&lb, "detail").starts_with("JSON parse error - "),
            "{lb}"
        );
    }
    // The Workers-era clients leave the slash off.
    let (status, body) = on_app(app(stack, ip, Method::POST, "login").json(&json!({})));
    assert_eq!(status, 400, "{body}");
    let (status, body) = on_app(app(stack, ip, Method::GET, "user"));
    assert_eq!(status, 401, "{body}");
    let (status, body) = on_app(app(stack, ip, Method::GET, "login/"));
    assert_eq!(
        (status, body),
        (405, json!({"detail": "Method \"GET\" not allowed."}))
    );
}

/// The legacy web client against the app through the gateway: it keeps its login's
/// refresh token for the day (never the rotated one), sends a saved file's cut and a
/// save without a token first and retries after refreshing on the 401; its logout
/// revokes that refresh token.
fn the_legacy_clients_session_works_on_the_app(stack: &Stack) {
    let ip = &stack.ip();
    let name = crate::common::unique("legacy_web");
    register_on_app(stack, ip, &name);
    let (status, login) =
        on_app(app(stack, ip, Method::POST, "login/").json(&login_body(&name, PASSWORD)));
    assert_eq!(status, 200, "{login}");
    let login_refresh = str_of(&login, "refresh").to_string();
    let refresh = || {
        let (status, body) = on_app(
            app(stack, ip, Method::POST, "token/refresh/")
                .json(&json!({ "refresh": login_refresh })),
        );
        assert_eq!(status, 200, "refresh with the login's token: {body}");
        str_of(&body, "access").to_string()
    };
    let cutter = |method: Method, path: &str| {
        client()
            .request(method, format!("{}/api/list_cutter/{path}", stack.gateway))
            .header("X-Beta-User", "true")
            .header("CF-Connecting-IP", ip)
    };
    let csv = "name,city\nJohn,NYC\nJane,LA\n";
    let form = || {
        reqwest::blocking::multipart::Form::new().part(
            "file",
            reqwest::blocking::multipart::Part::bytes(csv.as_bytes().to_vec())
                .file_name("people.csv"),
        )
    };
    let (status, _, saved) = send_json(
        cutter(Method::POST, "upload/")
            .bearer_auth(str_of(&login, "access"))
            .multipart(form()),
    );
    assert_eq!(status, 200, "{saved}");
    let mut access = String::new();
    for _ in 0..3 {
        access = refresh();
    }
    let (status, _, me) = send_json(app(stack, ip, Method::GET, "user/").bearer_auth(&access));
    assert_eq!(status, 200, "{me}");

    // The saved file's cut: first without a token, then after a refresh.
    let cut =
        json!({"columns": ["name"], "file_path": saved["file_path"], "filters": {"city": "= NYC"}});
    let resp = cutter(Method::POST, "export_csv/")
        .json(&cut)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
    let access = refresh();
    let resp = cutter(Method::POST, "export_csv/")
        .bearer_auth(&access)
        .json(&cut)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), "name\nJohn\n");

    // The save, the same way.
    let save = || {
        form()
            .text("file_name", "people_cut.csv")
            .text(
                "metadata",
                r#"{"columns":["name"],"filters":{"city":"= NYC"}}"#,
            )
            .text(
                "original_file_id",
                saved["file_id"].as_str().unwrap().to_string(),
            )
    };
    let (status, _, body) =
        send_json(cutter(Method::POST, "save_generated_file/").multipart(save()));
    assert_eq!(status, 401, "{body}");
    let access = refresh();
    let (status, _, body) = send_json(
        cutter(Method::POST, "save_generated_file/")
            .bearer_auth(&access)
            .multipart(save()),
    );
    assert_eq!(status, 201, "{body}");

    // Logout with the login's refresh token revokes it.
    let (status, body) = on_app(
        app(stack, ip, Method::POST, "logout/")
            .bearer_auth(&access)
            .json(&json!({ "refresh": login_refresh })),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = on_app(
        app(stack, ip, Method::POST, "token/refresh/").json(&json!({ "refresh": login_refresh })),
    );
    assert_eq!((status, body), (401, jwt::simplejwt_error_body()));
    let (status, _, _) = send_json(app(stack, ip, Method::GET, "user/").bearer_auth(&access));
    assert_eq!(status, 401);
}
