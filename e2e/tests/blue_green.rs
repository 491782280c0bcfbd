//! `cutover blue-green` on a gateway and app of their own (`Stack::start_pair`)
//! with the app's green slot started beside them (`Stack::start_green`, the
//! same Worker on the same state): a release to a slot that is not up stops
//! before any switch; a release to a running slot is smoke-tested there through
//! a pinned beta token while blue serves everyone else, then switched and
//! watched; a slot that dies after the switch is switched back. The wrangler
//! deploy is a recording stand-in (no Cloudflare offline).

use crate::admin::ADMIN_TOKEN;
use crate::common::{served_by, unique};
use e2e::{client, Stack};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

crate::tests!(
    blue_green:
    a_release_is_smoked_on_the_idle_slot_switched_watched_and_switched_back_when_it_fails,
);

/// People using the app through the gateway the whole time (the plain beta
/// header sends them to whichever slot serves), each request from the next of
/// `ips` in turn, so no address nears the gateway's per-address limit however
/// long the release takes; who answered, counted.
struct Traffic {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeMap<String, u64>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(gateway: &str, ips: Vec<String>) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let (url, halt, counts) = (format!("{gateway}/"), stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let http = client();
            for ip in ips.iter().cycle() {
                if halt.load(Ordering::Relaxed) {
                    break;
                }
                let key = match http
                    .get(&url)
                    .header("X-Beta-User", "true")
                    .header("CF-Connecting-IP", ip)
                    .send()
                {
                    Ok(resp) => format!("{} {}", served_by(&resp), resp.status().as_u16()),
                    Err(_) => "no answer".to_string(),
                };
                *counts.lock().unwrap().entry(key).or_insert(0) += 1;
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        Traffic {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> BTreeMap<String, u64> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn admin(gateway: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = client()
        .request(method, format!("{gateway}{path}"))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().unwrap_or(Value::Null);
    assert!(status < 300, "{path}: {status} {body}");
    body
}

fn serving(gateway: &str) -> String {
    admin(
        gateway,
        reqwest::Method::GET,
        "/admin/deployment/current",
        None,
    )["version"]
        .as_str()
        .unwrap()
        .to_string()
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or(&Value::Null)
}

fn a_release_is_smoked_on_the_idle_slot_switched_watched_and_switched_back_when_it_fails(
    stack: &Stack,
) {
    let stand_in = stack.start_stand_in("bluegreen", 4_000, &[]);
    let pair = stack.start_pair(&stand_in);
    let dir = stack.dir.join(unique("blue-green"));
    std::fs::create_dir_all(&dir).unwrap();
    let wrangler = crate::cloudflare::fake_wrangler(&dir);
    let record = dir.join("record.txt");
    let command = |extra: &[&str]| {
        let mut cmd = Command::new(stack.root.join("target/release/cutover"));
        cmd.current_dir(&stack.root)
            .args(["blue-green", "--url", &pair.gateway, "--json"])
            .args(["--admin-token", ADMIN_TOKEN, "--database-url"])
            .arg(&stand_in.database_url)
            .arg("--wrangler")
            .arg(&wrangler)
            .arg("--run-log")
            .arg(dir.join("run.json"))
            .args(extra)
            .env("WRANGLER_RECORD", &record)
            .env("CLOUDFLARE_API_TOKEN", "cf-test-token");
        cmd
    };
    let run = |extra: &[&str]| -> (Output, Value) {
        let out = command(extra).output().unwrap();
        let report = crate::common::last_json_line(&out);
        (out, report)
    };
    let text = crate::common::output_text;

    // The readiness check names a slot exactly.
    for bad in ["red", "", "Green"] {
        let resp = client()
            .get(format!(
                "{}/admin/deployment/check?version={bad}",
                pair.gateway
            ))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{bad:?}");
        let body: Value = resp.json().unwrap();
        assert_eq!(body["error"], "version must be blue or green", "{body}");
    }

    // Green is deployed (the recorded wrangler) but never comes up: no switch.
    let (out, report) = run(&["--wait-secs", "3"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        std::fs::read_to_string(&record)
            .unwrap()
            .contains("ARGS deploy -c ./wrangler.app.toml --env production-green"),
        "{}",
        text(&out)
    );
    assert_eq!(step(&report, "health")["ok"], false, "{report}");
    assert_eq!(step(&report, "switch"), &Value::Null, "{report}");
    assert_eq!(serving(&pair.gateway), "blue");

    // Green up: smoked there while blue serves everyone, switched, watched.
    let green = stack.start_green(&pair);
    let traffic = Traffic::start(&pair.gateway, stack.ips(50));
    let (out, report) = run(&["--skip-deploy", "--watch-secs", "8"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report["outcome"], "done", "{report}");
    let smoke = step(&report, "smoke")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(smoke.contains("each served by app-green"), "{smoke}");
    assert_eq!(serving(&pair.gateway), "green");
    let tokens = admin(&pair.gateway, reqwest::Method::GET, "/admin/beta", None);
    let smokes: Vec<&Value> = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["label"]
                .as_str()
                .unwrap()
                .starts_with("blue-green smoke of green")
        })
        .collect();
    assert_eq!(smokes.len(), 1, "{tokens}");
    assert!(smokes[0]["revoked_at"].is_string(), "{tokens}");
    assert_eq!(smokes[0]["slot"], "green", "{tokens}");
    let seen = traffic.seen();
    assert!(seen.get("app-blue 200").is_some_and(|n| *n > 0), "{seen:?}");
    assert!(
        seen.get("app-green 200").is_some_and(|n| *n > 0),
        "{seen:?}"
    );
    assert!(
        seen.keys().all(|k| k.ends_with(" 200")),
        "a release costs the people using it nothing: {seen:?}"
    );

    // Back to blue by hand; the next release to green dies after its switch.
    admin(
        &pair.gateway,
        reqwest::Method::POST,
        "/admin/deployment/switch",
        Some(json!({"version": "blue"})),
    );
    let child = command(&["--skip-deploy", "--watch-secs", "90"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while serving(&pair.gateway) != "green" {
        assert!(Instant::now() < deadline, "the release never switched");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(green);
    let out = child.wait_with_output().unwrap();
    let report = crate::common::last_json_line(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(report["outcome"], "rolled back", "{report}");
    assert_eq!(step(&report, "watch")["ok"], false, "{report}");
    assert_eq!(step(&report, "switch back")["ok"], true, "{report}");
    assert_eq!(serving(&pair.gateway), "blue");
    let audit = admin(&pair.gateway, reqwest::Method::GET, "/admin/audit", None);
    let last = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "switch_deployment")
        .max_by_key(|e| e["at"].as_str().unwrap_or("").to_string())
        .cloned()
        .unwrap();
    assert_eq!(last["new"], "blue", "{audit}");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("green failed its watch"),
        "{last}"
    );
    drop(traffic);
    drop(pair);
    drop(stand_in);
}
