//! What the app's `CSV_QUEUE` consumer gives up on is kept, not only logged: a
//! saved file whose stored bytes are not the recorded ones, and a file whose
//! counting fails every retry, become dead letters that the app's admin API, the
//! gateway's `/metrics` and dashboard and `cutover verify` all show until an
//! operator clears them.

use crate::admin::ADMIN_TOKEN;
use crate::common::{run_browser, send_json, unique};
use crate::session::{self, User};
use e2e::{client, sha256_hex, Stack};
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};

crate::tests!(
    dead_letters:
    a_checksum_mismatch_and_a_file_that_never_counts_are_shown_everywhere,
);

/// Drops the test's D1 triggers and dead letters, whatever happened: the stack
/// is shared, and a dead letter left behind would fail every later verify.
struct Cleanup<'a> {
    stack: &'a Stack,
    triggers: [&'static str; 2],
    names: Vec<String>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for trigger in self.triggers {
            self.stack
                .d1_execute(&format!("DROP TRIGGER IF EXISTS {trigger}"));
        }
        let names = self
            .names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ");
        self.stack.d1_execute(&format!(
            "DELETE FROM dead_letters WHERE file_id IN \
             (SELECT file_id FROM files WHERE file_name IN ({names}))"
        ));
    }
}

fn admin_api(stack: &Stack, method: Method, path: &str) -> reqwest::blocking::RequestBuilder {
    client()
        .request(method, format!("{}{path}", stack.gateway))
        .header("CF-Connecting-IP", stack.ip())
}

/// The app's dead letters through the gateway (the operator token).
fn dead_letters(stack: &Stack) -> Value {
    let (status, by, body) = send_json(
        admin_api(stack, Method::GET, "/api/admin/dead-letters").bearer_auth(ADMIN_TOKEN),
    );
    assert_eq!((status, by.as_str()), (200, "app-blue"), "{body}");
    body
}

