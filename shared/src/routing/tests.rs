//! Tests of the decision's precedence and of the rollout's distribution.

use super::*;

const NOW: i64 = 1_700_000_000;

fn key() -> SigningKey {
    SigningKey::new(b"decision-test-secret")
}

fn req<'a>(method: &'a str, path: &'a str) -> RequestFacts<'a> {
    RequestFacts {
        method,
        path,
        host: "listcutter.example",
        client_ip: Some("203.0.113.7"),
        now_unix: NOW,
        ..RequestFacts::default()
    }
}

fn cfg(percentage: u8) -> RolloutConfig {
    RolloutConfig {
        percentage,
        ..RolloutConfig::all_legacy()
    }
}

fn pin(method: Option<&str>, prefix: &str, backend: Backend) -> RoutePin {
    RoutePin {
        method: method.map(str::to_string),
        path_prefix: prefix.to_string(),
        backend,
    }
}

/// Where `decide` sends `r` under `c` (over https), when it routes it.
fn routed(r: &RequestFacts, c: &RolloutConfig) -> (Backend, Reason) {
    route(&decide(r, c, &key(), true))
}

fn route(d: &Decision) -> (Backend, Reason) {
    match d {
        Decision::Route {
            backend, reason, ..
        } => (*backend, *reason),
        other => panic!("expected a route, got {other:?}"),
    }
}

fn backend_at(client_key: &str, percentage: u8) -> Backend {
    backend_for_bucket(bucket_of(client_key), percentage)
}

fn synthetic_ipv4(i: u32) -> String {
    let [a, b, c, d] = (0x0a00_0000u32 + i).to_be_bytes();
    format!("{a}.{b}.{c}.{d}")
}

// 1. Gateway paths.

#[test]
fn gateway_paths_are_handled_by_the_gateway() {
    for p in ["/admin", "/admin/migration", "/health", "/metrics"] {
        assert_eq!(
            decide(&req("GET", p), &cfg(50), &key(), true),
            Decision::Gateway
        );
    }
}

#[test]
fn encoded_and_dotted_variants_of_gateway_paths_are_still_gateway_paths() {
    for p in [
        "/admin%2flogin%2f",
        "/admin%2Flogin",
        "/%61dmin/",
        "//admin/login/",
        "/api/../admin/migration",
        "/api/%2e%2e/admin",
        "/x/./../admin",
        "/health%2f",
        "/./metrics",
        "/admin%2f..%2fadmin",
    ] {
        assert_eq!(
            decide(&req("GET", p), &cfg(50), &key(), true),
            Decision::Gateway,
            "{p}"
        );
    }
    for p in ["/api%2fadmin%2fexport/users", "//api/admin/export/summary"] {
        assert_eq!(
            routed(&req("GET", p), &cfg(0)),
            (Backend::App, Reason::AppAdmin),
            "{p}"
        );
    }
    // Near misses stay ordinary paths.
    for p in ["/administrator", "/admin.php", "/adm%69nx/", "/api/admins"] {
        assert!(
            matches!(
                decide(&req("GET", p), &cfg(0), &key(), true),
                Decision::Route { .. }
            ),
            "{p}"
        );
    }
}

#[test]
fn paths_normalise_as_the_origins_read_them() {
    for (raw, want) in [
        ("/", "/"),
        ("", "/"),
        ("/a//b///c", "/a/b/c"),
        ("/a/b/", "/a/b/"),
        ("/a/./b/../c", "/a/c"),
        ("/a/b/..", "/a/"),
        ("/../../etc", "/etc"),
        ("/a%2Fb%2fc", "/a/b/c"),
        ("/caf%C3%A9", "/caf\u{e9}"),
        ("/a%ZZb%2", "/a%ZZb%2"),
        ("/a\\b", "/a\\b"),
        ("/p?x=/admin", "/p"),
        ("/%ff", "/\u{fffd}"),
    ] {
        assert_eq!(normalize_path(raw), want, "{raw}");
    }
}

