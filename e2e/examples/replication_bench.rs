//! Replication lag under load: N people write through the gateway at 50% (each
//! arrives within the first `ramp` seconds, registers once, on the side their
//! address is split to, then uploads a file every `pause` ms) while
//! `cutover replicate --interval 1` keeps both sides in step. Every 500 ms the gateway's replication state is read: its lag per
//! direction is how old the oldest change not known to be on the other side can
//! be (now minus the start of the last completed round). Prints p50/p99/max of
//! those samples, the rounds and the writes acknowledged.
//!
//!   cargo run --release -p e2e --example replication_bench -- [seconds] [people] [pause ms] [ramp s]

use e2e::process::Group;
use e2e::{client, ipv4, Stack};
use reqwest::blocking::multipart::{Form, Part};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e::ADMIN_TOKEN as TOKEN;
const PASSWORD: &str = "bench pass 7&";

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(60);
    let people: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let pause: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5_000);
    // People arrive over this many seconds: a registration costs two 870 000-round
    // PBKDF2 hashes, and 50 at once saturate two cores on their own.
    let ramp: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(30);
    let stack = Stack::start();
    stack.set_percentage("50");
    let replicate = stack.replicate_command("bench-replicate-state.json", &["--interval", "1"]);
    let replicator = Group::spawn(
        "cutover replicate",
        replicate,
        &stack.dir.join("bench-replicate.log"),
    );

    let writes = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut samples: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut rounds = 0;
    std::thread::scope(|s| {
        for n in 0..people {
            let (stack, writes, failures) = (&stack, &writes, &failures);
            s.spawn(move || {
                // Idle connections are dropped before the local server's 5 s
                // keep-alive ends them, so a pause never meets a closed one.
                let c = reqwest::blocking::Client::builder()
                    .pool_idle_timeout(Duration::from_secs(2))
                    .timeout(Duration::from_secs(120))
                    .build()
                    .expect("http client");
                std::thread::sleep(Duration::from_millis(
                    ramp * 1000 * u64::from(n) / u64::from(people.max(1)),
                ));
                let ip = ipv4(600_000 + n);
                let name = format!("bench{n}x{}", std::process::id());
                let at = |path: &str| format!("{}{path}", stack.gateway);
                let reg = c
                    .post(at("/api/accounts/register/"))
                    .header("CF-Connecting-IP", &ip)
                    .json(&json!({"username": name, "password": PASSWORD, "password2": PASSWORD}))
                    .send();
                let login: Value = c
                    .post(at("/api/accounts/login/"))
                    .header("CF-Connecting-IP", &ip)
                    .json(&json!({"username": name, "password": PASSWORD}))
                    .send()
                    .and_then(|r| r.json())
                    .unwrap_or(Value::Null);
                let Some(token) = login["access"].as_str().filter(|_| reg.is_ok()) else {
                    eprintln!("{name} could not register and sign in: {login}");
                    failures.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let mut i = 0;
                while Instant::now() < deadline {
                    i += 1;
                    let file = Part::bytes(format!("n,v\n{name},{i}\n").into_bytes())
                        .file_name(format!("{name}-{i}.csv"));
                    let sent = c
                        .post(at("/api/list_cutter/upload/"))
                        .header("CF-Connecting-IP", &ip)
                        .bearer_auth(token)
                        .multipart(Form::new().part("file", file))
                        .send();
                    let ok = match sent {
                        Ok(r) if r.status().is_success() => true,
                        Ok(r) => {
                            let (status, by) =
                                (r.status(), r.headers().get("x-served-by").cloned());
                            eprintln!(
                                "upload by {name}: {status} from {by:?}: {}",
                                r.text().unwrap_or_default()
                            );
                            false
                        }
                        Err(e) => {
                            eprintln!("upload by {name}: {e}");
                            false
                        }
                    };
                    let counter = if ok { writes } else { failures };
                    counter.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(pause));
                }
            });
        }
        // The sampler.
        let c = client();
        let mut last_round = 0;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
            let state: Value = match c
                .get(format!("{}/admin/replication", stack.gateway))
                .bearer_auth(TOKEN)
                .send()
                .and_then(|r| r.json())
            {
                Ok(v) => v,
                Err(_) => continue,
            };
            if let Some(at) = state["last_round"]["at_ms"].as_u64() {
                if at != last_round {
                    rounds += 1;
                    last_round = at;
                }
            }
            for (i, dir) in ["legacy_to_app", "app_to_legacy"].iter().enumerate() {
                if let Some(lag) = state["lag_seconds"][dir].as_f64() {
                    samples[i].push(lag);
                }
            }
        }
    });
    drop(replicator);
    println!(
        "{people} people arriving over {ramp} s, a write each every {pause} ms, for {secs} s at 50%: {} writes acknowledged, {} failed, {rounds} replication rounds seen",
        writes.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed)
    );
    println!("| direction | samples | p50 s | p99 s | max s |");
    println!("|---|---:|---:|---:|---:|");
    for (i, dir) in ["legacy → app", "app → legacy"].iter().enumerate() {
        let mut s = samples[i].clone();
        s.sort_by(f64::total_cmp);
        println!(
            "| {dir} | {} | {:.1} | {:.1} | {:.1} |",
            s.len(),
            percentile(&s, 0.5),
            percentile(&s, 0.99),
            s.last().copied().unwrap_or(f64::NAN)
        );
    }
    stack.shutdown();
}
