//! Harness for the end-to-end suite: starts the real stack — a private
//! PostgreSQL cluster, the Django stand-in on it, both Workers in local workerd
//! through `wrangler dev` — on free ports, and tears it all down again.

mod client_ips;
pub mod fake_cloudflare;
mod local_r2;
pub mod population;
pub mod process;
pub mod rehearsal;
mod stack;
pub mod webhook;

pub use local_r2::{LocalR2, R2State};
pub use stack::{
    free_port, AppAlone, Pair, Stack, StandIn, CONFIG_CACHE_MS, JWT_SECRET, LEGACY_TIMEOUT_MS,
    ROUTING_SECRET, SHADOW_TIMEOUT_MS,
};

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;
use std::time::Duration;

/// The admin token of the local config (`ADMIN_API_TOKEN`).
pub const ADMIN_TOKEN: &str = "local-dev-admin-token";

/// An HTTP client that, like a proxy's client, never follows redirects.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(16)
        .build()
        .expect("http client")
}

/// The `X-Served-By` of a response ("legacy", "app-blue", "gateway", ...).
pub fn served_by(resp: &Response) -> String {
    header(resp, "x-served-by").unwrap_or_default()
}

pub fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Sends and returns (status, served-by, JSON body or Null).
pub fn send_json(req: RequestBuilder) -> (u16, String, Value) {
    let resp = req.send().expect("request");
    let status = resp.status().as_u16();
    let by = served_by(&resp);
    let body = resp.json::<Value>().unwrap_or(Value::Null);
    (status, by, body)
}

/// A name unique to this run (the stand-in's data outlives a test).
pub fn unique(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}{n}x{nanos}")
}

/// A distinct synthetic IPv4 client address for `n` (0..16M), in 10.0.0.0/8: the
/// benchmarks' clients, each on a stack of its own (the suite's come from [`Stack::ip`]).
pub fn ipv4(n: u32) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A CSV of exactly `size` bytes (`id,name,city,amount,note`) with quoted cells,
/// commas, doubled quotes and multi-byte text, ending on a complete record
/// (`size` must exceed 64).
pub fn sample_csv(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 128);
    out.extend_from_slice(b"id,name,city,amount,note\n");
    let cities = ["NYC", "LA", "Chicago", "Zürich", "São Paulo"];
    let mut i: u64 = 0;
    while out.len() < size {
        let amount = i.wrapping_mul(2_654_435_761) % 100_000;
        let line = format!(
            "{i},\"Name, {i}\",{},{amount},\"say \"\"{}\"\" ✓\"\n",
            cities[(i % 5) as usize],
            i % 97
        );
        out.extend_from_slice(line.as_bytes());
        i += 1;
    }
    // Back to the last whole record that leaves room for one more, then one
    // all-empty record whose note pads the file to `size` (every record has the
    // header's five fields, so strict readers like xsv accept it).
    let last = out[..size - 5].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    out.truncate(last);
    let pad = size - out.len();
    out.extend_from_slice(b",,,,");
    out.extend(std::iter::repeat_n(b'9', pad - 5));
    out.push(b'\n');
    out
}
