//! Measures what the gateway adds: the same closed-loop load (N clients, each
//! sending its next request when the last one answered) on the app Worker
//! directly, through a bare pass-through Worker (the floor: one Worker hop that
//! does nothing else) and through the gateway, and on the Django stand-in directly and
//! through the gateway, in one run; then a shadowable read served by legacy with
//! shadow diffing off and at 100% (every request also sent to the app and
//! compared, after the answer), closed-loop and then paced, off and on in
//! alternating rounds. Prints p50/p99 latency and requests/s.
//!
//!   cargo run --release -p e2e --example gateway_bench -- [seconds] [clients]

use e2e::{client, ipv4, Stack, ADMIN_TOKEN, CONFIG_CACHE_MS};
use std::time::{Duration, Instant};

struct Row {
    name: &'static str,
    requests: usize,
    errors: usize,
    p50: Duration,
    p99: Duration,
    rps: f64,
}

/// What one or more load runs measured: every latency, the failures, and the
/// time they took.
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    errors: usize,
    secs: f64,
}

impl Sample {
    fn add(mut self, other: Sample) -> Sample {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.secs += other.secs;
        self
    }

    fn row(mut self, name: &'static str) -> Row {
        self.latencies.sort();
        let all = &self.latencies;
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Row {
            name,
            requests: all.len(),
            errors: self.errors,
            p50: pct(0.50),
            p99: pct(0.99),
            rps: all.len() as f64 / self.secs,
        }
    }
}

/// `clients` loops, each sending its next request when the last one answered,
/// or, with `pace`, not before `pace` after the last one started (an open loop:
/// work the gateway does after answering is not queued behind the next request).
/// `first_ip` numbers the first client address, so runs can use fresh ones.
fn load(url: &str, secs: f64, clients: u32, pace: Option<Duration>, first_ip: u32) -> Sample {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
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
                        let ip = ipv4(first_ip + n * 1_000_000 + i % 1_000_000);
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
    let secs = started.elapsed().as_secs_f64();
    results
        .into_iter()
        .fold(Sample::default(), |sample, (latencies, errors)| {
            sample.add(Sample {
                latencies,
                errors,
                secs: 0.0,
            })
        })
        .add(Sample {
            secs,
            ..Sample::default()
        })
}

/// Sets the shadow sample rate through the admin API and waits out the
/// gateway's config cache.
fn set_shadow_rate(stack: &Stack, rate: f64) {
    let resp = client()
        .put(format!("{}/admin/shadow", stack.gateway))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({ "rate": rate }))
        .send()
        .expect("PUT /admin/shadow");
    assert!(
        resp.status().is_success(),
        "PUT /admin/shadow: {}",
        resp.status()
    );
    std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 200));
}

/// Rounds of shadowing off and on in the paced comparison: alternating them
/// puts the drift of a shared machine (other work, caches warming) on both alike.
const PACED_ROUNDS: u32 = 5;

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
    let closed = |name, url: String| load(&url, secs as f64, clients, None, 0).row(name);
    let via_gateway = |name, path: &str| closed(name, format!("{}{path}", stack.gateway));
    let mut rows = vec![
        via_gateway("gateway /health", "/health"),
        closed("app direct", format!("{app}{probe}")),
        closed(
            "app via pass-through",
            format!("{}{probe}", passthrough.url),
        ),
        via_gateway("app via gateway", probe),
        closed("legacy direct", format!("{}{legacy_probe}", stack.legacy)),
        {
            stack.set_percentage("0");
            via_gateway("legacy via gateway", legacy_probe)
        },
        // A shadowable read (signed out, so both sides answer the same 401 without
        // touching a database), served by legacy.
        via_gateway("shadow off", shadowed),
        {
            set_shadow_rate(&stack, 1.0);
            via_gateway("shadow 100%", shadowed)
        },
    ];
    // One client at 50 requests/s: the latency a user sees when the machine is not
    // saturated. The closed loop's mirrored tail is let drain first.
    std::thread::sleep(Duration::from_secs(2));
    let url = format!("{}{shadowed}", stack.gateway);
    let round_secs = secs as f64 / PACED_ROUNDS as f64;
    let (mut off, mut on) = (Sample::default(), Sample::default());
    for round in 0..PACED_ROUNDS {
        let first_ip = 12_000_000 + round * 2_000;
        let paced = |first_ip| {
            load(
                &url,
                round_secs,
                1,
                Some(Duration::from_millis(20)),
                first_ip,
            )
        };
        set_shadow_rate(&stack, 0.0);
        off = off.add(paced(first_ip));
        set_shadow_rate(&stack, 1.0);
        on = on.add(paced(first_ip + 1_000));
    }
    set_shadow_rate(&stack, 0.0);
    rows.push(off.row("shadow off, 50/s"));
    rows.push(on.row("shadow 100%, 50/s"));
    println!("\n{secs} s per row, {clients} concurrent clients, local workerd (wrangler dev) on this machine");
    println!("(the 50/s rows: {PACED_ROUNDS} rounds of off then on, {round_secs:.1} s each)\n");
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
