//! A synthetic population: people who register, sign in, upload, cut, tag, list
//! and delete through a gateway from ever-changing addresses, and a ledger of
//! what they were told succeeded and what went wrong, per phase of the run.

use crate::{client, sha256_hex, unique};
use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::RequestBuilder;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PASSWORD: &str = "population pass 7%";
/// The start of the answer of `wrangler dev`'s proxy when it lost a request to
/// the Worker behind it.
const DEV_PROXY_503: &str = "Your worker restarted mid-request";

/// What the population was told succeeded, and what went wrong.
#[derive(Default)]
pub struct Ledger {
    pub users: BTreeSet<String>,
    /// Acknowledged files (uploads and cuts): id → SHA-256.
    pub files: BTreeMap<String, String>,
    /// Acknowledged deletions.
    pub deleted: BTreeSet<String>,
    pub requests: u64,
    /// Writes refused by a write freeze (a 503 that says so): expected, not errors.
    pub frozen: u64,
    /// 401s for accounts that existed: (phase, what).
    pub unauthorized: Vec<(String, String)>,
    /// 5xx answers other than a freeze's.
    pub server_errors: Vec<ServerError>,
    /// 503s of `wrangler dev`'s own proxy in front of the Workers ("Your worker
    /// restarted mid-request"; it retries only GET and HEAD): (phase, what).
    /// Local development only: production has no such proxy.
    pub dev_proxy_503s: Vec<(String, String)>,
    /// Per phase: (requests, 5xx, refused by the freeze), in the order first seen.
    pub per_phase: Vec<(String, [u64; 3])>,
    /// How long each kind of request took to answer.
    pub latencies: BTreeMap<&'static str, Vec<Duration>>,
}

impl Ledger {
    fn count(&mut self, phase: &str, which: usize) {
        match self.per_phase.iter_mut().find(|(p, _)| p == phase) {
            Some((_, n)) => n[which] += 1,
            None => {
                let mut n = [0; 3];
                n[which] = 1;
                self.per_phase.push((phase.to_string(), n));
            }
        }
    }

    /// The 5xx answered outside `excused` phases, but for legacy's documented
    /// 500 for a cut whose original it does not have.
    /// Per kind of request: (requests, p50, p99).
    pub fn latency_table(&self) -> Vec<(&'static str, usize, Duration, Duration)> {
        self.latencies
            .iter()
            .map(|(what, times)| {
                let mut sorted = times.clone();
                sorted.sort();
                let at =
                    |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
                (*what, sorted.len(), at(0.5), at(0.99))
            })
            .collect()
    }

    pub fn unexpected_errors(&self, excused: &[&str]) -> Vec<&ServerError> {
        self.server_errors
            .iter()
            .filter(|e| !excused.contains(&e.phase.as_str()) && !e.is_legacy_missing_original())
            .collect()
    }
}

#[derive(Debug)]
pub struct ServerError {
    pub phase: String,
    pub what: &'static str,
    pub by: String,
    pub detail: String,
}

impl ServerError {
    /// Legacy's documented 500 for a cut whose original it does not have (here:
    /// made on the app a moment ago, before a sign-in moved the person to legacy).
    pub fn is_legacy_missing_original(&self) -> bool {
        self.what == "cut" && self.by == "legacy" && self.detail.contains("DoesNotExist")
    }
}

struct Person {
    name: String,
    registered: bool,
    token: Option<String>,
    files: Vec<String>,
}

/// A small xorshift generator: each thread its own, reproducible stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

/// The people, the gateway they use, and the phase the run is in.
pub struct Population {
    gateway: String,
    people: usize,
    threads: usize,
    /// The client addresses each request draws one from.
    addresses: Vec<String>,
    pub ledger: Mutex<Ledger>,
    phase: Mutex<String>,
    stop: AtomicBool,
    /// One upload in a hundred is a file of 1 to this many MiB (0: none).
    large_mib: usize,
}