#[test]
fn pins_match_the_normalised_path() {
    let mut c = cfg(100);
    c.pins = vec![pin(
        Some("POST"),
        "/api/accounts/register/",
        Backend::Legacy,
    )];
    for p in [
        "/api/accounts/register/",
        "/api//accounts/register/",
        "/api/accounts%2fregister/",
    ] {
        assert_eq!(
            routed(&req("POST", p), &c),
            (Backend::Legacy, Reason::Pin),
            "{p}"
        );
    }
}

#[test]
fn only_the_methods_the_backends_implement_are_known() {
    for m in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        assert!(is_known_method(m), "{m}");
    }
    for m in [
        "PROPFIND", "MKCOL", "PURGE", "TRACE", "CONNECT", "get", "", "G ET",
    ] {
        assert!(!is_known_method(m), "{m}");
    }
}

#[test]
fn gateway_paths_beat_maintenance() {
    let mut c = cfg(0);
    c.maintenance = Maintenance::Full;
    assert_eq!(
        decide(&req("POST", "/admin/migration"), &c, &key(), true),
        Decision::Gateway
    );
    c.maintenance = Maintenance::WriteFreeze;
    assert_eq!(
        decide(&req("POST", "/admin/migration"), &c, &key(), true),
        Decision::Gateway
    );
}

#[test]
fn the_app_admin_api_goes_to_the_app_whatever_the_config() {
    let mut c = cfg(0);
    c.pins = vec![pin(None, "/", Backend::Legacy)];
    for mode in [
        Maintenance::Off,
        Maintenance::Full,
        Maintenance::WriteFreeze,
    ] {
        c.maintenance = mode;
        for p in [
            "/api/admin/import/users",
            "/api/admin",
            "/api/admin/export/summary?x=1",
        ] {
            assert_eq!(
                routed(&req("POST", p), &c),
                (Backend::App, Reason::AppAdmin),
                "{p}"
            );
        }
    }
    c.maintenance = Maintenance::Off;
    assert_eq!(routed(&req("GET", "/api/administrator"), &c).1, Reason::Pin);
}

// 2. Maintenance.

#[test]
fn full_maintenance_blocks_everything_else() {
    let mut c = cfg(100);
    c.maintenance = Maintenance::Full;
    for m in ["GET", "HEAD", "POST", "DELETE"] {
        assert_eq!(
            decide(&req(m, "/api/files/"), &c, &key(), true),
            Decision::Maintenance {
                write_freeze: false
            }
        );
    }
}

#[test]
fn write_freeze_passes_reads_and_blocks_writes() {
    let mut c = cfg(100);
    c.maintenance = Maintenance::WriteFreeze;
    for m in ["GET", "HEAD", "OPTIONS", "get"] {
        assert_eq!(routed(&req(m, "/api/files/"), &c).0, Backend::App);
    }
    for m in ["POST", "PUT", "PATCH", "DELETE", "PROPFIND"] {
        assert_eq!(
            decide(&req(m, "/api/files/"), &c, &key(), true),
            Decision::Maintenance { write_freeze: true },
            "{m}"
        );
    }
}

#[test]
fn maintenance_beats_pins() {
    let mut c = cfg(0);
    c.pins = vec![pin(None, "/", Backend::App)];
    c.maintenance = Maintenance::Full;
    assert!(matches!(
        decide(&req("GET", "/api/"), &c, &key(), true),
        Decision::Maintenance { .. }
    ));
    c.maintenance = Maintenance::WriteFreeze;
    assert_eq!(
        decide(&req("POST", "/api/"), &c, &key(), true),
        Decision::Maintenance { write_freeze: true }
    );
}

// 3. Pins.

#[test]
fn pin_routes_by_method_and_prefix_first_match_wins() {
    let mut c = cfg(100);
    c.pins = vec![
        pin(Some("POST"), "/api/accounts/register/", Backend::Legacy),
        pin(None, "/api/accounts/", Backend::App),
        pin(None, "/api/accounts/register/", Backend::App),
    ];
    let d = decide(&req("POST", "/api/accounts/register/"), &c, &key(), true);
    assert_eq!(
        d,
        Decision::Route {
            backend: Backend::Legacy,
            reason: Reason::Pin,
            bucket: None,
            set_sticky: None
        }
    );
    // Same path, other method: the second pin.
    let d = decide(&req("GET", "/api/accounts/register/"), &c, &key(), true);
    assert_eq!(route(&d), (Backend::App, Reason::Pin));
    // No pin matches: falls through to the percentage (100% → app by bucket).
    let d = decide(&req("POST", "/api/files/"), &c, &key(), true);
    assert_eq!(route(&d), (Backend::App, Reason::Bucket));
}

