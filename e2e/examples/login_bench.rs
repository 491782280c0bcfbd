//! What a login costs on each side for a user with Django's 870 000-iteration hash: logins
//! through the gateway to the app Worker (PBKDF2 in Rust compiled to wasm) and to the Django
//! stand-in, next to the bare hash computed by Python's `hashlib.pbkdf2_hmac` (OpenSSL, what
//! Django calls) and by the same Rust code natively, all in one run on this machine.
//!
//!   cargo run --release -p e2e --example login_bench -- [logins per row]

use e2e::{client, ipv4, Stack};
use std::process::Command;
use std::time::{Duration, Instant};

const USERNAME: &str = "bench_user";
const PASSWORD: &str = "bench password 870k";

struct Row {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Row {
    fn new(name: &'static str, mut samples: Vec<Duration>) -> Row {
        samples.sort();
        Row { name, samples }
    }

    fn ms(&self, p: f64) -> f64 {
        let i = ((self.samples.len() as f64 * p) as usize).min(self.samples.len() - 1);
        self.samples[i].as_secs_f64() * 1e3
    }

    fn mean_ms(&self) -> f64 {
        self.samples.iter().sum::<Duration>().as_secs_f64() * 1e3 / self.samples.len() as f64
    }
}

/// `n` sequential logins through the gateway; `beta` sends the request to the app.
fn logins(stack: &Stack, n: usize, beta: bool, served_by: &str) -> Vec<Duration> {
    let c = client();
    let body = serde_json::json!({"username": USERNAME, "password": PASSWORD});
    (0..n)
        .map(|i| {
            let req = c
                .post(format!("{}/api/accounts/login/", stack.gateway))
                .header("X-Beta-User", if beta { "true" } else { "false" })
                // A fresh address per login keeps the gateway's per-client limiter out of it.
                .header("CF-Connecting-IP", ipv4(7_000_000 + i as u32))
                .json(&body);
            let t = Instant::now();
            let resp = req.send().expect("login");
            let elapsed = t.elapsed();
            let by = resp
                .headers()
                .get("x-served-by")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            assert_eq!(
                (resp.status().as_u16(), by.as_str()),
                (200, served_by),
                "login failed"
            );
            elapsed
        })
        .collect()
}

/// Python's own PBKDF2 on the same inputs; checks it reproduces the stored hash.
fn python_hashes(salt: &str, iterations: u32, expected_b64: &str, n: usize) -> Vec<Duration> {
    let script = "import base64, hashlib, sys, time\n\
        pw, salt, it, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])\n\
        for _ in range(n):\n\
        \x20   t = time.perf_counter()\n\
        \x20   d = hashlib.pbkdf2_hmac('sha256', pw.encode(), salt.encode(), it)\n\
        \x20   print(time.perf_counter() - t, base64.b64encode(d).decode())\n";
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            PASSWORD,
            salt,
            &iterations.to_string(),
            &n.to_string(),
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let (secs, b64) = line.split_once(' ').expect("python output");
            assert_eq!(b64, expected_b64, "Python disagrees with Django's hash");
            Duration::from_secs_f64(secs.parse().expect("seconds"))
        })
        .collect()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10)
        .max(1);

    let stack = Stack::start();
    stack.legacy_manage(&["seed_user", "--username", USERNAME, "--password", PASSWORD]);
    let row = stack.psql(&format!(
        "SELECT id, password FROM auth_user WHERE username = '{USERNAME}'"
    ));
    let (id, hash) = row.trim().split_once('|').expect("auth_user row");
    stack.d1_execute(&format!(
        "INSERT INTO users (id, username, email, password) VALUES ({id}, '{USERNAME}', '', '{hash}')"
    ));
    let fields: Vec<&str> = hash.split('$').collect();
    let (iterations, salt, b64) = (fields[1].parse().expect("iterations"), fields[2], fields[3]);

    // One warm-up login each: the first request to an isolate compiles the wasm.
    logins(&stack, 1, true, "app-blue");
    logins(&stack, 1, false, "legacy");
    let rows = [
        Row::new("app via gateway", logins(&stack, n, true, "app-blue")),
        Row::new("legacy via gateway", logins(&stack, n, false, "legacy")),
        Row::new(
            "hashlib.pbkdf2_hmac",
            python_hashes(salt, iterations, b64, n),
        ),
        Row::new(
            "Rust native verify",
            (0..n)
                .map(|_| {
                    let t = Instant::now();
                    assert!(shared::password::verify(PASSWORD, hash));
                    t.elapsed()
                })
                .collect(),
        ),
    ];
    println!("\n{n} sequential logins (or hashes) per row, {iterations} iterations, local workerd (wrangler dev) on this machine\n");
    println!("| what                | p50 ms | mean ms |  max ms |");
    println!("|---------------------|-------:|--------:|--------:|");
    for r in &rows {
        println!(
            "| {:<19} | {:>6.0} | {:>7.0} | {:>7.0} |",
            r.name,
            r.ms(0.5),
            r.mean_ms(),
            r.ms(1.0)
        );
    }
    stack.shutdown();
}
