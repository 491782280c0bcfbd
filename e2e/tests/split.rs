//! The traffic split end to end: distribution, monotonicity, IPv6 grouping,
//! the sticky cookie, the overrides and the fail-safe config.

use crate::common::{header, headers_all, served_by};
use e2e::{client, Stack, ROUTING_SECRET};
use reqwest::blocking::RequestBuilder;
use shared::routing::{
    backend_for_bucket, bucket_of, client_key, mint_beta_token, Backend, SigningKey,
};

crate::tests!(
    split:
    distribution_follows_percentage_and_is_monotonic,
    zero_and_hundred_percent_are_absolute,
    ipv6_addresses_in_one_64_land_together,
    sticky_cookie_keeps_branch_when_ip_changes,
    tampered_sticky_cookie_is_ignored,
    beta_testers_and_staging_reach_app_at_zero,
    route_pin_wins_over_percentage,
    invalid_or_missing_percentage_routes_to_legacy,
    signed_in_people_keep_their_side_across_addresses,
);

/// A cheap path on both sides: the stand-in answers 204, the app its
/// frontend's `index.html` (200).
const PROBE: &str = "/__test__/status?code=204";
const CLIENTS: usize = 10_000;

/// The branch (`X-Served-By`) for each client IP, `threads` requests at a time.
fn branches(stack: &Stack, ips: &[String]) -> Vec<String> {
    let threads = 8;
    let chunk = ips.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = ips
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let c = client();
                    part.iter()
                        .map(|ip| {
                            let resp = c
                                .get(format!("{}{PROBE}", stack.gateway))
                                .header("CF-Connecting-IP", ip)
                                .send()
                                .unwrap_or_else(|e| panic!("{ip}: {e}"));
                            let status = resp.status().as_u16();
                            assert!(
                                status == 204 || status == 200,
                                "{ip}: unexpected status {status}"
                            );
                            served_by(&resp)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread"))
            .collect()
    })
}

fn app_count(branches: &[String]) -> usize {
    branches.iter().filter(|b| *b == "app-blue").count()
}

/// One pass over 10 000 clients at 10%, 25% and 50%: the 25% share is within
/// ±1.5 points, and raising the percentage never moves a client back to legacy.
/// (Any 10 000 consecutive addresses of [`Stack::ips`] put 2 396 to 2 612 in
/// the buckets below 25.)
fn distribution_follows_percentage_and_is_monotonic(stack: &Stack) {
    let ips = stack.ips(CLIENTS);
    let mut previous: Option<Vec<String>> = None;
    for pct in ["10", "25", "50"] {
        stack.set_percentage(pct);
        let got = branches(stack, &ips);
        assert!(
            got.iter().all(|b| b == "app-blue" || b == "legacy"),
            "unknown branch"
        );
        let app = app_count(&got);
        if pct == "25" {
            assert!(
                (2_350..=2_650).contains(&app),
                "25%: {app} of {CLIENTS} clients reached the app"
            );
        }
        if let Some(before) = &previous {
            let moved_back = before
                .iter()
                .zip(&got)
                .filter(|(b, a)| *b == "app-blue" && *a != "app-blue")
                .count();
            assert_eq!(
                moved_back, 0,
                "{moved_back} clients left the app when raising to {pct}%"
            );
            assert!(app > app_count(before), "raising to {pct}% moved nobody");
        }
        previous = Some(got);
    }
    stack.set_percentage("0");
}

fn zero_and_hundred_percent_are_absolute(stack: &Stack) {
    let ips = stack.ips(2_000);
    for (pct, want) in [("0", 0), ("100", 2_000)] {
        stack.set_percentage(pct);
        assert_eq!(app_count(&branches(stack, &ips)), want, "{pct}%");
    }
    stack.set_percentage("0");
}

fn ipv6_addresses_in_one_64_land_together(stack: &Stack) {
    stack.set_percentage("50");
    // Addresses of the test's own, not the stack's (which are IPv4): two in each
    // /64, in the documentation range 2001:db8::/32 that no other test sends from.
    let mut pairs = Vec::new();
    for n in 0..200u32 {
        pairs.push(format!("2001:db8:{:x}:{:x}::1", n >> 8, n & 0xff));
        pairs.push(format!(
            "2001:db8:{:x}:{:x}:dead:beef:1234:{:x}",
            n >> 8,
            n & 0xff,
            n + 7
        ));
    }
    let got = branches(stack, &pairs);
    for (i, pair) in got.chunks(2).enumerate() {
        assert_eq!(
            pair[0],
            pair[1],
            "{} and {} split",
            pairs[2 * i],
            pairs[2 * i + 1]
        );
    }
    let app = app_count(&got) / 2;
    assert!(
        (40..=160).contains(&app),
        "{app} of 200 /64s at 50%: grouping looks broken"
    );
    stack.set_percentage("0");
}