/// The dead letter of `file_id`, once there is one.
fn wait_for_letter(stack: &Stack, file_id: &str, reason: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let found = dead_letters(stack)["dead_letters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["file_id"] == file_id && l["reason"] == reason)
            .cloned();
        if let Some(letter) = found {
            return letter;
        }
        assert!(
            Instant::now() < deadline,
            "no {reason} dead letter for {file_id}: {}",
            dead_letters(stack)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `cutover verify` of the shared stack's legacy against its app, without hashing
/// every file (the dead letters are what is looked at): (exit code, report).
fn verify(stack: &Stack) -> (i32, Value) {
    let database = format!("postgresql://postgres@127.0.0.1:{}/legacy", stack.pg_port);
    let out = stack
        .cutover_command(&stack.gateway, &database, &stack.dir.join("media"))
        .args(["verify", "--sample", "0", "--json"])
        .output()
        .expect("cutover verify");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "verify printed no report: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn mentions(report: &Value, needle: &str) -> bool {
    report["mismatches"]
        .as_array()
        .is_some_and(|m| m.iter().any(|l| l.as_str().unwrap_or("").contains(needle)))
}

fn a_checksum_mismatch_and_a_file_that_never_counts_are_shown_everywhere(stack: &Stack) {
    stack.set_percentage("0");
    let user = User::register(stack, true, &unique("dead"));
    let (damaged, stuck) = (unique("damaged-"), unique("stuck-"));
    let _cleanup = Cleanup {
        stack,
        triggers: ["dead_letter_damage", "dead_letter_stuck"],
        names: vec![format!("{damaged}.csv"), format!("{stuck}.csv")],
    };
    // Real bindings, real consumer: D1 itself changes the recorded checksum of one
    // file as it is saved (what a bad write or a tampered object leaves), and
    // refuses every count of the other (a failure no retry gets past).
    stack.d1_execute(&format!(
        "CREATE TRIGGER dead_letter_damage AFTER INSERT ON files \
         WHEN NEW.file_name = '{damaged}.csv' BEGIN \
         UPDATE files SET checksum = '{}' WHERE file_id = NEW.file_id; END",
        "0".repeat(64)
    ));
    stack.d1_execute(&format!(
        "CREATE TRIGGER dead_letter_stuck BEFORE UPDATE OF row_count ON files \
         WHEN OLD.file_name = '{stuck}.csv' BEGIN \
         SELECT RAISE(ABORT, 'counting refused'); END"
    ));
    let bytes = b"id,name\n1,a\n2,b\n".to_vec();
    let upload = |name: &str| {
        let (status, body) = session::upload(&user, &format!("{name}.csv"), &bytes);
        assert_eq!(status, 200, "{body}");
        session::str_of(&body, "file_id")
    };
    let (damaged_id, stuck_id) = (upload(&damaged), upload(&stuck));

    // The app's admin API.
    let mismatch = wait_for_letter(stack, &damaged_id, "checksum_mismatch");
    let detail = mismatch["detail"].as_str().unwrap();
    assert!(detail.contains(&sha256_hex(&bytes)), "{mismatch}");
    assert!(detail.contains(&"0".repeat(64)), "{mismatch}");
    assert_eq!(mismatch["queue"], "csv-processing-local", "{mismatch}");
    let failed = wait_for_letter(stack, &stuck_id, "failed");
    assert_eq!(failed["queue"], "csv-processing-local-dlq", "{failed}");
    // Neither file was counted.
    let counted = stack.d1_execute(&format!(
        "SELECT COUNT(*) AS n FROM files WHERE file_id IN ('{damaged_id}', '{stuck_id}') \
         AND row_count IS NOT NULL"
    ));
    assert_eq!(counted[0]["n"], 0);
    let listed = dead_letters(stack);
    assert!(listed["count"].as_u64().unwrap() >= 2, "{listed}");
    // Admin only, as the rest of the admin API.
    let (status, _, body) = send_json(admin_api(stack, Method::GET, "/api/admin/dead-letters"));
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = send_json(
        admin_api(stack, Method::GET, "/api/admin/dead-letters").bearer_auth(&user.access),
    );
    assert_eq!(status, 403, "{body}");

    // The gateway's /metrics and admin API, and the dashboard.
    let ids = |v: &Value| -> Vec<String> {
        v["dead_letters"]
            .as_array()
            .map(|l| l.iter().map(|x| x["file_id"].to_string()).collect())
            .unwrap_or_default()
    };
    let (status, _, metrics) = send_json(
        client()
            .get(format!("{}/metrics", stack.gateway))
            .bearer_auth(ADMIN_TOKEN),
    );
    assert_eq!(status, 200, "{metrics}");
    let in_metrics = ids(&metrics["dead_letters"]);
    assert!(
        in_metrics.contains(&format!("\"{damaged_id}\""))
            && in_metrics.contains(&format!("\"{stuck_id}\"")),
        "{}",
        metrics["dead_letters"]
    );
    let (status, by, gateway_list) = send_json(
        client()
            .get(format!("{}/admin/dead-letters", stack.gateway))
            .bearer_auth(ADMIN_TOKEN),
    );
    assert_eq!((status, by.as_str()), (200, "gateway"), "{gateway_list}");
    assert_eq!(ids(&gateway_list), ids(&listed));
    let seen = run_browser(
        stack,
        "dashboard.mjs",
        &[&stack.gateway, &format!("token:{ADMIN_TOKEN}"), "0"],
    );
    let shown = seen["deadLetters"].as_str().unwrap_or_default();
    assert!(
        shown.contains("unhandled")
            && shown.contains(&damaged_id)
            && shown.contains("checksum_mismatch"),
        "{seen}"
    );

    // cutover verify fails while they are unhandled, and says which they are.
    let (code, report) = verify(stack);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["ok"], false);
    assert!(
        mentions(&report, &format!("file {damaged_id} checksum_mismatch")),
        "{report}"
    );
    assert!(
        mentions(&report, &format!("file {stuck_id} failed")),
        "{report}"
    );

    // Handled: cleared one by one; a second delete, or a bad id, is refused.
    for letter in [&mismatch, &failed] {
        let path = format!("/api/admin/dead-letters/{}", letter["id"]);
        let (status, _, body) =
            send_json(admin_api(stack, Method::DELETE, &path).bearer_auth(ADMIN_TOKEN));
        assert_eq!((status, &body["deleted"]), (200, &letter["id"]), "{body}");
        let (status, _, body) =
            send_json(admin_api(stack, Method::DELETE, &path).bearer_auth(ADMIN_TOKEN));
        assert_eq!(status, 404, "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("No dead letter"),
            "{body}"
        );
    }
    let (status, _, body) = send_json(
        admin_api(stack, Method::DELETE, "/api/admin/dead-letters/abc").bearer_auth(ADMIN_TOKEN),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("\"abc\""),
        "{body}"
    );
    let remaining = ids(&dead_letters(stack));
    assert!(
        !remaining.contains(&format!("\"{damaged_id}\""))
            && !remaining.contains(&format!("\"{stuck_id}\"")),
        "{remaining:?}"
    );
    let (_, report) = verify(stack);
    assert!(!mentions(&report, &damaged_id), "{report}");
    assert!(!mentions(&report, &stuck_id), "{report}");
    for id in [&damaged_id, &stuck_id] {
        let (status, body, _) =
            session::send(&user, user.req(Method::DELETE, &format!("delete/{id}/")));
        assert!(status < 300, "{body}");
    }
}