#[test]
fn pin_beats_staging_beta_and_sticky() {
    let mut c = cfg(100);
    c.pins = vec![pin(
        Some("POST"),
        "/api/accounts/register/",
        Backend::Legacy,
    )];
    c.staging_hosts = vec!["staging.".into()];
    c.beta_header_enabled = true;
    let sticky = sticky_cookie_value(&key(), 0);
    let token = mint_beta_token(&key(), NOW + 60, "t", None);
    let r = RequestFacts {
        host: "staging.listcutter.example",
        beta_header: Some("true"),
        beta_token: Some(&token),
        sticky_cookie: Some(&sticky),
        ..req("POST", "/api/accounts/register/")
    };
    assert_eq!(routed(&r, &c), (Backend::Legacy, Reason::Pin));
}

// 4. Staging hosts.

#[test]
fn staging_host_goes_to_app() {
    let mut c = cfg(0);
    c.staging_hosts = vec!["staging.".into(), "preview.listcutter.example".into()];
    for host in [
        "staging.listcutter.example",
        "STAGING.listcutter.example:8443",
        "preview.listcutter.example",
        "Preview.ListCutter.example.:443",
    ] {
        let r = RequestFacts {
            host,
            ..req("GET", "/")
        };
        assert_eq!(routed(&r, &c), (Backend::App, Reason::Staging), "{host}");
    }
    for host in [
        "listcutter.example",
        "notstaging.listcutter.example",
        "x.preview.listcutter.example",
        "staging",
        "",
    ] {
        let r = RequestFacts {
            host,
            ..req("GET", "/")
        };
        assert_eq!(routed(&r, &c).0, Backend::Legacy, "{host}");
    }
}

#[test]
fn staging_beats_beta_and_sticky() {
    let mut c = cfg(0);
    c.staging_hosts = vec!["staging.".into()];
    c.beta_header_enabled = true;
    let sticky = sticky_cookie_value(&key(), 99);
    let r = RequestFacts {
        host: "staging.listcutter.example",
        beta_header: Some("true"),
        sticky_cookie: Some(&sticky),
        ..req("GET", "/")
    };
    assert_eq!(routed(&r, &c), (Backend::App, Reason::Staging));
}

// 5. Beta testers.

#[test]
fn beta_header_goes_to_app_when_enabled() {
    let mut c = cfg(0);
    c.beta_header_enabled = true;
    for v in ["true", "TRUE", " True "] {
        let r = RequestFacts {
            beta_header: Some(v),
            ..req("GET", "/")
        };
        assert_eq!(routed(&r, &c), (Backend::App, Reason::BetaHeader));
    }
    for v in ["false", "1", "yes", ""] {
        let r = RequestFacts {
            beta_header: Some(v),
            ..req("GET", "/")
        };
        assert_eq!(routed(&r, &c).0, Backend::Legacy, "{v:?}");
    }
}

#[test]
fn beta_header_is_ignored_when_disabled() {
    let c = cfg(0);
    assert!(!c.beta_header_enabled);
    let r = RequestFacts {
        beta_header: Some("true"),
        ..req("GET", "/")
    };
    assert_eq!(routed(&r, &c), (Backend::Legacy, Reason::Bucket));
}

#[test]
fn beta_token_goes_to_app_even_with_header_switch_off() {
    let c = cfg(0);
    let token = mint_beta_token(&key(), NOW + 3600, "tester@example.com", None);
    let r = RequestFacts {
        beta_token: Some(&token),
        ..req("POST", "/api/files/")
    };
    assert_eq!(
        decide(&r, &c, &key(), true),
        Decision::Route {
            backend: Backend::App,
            reason: Reason::BetaToken,
            bucket: None,
            set_sticky: None
        }
    );
}

