//! The cutover tool (`target/release/cutover`, built by `scripts/build`) against a
//! legacy data set of its own: a database `cutover_<pid>` on the stand-in's
//! PostgreSQL, its own media folder and its own stand-in process serving them, so
//! what the suite's other modules leave in the `legacy` database cannot change
//! these expectations. Its user ids start high (see [`FIRST_ID`]) so they
//! never meet the ids other modules put into D1. Target: the app Worker in local
//! workerd through the gateway (which sends `/api/admin/*` to the app).

use crate::common::unique;
use e2e::{client, sha256_hex, Stack, StandIn};
use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::RequestBuilder;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

crate::tests!(
    cutover:
    migrate_then_verify_logins_downloads_and_lineage,
    killed_migrate_resumes_without_duplicates,
    sync_brings_exactly_the_new_legacy_activity,
    reverse_sync_makes_app_activity_work_on_legacy,
    import_api_refuses_bad_input_and_changes_nothing,
    an_unexpected_schema_is_reported_and_changes_nothing,
    rollout_drives_the_gateway,
    a_neo4j_era_legacy_migrates_verifies_and_takes_app_cuts_back,
);

use e2e::ADMIN_TOKEN as TOKEN;
const PASSWORD: &str = "legacy pass 1!";
/// First auth_user id of the module's database (the stack's stand-in `cutover`).
const FIRST_ID: u32 = 700_000_001;

/// A legacy side of the module: a stand-in with its database and media folder,
/// and the tool's checkpoint against it.
struct Source {
    legacy: Arc<StandIn>,
    state: PathBuf,
    root: PathBuf,
    /// Where the tool sends: the stack's gateway, unless set.
    app_url: Option<String>,
}

impl Source {
    /// The module's shared source: the stack starts its stand-in once and stops
    /// it with the rest.
    fn get(stack: &Stack) -> Source {
        Source::on(stack, "cutover", stack.stand_in("cutover", FIRST_ID))
    }

    /// The stand-in `legacy` (database `<name>_<pid>`), checkpointed in
    /// `<name>-state.json`.
    fn on(stack: &Stack, name: &str, legacy: Arc<StandIn>) -> Source {
        Source {
            legacy,
            state: stack.dir.join(format!("{name}-state.json")),
            root: stack.root.clone(),
            app_url: None,
        }
    }

    fn manage(&self, args: &[&str]) {
        let out = Command::new(self.root.join("e2e/legacy/.venv/bin/python"))
            .arg(self.root.join("e2e/legacy/manage.py"))
            .args(args)
            .envs(self.legacy.env.clone())
            .output()
            .unwrap();
        assert!(out.status.success(), "manage.py {args:?}: {out:?}");
    }

    /// A command line of the tool against this source and the stack's gateway.
    fn cutover(&self, stack: &Stack, args: &[&str]) -> Command {
        let bin = stack.root.join("target/release/cutover");
        assert!(
            bin.exists(),
            "{} is missing: run scripts/build",
            bin.display()
        );
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .arg("--json")
            .env(
                "CUTOVER_APP_URL",
                self.app_url.as_deref().unwrap_or(&stack.gateway),
            )
            .env("ADMIN_API_TOKEN", TOKEN)
            .env("LEGACY_DATABASE_URL", &self.legacy.database_url)
            .env("LEGACY_MEDIA_ROOT", &self.legacy.media);
        cmd
    }

    /// Runs a subcommand that takes the checkpoint; (exit code, JSON report).
    fn run(&self, stack: &Stack, command: &str, extra: &[&str]) -> (i32, Value) {
        let mut args = vec![command];
        if command != "verify" {
            args.extend(["--state", self.state.to_str().unwrap()]);
        }
        args.extend(extra);
        report(self.cutover(stack, &args).output().unwrap())
    }

    /// A user made by the stand-in's own code (Django's hasher).
    fn user(&self, staff: bool) -> (String, i64) {
        let name = unique("cu");
        let email = format!("{name}@example.org");
        let mut args = vec![
            "seed_user",
            "--username",
            &name,
            "--password",
            PASSWORD,
            "--email",
            &email,
        ];
        if staff {
            args.push("--staff");
        }
        self.manage(&args);
        let token = self.login(&name, PASSWORD).expect("login on legacy");
        let me: Value = client()
            .get(format!("{}/api/accounts/user/", self.legacy.url))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .json()
            .unwrap();
        (name, me["id"].as_i64().unwrap())
    }

    fn login(&self, name: &str, password: &str) -> Option<String> {
        let resp = client()
            .post(format!("{}/api/accounts/login/", self.legacy.url))
            .json(&json!({"username": name, "password": password}))
            .send()
            .unwrap();
        let body: Value = resp.json().unwrap_or(Value::Null);
        body["access"].as_str().map(str::to_string)
    }

    fn req(&self, token: &str, method: reqwest::Method, path: &str) -> RequestBuilder {
        client()
            .request(
                method,
                format!("{}/api/list_cutter/{path}", self.legacy.url),
            )
            .bearer_auth(token)
    }

    fn upload(&self, token: &str, name: &str, bytes: &[u8]) -> String {
        let part = Part::bytes(bytes.to_vec()).file_name(name.to_string());
        file_id_of(
            self.req(token, reqwest::Method::POST, "upload/")
                .multipart(Form::new().part("file", part)),
        )
    }

    fn cut(&self, token: &str, name: &str, bytes: &[u8], original: &str) -> String {
        let form = Form::new()
            .part("file", Part::bytes(bytes.to_vec()).file_name("cut.csv"))
            .text("file_name", name.to_string())
            .text(
                "metadata",
                r#"{"generated_file_details":{"columns":["a"]}}"#,
            )
            .text("original_file_id", original.to_string());
        file_id_of(
            self.req(token, reqwest::Method::POST, "save_generated_file/")
                .multipart(form),
        )
    }

