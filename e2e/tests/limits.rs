//! The gateway's rate limits as a browser meets them: hashed static files and
//! health probes spend nothing, a signed-in person has a budget of their own
//! whoever shares their address, and credential attempts run out long before
//! reads. The local limits (`wrangler.gateway.toml`): auth 30, write 60, read 100
//! per 60 s. Each test sends from addresses of its own ([`Stack::ip`]).

use crate::common::{header, served_by};
use e2e::{client, Stack, JWT_SECRET};
use reqwest::blocking::{RequestBuilder, Response};
use serde_json::Value;
use shared::jwt::{issue, JwtConfig, TokenType, TokenUser};

crate::tests!(
    limits:
    static_assets_and_health_probes_are_never_limited,
    people_behind_one_address_have_their_own_budgets,
    credential_attempts_run_out_before_reads,
);

/// The local read budget per key and 60 s.
const READS: usize = 100;
/// The local credential-attempt budget per address and 60 s.
const AUTH_ATTEMPTS: usize = 30;

/// A cheap read on the legacy side (0%).
const PROBE: &str = "/__test__/status?code=204";

/// An access token of a person the gateway recognises (signed with the shared
/// secret, issued two minutes ago so the identity bucket decides, not the side
/// that issued it).
fn token_of(user_id: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let user = TokenUser {
        id: user_id,
        username: format!("limits{user_id}"),
        is_admin: false,
    };
    let cfg = JwtConfig::new(JWT_SECRET, "list-cutter", "list-cutter-api");
    issue(
        &cfg,
        &user,
        TokenType::Access,
        now - 120,
        format!("limits-{user_id}-{now}"),
    )
    .unwrap()
    .0
}

/// Sends up to `n` requests; the 1-based number and response of the first 429.
/// Callers allow twice the budget: the local limiter counts in fixed wall-clock
/// windows, so a window may end part way through.
fn first_429(n: usize, mut request: impl FnMut() -> RequestBuilder) -> Option<(usize, Response)> {
    (1..=n).find_map(|i| {
        let resp = request().send().expect("request");
        (resp.status() == 429).then_some((i, resp))
    })
}

/// The gateway's 429: its own answer, `Retry-After`, a JSON body naming the budget.
fn assert_limited(resp: Response, class: &str) {
    assert_eq!(served_by(&resp), "gateway");
    assert_eq!(header(&resp, "retry-after").as_deref(), Some("60"));
    assert!(
        header(&resp, "content-type").is_some_and(|t| t.starts_with("application/json")),
        "{resp:?}"
    );
    let body: Value = resp.json().expect("a JSON body");
    assert_eq!(body["error"], "too many requests", "{body}");
    assert_eq!(body["limit"], class, "{body}");
    assert_eq!(body["retry_after"], 60, "{body}");
}

fn static_assets_and_health_probes_are_never_limited(stack: &Stack) {
    stack.set_percentage("0");
    let ip = stack.ip();
    // The frontend is the app's: a beta tester's browser loads it at 0%.
    let page = || {
        stack
            .get_from("/", &ip)
            .header("X-Beta-User", "true")
            .send()
            .unwrap()
    };
    let index = page().text().unwrap();
    let assets: Vec<String> = index
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .map(str::to_string)
        .collect();
    assert!(!assets.is_empty(), "no hashed files in {index}");
    // Well past the read budget, as a few tabs reloading would.
    for n in 0..(READS + 50) {
        let asset = &assets[n % assets.len()];
        let resp = stack
            .get_from(asset, &ip)
            .header("X-Beta-User", "true")
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200, "{asset}, request {n}");
        assert_eq!(served_by(&resp), "app-blue");
        let probe = stack.get_from("/health", &ip).send().unwrap();
        assert_eq!(probe.status(), 200, "health probe {n}");
    }
    // The address's read budget is untouched: the page itself still loads, and
    // only reads of other things use it up.
    assert_eq!(page().status(), 200);
    let (n, resp) =
        first_429(2 * READS + 10, || stack.get_from(PROBE, &ip)).expect("plain reads are limited");
    assert!(n >= READS - 1, "limited after only {n} reads");
    assert_limited(resp, "read");
    // Still no limit on the hashed files once the reads are used up.
    let resp = stack
        .get_from(&assets[0], &ip)
        .header("X-Beta-User", "true")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
}

fn people_behind_one_address_have_their_own_budgets(stack: &Stack) {
    stack.set_percentage("0");
    let office = stack.ip();
    let (alice, bob) = (token_of(1_980_001), token_of(1_980_002));
    let (n, resp) = first_429(2 * READS + 10, || {
        stack.get_from(PROBE, &office).bearer_auth(&alice)
    })
    .expect("one person's reads are limited");
    assert!(n > READS - 5, "limited after only {n} reads");
    assert_limited(resp, "read");
    let read_as = |ip: &str, token: &str| {
        let resp = stack.get_from(PROBE, ip).bearer_auth(token).send().unwrap();
        resp.status()
    };
    // Alice's budget goes with her to another address (asked at once: the local
    // limiter starts every key afresh each wall-clock minute).
    let home = stack.ip();
    assert_eq!(read_as(&home, &alice), 429, "one person, one budget");
    // Bob at the same address, and anyone there not signed in, still read.
    for _ in 0..10 {
        assert_eq!(read_as(&office, &bob), 204, "a colleague is not limited");
    }
    assert_eq!(stack.get_from(PROBE, &office).send().unwrap().status(), 204);
    // A token the gateway cannot verify is no person: the address's budget.
    let forged = format!("{}x", token_of(1_980_003));
    assert_eq!(read_as(&home, &forged), 204);
}

fn credential_attempts_run_out_before_reads(stack: &Stack) {
    stack.set_percentage("0");
    let ip = stack.ip();
    // Refreshing a made-up token is a credential attempt that costs no hash.
    let refresh = || {
        client()
            .post(format!("{}/api/accounts/token/refresh/", stack.gateway))
            .header("CF-Connecting-IP", &ip)
            .json(&serde_json::json!({"refresh": "not-a-token"}))
    };
    let (n, resp) = first_429(2 * AUTH_ATTEMPTS + 10, refresh).expect("attempts are limited");
    assert!(n > AUTH_ATTEMPTS - 5, "limited after only {n} attempts");
    assert_limited(resp, "auth");
    // Signing in from that address is an attempt too: refused at the gateway.
    let login = client()
        .post(format!("{}/api/accounts/login/", stack.gateway))
        .header("CF-Connecting-IP", &ip)
        .json(&serde_json::json!({"username": "nobody", "password": "guess"}))
        .send()
        .unwrap();
    assert_limited(login, "auth");
    // Reads from the same address go on, well past the attempts' budget.
    for n in 0..(AUTH_ATTEMPTS + 20) {
        let resp = stack.get_from(PROBE, &ip).send().unwrap();
        assert_eq!(resp.status(), 204, "read {n} after the attempts ran out");
    }
}