#[test]
fn bad_beta_tokens_fall_through() {
    let c = cfg(0);
    let expired = mint_beta_token(&key(), NOW - 1, "t", None);
    let foreign = mint_beta_token(&SigningKey::new(b"other"), NOW + 3600, "t", None);
    for token in [expired.as_str(), foreign.as_str(), "true", ""] {
        let r = RequestFacts {
            beta_token: Some(token),
            ..req("GET", "/")
        };
        assert_eq!(routed(&r, &c), (Backend::Legacy, Reason::Bucket));
    }
}

#[test]
fn the_signed_token_in_x_beta_user_works_where_true_does_not() {
    let c = cfg(0);
    assert!(!c.beta_header_enabled);
    let token = mint_beta_token(&key(), NOW + 3600, "api client", None);
    let routed = |header: &str| {
        let facts = RequestFacts {
            beta_header: Some(header),
            ..req("GET", "/api/x")
        };
        routed(&facts, &c)
    };
    assert_eq!(routed(&token), (Backend::App, Reason::BetaToken));
    assert_eq!(routed("true"), (Backend::Legacy, Reason::Bucket));
    let forged = mint_beta_token(&SigningKey::new(b"other"), NOW + 3600, "x", None);
    assert_eq!(routed(&forged).0, Backend::Legacy);
}

#[test]
fn revoked_beta_tokens_fall_through() {
    let token = mint_beta_token(&key(), NOW + 3600, "revoked tester", None);
    let other = mint_beta_token(&key(), NOW + 3600, "still welcome", None);
    let mut c = cfg(0);
    c.beta_revoked = vec![token_id(&token).unwrap()];
    for (t, backend) in [(&token, Backend::Legacy), (&other, Backend::App)] {
        let cookie = RequestFacts {
            beta_token: Some(t),
            ..req("GET", "/api/x")
        };
        let header = RequestFacts {
            beta_header: Some(t),
            ..req("GET", "/api/x")
        };
        for facts in [cookie, header] {
            assert_eq!(routed(&facts, &c).0, backend);
        }
    }
}

#[test]
fn beta_join_and_leave_are_the_gateways() {
    for p in [
        "/beta/join",
        "/beta/join/",
        "/beta/leave",
        "/beta/join?token=x",
    ] {
        assert_eq!(
            decide(&req("GET", p), &cfg(0), &key(), true),
            Decision::Gateway,
            "{p}"
        );
    }
    assert!(matches!(
        decide(&req("GET", "/beta/other"), &cfg(0), &key(), true),
        Decision::Route { .. }
    ));
}

fn person(user_id: i64, from_app: bool, age: i64) -> Identity {
    Identity {
        user_id,
        from_app,
        issued_at: NOW - age,
    }
}

#[test]
fn a_signed_in_person_is_bucketed_by_user_not_address_or_cookie() {
    let cookie = sticky_cookie_value(&key(), 99);
    for pct in [10, 50, 90] {
        let c = cfg(pct);
        for user in 0..200 {
            let expected = backend_for_bucket(user_bucket(user), pct);
            for ip in ["203.0.113.1", "198.51.100.9", "2001:db8::1"] {
                let facts = RequestFacts {
                    client_ip: Some(ip),
                    sticky_cookie: Some(&cookie),
                    identity: Some(person(user, user % 2 == 0, 3_600)),
                    ..req("GET", "/api/files")
                };
                assert_eq!(routed(&facts, &c), (expected, Reason::Identity));
            }
        }
    }
}

#[test]
fn identity_buckets_move_one_way_as_the_percentage_rises() {
    for user in 0..500 {
        let mut on_app = false;
        for pct in 0..=100 {
            let now_app = backend_for_bucket(user_bucket(user), pct) == Backend::App;
            assert!(!on_app || now_app, "user {user} left the app at {pct}%");
            on_app = now_app;
        }
        assert!(on_app);
    }
}

