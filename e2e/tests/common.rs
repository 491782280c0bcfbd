//! Small helpers shared by the suite's modules.

use reqwest::blocking::{RequestBuilder, Response};
use serde_json::Value;

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

/// Every value of a repeated response header.
pub fn headers_all(resp: &Response, name: &str) -> Vec<String> {
    resp.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

/// Sends and returns (status, served-by, JSON body or Null).
pub fn send_json(req: RequestBuilder) -> (u16, String, Value) {
    let resp = req.send().expect("request");
    let status = resp.status().as_u16();
    let by = served_by(&resp);
    let body = resp.json::<Value>().unwrap_or(Value::Null);
    (status, by, body)
}

/// The sorted keys of a JSON object, for shape comparisons.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// The filter fixture of the legacy tests (`name,age,city,salary`).
pub const PEOPLE: &str = "name,age,city,salary\n\
                          John,25,NYC,50000\n\
                          Jane,30,LA,75000\n\
                          Bob,35,NYC,60000\n\
                          Alice,28,Chicago,65000\n\
                          Charlie,42,LA,80000\n";

/// The app's `MAX_FILE_SIZE` in the local config.
pub const MAX_FILE_SIZE: usize = 52_428_800;

/// The next client address of a module's own range `next..end`.
pub fn next_ip(next: &std::sync::atomic::AtomicU32, end: u32) -> String {
    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    assert!(n < end, "this module's address range is used up");
    e2e::ipv4(n)
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