impl Population {
    pub fn new(gateway: &str, people: usize, threads: usize, addresses: Vec<String>) -> Population {
        Population {
            gateway: gateway.to_string(),
            people,
            threads,
            addresses,
            ledger: Mutex::new(Ledger::default()),
            phase: Mutex::new(String::new()),
            stop: AtomicBool::new(false),
            large_mib: 0,
        }
    }

    /// Makes one upload in a hundred a file of 1 to `mib` MiB.
    pub fn with_large_uploads(mut self, mib: usize) -> Population {
        self.large_mib = mib;
        self
    }

    pub fn people(&self) -> usize {
        self.people
    }

    pub fn set_phase(&self, phase: &str) {
        *self.phase.lock().unwrap() = phase.to_string();
    }

    /// Runs everyone until [`Population::stop`]: call inside a thread scope.
    pub fn run<'s>(&'s self, scope: &'s std::thread::Scope<'s, '_>) {
        for t in 0..self.threads {
            let mut group: Vec<Person> = (0..self.people / self.threads)
                .map(|_| Person {
                    name: unique("pop"),
                    registered: false,
                    token: None,
                    files: Vec::new(),
                })
                .collect();
            scope.spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                while !self.stopped() {
                    let n = group.len();
                    let ip = &self.addresses[rng.next(self.addresses.len())];
                    self.step(&mut group[rng.next(n)], ip, &mut rng);
                    // People pause between clicks.
                    std::thread::sleep(Duration::from_millis(100 + rng.next(200) as u64));
                }
            });
        }
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn request(&self, method: Method, path: &str, ip: &str) -> RequestBuilder {
        client()
            .request(method, format!("{}{path}", self.gateway))
            .header("CF-Connecting-IP", ip)
            .timeout(Duration::from_secs(60))
    }

    /// Sends, records the answer's status (a 5xx with the phase, a 401 as a
    /// person refused), and returns it.
    fn send(&self, who: &str, what: &'static str, req: RequestBuilder) -> (u16, String, Value) {
        let started = Instant::now();
        let (status, by, body) = match req.send() {
            Ok(resp) => {
                let by = crate::served_by(&resp);
                let status = resp.status().as_u16();
                // Not JSON: the text, to say what answered.
                let text = resp.text().unwrap_or_default();
                let body = serde_json::from_str(&text)
                    .unwrap_or_else(|_| json!(text.chars().take(300).collect::<String>()));
                (status, by, body)
            }
            // The whole chain: reqwest's own message rarely says what broke.
            Err(e) => (599, String::new(), json!(error_chain(&e))),
        };
        let phase = self.phase.lock().unwrap().clone();
        let mut ledger = self.ledger.lock().unwrap();
        ledger.requests += 1;
        ledger.count(&phase, 0);
        ledger
            .latencies
            .entry(what)
            .or_default()
            .push(started.elapsed());
        if status == 401 {
            let refused = format!("{who}: {what} served by {by}: {body}");
            ledger.unauthorized.push((phase, refused));
        } else if status == 503 && body["maintenance"] == "write_freeze" {
            ledger.frozen += 1;
            ledger.count(&phase, 2);
        } else if status == 503 && body.as_str().is_some_and(|b| b.starts_with(DEV_PROXY_503)) {
            ledger
                .dev_proxy_503s
                .push((phase, format!("{who}: {what}")));
        } else if status >= 500 {
            ledger.count(&phase, 1);
            ledger.server_errors.push(ServerError {
                phase,
                what,
                by: by.clone(),
                detail: format!("{who}: {status}: {body}"),
            });
        }
        (status, by, body)
    }

    /// A file the gateway said was stored: `p`'s, with these bytes.
    fn acknowledged(&self, p: &mut Person, answer: &Value, bytes: &[u8]) {
        let id = answer["file_id"].as_str().unwrap().to_string();
        self.ledger
            .lock()
            .unwrap()
            .files
            .insert(id.clone(), sha256_hex(bytes));
        p.files.push(id);
    }

    /// One step of a person's journey from `ip`.
    fn step(&self, p: &mut Person, ip: &str, rng: &mut Rng) {
        let who = p.name.clone();
        if !p.registered {
            let (status, _, body) = self.send(
                &who,
                "register",
                self.request(Method::POST, "/api/accounts/register/", ip)
                    .json(
                        &json!({"username": p.name, "password": PASSWORD, "password2": PASSWORD}),
                    ),
            );
            let taken = body.to_string().contains("already exists");
            if status == 201 || (status == 400 && taken) {
                p.registered = true;
                self.ledger.lock().unwrap().users.insert(p.name.clone());
            }
            return;
        }
        let Some(token) = p.token.clone().filter(|_| rng.next(6) != 0) else {
            let (status, _, body) = self.send(
                &who,
                "login",
                self.request(Method::POST, "/api/accounts/login/", ip)
                    .json(&json!({"username": p.name, "password": PASSWORD})),
            );
            if status == 200 {
                p.token = body["access"].as_str().map(str::to_string);
            }
            return;
        };
        let authed =
            |method: Method, path: &str| self.request(method, path, ip).bearer_auth(&token);
        match rng.next(10) {
            0..=2 => {
                let large = self.large_mib > 0 && rng.next(100) == 0;
                let bytes = match large {
                    true => large_csv(&who, (1 + rng.next(self.large_mib)) << 20),
                    false => format!("who,n\n{who},{}\n", rng.next(1_000_000)).into_bytes(),
                };
                let name = format!("{}.csv", unique("pop"));
                let form = Form::new().part("file", Part::bytes(bytes.clone()).file_name(name));
                let (status, _, body) = self.send(
                    &who,
                    if large { "upload (large)" } else { "upload" },
                    authed(Method::POST, "/api/list_cutter/upload/").multipart(form),
                );
                if status == 200 {
                    self.acknowledged(p, &body, &bytes);
                }
            }
            3 if !p.files.is_empty() => {
                let original = p.files[rng.next(p.files.len())].clone();
                let bytes = format!("who\n{who}\n").into_bytes();
                let form = Form::new()
                    .part("file", Part::bytes(bytes.clone()).file_name("cut.csv"))
                    .text("file_name", format!("{}.csv", unique("cut")))
                    .text(
                        "metadata",
                        r#"{"generated_file_details":{"columns":["who"]}}"#,
                    )
                    .text("original_file_id", original);
                let (status, _, body) = self.send(
                    &who,
                    "cut",
                    authed(Method::POST, "/api/list_cutter/save_generated_file/").multipart(form),
                );
                if matches!(status, 200 | 201) {
                    self.acknowledged(p, &body, &bytes);
                }
            }
            4 if !p.files.is_empty() => {
                let id = &p.files[rng.next(p.files.len())];
                self.send(
                    &who,
                    "tag",
                    authed(
                        Method::PATCH,
                        &format!("/api/list_cutter/update_tags/{id}/"),
                    )
                    .json(&json!({"user_tags": ["population"]})),
                );
            }
            5 if !p.files.is_empty() => {
                let at = rng.next(p.files.len());
                let id = p.files[at].clone();
                let (status, _, _) = self.send(
                    &who,
                    "delete",
                    authed(Method::DELETE, &format!("/api/list_cutter/delete/{id}/")),
                );
                if status == 204 {
                    p.files.remove(at);
                    let mut ledger = self.ledger.lock().unwrap();
                    ledger.files.remove(&id);
                    ledger.deleted.insert(id);
                }
            }
            _ => {
                self.send(
                    &who,
                    "list",
                    authed(Method::GET, "/api/list_cutter/list_saved_files/"),
                );
            }
        }
    }
}

/// A CSV of about `size` bytes: a header, then numbered rows.
fn large_csv(who: &str, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 64);
    out.extend_from_slice(b"who,n,note\n");
    let mut n = 0u64;
    while out.len() < size {
        out.extend_from_slice(format!("{who},{n},row {n} of a large upload\n").as_bytes());
        n += 1;
    }
    out
}

/// An error and its sources, outermost first.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
