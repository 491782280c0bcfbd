//! Harness for the end-to-end suite: starts the real stack — a private
//! PostgreSQL cluster, the Django stand-in on it, both Workers in local workerd
//! through `wrangler dev` — on free ports, and tears it all down again.

pub mod process;
mod stack;
pub mod webhook;

pub use stack::{Stack, CONFIG_CACHE_MS, JWT_SECRET, LEGACY_TIMEOUT_MS, ROUTING_SECRET};

use reqwest::blocking::Client;
use std::time::Duration;

/// An HTTP client that, like a proxy's client, never follows redirects.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(16)
        .build()
        .expect("http client")
}

/// A distinct synthetic IPv4 client address for `n` (0..16M), in 10.0.0.0/8.
pub fn ipv4(n: u32) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