    /// The JSON a GET of `/api/list_cutter/<path>` answers.
    fn get_json(&self, token: &str, path: &str) -> Value {
        self.req(token, reqwest::Method::GET, path)
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    fn lineage(&self, token: &str, file_id: &str) -> Value {
        self.get_json(token, &format!("fetch_file_lineage/{file_id}/"))
    }

    fn sql(&self, stack: &Stack, sql: &str) -> String {
        stack.psql_in(&self.legacy.db, sql)
    }
}

/// The `file_id` of a stored file's answer.
fn file_id_of(req: RequestBuilder) -> String {
    let body: Value = req.send().unwrap().json().unwrap();
    body["file_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_string()
}

fn report(out: Output) -> (i32, Value) {
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "no JSON report (exit {code}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, report)
}

/// The app through the gateway.
fn app(method: reqwest::Method, stack: &Stack, path: &str) -> RequestBuilder {
    client()
        .request(method, format!("{}{path}", stack.gateway))
        .header("X-Beta-User", "true")
        .header("CF-Connecting-IP", stack.ip())
}

fn app_login(stack: &Stack, name: &str, password: &str) -> (u16, Value) {
    let resp = app(reqwest::Method::POST, stack, "/api/accounts/login/")
        .json(&json!({"username": name, "password": password}))
        .send()
        .unwrap();
    (resp.status().as_u16(), resp.json().unwrap_or(Value::Null))
}

fn app_token(stack: &Stack, name: &str, password: &str) -> String {
    let (status, body) = app_login(stack, name, password);
    assert_eq!(status, 200, "app login of {name}: {body}");
    body["access"].as_str().unwrap().to_string()
}

fn d1_count(stack: &Stack, sql: &str) -> i64 {
    stack.d1_execute(sql)[0]["n"].as_i64().unwrap()
}

fn csv(tag: &str, rows: usize) -> Vec<u8> {
    let mut out = String::from("id,name,city\n");
    for i in 0..rows {
        out.push_str(&format!("{i},{tag} {i},\"Zürich, CH\"\n"));
    }
    out.into_bytes()
}

fn migrate_then_verify_logins_downloads_and_lineage(stack: &Stack) {
    let src = Source::get(stack);
    let (alice, alice_id) = src.user(false);
    let (admin, admin_id) = src.user(true);
    let token = src.login(&alice, PASSWORD).unwrap();
    let root_bytes = csv("root", 50);
    let root = src.upload(&token, &format!("{alice}.csv"), &root_bytes);
    let child = src.cut(&token, &format!("{alice}_cut.csv"), &csv("child", 5), &root);
    let grandchild = src.cut(&token, &format!("{alice}_cut2.csv"), &csv("gc", 2), &child);
    let admin_token = src.login(&admin, PASSWORD).unwrap();
    let lone = src.upload(&admin_token, &format!("{admin}.csv"), &csv("admin", 3));
    // Tags as legacy's database holds them (its update_tags route is unreachable).
    src.sql(
        stack,
        &format!("UPDATE list_cutter_savedfile SET user_tags = ARRAY['q3','sales'] WHERE file_id = '{root}'"),
    );
    // A file whose bytes are not in the media folder is reported, the rest goes on.
    let lone_path = src.sql(
        stack,
        &format!("SELECT file_path FROM list_cutter_savedfile WHERE file_id = '{lone}'"),
    );
    let lone_path = PathBuf::from(lone_path.trim());
    let aside = lone_path.with_extension("aside");
    std::fs::rename(&lone_path, &aside).unwrap();
    let (code, first) = src.run(stack, "migrate", &[]);
    assert_eq!(code, 2, "{first}");
    // Small files go in bundles, whose rows get their counts as they are written.
    let counts = stack.d1_execute(&format!(
        "SELECT row_count, column_count FROM files WHERE file_id = '{root}'"
    ));
    assert_eq!(
        (&counts[0]["row_count"], &counts[0]["column_count"]),
        (&json!(50), &json!(3)),
        "{counts:?}"
    );
    let problems = first["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{first}");
    assert_eq!(problems[0]["item"], json!(format!("file {lone}")));
    assert!(
        problems[0]["error"]
            .as_str()
            .unwrap()
            .contains("missing from the media folder"),
        "{first}"
    );
    assert_eq!(first["files"]["created"].as_u64(), Some(3), "{first}");
    assert_eq!(
        d1_count(
            stack,
            &format!("SELECT COUNT(*) AS n FROM files WHERE file_id = '{lone}'")
        ),
        0
    );

    std::fs::rename(&aside, &lone_path).unwrap();
    let (code, second) = src.run(stack, "migrate", &[]);
    assert_eq!(code, 0, "{second}");
    assert_eq!(second["files"]["created"].as_u64(), Some(1), "{second}");
    assert_eq!(second["files"]["unchanged"].as_u64(), Some(3), "{second}");

    let (code, verified) = src.run(stack, "verify", &[]);
    assert_eq!(code, 0, "{verified}");
    assert_eq!(verified["ok"], json!(true));
    assert_eq!(
        verified["checksums"]["checked"],
        verified["tables"]["files"]["legacy"]
    );
    let (code, sampled) = src.run(stack, "verify", &["--sample", "2"]);
    assert_eq!(
        (code, sampled["checksums"]["checked"].as_u64()),
        (0, Some(2)),
        "{sampled}"
    );

    // A changed byte on legacy and a changed email on the app are mismatches.
    let root_name = src.sql(
        stack,
        &format!("SELECT file_name FROM list_cutter_savedfile WHERE file_id = '{root}'"),
    );
    let root_path = src.legacy.media.join("uploads").join(root_name.trim());
    let mut altered = root_bytes.clone();
    altered[20] ^= 1;
    std::fs::write(&root_path, &altered).unwrap();
    stack.d1_execute(&format!(
        "UPDATE users SET email = 'changed@example.org' WHERE id = {admin_id}"
    ));
    let (code, caught) = src.run(stack, "verify", &[]);
    std::fs::write(&root_path, &root_bytes).unwrap();
    stack.d1_execute(&format!(
        "UPDATE users SET email = '{admin}@example.org' WHERE id = {admin_id}"
    ));
    assert_eq!((code, caught["ok"].clone()), (1, json!(false)), "{caught}");
    let mismatches = caught["mismatches"].to_string();
    assert!(
        mismatches.contains(&format!("file {root}: legacy sha256")),
        "{mismatches}"
    );
    assert!(
        mismatches.contains(&format!("user {admin_id} ({admin}): differs")),
        "{mismatches}"
    );
    assert_eq!(caught["tables"]["users"]["different"], json!(1));

    // The same accounts, with their Django hashes and flags.
    let rows = stack.d1_execute(&format!(
        "SELECT id, is_admin, password FROM users WHERE id IN ({alice_id}, {admin_id}) ORDER BY id"
    ));
    assert_eq!(rows[0]["is_admin"], json!(0));
    assert_eq!(rows[1]["is_admin"], json!(1));
    let legacy_hash = src.sql(
        stack,
        &format!("SELECT password FROM auth_user WHERE id = {alice_id}"),
    );
    assert_eq!(rows[0]["password"].as_str(), Some(legacy_hash.trim()));
    let app_alice = app_token(stack, &alice, PASSWORD);
    let (status, body) = app_login(stack, &admin, PASSWORD);
    assert_eq!(status, 200, "{body}");
    assert_eq!(app_login(stack, &alice, "wrong").0, 401);

    // Every file byte-identical, lineage as legacy answers it.
    for id in [&root, &child, &grandchild] {
        let name = src.sql(
            stack,
            &format!("SELECT file_name FROM list_cutter_savedfile WHERE file_id = '{id}'"),
        );
        let legacy_bytes =
            std::fs::read(src.legacy.media.join("uploads").join(name.trim())).unwrap();
        let resp = app(
            reqwest::Method::GET,
            stack,
            &format!("/api/list_cutter/download/{}/", name.trim()),
        )
        .bearer_auth(&app_alice)
        .send()
        .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            sha256_hex(&resp.bytes().unwrap()),
            sha256_hex(&legacy_bytes)
        );
        let on_app: Value = app(
            reqwest::Method::GET,
            stack,
            &format!("/api/list_cutter/fetch_file_lineage/{id}/"),
        )
        .bearer_auth(&app_alice)
        .send()
        .unwrap()
        .json()
        .unwrap();
        assert_eq!(on_app, src.lineage(&token, id), "lineage of {id}");
        assert!(!on_app["edges"].as_array().unwrap().is_empty());
    }
    let listed: Value = app(
        reqwest::Method::GET,
        stack,
        "/api/list_cutter/list_saved_files/",
    )
    .bearer_auth(&app_alice)
    .send()
    .unwrap()
    .json()
    .unwrap();
    let listed_file = |id: &str| {
        listed["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file_id"] == id)
            .unwrap()
    };
    let root_item = listed_file(&root);
    assert_eq!(root_item["user_tags"], json!(["q3", "sales"]));
    assert_eq!(root_item["system_tags"], json!(["uploaded"]));
    let cut_item = listed_file(&child);
    assert_eq!(
        cut_item["metadata"],
        json!(r#"{"generated_file_details":{"columns":["a"]}}"#)
    );
    assert_eq!(
        sha256_hex(&root_bytes),
        stack.d1_execute(&format!(
            "SELECT checksum FROM files WHERE file_id = '{root}'"
        ))[0]["checksum"]
            .as_str()
            .unwrap()
    );

    let (code, again) = src.run(stack, "migrate", &[]);
    assert_eq!((code, again["changes"].as_u64()), (0, Some(0)), "{again}");

    // Rows the app could not take, or that cannot be read, are reported one by one.
    src.sql(
        stack,
        &format!(
            "INSERT INTO list_cutter_savedfile (user_id, file_id, file_name, file_path, uploaded_at, \
             system_tags, user_tags, metadata) SELECT user_id, 'not a file id!', file_name, file_path, \
             uploaded_at, NULL, NULL, NULL FROM list_cutter_savedfile WHERE file_id = '{root}'; \
             INSERT INTO list_cutter_savedfile (user_id, file_id, file_name, file_path, uploaded_at, \
             system_tags, user_tags, metadata) SELECT user_id, 'odd-tags-{root}', file_name, file_path, \
             uploaded_at, NULL, ARRAY[NULL]::varchar[], NULL FROM list_cutter_savedfile WHERE file_id = '{root}'"
        ),
    );
    let (code, odd) = src.run(stack, "migrate", &[]);
    src.sql(
        stack,
        &format!("DELETE FROM list_cutter_savedfile WHERE file_id IN ('not a file id!', 'odd-tags-{root}')"),
    );
    assert_eq!((code, odd["changes"].as_u64()), (2, Some(0)), "{odd}");
    let problems = odd["problems"].to_string();
    assert!(
        problems.contains("file not a file id!") && problems.contains("file_id must be"),
        "{problems}"
    );
    assert!(problems.contains("unreadable row"), "{problems}");
    assert_eq!(odd["files"]["failed"], json!(2), "{odd}");
}

/// Puts `count` files of `owner` straight into the module's database and media folder.
fn bulk_files(stack: &Stack, src: &Source, owner: i64, count: usize, size: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut values = Vec::new();
    for i in 0..count {
        let id = format!("00000000-0000-4000-8000-{:012}", owner as usize * 1000 + i);
        let name = format!("bulk-{owner}-{i}.csv");
        let path = src.legacy.media.join("uploads").join(&name);
        std::fs::write(&path, e2e::sample_csv(size + i)).unwrap();
        values.push(format!(
            "({owner}, '{id}', '{name}', '{}', now(), ARRAY['uploaded'], NULL, NULL)",
            path.display()
        ));
        ids.push(id);
    }
    src.sql(
        stack,
        &format!(
            "INSERT INTO list_cutter_savedfile (user_id, file_id, file_name, file_path, uploaded_at, \
             system_tags, user_tags, metadata) VALUES {}",
            values.join(", ")
        ),
    );
    ids
}

fn killed_migrate_resumes_without_duplicates(stack: &Stack) {
    let src = Source::get(stack);
    let (_, owner) = src.user(false);
    let count = 120;
    let ids = bulk_files(stack, &src, owner, count, 200_000);
    // The checkpoint is written after every batch: it shows the progress.
    let checkpointed = || {
        let state: Value = std::fs::read(&src.state)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        ids.iter()
            .filter(|id| state["files"].get(id.as_str()).is_some())
            .count()
    };
    let app_files = || {
        d1_count(
            stack,
            &format!("SELECT COUNT(*) AS n FROM files WHERE user_id = {owner}"),
        )
    };

    let mut child = src
        .cutover(
            stack,
            &[
                "migrate",
                "--state",
                src.state.to_str().unwrap(),
                "--batch",
                "4",
                "--jobs",
                "1",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while checkpointed() < 8 {
        assert!(Instant::now() < deadline, "the migration made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "migrate ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = app_files();
    assert!(
        partial < count as i64,
        "killed too late: {partial} files already in"
    );

    let (code, resumed) = src.run(stack, "migrate", &[]);
    assert_eq!(code, 0, "{resumed}");
    assert_eq!(app_files(), count as i64);
    // No file twice, no object without its row.
    let keys: Vec<String> = stack
        .r2()
        .state()
        .keys
        .into_iter()
        .filter(|k| k.starts_with(&format!("uploads/user-{owner}/")))
        .collect();
    assert_eq!(keys.len(), count, "{keys:?}");
    let (code, rerun) = src.run(stack, "migrate", &[]);
    assert_eq!((code, rerun["changes"].as_u64()), (0, Some(0)), "{rerun}");
    assert_eq!(rerun["bytes_sent"], json!(0));
}

fn sync_brings_exactly_the_new_legacy_activity(stack: &Stack) {
    let src = Source::get(stack);
    let (bob, _) = src.user(false);
    let token = src.login(&bob, PASSWORD).unwrap();
    let keep = src.upload(&token, &format!("{bob}_keep.csv"), &csv("keep", 4));
    let doomed = src.upload(&token, &format!("{bob}_doomed.csv"), &csv("doomed", 4));
    let (code, base) = src.run(stack, "migrate", &[]);
    assert_eq!(code, 0, "{base}");

    // Legacy activity: a changed email, a new user with a file, a new file, a tag, a
    // deletion, and a username that someone also registered on the app meanwhile.
    src.sql(
        stack,
        &format!("UPDATE auth_user SET email = 'new-{bob}@example.org' WHERE username = '{bob}'"),
    );
    let (carol, _) = src.user(false);
    let carol_token = src.login(&carol, PASSWORD).unwrap();
    let carols = src.upload(&carol_token, &format!("{carol}.csv"), &csv("carol", 3));
    let fresh = src.upload(&token, &format!("{bob}_fresh.csv"), &csv("fresh", 6));
    src.sql(
        stack,
        &format!("UPDATE list_cutter_savedfile SET user_tags = ARRAY['new-tag'] WHERE file_id = '{keep}'"),
    );
    let resp = src
        .req(
            &token,
            reqwest::Method::DELETE,
            &format!("delete/{doomed}/"),
        )
        .send()
        .unwrap();
    assert_eq!(resp.status(), 204);
    let twin = unique("twin");
    let resp = app(reqwest::Method::POST, stack, "/api/accounts/register/")
        .json(&json!({"username": twin, "password": "app side 2?", "password2": "app side 2?"}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    src.manage(&["seed_user", "--username", &twin, "--password", PASSWORD]);

    let (code, sync) = src.run(stack, "sync", &[]);
    assert_eq!(code, 2, "a conflict is reported: {sync}");
    assert_eq!(sync["users"]["created"], json!(1), "{sync}");
    assert_eq!(sync["users"]["conflict"], json!(1), "{sync}");
    assert_eq!(sync["users"]["updated"], json!(1), "{sync}");
    assert_eq!(sync["files"]["created"], json!(2), "{sync}");
    assert_eq!(sync["files"]["updated"], json!(1), "{sync}");
    assert_eq!(sync["files"]["deleted"], json!(1), "{sync}");
    assert_eq!(sync["relationships"]["created"], json!(0), "{sync}");
    let problems = sync["problems"].to_string();
    assert!(problems.contains(&twin), "{problems}");

    // The app's twin is untouched; legacy's files arrived; the deleted one is gone.
    app_token(stack, &twin, "app side 2?");
    let bob_app = app_token(stack, &bob, PASSWORD);
    let carol_app = app_token(stack, &carol, PASSWORD);
    let get = |token: &str, path: String| {
        app(reqwest::Method::GET, stack, &path)
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        get(
            &carol_app,
            format!("/api/list_cutter/fetch_saved_file/{carols}/")
        ),
        200
    );
    assert_eq!(
        get(
            &bob_app,
            format!("/api/list_cutter/fetch_saved_file/{fresh}/")
        ),
        200
    );
    assert_eq!(
        get(
            &bob_app,
            format!("/api/list_cutter/fetch_saved_file/{doomed}/")
        ),
        404
    );
    let email = stack.d1_execute(&format!("SELECT email FROM users WHERE username = '{bob}'"));
    assert_eq!(email[0]["email"], json!(format!("new-{bob}@example.org")));
    let tags = stack.d1_execute(&format!(
        "SELECT user_tags FROM files WHERE file_id = '{keep}'"
    ));
    assert_eq!(tags[0]["user_tags"], json!(r#"["new-tag"]"#));
    assert!(!stack.r2().state().keys.iter().any(|k| k.contains(&doomed)));

    // The operator resolves the conflict by renaming the legacy account.
    src.sql(
        stack,
        &format!("UPDATE auth_user SET username = '{twin}_legacy' WHERE username = '{twin}'"),
    );
    let (code, resolved) = src.run(stack, "sync", &[]);
    assert_eq!(
        (code, resolved["users"]["created"].as_u64()),
        (0, Some(1)),
        "{resolved}"
    );
    assert_eq!(resolved["changes"], json!(1), "{resolved}");
    let (code, again) = src.run(stack, "sync", &[]);
    assert_eq!((code, again["changes"].as_u64()), (0, Some(0)), "{again}");
}

fn reverse_sync_makes_app_activity_work_on_legacy(stack: &Stack) {
    let src = Source::get(stack);
    let (dave, dave_id) = src.user(false);
    let token = src.login(&dave, PASSWORD).unwrap();
    let original = src.upload(&token, &format!("{dave}.csv"), &csv("dave", 8));
    let (code, base) = src.run(stack, "migrate", &[]);
    assert_eq!(code, 0, "{base}");
    // Whatever the suite's other modules made on the app is written back first; some
    // of it (files of users seeded into D1 alone) cannot be, and is reported.
    src.run(stack, "reverse-sync", &[]);

    // On the app: a new account with a file, and the legacy user's cut and tag.
    let erin = unique("erin");
    let erin_password = "set on the app 3#";
    let resp = app(reqwest::Method::POST, stack, "/api/accounts/register/")
        .json(&json!({"username": erin, "password": erin_password, "password2": erin_password}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    let erin_app = app_token(stack, &erin, erin_password);
    let erin_bytes = csv("erin", 20);
    let erin_file: Value = app(reqwest::Method::POST, stack, "/api/list_cutter/upload/")
        .bearer_auth(&erin_app)
        .multipart(Form::new().part(
            "file",
            Part::bytes(erin_bytes.clone()).file_name(format!("{erin}.csv")),
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let dave_app = app_token(stack, &dave, PASSWORD);
    let cut: Value = app(
        reqwest::Method::POST,
        stack,
        "/api/list_cutter/save_generated_file/",
    )
    .bearer_auth(&dave_app)
    .multipart(
        Form::new()
            .part("file", Part::bytes(csv("davecut", 2)).file_name("x.csv"))
            .text("file_name", format!("{dave}_cut.csv"))
            .text("metadata", "{}")
            .text("original_file_id", original.clone()),
    )
    .send()
    .unwrap()
    .json()
    .unwrap();
    let cut_id = cut["file_id"].as_str().unwrap().to_string();
    let resp = app(
        reqwest::Method::PATCH,
        stack,
        &format!("/api/list_cutter/update_tags/{original}/"),
    )
    .bearer_auth(&dave_app)
    .json(&json!({"user_tags": ["from-app"]}))
    .send()
    .unwrap();
    assert_eq!(resp.status(), 200);

    let (_, back) = src.run(stack, "reverse-sync", &[]);
    let problems = back["problems"].to_string();
    for mine in [&erin, &dave, &cut_id, &original] {
        assert!(!problems.contains(mine.as_str()), "{mine}: {problems}");
    }
    assert_eq!(back["users"]["created"], json!(1), "{back}");
    assert_eq!(back["files"]["created"], json!(2), "{back}");
    assert_eq!(back["files"]["updated"], json!(1), "{back}");
    assert_eq!(back["relationships"]["created"], json!(2), "{back}");

    // Erin logs in on Django with the password she chose on the app and gets her file.
    let erin_legacy = src.login(&erin, erin_password).expect("login on legacy");
    let name = erin_file["file_name"].as_str().unwrap();
    let resp = client()
        .get(format!(
            "{}/api/list_cutter/download/{name}/",
            src.legacy.url
        ))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().unwrap().to_vec(), erin_bytes);
    let listed = src.get_json(&erin_legacy, "list_saved_files/");
    assert_eq!(
        listed["files"][0]["file_id"], erin_file["file_id"],
        "{listed}"
    );
    // Dave's cut has its lineage and his tag on legacy.
    let lineage = src.lineage(&token, &cut_id);
    assert_eq!(
        lineage["edges"].as_array().map(Vec::len),
        Some(1),
        "{lineage}"
    );
    assert_eq!(lineage["edges"][0]["source"], json!(original));
    assert_eq!(lineage["edges"][0]["target"], json!(cut_id));
    let tags = src.sql(stack, &format!("SELECT array_to_string(user_tags, ',') FROM list_cutter_savedfile WHERE file_id = '{original}'"));
    assert_eq!(tags.trim(), "from-app");
    let owner = src.sql(
        stack,
        &format!("SELECT user_id FROM list_cutter_savedfile WHERE file_id = '{cut_id}'"),
    );
    assert_eq!(owner.trim(), dave_id.to_string());

    let (_, again) = src.run(stack, "reverse-sync", &[]);
    assert_eq!(again["changes"].as_u64(), Some(0), "{again}");
}

/// (users, files, relationships) rows of D1 and the R2 state.
fn app_snapshot(stack: &Stack) -> (Vec<Value>, e2e::R2State) {
    let counts = stack.d1_execute(
        "SELECT (SELECT COUNT(*) FROM users) AS u, (SELECT COUNT(*) FROM files) AS f, \
         (SELECT COUNT(*) FROM file_relationships) AS r, \
         (SELECT group_concat(file_id || checksum || user_tags) FROM files) AS h",
    );
    (counts, stack.r2().state())
}

fn import_api_refuses_bad_input_and_changes_nothing(stack: &Stack) {
    let src = Source::get(stack);
    let (frank, frank_id) = src.user(false);
    let (_, other_id) = src.user(false);
    src.upload(
        &src.login(&frank, PASSWORD).unwrap(),
        &format!("{frank}.csv"),
        b"a,b\n1,2\n",
    );
    let (code, base) = src.run(stack, "migrate", &[]);
    assert_eq!(code, 0, "{base}");
    let frank_app = app_token(stack, &frank, PASSWORD);
    let existing = stack.d1_execute(&format!(
        "SELECT file_id FROM files WHERE user_id = {frank_id}"
    ))[0]["file_id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = app_snapshot(stack);

    let admin = |method: reqwest::Method, path: &str| {
        app(method, stack, &format!("/api/admin/{path}")).bearer_auth(TOKEN)
    };
    let status_of = |req: RequestBuilder| {
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().unwrap_or(Value::Null))
    };
    let user = json!({"id": 123, "username": unique("x"), "password": "pbkdf2_sha256$1$s$h",
                      "is_active": true, "is_admin": true, "created_at": "2025-01-01T00:00:00Z"});
    let bytes = b"id\n1\n".to_vec();
    let record = |owner: i64, id: &str, sha: &str, size: usize| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(
            json!({"file_id": id, "user_id": owner, "file_name": "x.csv", "uploaded_at": "2025-01-01T00:00:00Z",
                   "size": size, "sha256": sha})
            .to_string(),
        )
    };
    let good_sha = sha256_hex(&bytes);
    let big = vec![b'x'; 6 << 20];
    // A bundle: a head line of records (owner, id, sha256, size), then the bytes.
    let bundle = |files: &[(i64, &str, &str, usize)], tail: &[u8]| {
        let records: Vec<Value> = files
            .iter()
            .map(|(owner, id, sha, size)| {
                json!({"file_id": id, "user_id": owner, "file_name": "x.csv",
                    "uploaded_at": "2025-01-01T00:00:00Z", "size": size, "sha256": sha})
            })
            .collect();
        let mut body = format!("{}\n", json!({ "files": records })).into_bytes();
        body.extend_from_slice(tail);
        admin(reqwest::Method::POST, "import/files/bundle").body(body)
    };
    let fresh = "11111111-2222-4333-8444-555555555560";
    let twice = [bytes.clone(), bytes.clone()].concat();
    let bad_sha = "0".repeat(64);
    let cases: Vec<(&str, RequestBuilder, u16, &str)> = vec![
        ("no credential", app(reqwest::Method::POST, stack, "/api/admin/import/users").json(&json!({"users": [user]})), 401, "authentication"),
        ("a non-admin", app(reqwest::Method::POST, stack, "/api/admin/import/users").bearer_auth(&frank_app).json(&json!({"users": [user]})), 403, "admin"),
        ("a wrong token", app(reqwest::Method::POST, stack, "/api/admin/import/users").bearer_auth("nope").json(&json!({"users": [user]})), 401, "authentication"),
        ("malformed JSON", admin(reqwest::Method::POST, "import/users").body("{\"users\": ["), 400, "Invalid JSON"),
        ("a user record without fields", admin(reqwest::Method::POST, "import/users").json(&json!({"users": [user, {"id": 5}]})), 400, "users[1]"),
        ("an id in the app's range", admin(reqwest::Method::POST, "import/users").json(&json!({"users": [{"id": 1_000_000_500, "username": unique("y"), "password": "p", "is_active": true, "is_admin": false, "created_at": "2025-01-01T00:00:00Z"}]})), 400, "USER_ID_OFFSET"),
        ("a file row for an unknown owner", admin(reqwest::Method::PUT, &format!("import/files/{}", "11111111-2222-4333-8444-555555555555")).header("X-Import-File", record(999_999_999, "11111111-2222-4333-8444-555555555555", &good_sha, bytes.len())).body(bytes.clone()), 422, "Unknown owner"),
        ("a checksum mismatch", admin(reqwest::Method::PUT, "import/files/11111111-2222-4333-8444-555555555556").header("X-Import-File", record(frank_id, "11111111-2222-4333-8444-555555555556", &"0".repeat(64), bytes.len())).body(bytes.clone()), 400, "Checksum mismatch"),
        ("a multipart-size checksum mismatch", admin(reqwest::Method::PUT, "import/files/11111111-2222-4333-8444-555555555557").header("X-Import-File", record(frank_id, "11111111-2222-4333-8444-555555555557", &"0".repeat(64), big.len())).body(big.clone()), 400, "Checksum mismatch"),
        ("a short body", admin(reqwest::Method::PUT, "import/files/11111111-2222-4333-8444-555555555558").header("X-Import-File", record(frank_id, "11111111-2222-4333-8444-555555555558", &good_sha, bytes.len() + 1)).body(bytes.clone()), 400, "Size mismatch"),
        ("no record header", admin(reqwest::Method::PUT, "import/files/11111111-2222-4333-8444-555555555559").body(bytes.clone()), 400, "X-Import-File"),
        ("a record for another id", admin(reqwest::Method::PUT, "import/files/11111111-2222-4333-8444-55555555555a").header("X-Import-File", record(frank_id, "11111111-2222-4333-8444-555555555559", &good_sha, bytes.len())).body(bytes.clone()), 400, "the path"),
        ("a path-like file id", admin(reqwest::Method::PUT, "import/files/a.b").header("X-Import-File", record(frank_id, "a.b", &good_sha, bytes.len())).body(bytes.clone()), 400, "file_id"),
        ("another owner's file", admin(reqwest::Method::PUT, &format!("import/files/{existing}")).header("X-Import-File", record(other_id, &existing, &good_sha, bytes.len())).body(bytes.clone()), 409, "already on the app"),
        ("a bundle with a checksum mismatch", bundle(&[(frank_id, fresh, &good_sha, bytes.len()), (frank_id, "11111111-2222-4333-8444-555555555561", &bad_sha, bytes.len())], &twice), 400, "555555555561: Checksum mismatch"),
        ("a bundle for an unknown owner", bundle(&[(frank_id, fresh, &good_sha, bytes.len()), (999_999_999, "11111111-2222-4333-8444-555555555562", &good_sha, bytes.len())], &twice), 422, "Unknown owner"),
        ("a bundle with another owner's file", bundle(&[(frank_id, fresh, &good_sha, bytes.len()), (other_id, &existing, &good_sha, bytes.len())], &twice), 409, "already on the app"),
        ("a short bundle", bundle(&[(frank_id, fresh, &good_sha, bytes.len()), (frank_id, "11111111-2222-4333-8444-555555555563", &good_sha, bytes.len())], &bytes), 400, "Size mismatch"),
        ("a bundle with bytes after its files", bundle(&[(frank_id, fresh, &good_sha, bytes.len())], &twice), 400, "goes on after"),
        ("a bundle naming a file twice", bundle(&[(frank_id, fresh, &good_sha, bytes.len()), (frank_id, fresh, &good_sha, bytes.len())], &twice), 400, "appears twice"),
        ("a bundle too large for one request", bundle(&[(frank_id, fresh, &sha256_hex(&big), big.len())], &big), 400, "one a request"),
        ("a body that is not a bundle", admin(reqwest::Method::POST, "import/files/bundle").body(bytes.clone()), 400, "head line"),
        ("a bad relationship type", admin(reqwest::Method::POST, "import/relationships").json(&json!({"relationships": [{"parent_id": existing, "child_id": "abc", "relationship": "LIKES"}]})), 400, "CUT_TO"),
        ("an unknown endpoint", admin(reqwest::Method::POST, "import/everything").json(&json!({})), 404, "No admin endpoint"),
        ("a negative page", admin(reqwest::Method::GET, "export/users?after=-1"), 400, "after"),
    ];
    for (what, req, status, message) in cases {
        let (got, body) = status_of(req);
        assert_eq!(got, status, "{what}: {body}");
        assert!(
            body["error"].as_str().unwrap_or_default().contains(message),
            "{what}: {body}"
        );
    }
    // A lineage row for a file the app does not have is reported, not stored.
    let (got, body) = status_of(admin(reqwest::Method::POST, "import/relationships").json(
        &json!({"relationships": [{"parent_id": existing, "child_id": "no-such-file", "relationship": "CUT_TO"}]}),
    ));
    assert_eq!(
        (got, body["results"][0]["status"].as_str()),
        (200, Some("missing")),
        "{body}"
    );
    assert_eq!(app_snapshot(stack), before);
}

fn an_unexpected_schema_is_reported_and_changes_nothing(stack: &Stack) {
    let src = Source::get(stack);
    let db = format!("cutover_odd_{}", std::process::id());
    stack.psql(&format!("CREATE DATABASE {db}"));
    stack.psql_in(
        &db,
        "CREATE TABLE auth_user (id serial PRIMARY KEY, username text); \
         INSERT INTO auth_user (username) VALUES ('someone')",
    );
    let before = app_snapshot(stack);
    let url = format!("postgresql://postgres@127.0.0.1:{}/{db}", stack.pg_port);
    let state = stack.dir.join("cutover-odd-state.json");
    let run = |extra: &[&str]| {
        let mut args = vec!["migrate", "--state", state.to_str().unwrap()];
        args.extend(extra);
        let mut cmd = src.cutover(stack, &args);
        cmd.env("LEGACY_DATABASE_URL", &url);
        cmd.output().unwrap()
    };
    let (code, lenient) = report(run(&[]));
    assert_eq!(code, 2, "{lenient}");
    let problems = lenient["problems"].to_string();
    assert!(
        problems.contains("table auth_user lacks columns email, password"),
        "{problems}"
    );
    assert!(
        problems.contains("table list_cutter_savedfile does not exist"),
        "{problems}"
    );
    assert_eq!(lenient["changes"], json!(0));
    let strict = run(&["--strict"]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("not the expected schema"));
    assert_eq!(app_snapshot(stack), before);
}

fn rollout_drives_the_gateway(stack: &Stack) {
    let src = Source::get(stack);
    let rollout = |args: &[&str]| {
        let mut all = vec!["rollout"];
        all.extend(args);
        report(src.cutover(stack, &all).output().unwrap())
    };
    let (code, set) = rollout(&["set", "7", "--reason", "canary from the CLI"]);
    assert_eq!(code, 0, "{set}");
    let (_, status) = rollout(&["status"]);
    assert_eq!(status["traffic_percentage"], json!(7), "{status}");
    let (_, frozen) = rollout(&["maintenance", "write-freeze"]);
    assert_eq!(
        frozen["maintenance_mode"],
        json!("write_freeze"),
        "{frozen}"
    );
    // The final sync runs during the freeze: the import API is not frozen.
    let (code, during) = src.run(stack, "migrate", &[]);
    assert_ne!(code, 1, "{during}");
    assert!(!during.to_string().contains("503"), "{during}");
    rollout(&["maintenance", "off"]);
    rollout(&["set", "0"]);
    let (_, status) = rollout(&["status"]);
    assert_eq!(
        (
            status["traffic_percentage"].clone(),
            status["maintenance_mode"].clone()
        ),
        (json!(0), json!("off"))
    );
}

/// A legacy of the Neo4j era: no lineage table, each generated file's metadata
/// naming its original. Its own stand-in and database, and an app Worker of its
/// own (so the main stack's imports cannot count as files this legacy lacks).
fn a_neo4j_era_legacy_migrates_verifies_and_takes_app_cuts_back(stack: &Stack) {
    let app_alone = stack.start_app_alone(&[]);
    let legacy = stack.start_stand_in(
        "neo4j",
        720_000_001,
        &[("LEGACY_LINEAGE_STORE", "metadata")],
    );
    let mut src = Source::on(stack, "neo4j", Arc::new(legacy));
    src.app_url = Some(app_alone.url.clone());
    let on_app = |method: reqwest::Method, path: &str| {
        client().request(method, format!("{}{path}", app_alone.url))
    };
    assert_eq!(
        src.sql(
            stack,
            "SELECT to_regclass('list_cutter_filerelationship') IS NULL"
        )
        .trim(),
        "t",
        "the Neo4j era has no lineage table"
    );

    let (alice, _) = src.user(false);
    let token = src.login(&alice, PASSWORD).unwrap();
    let root = src.upload(&token, &format!("{alice}.csv"), &csv("root", 20));
    let neo4j_cut = |name: &str, bytes: Vec<u8>, original: &str| {
        let metadata = json!({"generated_file_details": {
            "source_file": format!("{}/uploads/x.csv", src.legacy.media.display()),
            "columns": ["id", "name"], "column_filters": {"id": "> 1"},
            "original_file_id": original}});
        file_id_of(
            src.req(&token, reqwest::Method::POST, "save_generated_file/")
                .multipart(
                    Form::new()
                        .part("file", Part::bytes(bytes).file_name("cut.csv"))
                        .text("file_name", name.to_string())
                        .text("metadata", metadata.to_string())
                        .text("original_file_id", original.to_string()),
                ),
        )
    };
    let child = neo4j_cut(&format!("{alice}_cut.csv"), csv("child", 3), &root);
    let grandchild = neo4j_cut(&format!("{alice}_cut2.csv"), csv("gc", 1), &child);

    let (code, migrated) = src.run(stack, "migrate", &[]);
    assert_eq!(code, 0, "{migrated}");
    assert_eq!(migrated["lineage_source"], "metadata", "{migrated}");
    assert_eq!(migrated["problems"], json!([]), "{migrated}");
    assert_eq!(migrated["relationships"]["created"], json!(4), "{migrated}");
    let (code, verified) = src.run(stack, "verify", &[]);
    assert_eq!((code, &verified["ok"]), (0, &json!(true)), "{verified}");
    assert_eq!(verified["lineage_source"], "metadata");

    // The app answers the lineage the stand-in derives from the metadata.
    let (status, login) = send(
        on_app(reqwest::Method::POST, "/api/accounts/login/")
            .json(&json!({"username": alice, "password": PASSWORD})),
    );
    assert_eq!(status, 200, "{login}");
    let app_alice = login["access"].as_str().unwrap().to_string();
    for id in [&root, &child, &grandchild] {
        let (status, lineage) = send(
            on_app(
                reqwest::Method::GET,
                &format!("/api/list_cutter/fetch_file_lineage/{id}/"),
            )
            .bearer_auth(&app_alice),
        );
        assert_eq!(status, 200, "{lineage}");
        assert_eq!(lineage, src.lineage(&token, id), "lineage of {id}");
        assert!(!lineage["edges"].as_array().unwrap().is_empty());
    }

    // An account made on the app, a file and a cut of it, written back.
    let bob = unique("bob");
    let bob_password = "set on the app 4$";
    let (status, body) = send(
        on_app(reqwest::Method::POST, "/api/accounts/register/")
            .json(&json!({"username": bob, "password": bob_password, "password2": bob_password})),
    );
    assert_eq!(status, 201, "{body}");
    let bob_app = body["access"].as_str().unwrap().to_string();
    let original_bytes = csv("bob", 10);
    let (status, original) = send(
        on_app(reqwest::Method::POST, "/api/list_cutter/upload/")
            .bearer_auth(&bob_app)
            .multipart(Form::new().part(
                "file",
                Part::bytes(original_bytes.clone()).file_name(format!("{bob}.csv")),
            )),
    );
    assert_eq!(status, 200, "{original}");
    let original_id = original["file_id"].as_str().unwrap().to_string();
    let cut_bytes = csv("bobcut", 2);
    let (status, cut) = send(
        on_app(
            reqwest::Method::POST,
            "/api/list_cutter/save_generated_file/",
        )
        .bearer_auth(&bob_app)
        .multipart(
            Form::new()
                .part("file", Part::bytes(cut_bytes.clone()).file_name("x.csv"))
                .text("file_name", format!("{bob}_cut.csv"))
                .text("metadata", r#"{"columns":["id"],"filters":{}}"#)
                .text("original_file_id", original_id.clone()),
        ),
    );
    assert_eq!(status, 201, "{cut}");
    let cut_id = cut["file_id"].as_str().unwrap().to_string();

    let (code, back) = src.run(stack, "reverse-sync", &[]);
    assert_eq!(code, 0, "{back}");
    assert_eq!(back["lineage_source"], "metadata", "{back}");
    assert_eq!(back["users"]["created"], json!(1), "{back}");
    assert_eq!(back["files"]["created"], json!(2), "{back}");
    assert_eq!(back["relationships"]["created"], json!(1), "{back}");
    assert_eq!(back["problems"], json!([]), "{back}");

    // Bob signs in on the stand-in and gets both files, byte for byte.
    let bob_legacy = src.login(&bob, bob_password).expect("login on legacy");
    let listed = src.get_json(&bob_legacy, "list_saved_files/");
    for (id, bytes) in [(&original_id, &original_bytes), (&cut_id, &cut_bytes)] {
        let file = listed["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not listed: {listed}"));
        let resp = client()
            .get(format!(
                "{}/api/list_cutter/download/{}/",
                src.legacy.url,
                file["file_name"].as_str().unwrap()
            ))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(&resp.bytes().unwrap().to_vec(), bytes);
    }
    // The cut's metadata names its original the way that legacy reads it.
    let metadata = src.sql(
        stack,
        &format!(
            "SELECT metadata #>> '{{}}' FROM list_cutter_savedfile WHERE file_id = '{cut_id}'"
        ),
    );
    assert_eq!(
        shared::migration::original_in_metadata(metadata.trim()).as_deref(),
        Some(original_id.as_str()),
        "{metadata}"
    );
    let lineage = src.lineage(&bob_legacy, &cut_id);
    assert_eq!(
        lineage["edges"][0]["source"],
        json!(original_id),
        "{lineage}"
    );
    // A second run writes nothing again, and both sides agree.
    let (_, again) = src.run(stack, "reverse-sync", &[]);
    assert_eq!(again["relationships"]["created"], json!(0), "{again}");
    let (code, verified) = src.run(stack, "verify", &[]);
    assert_eq!((code, &verified["ok"]), (0, &json!(true)), "{verified}");
}

/// Sends; (status, JSON body or Null).
fn send(req: RequestBuilder) -> (u16, Value) {
    let resp = req.send().unwrap();
    (resp.status().as_u16(), resp.json().unwrap_or(Value::Null))
}
