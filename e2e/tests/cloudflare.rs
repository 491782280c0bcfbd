//! `cutover dns` against a local stand-in of Cloudflare's API (the request
//! shapes, idempotence, an error envelope); `cutover secrets` with a wrangler
//! that records its arguments and stdin (values reach stdin only, never the
//! output or the report); `cutover deploy` with that wrangler and the local
//! stack standing in for staging and production (validated for real).
//! Cloudflare's API and `wrangler deploy` cannot be reached offline;
//! everything else is the real tool and the repository's configs.

use crate::common::assert_printed;
use e2e::fake_cloudflare::FakeCloudflare;
use e2e::Stack;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

crate::tests!(
    cloudflare:
    dns_sends_the_documented_requests_once_and_fails_on_an_error_envelope,
    secrets_reach_wrangler_on_stdin_only,
    deploy_reaches_production_only_after_staging_validates,
);

const TOKEN: &str = "cf-test-token-0123";

fn cutover(stack: &Stack, args: &[&str]) -> (Output, Value) {
    let out = Command::new(stack.root.join("target/release/cutover"))
        .current_dir(&stack.root)
        .args(args)
        .env_remove("CLOUDFLARE_API_TOKEN")
        .output()
        .expect("cutover");
    let report = crate::common::last_json_line(&out);
    (out, report)
}

fn text(out: &Output) -> String {
    crate::common::output_text(out)
}

fn dns(stack: &Stack, fake: &FakeCloudflare, token: &str, extra: &[&str]) -> (Output, Value) {
    let log = stack.dir.join("dns-run.json");
    let mut args = vec![
        "dns",
        "--env",
        "production",
        "--api-base",
        &fake.base,
        "--api-token",
        token,
        "--json",
        "--run-log",
        log.to_str().unwrap(),
    ];
    args.extend(extra);
    cutover(stack, &args)
}

