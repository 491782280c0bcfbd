//! Small helpers shared by the suite's modules.

use reqwest::blocking::Response;
use serde_json::Value;
use shared::csv_cut::{CutSpec, Cutter};

pub use e2e::{header, send_json, served_by, unique};

/// Every value of a repeated response header.
pub fn headers_all(resp: &Response, name: &str) -> Vec<String> {
    resp.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
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

/// The cut computed natively by the engine, the reference for the Worker's.
pub fn native_cut(bytes: &[u8], columns: &[&str], filters: &[(&str, &str)]) -> Vec<u8> {
    let spec = CutSpec::new(columns.iter().copied(), filters.iter().copied());
    let mut cutter = Cutter::new(spec).expect("spec");
    let mut out = Vec::new();
    cutter.push(bytes, &mut out).expect("push");
    cutter.finish(&mut out).expect("finish");
    out
}

/// The app's `MAX_FILE_SIZE` in the local config.
pub const MAX_FILE_SIZE: usize = 52_428_800;

/// Runs a browser script of `e2e/browser/` with `node`, fails the test when it
/// fails, and returns the JSON it printed last (what it saw).
pub fn run_browser(stack: &e2e::Stack, script: &str, args: &[&str]) -> Value {
    let out = std::process::Command::new("node")
        .current_dir(&stack.root)
        .arg(format!("e2e/browser/{script}"))
        .args(args)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap()
}

/// A fresh access token of `name`, an admin of the app: registered on the app
/// (once), promoted in D1 and signed in through the gateway.
pub fn app_admin_token(stack: &e2e::Stack, name: &str) -> String {
    let password = "correct horse 42";
    let ip = stack.ip();
    let app = |path: &str| {
        e2e::client()
            .post(format!("{}{path}", stack.gateway))
            .header("X-Beta-User", "true")
            .header("CF-Connecting-IP", &ip)
    };
    // A second run of this finds the name taken; that is fine.
    app("/api/accounts/register/")
        .json(&serde_json::json!({"username": name, "password": password, "password2": password}))
        .send()
        .expect("register");
    stack.d1_execute(&format!(
        "UPDATE users SET is_admin = 1, is_active = 1 WHERE username = '{name}'"
    ));
    let (status, _, body) = send_json(
        app("/api/accounts/login/")
            .json(&serde_json::json!({"username": name, "password": password})),
    );
    assert_eq!(status, 200, "{body}");
    body["access"].as_str().expect("access").to_string()
}

/// A command's stdout and stderr, for failure messages.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that a command printed `what` (on stdout or stderr).
pub fn assert_printed(out: &std::process::Output, what: &str) {
    let text = output_text(out);
    assert!(text.contains(what), "{text}");
}

/// The JSON report a `cutover ... --json` run printed last (Null if none).
pub fn last_json_line(out: &std::process::Output) -> Value {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null)
}