#[test]
fn a_fresh_token_holds_its_person_on_the_side_that_issued_it() {
    let c = RolloutConfig {
        identity_hold_secs: 30,
        ..cfg(0)
    };
    let at = |p: Identity, c: &RolloutConfig| {
        let facts = RequestFacts {
            identity: Some(p),
            ..req("GET", "/api/accounts/user/")
        };
        routed(&facts, c)
    };
    // Registered on the app a moment ago: the app, even at 0%.
    assert_eq!(
        at(person(1_000_000_001, true, 5), &c),
        (Backend::App, Reason::IdentityFresh)
    );
    // Signed in on Django a moment ago: legacy, even at 100%.
    let all = RolloutConfig {
        percentage: 100,
        ..c.clone()
    };
    assert_eq!(
        at(person(5, false, 29), &all),
        (Backend::Legacy, Reason::IdentityFresh)
    );
    // Past the bound: the bucket decides.
    assert_eq!(
        at(person(5, false, 30), &all),
        (Backend::App, Reason::Identity)
    );
}

#[test]
fn beta_and_pins_still_beat_identity() {
    let mut c = cfg(0);
    c.pins = vec![pin(None, "/api/accounts/register/", Backend::Legacy)];
    let token = mint_beta_token(&key(), NOW + 60, "t", None);
    let who = Some(person(3, true, 3_600));
    let pinned = RequestFacts {
        identity: who,
        ..req("POST", "/api/accounts/register/")
    };
    assert_eq!(routed(&pinned, &c).1, Reason::Pin);
    let beta = RequestFacts {
        identity: who,
        beta_token: Some(&token),
        ..req("GET", "/x")
    };
    assert_eq!(routed(&beta, &c).1, Reason::BetaToken);
}

#[test]
fn beta_beats_sticky() {
    let mut c = cfg(0);
    c.beta_header_enabled = true;
    let sticky = sticky_cookie_value(&key(), 99);
    let r = RequestFacts {
        beta_header: Some("true"),
        sticky_cookie: Some(&sticky),
        ..req("GET", "/")
    };
    assert_eq!(routed(&r, &c), (Backend::App, Reason::BetaHeader));
}

// 6. Sticky cookie.

#[test]
fn sticky_cookie_bucket_beats_ip() {
    let ip_bucket = bucket_of(&client_key(Some("203.0.113.7")));
    let cookie_bucket = (ip_bucket + 50) % 100;
    let sticky = sticky_cookie_value(&key(), cookie_bucket);
    let r = RequestFacts {
        sticky_cookie: Some(&sticky),
        ..req("GET", "/")
    };
    // A percentage between the two buckets separates them.
    let pct = ip_bucket.max(cookie_bucket);
    let d = decide(&r, &cfg(pct), &key(), true);
    assert_eq!(
        d,
        Decision::Route {
            backend: backend_for_bucket(cookie_bucket, pct),
            reason: Reason::Sticky,
            bucket: Some(cookie_bucket),
            set_sticky: None
        }
    );
    assert_ne!(
        backend_for_bucket(cookie_bucket, pct),
        backend_for_bucket(ip_bucket, pct)
    );
}

#[test]
fn sticky_client_keeps_its_side_when_ip_changes() {
    let first = decide(&req("GET", "/"), &cfg(30), &key(), true);
    let Decision::Route {
        backend,
        set_sticky: Some(set_cookie),
        ..
    } = first
    else {
        panic!("first visit sets the cookie: {first:?}");
    };
    let value = cookie_value(&set_cookie, STICKY_COOKIE_NAME).unwrap();
    for i in 0..200 {
        let ip = synthetic_ipv4(i);
        let r = RequestFacts {
            client_ip: Some(&ip),
            sticky_cookie: Some(value),
            ..req("GET", "/")
        };
        assert_eq!(routed(&r, &cfg(30)), (backend, Reason::Sticky));
    }
}

#[test]
fn bad_sticky_cookie_is_ignored_and_replaced() {
    let good = sticky_cookie_value(&key(), 42);
    let tampered = good.replacen("v1.42.", "v1.41.", 1);
    let foreign = sticky_cookie_value(&SigningKey::new(b"other"), 42);
    let clean = decide(&req("GET", "/"), &cfg(40), &key(), true);
    for bad in [tampered.as_str(), foreign.as_str(), "garbage", ""] {
        let r = RequestFacts {
            sticky_cookie: Some(bad),
            ..req("GET", "/")
        };
        assert_eq!(decide(&r, &cfg(40), &key(), true), clean, "{bad:?}");
    }
}

// 7. IP bucket.