fn dns_sends_the_documented_requests_once_and_fails_on_an_error_envelope(stack: &Stack) {
    let fake = FakeCloudflare::start("list-cutter.com", TOKEN);
    // www already points at the gateway's discard address, but unproxied.
    let www = fake.seed_record(json!({
        "type": "AAAA", "name": "www.list-cutter.com", "content": "100::", "proxied": false, "ttl": 1
    }));

    // A dry run sends nothing and prints the requests.
    let (out, report) = dns(stack, &fake, "", &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(fake.requests().is_empty());
    assert_eq!(report["dry_run"], true, "{report}");
    let printed = text(&out);
    for line in [
        format!("would GET {}/zones?name=list-cutter.com", fake.base),
        format!(
            r#"would POST {}/zones/<id of list-cutter.com>/dns_records {{"content":"100::","name":"api.list-cutter.com","proxied":true,"ttl":1,"type":"AAAA"}}"#,
            fake.base
        ),
        format!(
            r#"would POST {}/zones/<id of list-cutter.com>/workers/routes {{"pattern":"www.list-cutter.com/*","script":"list-cutter-gateway"}}"#,
            fake.base
        ),
    ] {
        assert!(printed.contains(&line), "{line}\n{printed}");
    }

    // The first run: reads, then a POST per missing record and route, a PUT for
    // the record that differs.
    let (out, report) = dns(stack, &fake, TOKEN, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report["outcome"], "done", "{report}");
    let requests = fake.requests();
    for r in &requests {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{r:?}"
        );
        if r.body.is_some() {
            assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
        }
    }
    let z = &fake.zone_id;
    let sent: Vec<(String, String)> = requests
        .iter()
        .map(|r| (r.method.clone(), r.target.clone()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("GET", "/client/v4/zones?name=list-cutter.com".to_string()),
        (
            "GET",
            format!("/client/v4/zones/{z}/dns_records?name=api.list-cutter.com&per_page=100"),
        ),
        (
            "GET",
            format!("/client/v4/zones/{z}/dns_records?name=list-cutter.com&per_page=100"),
        ),
        (
            "GET",
            format!("/client/v4/zones/{z}/dns_records?name=www.list-cutter.com&per_page=100"),
        ),
        ("GET", format!("/client/v4/zones/{z}/workers/routes")),
        ("POST", format!("/client/v4/zones/{z}/dns_records")),
        ("PUT", format!("/client/v4/zones/{z}/dns_records/{www}")),
        ("POST", format!("/client/v4/zones/{z}/dns_records")),
        ("POST", format!("/client/v4/zones/{z}/workers/routes")),
        ("POST", format!("/client/v4/zones/{z}/workers/routes")),
        ("POST", format!("/client/v4/zones/{z}/workers/routes")),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p))
    .collect();
    assert_eq!(sent, expected);
    assert_eq!(
        requests[5].body,
        Some(
            json!({"type": "AAAA", "name": "list-cutter.com", "content": "100::", "proxied": true, "ttl": 1})
        )
    );
    assert_eq!(requests[6].body.as_ref().unwrap()["proxied"], true);
    assert_eq!(
        requests[8].body,
        Some(json!({"pattern": "list-cutter.com/*", "script": "list-cutter-gateway"}))
    );
    assert_eq!(fake.records().len(), 3);
    assert_eq!(fake.routes().len(), 3);
    assert!(report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "route api.list-cutter.com/*" && s["ok"] == true));

    // The second run finds everything in place and sends no write.
    fake.clear_requests();
    let (out, report) = dns(stack, &fake, TOKEN, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let methods: Vec<String> = fake.requests().iter().map(|r| r.method.clone()).collect();
    assert!(methods.iter().all(|m| m == "GET"), "{methods:?}");
    assert_eq!(report["steps"].as_array().unwrap().len(), 1, "{report}");

    // Cloudflare's error envelope fails the run with its message.
    let (out, report) = dns(stack, &fake, "wrong-token", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(report["outcome"], "failed", "{report}");
    assert_printed(&out, "HTTP 403: Authentication error (code 10000)");

    // No token: refused before anything is sent.
    fake.clear_requests();
    let (out, _) = dns(stack, &fake, "", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_printed(&out, "needs a Cloudflare API token");
    assert!(fake.requests().is_empty());
}

/// A wrangler that appends its arguments and stdin to `$WRANGLER_RECORD`, and
/// fails echoing its stdin when `$WRANGLER_FAIL` is set (as a careless tool might).
pub fn fake_wrangler(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("fake-wrangler");
    std::fs::write(
        &path,
        "#!/bin/sh\n\
         value=$(cat)\n\
         printf 'ARGS %s\\nSTDIN %s\\n' \"$*\" \"$value\" >> \"$WRANGLER_RECORD\"\n\
         if [ -n \"$WRANGLER_FAIL\" ]; then echo \"cannot upload $value\" >&2; exit 1; fi\n\
         echo \"Success! Uploaded secret $3\"\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", path.to_str().unwrap()])
        .status()
        .unwrap();
    path
}

fn secrets_reach_wrangler_on_stdin_only(stack: &Stack) {
    let dir = stack.dir.join("secrets-test");
    std::fs::create_dir_all(&dir).unwrap();
    let wrangler = fake_wrangler(&dir);
    let record = dir.join("record.txt");
    let values = [
        ("JWT_SECRET", "jwt-value-4f1c9a"),
        ("ADMIN_API_TOKEN", "admin-value-77b2e0"),
        ("ROUTING_SECRET", "routing-value-c3d5"),
        (
            "ALERT_WEBHOOKS",
            r#"[{"kind":"generic","url":"https://hooks.example/x"}]"#,
        ),
    ];
    let file = dir.join("production.env");
    let dotenv: String = values.iter().map(|(k, v)| format!("{k}='{v}'\n")).collect();
    std::fs::write(&file, dotenv).unwrap();
    let run = |from: &Path, extra: &[&str], fail: bool| {
        let mut cmd = Command::new(stack.root.join("target/release/cutover"));
        cmd.current_dir(&stack.root)
            .args(["secrets", "--env", "production", "--json", "--from"])
            .arg(from)
            .arg("--run-log")
            .arg(dir.join("secrets-run.json"))
            .args(extra)
            .env("WRANGLER", &wrangler)
            .env("WRANGLER_RECORD", &record);
        if fail {
            cmd.env("WRANGLER_FAIL", "1");
        }
        let out = cmd.output().unwrap();
        for (name, value) in values {
            assert!(!text(&out).contains(value), "{name} shown: {}", text(&out));
        }
        out
    };
    let recorded = || std::fs::read_to_string(&record).unwrap_or_default();

    // A dry run prints the commands with names and fingerprints, runs none.
    let out = run(&file, &["--dry-run"], false);
    assert!(out.status.success(), "{}", text(&out));
    assert_printed(
        &out,
        &format!(
            "would {} secret put JWT_SECRET --env production-green -c deploy/../wrangler.app.toml < value of JWT_SECRET (16 bytes, sha256 ",
            wrangler.display()
        ),
    );
    assert_eq!(recorded(), "");

    // A missing value: refused before anything is sent, naming it.
    let partial = dir.join("partial.env");
    std::fs::write(&partial, "JWT_SECRET=x\nADMIN_API_TOKEN=y\n").unwrap();
    let out = run(&partial, &[], false);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_printed(&out, "no value for ROUTING_SECRET, ALERT_WEBHOOKS in");
    assert_eq!(recorded(), "");

    // The real run: every Worker of production gets its secrets, values on stdin.
    let out = run(&file, &[], false);
    assert!(out.status.success(), "{}", text(&out));
    let lines = recorded();
    let calls: Vec<(&str, &str)> = lines
        .lines()
        .collect::<Vec<_>>()
        .chunks(2)
        .map(|c| {
            (
                c[0].trim_start_matches("ARGS "),
                c[1].trim_start_matches("STDIN "),
            )
        })
        .collect();
    let value = |name: &str| values.iter().find(|(k, _)| *k == name).unwrap().1;
    let mut expected = Vec::new();
    for (config, env, names) in [
        (
            "wrangler.gateway.toml",
            "production",
            &[
                "JWT_SECRET",
                "ADMIN_API_TOKEN",
                "ROUTING_SECRET",
                "ALERT_WEBHOOKS",
            ][..],
        ),
        (
            "wrangler.app.toml",
            "production",
            &["JWT_SECRET", "ADMIN_API_TOKEN"][..],
        ),
        (
            "wrangler.app.toml",
            "production-green",
            &["JWT_SECRET", "ADMIN_API_TOKEN"][..],
        ),
    ] {
        for name in names {
            expected.push((
                format!("secret put {name} --env {env} -c deploy/../{config}"),
                value(name),
            ));
        }
    }
    let got: Vec<(String, &str)> = calls.iter().map(|(a, s)| (a.to_string(), *s)).collect();
    assert_eq!(got, expected);
    let report: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(report["steps"].as_array().unwrap().len(), 8, "{report}");
    assert_eq!(report["outcome"], "done", "{report}");

    // wrangler fails and echoes the value: the step fails, the value is blanked.
    let out = run(&file, &[], true);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_printed(
        &out,
        "wrangler failed (exit status: 1): cannot upload [secret]",
    );
}

/// The checkout's wrangler configs with every `REPLACE_ME_*` placeholder made a
/// real-looking id, in `dir`.
fn configs_with_ids(stack: &Stack, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for name in ["wrangler.app.toml", "wrangler.gateway.toml"] {
        let mut text = std::fs::read_to_string(stack.root.join(name)).unwrap();
        while let Some(at) = text.find("REPLACE_ME") {
            let end = text[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(text.len(), |n| at + n);
            text.replace_range(at..end, "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
        }
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn deploy_reaches_production_only_after_staging_validates(stack: &Stack) {
    let dir = stack.dir.join("deploy-test");
    std::fs::create_dir_all(&dir).unwrap();
    let wrangler = fake_wrangler(&dir);
    let record = dir.join("record.txt");
    let configs = dir.join("configs");
    configs_with_ids(stack, &configs);
    let database = format!("postgresql://postgres@127.0.0.1:{}/legacy", stack.pg_port);
    let run = |staging: &str, config_dir: &Path, extra: &[&str]| {
        let _ = std::fs::remove_file(&record);
        let mut cmd = Command::new(stack.root.join("target/release/cutover"));
        cmd.current_dir(&stack.root)
            .args(["deploy", "--env", "production", "--json", "--fresh"])
            .args(["--skip-tests", "--skip-build", "--wait-secs", "3"])
            .args([
                "--staging-url",
                staging,
                "--staging-database-url",
                &database,
            ])
            .args(["--url", &stack.gateway, "--database-url", &database])
            .args(["--admin-token", crate::admin::ADMIN_TOKEN, "--config-dir"])
            .arg(config_dir)
            .arg("--run-log")
            .arg(dir.join("deploy-run.json"))
            .args(extra)
            .env("WRANGLER", &wrangler)
            .env("WRANGLER_RECORD", &record)
            .env("CLOUDFLARE_API_TOKEN", TOKEN);
        let out = cmd.output().unwrap();
        let report = crate::common::last_json_line(&out);
        let calls: Vec<String> = std::fs::read_to_string(&record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("ARGS "))
            .map(|a| a.replace(&format!("{}/", configs.display()), ""))
            .collect();
        (out, report, calls)
    };
    let step = |report: &Value, name: &str| {
        report["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name).cloned())
            .unwrap_or(Value::Null)
    };

    // The checkout's own configs still hold placeholder ids: nothing is run.
    let (out, report, calls) = run(&stack.gateway, &stack.root, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let config = step(&report, "config (staging)");
    assert_eq!(config["ok"], false, "{report}");
    assert!(
        config["detail"]
            .as_str()
            .unwrap()
            .contains("placeholder ids"),
        "{config}"
    );
    assert!(calls.is_empty(), "{calls:?}");

    // A dry run checks and validates the health, deploys nothing.
    let (out, report, calls) = run(&stack.gateway, &configs, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(calls.is_empty(), "{calls:?}");
    assert_printed(
        &out,
        "production: app (production-green): would run wrangler deploy -c ",
    );
    assert_eq!(
        step(&report, "production: validate")["ok"],
        true,
        "{report}"
    );

    // Staging does not validate: production is not touched.
    let (out, report, calls) = run("http://127.0.0.1:9", &configs, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        calls,
        [
            "d1 migrations apply DB --remote -c wrangler.app.toml --env staging",
            "deploy -c wrangler.app.toml --env staging",
            "deploy -c wrangler.gateway.toml --env staging",
        ]
    );
    assert_eq!(step(&report, "staging: validate")["ok"], false, "{report}");
    assert_eq!(
        step(&report, "production: database"),
        Value::Null,
        "{report}"
    );
    assert_eq!(report["outcome"], "failed");

    // Staging validates: then production, app slots before the gateway, validated.
    let (out, report, calls) = run(&stack.gateway, &configs, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        calls,
        [
            "d1 migrations apply DB --remote -c wrangler.app.toml --env staging",
            "deploy -c wrangler.app.toml --env staging",
            "deploy -c wrangler.gateway.toml --env staging",
            "d1 migrations apply DB --remote -c wrangler.app.toml --env production",
            "deploy -c wrangler.app.toml --env production",
            "deploy -c wrangler.app.toml --env production-green",
            "deploy -c wrangler.gateway.toml --env production",
        ]
    );
    assert_eq!(report["outcome"], "done", "{report}");
    assert_eq!(step(&report, "tests")["detail"], "skipped (--skip-tests)");
    for env in ["staging", "production"] {
        let validated = step(&report, &format!("{env}: validate"));
        assert_eq!(validated["ok"], true, "{report}");
        let log: Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("deploy-run.validate-{env}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(log["outcome"], "done", "{log}");
        assert!(
            log["steps"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "download" && s["ok"] == true),
            "{log}"
        );
    }
    // Nothing of the validations is left.
    assert_eq!(
        stack
            .psql("SELECT count(*) FROM auth_user WHERE username LIKE 'validate%'")
            .trim(),
        "0"
    );
}
