//! A stand-in for the parts of Cloudflare's API that `cutover dns` calls (zones
//! by name, a zone's DNS records, its Workers routes), which cannot be reached
//! offline. It answers in Cloudflare's envelope
//! (`{"success","errors","messages","result"}`), keeps the records and routes it
//! was given or sent, refuses a request without its token as Cloudflare does
//! (code 10000, "Authentication error"), and records every request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, e.g. `/client/v4/zones?name=example.com`.
    pub target: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    records: Vec<Value>,
    routes: Vec<Value>,
    next_id: u64,
}

pub struct FakeCloudflare {
    /// The API base to give the tool, e.g. `http://127.0.0.1:4321/client/v4`.
    pub base: String,
    pub zone: String,
    pub zone_id: String,
    state: Arc<Mutex<State>>,
}

const PREFIX: &str = "/client/v4";

impl FakeCloudflare {
    /// Serves the zone `zone` to requests bearing `token`, until the run ends.
    pub fn start(zone: &str, token: &str) -> FakeCloudflare {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake Cloudflare port");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let fake = FakeCloudflare {
            base: format!("http://127.0.0.1:{port}{PREFIX}"),
            zone: zone.to_string(),
            zone_id: "0123456789abcdef0123456789abcdef".into(),
            state: state.clone(),
        };
        let (zone, zone_id, token) = (fake.zone.clone(), fake.zone_id.clone(), token.to_string());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let Some(request) = read_request(&mut reader) else {
                    continue;
                };
                let (status, answer) = {
                    let mut st = state.lock().unwrap();
                    st.requests.push(request.clone());
                    answer(&mut st, &request, &zone, &zone_id, &token)
                };
                let body = answer.to_string();
                let _ = write!(
                    reader.get_mut(),
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        fake
    }

    /// Adds a DNS record as if it were in the zone already; its id.
    pub fn seed_record(&self, record: Value) -> String {
        let mut st = self.state.lock().unwrap();
        st.next_id += 1;
        let id = format!("rec{}", st.next_id);
        let mut record = record;
        record["id"] = json!(id);
        st.records.push(record);
        id
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    pub fn records(&self) -> Vec<Value> {
        self.state.lock().unwrap().records.clone()
    }

    pub fn routes(&self) -> Vec<Value> {
        self.state.lock().unwrap().routes.clone()
    }
}

fn read_request(reader: &mut BufReader<std::net::TcpStream>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h.trim_end().is_empty() {
            break;
        }
        if let Some((n, v)) = h.trim_end().split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        headers,
        body: (length > 0).then(|| serde_json::from_slice(&body).unwrap_or(Value::Null)),
    })
}

fn envelope(result: Value) -> (u16, Value) {
    (
        200,
        json!({"success": true, "errors": [], "messages": [], "result": result}),
    )
}

fn error(status: u16, code: u32, message: &str) -> (u16, Value) {
    (
        status,
        json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null}),
    )
}

/// A POST: `body` is added under the new `id`.
fn add(items: &mut Vec<Value>, id: String, mut body: Value) -> Value {
    body["id"] = json!(id);
    items.push(body.clone());
    body
}

/// A PUT: `body` takes the place of the item with `id`, keeping that id; None
/// when there is no such item.
fn replace(items: &mut [Value], id: &str, mut body: Value) -> Option<Value> {
    let item = items.iter_mut().find(|item| item["id"] == id)?;
    body["id"] = json!(id);
    *item = body.clone();
    Some(body)
}

fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// What Cloudflare would answer, as far as `cutover dns` asks.
fn answer(st: &mut State, req: &Request, zone: &str, zone_id: &str, token: &str) -> (u16, Value) {
    if req.header("authorization") != Some(&format!("Bearer {token}")) {
        return error(403, 10000, "Authentication error");
    }
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let Some(path) = path.strip_prefix(PREFIX) else {
        return error(404, 7000, "No route for that URI");
    };
    let records_path = format!("/zones/{zone_id}/dns_records");
    let routes_path = format!("/zones/{zone_id}/workers/routes");
    let body = req.body.clone().unwrap_or(Value::Null);
    let mut new_id = |prefix: &str| {
        st.next_id += 1;
        format!("{prefix}{}", st.next_id)
    };
    match (req.method.as_str(), path) {
        ("GET", "/zones") => envelope(match query_value(query, "name") {
            Some(name) if name == zone => json!([{"id": zone_id, "name": zone}]),
            _ => json!([]),
        }),
        ("GET", p) if p == records_path => {
            let name = query_value(query, "name");
            envelope(json!(st
                .records
                .iter()
                .filter(|r| name.is_none_or(|n| r["name"] == n))
                .collect::<Vec<_>>()))
        }
        ("POST", p) if p == records_path => {
            if ["type", "name", "content"]
                .iter()
                .any(|k| !body[k].is_string())
            {
                return error(400, 9000, "DNS record type, name and content are required");
            }
            let id = new_id("rec");
            envelope(add(&mut st.records, id, body))
        }
        ("PUT", p) if p.starts_with(&format!("{records_path}/")) => {
            let id = &p[records_path.len() + 1..];
            replace(&mut st.records, id, body)
                .map_or_else(|| error(404, 81044, "Record does not exist."), envelope)
        }
        ("GET", p) if p == routes_path => envelope(json!(st.routes)),
        ("POST", p) if p == routes_path => {
            if st.routes.iter().any(|r| r["pattern"] == body["pattern"]) {
                return error(409, 10020, "A route with the same pattern already exists.");
            }
            let id = new_id("route");
            envelope(add(&mut st.routes, id, body))
        }
        ("PUT", p) if p.starts_with(&format!("{routes_path}/")) => {
            let id = &p[routes_path.len() + 1..];
            replace(&mut st.routes, id, body)
                .map_or_else(|| error(404, 10007, "Route not found."), envelope)
        }
        _ => error(404, 7000, "No route for that URI"),
    }
}
