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