#[test]
fn ip_bucket_sets_the_sticky_cookie() {
    let d = decide(&req("GET", "/"), &cfg(50), &key(), true);
    let bucket = bucket_of("203.0.113.7");
    assert_eq!(
        d,
        Decision::Route {
            backend: backend_for_bucket(bucket, 50),
            reason: Reason::Bucket,
            bucket: Some(bucket),
            set_sticky: Some(sticky_set_cookie(&key(), bucket, true)),
        }
    );
    let Decision::Route {
        set_sticky: Some(insecure),
        ..
    } = decide(&req("GET", "/"), &cfg(50), &key(), false)
    else {
        panic!()
    };
    assert!(!insecure.contains("Secure"));
    assert!(insecure.ends_with("; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000"));
}

#[test]
fn ipv6_clients_in_one_64_route_together() {
    let a = RequestFacts {
        client_ip: Some("2001:db8:aa:bb::1"),
        ..req("GET", "/")
    };
    let b = RequestFacts {
        client_ip: Some("2001:db8:aa:bb:ffff:ffff:ffff:fffe"),
        ..req("GET", "/")
    };
    for pct in [0, 10, 37, 63, 100] {
        assert_eq!(
            decide(&a, &cfg(pct), &key(), true),
            decide(&b, &cfg(pct), &key(), true)
        );
    }
}

#[test]
fn zero_percent_sends_nobody_to_the_app() {
    for i in 0..10_000 {
        assert_eq!(
            backend_at(&client_key(Some(&synthetic_ipv4(i))), 0),
            Backend::Legacy
        );
    }
    assert_eq!(routed(&req("GET", "/"), &cfg(0)).0, Backend::Legacy);
}

#[test]
fn hundred_percent_sends_everybody_to_the_app() {
    for i in 0..10_000 {
        assert_eq!(
            backend_at(&client_key(Some(&synthetic_ipv4(i))), 100),
            Backend::App
        );
    }
    assert_eq!(backend_at(UNKNOWN_CLIENT_KEY, 100), Backend::App);
}

#[test]
fn quarter_rollout_is_about_a_quarter() {
    let app = (0..10_000)
        .filter(|&i| backend_at(&client_key(Some(&synthetic_ipv4(i))), 25) == Backend::App)
        .count();
    assert!(
        (2_350..=2_650).contains(&app),
        "{app} of 10000 on the app at 25%"
    );
}

#[test]
fn raising_the_percentage_only_moves_clients_to_the_app() {
    let keys: Vec<String> = (0..10_000)
        .map(|i| client_key(Some(&synthetic_ipv4(i))))
        .collect();
    for k in &keys {
        if backend_at(k, 10) == Backend::App {
            assert_eq!(backend_at(k, 25), Backend::App, "{k}");
            assert_eq!(backend_at(k, 50), Backend::App, "{k}");
        }
    }
    // Over all steps, nobody moves back to legacy as the percentage rises.
    for k in &keys {
        let mut was_app = false;
        for pct in 0..=100 {
            let on_app = backend_at(k, pct) == Backend::App;
            assert!(on_app || !was_app, "{k} left the app at {pct}%");
            was_app = on_app;
        }
    }
}

#[test]
fn reasons_have_stable_names() {
    assert_eq!(Reason::BetaToken.as_str(), "beta_token");
    assert_eq!(
        serde_json::to_string(&Reason::BetaHeader).unwrap(),
        "\"beta_header\""
    );
    assert_eq!(Backend::Legacy.as_str(), "legacy");
}

#[test]
fn only_a_post_to_the_login_endpoint_is_a_sign_in() {
    for path in [
        "/api/accounts/login/",
        "/api/accounts/login",
        "/api//accounts/./login/",
    ] {
        assert!(super::is_sign_in("POST", path), "{path}");
    }
    assert!(super::is_sign_in("post", "/api/accounts/login/"));
    assert!(!super::is_sign_in("GET", "/api/accounts/login/"));
    assert!(!super::is_sign_in("POST", "/api/accounts/login/extra"));
    assert!(!super::is_sign_in("POST", "/api/accounts/register/"));
    assert!(!super::is_sign_in("POST", "/admin/login"));
}
