//! Client addresses (`CF-Connecting-IP`) for the suite's requests. The gateway
//! limits requests per address and routes an anonymous client by its address's
//! bucket, so two tests that sent from one address could spend each other's
//! budget: every address is handed out once per stack.

use crate::Stack;
use reqwest::blocking::RequestBuilder;
use shared::routing::{backend_for_bucket, bucket_of, client_key, Backend};
use std::sync::atomic::{AtomicU32, Ordering};

/// 172.16.0.0/12: private, and apart from these no request of the suite comes
/// from it (the addresses tests name themselves are IPv6 or in documentation
/// ranges, the benchmarks' [`crate::ipv4`] in 10.0.0.0/8).
const FIRST: u32 = u32::from_be_bytes([172, 16, 0, 0]);
const COUNT: u32 = 1 << 20;

/// The next unused address of a stack (see [`Stack::ip`]).
#[derive(Default)]
pub(crate) struct ClientIps(AtomicU32);

impl ClientIps {
    /// The first of `n` consecutive addresses nobody has been given.
    fn take(&self, n: u32) -> u32 {
        let first = self.0.fetch_add(n, Ordering::Relaxed);
        assert!(
            first.checked_add(n).is_some_and(|end| end <= COUNT),
            "the run's {COUNT} client addresses are used up"
        );
        FIRST + first
    }
}

fn dotted(ip: u32) -> String {
    std::net::Ipv4Addr::from(ip).to_string()
}

impl Stack {
    /// A client address no request to this stack has come from yet.
    pub fn ip(&self) -> String {
        dotted(self.ips.take(1))
    }

    /// `n` fresh client addresses, consecutive (as a spread of clients whose
    /// buckets are measured).
    pub fn ips(&self, n: usize) -> Vec<String> {
        let n = u32::try_from(n).expect("a count of addresses");
        let first = self.ips.take(n);
        (first..first + n).map(dotted).collect()
    }

    /// A fresh client address that the split at `percentage` sends to `side`
    /// (the addresses passed over on the way are never handed out).
    pub fn ip_routed_to(&self, side: Backend, percentage: u8) -> String {
        loop {
            let ip = self.ip();
            if backend_for_bucket(bucket_of(&client_key(Some(&ip))), percentage) == side {
                return ip;
            }
        }
    }

    /// A GET of `path` through the gateway, from the client address `ip`.
    pub fn get_from(&self, path: &str, ip: &str) -> RequestBuilder {
        crate::client()
            .get(format!("{}{path}", self.gateway))
            .header("CF-Connecting-IP", ip)
    }
}
