//! Measures what the gateway adds: the same closed-loop load (N clients, each
//! sending its next request when the last one answered) on the app Worker
//! directly, through a bare pass-through Worker (the floor: one Worker hop that
//! does nothing else) and through the gateway, and on the Django stand-in directly and
//! through the gateway, in one run; then a shadowable read served by legacy with
//! shadow diffing off and at 100% (every request also sent to the app and
//! compared, after the answer). Prints p50/p99 latency and requests/s.
//!
//!   cargo run --release -p e2e --example gateway_bench -- [seconds] [clients]

use e2e::{client, ipv4, Stack};
use std::time::{Duration, Instant};

struct Row {
    name: &'static str,
    requests: usize,
    errors: usize,
    p50: Duration,
    p99: Duration,
    rps: f64,
}

/// `clients` loops, each sending its next request when the last one answered,
/// or, with `pace`, not before `pace` after the last one started (an open loop:
/// work the gateway does after answering is not queued behind the next request).
fn load(name: &'static str, url: &str, secs: u64, clients: u32, pace: Option<Duration>) -> Row {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|n| {
                s.spawn(move || {
                    let c = client();
                    let (mut lat, mut errors) = (Vec::new(), 0);
                    let mut i = 0u32;
                    while Instant::now() < deadline {
                        if let Some(pace) = pace {
                            let next = started + pace * i;
                            std::thread::sleep(next.saturating_duration_since(Instant::now()));
                        }
                        // A new client address per request: the gateway's rate
                        // limiter (100/min per address) stays on the path but
                        // never trips, as for real traffic from many users.
                        let ip = ipv4(n * 1_000_000 + i % 1_000_000);
                        i += 1;
                        let req = c.get(url).header("CF-Connecting-IP", &ip);
                        let t = Instant::now();
                        match req.send().and_then(|r| r.bytes()) {
                            Ok(_) => lat.push(t.elapsed()),
                            Err(_) => errors += 1,
                        }
                    }
                    (lat, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let errors = results.iter().map(|r| r.1).sum();
    let mut all: Vec<Duration> = results.into_iter().flat_map(|r| r.0).collect();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Row {
        name,
        requests: all.len(),
        errors,
        p50: pct(0.50),
        p99: pct(0.99),
        rps: all.len() as f64 / elapsed,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let clients: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);

    let stack = Stack::start();
    let app_alone = stack.start_app_alone(&[]);
    let app = &app_alone.url;
    let passthrough = stack.start_app_behind_passthrough();
    stack.set_percentage("100");
    let probe = "/api/bench-probe";
    let legacy_probe = "/__test__/status?code=204";
    let shadowed = "/api/accounts/user/";
    let via_gateway = |name, path: &str| {
        load(
            name,
            &format!("{}{path}", stack.gateway),
            secs,
            clients,
            None,
        )
    };
    // One client at 50 requests/s: the latency a user sees when the machine is not
    // saturated by the closed loops above.
    let paced = |name, path: &str| {
        let url = format!("{}{path}", stack.gateway);
        load(name, &url, secs, 1, Some(Duration::from_millis(20)))
    };
    let rows = [
        via_gateway("gateway /health", "/health"),
        load("app direct", &format!("{app}{probe}"), secs, clients, None),
        load(
            "app via pass-through",
            &format!("{}{probe}", passthrough.url),
            secs,
            clients,
            None,
        ),
        via_gateway("app via gateway", probe),
        load(
            "legacy direct",
            &format!("{}{legacy_probe}", stack.legacy),
            secs,
            clients,
            None,
        ),
        {
            stack.set_percentage("0");
            via_gateway("legacy via gateway", legacy_probe)
        },
        // A shadowable read (signed out, so both sides answer the same 401 without
        // touching a database), served by legacy.
        via_gateway("shadow off", shadowed),
        paced("shadow off, 50/s", shadowed),
        {
            stack.kv_put("MIGRATION_KV", shared::routing::keys::SHADOW_RATE, "1");
            via_gateway("shadow 100%", shadowed)
        },
        paced("shadow 100%, 50/s", shadowed),
    ];
    stack.kv_put("MIGRATION_KV", shared::routing::keys::SHADOW_RATE, "0");
    println!("\n{secs} s per row, {clients} concurrent clients, local workerd (wrangler dev) on this machine\n");
    println!("| target               | requests | errors | p50 ms | p99 ms |  req/s |");
    println!("|----------------------|---------:|-------:|-------:|-------:|-------:|");
    for r in &rows {
        println!(
            "| {:<20} | {:>8} | {:>6} | {:>6.2} | {:>6.2} | {:>6.0} |",
            r.name,
            r.requests,
            r.errors,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.rps
        );
    }
    stack.shutdown();
}