/// An IP whose own bucket sends it to the other branch than `bucket` would.
fn ip_on_other_side(stack: &Stack, bucket: u8, pct: u8) -> String {
    let other = match backend_for_bucket(bucket, pct) {
        Backend::App => Backend::Legacy,
        Backend::Legacy => Backend::App,
    };
    stack.ip_routed_to(other, pct)
}

fn first_visit(stack: &Stack, ip: &str) -> (String, String) {
    let resp = stack.get_from(PROBE, ip).send().unwrap();
    let cookie = headers_all(&resp, "set-cookie")
        .into_iter()
        .find(|c| c.starts_with("lc_route="))
        .expect("a sticky cookie on the first visit");
    let value = cookie["lc_route=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (served_by(&resp), value)
}

/// A visit from `ip` holding the sticky cookie `cookie`: who served it, the
/// route reason, and the sticky cookies it set.
fn visit_with_cookie(
    stack: &Stack,
    ip: &str,
    cookie: &str,
) -> (String, Option<String>, Vec<String>) {
    let resp = stack
        .get_from(PROBE, ip)
        .header("Cookie", format!("lc_route={cookie}"))
        .send()
        .unwrap();
    let issued = headers_all(&resp, "set-cookie")
        .into_iter()
        .filter(|c| c.starts_with("lc_route="))
        .collect();
    (served_by(&resp), header(&resp, "x-route-reason"), issued)
}

fn sticky_cookie_keeps_branch_when_ip_changes(stack: &Stack) {
    stack.set_percentage("50");
    let home = stack.ip();
    let (branch, cookie) = first_visit(stack, &home);
    let bucket = bucket_of(&client_key(Some(&home)));
    let roaming = ip_on_other_side(stack, bucket, 50);

    let (by, reason, issued) = visit_with_cookie(stack, &roaming, &cookie);
    assert_eq!(by, branch, "the cookie holder flapped after an IP change");
    assert_eq!(reason.as_deref(), Some("sticky"));
    assert!(issued.is_empty(), "a valid cookie is not re-issued");
    stack.set_percentage("0");
}

fn tampered_sticky_cookie_is_ignored(stack: &Stack) {
    stack.set_percentage("50");
    let home = stack.ip();
    let (_, cookie) = first_visit(stack, &home);
    let bucket = bucket_of(&client_key(Some(&home)));
    let (prefix, sig) = cookie.rsplit_once('.').unwrap();

    // Each forged cookie claims a bucket; it is sent from an IP whose own
    // bucket is on the other side, so honouring the cookie would show.
    let other_bucket = if bucket < 50 { 99 } else { 0 };
    let mut bad_sig = sig.to_string();
    bad_sig.replace_range(0..1, if sig.starts_with('A') { "B" } else { "A" });
    let forgeries = [
        (format!("v1.{other_bucket}.{sig}"), other_bucket),
        (format!("{prefix}.{bad_sig}"), bucket),
        ("garbage".to_string(), bucket),
    ];
    for (forged, claimed) in forgeries {
        let roaming = ip_on_other_side(stack, claimed, 50);
        let expected = if bucket_of(&client_key(Some(&roaming))) < 50 {
            "app-blue"
        } else {
            "legacy"
        };
        let (by, reason, issued) = visit_with_cookie(stack, &roaming, &forged);
        assert_eq!(by, expected, "forged cookie {forged} was honoured");
        assert_eq!(reason.as_deref(), Some("bucket"));
        assert!(
            issued.iter().any(|c| c.starts_with("lc_route=v1.")),
            "a forged cookie is replaced"
        );
    }
    stack.set_percentage("0");
}

fn beta_testers_and_staging_reach_app_at_zero(stack: &Stack) {
    stack.set_percentage("0");
    let ip = stack.ip();
    let get = || stack.get_from(PROBE, &ip);
    assert_eq!(served_by(&get().send().unwrap()), "legacy");
    assert_eq!(
        served_by(&get().header("X-Beta-User", "true").send().unwrap()),
        "app-blue"
    );
    assert_eq!(
        served_by(&get().header("X-Beta-User", "false").send().unwrap()),
        "legacy"
    );
    // Who served a request, and why.
    let routed = |req: RequestBuilder| {
        let resp = req.send().unwrap();
        (served_by(&resp), header(&resp, "x-route-reason"))
    };
    assert_eq!(
        routed(get().header("Host", "staging.list-cutter.test")),
        ("app-blue".into(), Some("staging".into()))
    );

    let key = SigningKey::new(ROUTING_SECRET);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = mint_beta_token(&key, now + 3_600, "qa-team", None);
    assert_eq!(
        routed(get().header("Cookie", format!("lc_beta={token}"))),
        ("app-blue".into(), Some("beta_token".into()))
    );
    let by_header = get().header("X-Beta-Token", &token).send().unwrap();
    assert_eq!(served_by(&by_header), "app-blue");

    let expired = mint_beta_token(&key, now - 10, "qa-team", None);
    let forged = mint_beta_token(
        &SigningKey::new("not-the-secret"),
        now + 3_600,
        "qa-team",
        None,
    );
    for bad in [expired, forged] {
        let resp = get()
            .header("Cookie", format!("lc_beta={bad}"))
            .send()
            .unwrap();
        assert_eq!(
            served_by(&resp),
            "legacy",
            "an invalid beta token reached the app"
        );
    }
}

fn route_pin_wins_over_percentage(stack: &Stack) {
    stack.set_percentage("100");
    stack.kv_put(
        "MIGRATION_KV",
        "route_pins",
        r#"[{"method":"POST","path_prefix":"/__test__/echo","backend":"legacy"}]"#,
    );
    let ip = stack.ip();
    let pinned = client()
        .post(format!("{}/__test__/echo", stack.gateway))
        .header("CF-Connecting-IP", &ip)
        .body("pinned")
        .send()
        .unwrap();
    assert_eq!(served_by(&pinned), "legacy");
    assert_eq!(header(&pinned, "x-route-reason").as_deref(), Some("pin"));
    // Same path, other method: not pinned, so the 100% applies.
    let unpinned = stack.get_from("/__test__/echo", &ip).send().unwrap();
    assert_eq!(served_by(&unpinned), "app-blue");
    stack.kv_delete("MIGRATION_KV", "route_pins");
    stack.set_percentage("0");
}

fn invalid_or_missing_percentage_routes_to_legacy(stack: &Stack) {
    let ips = stack.ips(200);
    stack.set_percentage("100");
    assert_eq!(
        app_count(&branches(stack, &ips)),
        200,
        "precondition: all on the app"
    );
    for bad in ["abc", "150", "-1", "50.5"] {
        stack.set_percentage(bad);
        let got = branches(stack, &ips);
        assert!(
            got.iter().all(|b| b == "legacy"),
            "{bad:?} sent clients to the app"
        );
    }
    stack.set_percentage("100");
    stack.kv_delete("MIGRATION_KV", "traffic_percentage");
    assert!(
        branches(stack, &ips).iter().all(|b| b == "legacy"),
        "missing key"
    );
    stack.set_percentage("0");
}

/// A signed-in person is routed by their user id, not their address: at 10%, 50%
/// and 90% each person keeps one side over many addresses, the side their bucket
/// says. A token younger than the replication bound stays on the side that
/// issued it (an app registration at 0%, a Django login at 100%).
fn signed_in_people_keep_their_side_across_addresses(stack: &Stack) {
    use shared::jwt::{issue, JwtConfig, TokenType, TokenUser};
    use shared::routing::user_bucket;
    let cfg = JwtConfig::new(e2e::JWT_SECRET, "list-cutter", "list-cutter-api");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token_of = |id: i64, iat: i64| {
        let user = TokenUser {
            id,
            username: format!("person{id}"),
            is_admin: false,
        };
        issue(
            &cfg,
            &user,
            TokenType::Access,
            iat,
            format!("split-{id}-{iat}"),
        )
        .unwrap()
        .0
    };
    let side = |token: &str, ip: &str| {
        let resp = stack.get_from(PROBE, ip).bearer_auth(token).send().unwrap();
        (
            served_by(&resp),
            header(&resp, "x-route-reason").unwrap_or_default(),
        )
    };
    for pct in [10u8, 50, 90] {
        stack.set_percentage(&pct.to_string());
        for id in 880_001..880_011 {
            let token = token_of(id, now - 120);
            let expected = match backend_for_bucket(user_bucket(id), pct) {
                Backend::App => "app-blue",
                Backend::Legacy => "legacy",
            };
            for _ in 0..6 {
                let got = side(&token, &stack.ip());
                assert_eq!(
                    got,
                    (expected.to_string(), "identity".to_string()),
                    "user {id} at {pct}%"
                );
            }
        }
    }
    stack.set_percentage("0");
    let fresh_app = token_of(1_000_880_001, now);
    assert_eq!(
        side(&fresh_app, &stack.ip()),
        ("app-blue".into(), "identity_fresh".into())
    );
    stack.set_percentage("100");
    let name = crate::common::unique("fresh_dj");
    let legacy_user = crate::session::User::register(stack, false, &name);
    assert_eq!(
        side(&legacy_user.access, &stack.ip()),
        ("legacy".into(), "identity_fresh".into())
    );
    stack.set_percentage("0");
}
