//! The whole local stack for one test run.

use crate::client_ips::ClientIps;
use crate::local_r2::LocalR2;
use crate::process::Group;
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shared JWT secret of the local configs (`wrangler.*.toml` [vars]); the
/// stand-in signs with it too, as Django and the app share it in production.
pub const JWT_SECRET: &str = "local-dev-jwt-secret-not-for-production-0123456789";
/// The gateway's `ROUTING_SECRET` in the local config.
pub const ROUTING_SECRET: &str = "local-dev-routing-secret";
/// How long the gateway trusts its copy of the rollout config in this suite.
pub const CONFIG_CACHE_MS: u64 = 300;
/// The gateway's legacy timeout in this suite.
pub const LEGACY_TIMEOUT_MS: u64 = 5_000;
/// How long a shadow request may take in this suite.
pub const SHADOW_TIMEOUT_MS: u64 = 1_000;

/// The app Worker served alone by [`Stack::start_app_alone`].
pub struct AppAlone {
    pub url: String,
    /// Its `--persist-to` directory.
    pub state: PathBuf,
    pub r2: LocalR2,
    _group: Group,
}

/// A second gateway and app of [`Stack::start_pair`].
pub struct Pair {
    /// Base URL of its gateway.
    pub gateway: String,
    /// Its `--persist-to` directory (for [`Stack::d1_execute_at`]).
    pub persist: PathBuf,
    _group: Group,
}

/// A stand-in of [`Stack::start_stand_in`]; its process stops when it is dropped.
pub struct StandIn {
    /// Its PostgreSQL database, and that database's URL.
    pub db: String,
    pub database_url: String,
    pub media: PathBuf,
    /// Its base URL.
    pub url: String,
    /// Its environment, for `manage.py`.
    pub env: Vec<(&'static str, String)>,
    _process: Group,
}

pub struct Stack {
    pub root: PathBuf,
    pub dir: PathBuf,
    /// Base URL of the gateway, e.g. `http://127.0.0.1:41234`.
    pub gateway: String,
    /// Base URL of the Django stand-in (direct, not through the gateway).
    pub legacy: String,
    pub pg_port: u16,
    /// Where the gateway's `ALERT_WEBHOOKS` points (a generic receiver); a
    /// test serves it with [`Stack::webhook_receiver`] to capture alerts.
    pub webhook_port: u16,
    /// The port's listener, bound from the start so that no other process
    /// (a later `wrangler dev`'s inspector) takes the port meanwhile.
    webhook: Mutex<Option<TcpListener>>,
    /// PostgreSQL's data lives under the system temp dir: the `postgres` user
    /// it runs as may not be allowed into the checkout (e.g. under /root).
    pg_dir: PathBuf,
    legacy_port: u16,
    legacy_proc: Mutex<Option<Group>>,
    /// The stand-ins of [`Stack::stand_in`], by name.
    stand_ins: Mutex<HashMap<String, Arc<StandIn>>>,
    wrangler: Mutex<Option<Group>>,
    pg_started: Mutex<bool>,
    /// The client addresses handed out so far (see [`Stack::ip`]).
    pub(crate) ips: ClientIps,
}

impl Stack {
    /// Starts PostgreSQL, the stand-in and both Workers; panics (after cleaning
    /// up what did start) when any of them does not come up.
    pub fn start() -> Stack {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root")
            .to_path_buf();
        let dir = root.join("target/e2e-run");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("media")).expect("run dir");

        let (pg_port, legacy_port, gateway_port) = (free_port(), free_port(), free_port());
        let webhook = TcpListener::bind("127.0.0.1:0").expect("webhook port");
        let stack = Stack {
            gateway: format!("http://127.0.0.1:{gateway_port}"),
            legacy: format!("http://127.0.0.1:{legacy_port}"),
            root,
            dir,
            pg_port,
            webhook_port: webhook.local_addr().expect("webhook address").port(),
            webhook: Mutex::new(Some(webhook)),
            pg_dir: std::env::temp_dir().join(format!("list-cutter-e2e-pg-{}", std::process::id())),
            legacy_port,
            legacy_proc: Mutex::new(None),
            stand_ins: Mutex::default(),
            wrangler: Mutex::new(None),
            pg_started: Mutex::new(false),
            ips: ClientIps::default(),
        };

        let mut pg = stack.script("pg");
        pg.args([
            "start",
            stack.pg_dir.to_str().unwrap(),
            &pg_port.to_string(),
        ]);
        stack.run("pg", pg);
        *stack.pg_started.lock().unwrap() = true;
        stack.start_legacy();

        stack.migrate_d1(&stack.persist_dir());

        let dev = stack.both_workers(
            gateway_port,
            &stack.persist_dir(),
            &stack.legacy,
            stack.webhook_port,
            LEGACY_TIMEOUT_MS,
        );
        *stack.wrangler.lock().unwrap() = Some(Group::spawn(
            "wrangler dev",
            dev,
            &stack.dir.join("wrangler.log"),
        ));
        stack.wait_for_workers();
        stack
    }

    /// `wrangler dev` of the gateway and the app on `gateway_port`, with state under
    /// `persist_to`, in front of the legacy origin `legacy`, alerting
    /// `webhook_port`. The suite's settings: a short config cache and legacy
    /// timeout, and an alert cron (run on demand) that acts on one bad window.
    fn both_workers(
        &self,
        gateway_port: u16,
        persist_to: &Path,
        legacy: &str,
        webhook_port: u16,
        legacy_timeout_ms: u64,
    ) -> Command {
        let mut dev = self.wrangler_dev(persist_to, gateway_port, Some(legacy));
        dev.args(["--var", &format!("CONFIG_CACHE_MS:{CONFIG_CACHE_MS}")])
        .args(["--var", &format!("LEGACY_TIMEOUT_MS:{legacy_timeout_ms}")])
        // A shadow request gives up sooner than the user's; the gate judges a
        // route after a few comparisons.
        .args(["--var", &format!("SHADOW_TIMEOUT_MS:{SHADOW_TIMEOUT_MS}")])
        .args(["--var", "SHADOW_MIN_COMPARED:3"])
        // The alert cron acts on one bad window.
        .args([
            "--var",
            "ALERT_BAD_WINDOWS:1",
            "--var",
            "ALERT_MIN_REQUESTS:10",
        ])
        .args([
            "--var",
            &format!(
                r#"ALERT_WEBHOOKS:[{{"kind":"generic","url":"http://127.0.0.1:{webhook_port}/alert"}}]"#
            ),
        ]);
        dev
    }

    /// A second gateway and app, with their own state, in front of `legacy` (a
    /// stand-in of [`Stack::start_stand_in`]): for runs that must see every
    /// record of both sides, which the suite's shared stack mixes with other
    /// tests' deliberately broken data. It stops when dropped.
    pub fn start_pair(&self, legacy: &StandIn) -> Pair {
        let port = free_port();
        let persist = self.dir.join(format!("pair-state-{port}"));
        self.migrate_d1(&persist);
        // Production's legacy timeout: a pair carries whole journeys, whose
        // registrations (two 870 000-round hashes) take seconds on a busy machine.
        let dev = self.both_workers(port, &persist, &legacy.url, free_port(), 30_000);
        let (gateway, group) = self.serve("wrangler dev (pair)", dev, port, "pair", 200, 180);
        Pair {
            gateway,
            persist,
            _group: group,
        }
    }

    /// The app's green slot beside a [`Pair`]: the app Worker once more, named
    /// as the pair gateway's `APP_GREEN` service and on the pair's state (one
    /// D1, R2 and KV, as production's two slots share theirs), in the pair's dev
    /// registry. Up once the pair's gateway finds it ready; stops when dropped.
    pub fn start_green(&self, pair: &Pair) -> Group {
        let port = free_port();
        let mut dev = self.wrangler_dev(&pair.persist, port, None);
        dev.args(["-c", "wrangler.app.toml", "--name", "list-cutter-app-green"]);
        let group = Group::spawn(
            "wrangler dev (green)",
            dev,
            &self.dir.join(format!("green-{port}.log")),
        );
        let check = format!("{}/admin/deployment/check?version=green", pair.gateway);
        self.wait_until("the green slot", Duration::from_secs(180), || {
            crate::client()
                .get(&check)
                .bearer_auth(crate::ADMIN_TOKEN)
                .send()
                .ok()
                .and_then(|r| r.json::<serde_json::Value>().ok())
                .is_some_and(|v| v["ready"] == true)
        });
        group
    }

    /// The stand-in `name` of [`Stack::start_stand_in`] (with no extra
    /// environment), started on first use and shared by every later one: a legacy
    /// data set that a module's tests build up together. It stops with the stack.
    pub fn stand_in(&self, name: &str, first_id: u32) -> Arc<StandIn> {
        if let Some(running) = self.stand_ins.lock().unwrap().get(name) {
            return Arc::clone(running);
        }
        // Started without the lock held: one that fails to come up poisons nothing.
        let stand_in = Arc::new(self.start_stand_in(name, first_id, &[]));
        self.stand_ins
            .lock()
            .unwrap()
            .insert(name.to_string(), Arc::clone(&stand_in));
        stand_in
    }

    /// A Django stand-in of its own: database `<name>_<pid>` on the suite's
    /// PostgreSQL, media folder `<name>-media`, user ids from `first_id`, and
    /// `extra` environment. It stops when dropped.
    pub fn start_stand_in(
        &self,
        name: &str,
        first_id: u32,
        extra: &[(&'static str, &str)],
    ) -> StandIn {
        let db = format!("{name}_{}", std::process::id());
        let media = self.dir.join(format!("{name}-media"));
        std::fs::create_dir_all(media.join("uploads")).unwrap();
        let port = free_port();
        let mut env = self.legacy_env();
        env.retain(|(k, _)| !matches!(*k, "LEGACY_PORT" | "LEGACY_MEDIA_ROOT"));
        env.extend([
            ("LEGACY_PORT", port.to_string()),
            ("LEGACY_DB_NAME", db.clone()),
            ("LEGACY_MEDIA_ROOT", media.display().to_string()),
        ]);
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let mut cmd = Command::new(self.root.join("e2e/legacy/run.sh"));
        cmd.envs(env.clone());
        let group = Group::spawn(
            &format!("legacy stand-in ({name})"),
            cmd,
            &self.dir.join(format!("{name}-legacy.log")),
        );
        let url = format!("http://127.0.0.1:{port}");
        self.wait_for_stand_in(&format!("the {name} stand-in"), &url);
        self.psql_in(
            &db,
            &format!("ALTER SEQUENCE auth_user_id_seq RESTART WITH {first_id}"),
        );
        let database_url = format!("postgresql://postgres@127.0.0.1:{}/{db}", self.pg_port);
        StandIn {
            db,
            database_url,
            media,
            url,
            env,
            _process: group,
        }
    }

    /// Applies the app's D1 migrations to the local state under `persist_to`.
    fn migrate_d1(&self, persist_to: &Path) {
        let mut migrate = self.wrangler_cmd();
        migrate
            .args([
                "d1",
                "migrations",
                "apply",
                "DB",
                "--local",
                "-c",
                "wrangler.app.toml",
            ])
            .args(["--persist-to", persist_to.to_str().unwrap()]);
        self.run("d1 migrations", migrate);
    }

    /// Starts a second `wrangler dev` serving the app Worker alone on its own
    /// port and migrated state, with `vars` over the local config (for
    /// measurements that compare the app with and without the gateway, for its
    /// own `/health` and cron, and for settings the main stack does not run
    /// with); it stops when dropped.
    pub fn start_app_alone(&self, vars: &[(&str, &str)]) -> AppAlone {
        self.app_alone(&[self.root.join("wrangler.app.toml")], vars, 200)
    }

    /// The app as [`Stack::start_app_alone`], behind a bare pass-through Worker
    /// in the same `wrangler dev` (`e2e/bench/passthrough.js`): the floor a
    /// gateway in front of the app is measured against.
    pub fn start_app_behind_passthrough(&self) -> AppAlone {
        let configs = [
            self.root.join("e2e/bench/wrangler.passthrough.toml"),
            self.root.join("wrangler.app.toml"),
        ];
        self.app_alone(&configs, &[], 200)
    }

    /// The app Worker alone, as [`Stack::start_app_alone`], from a copy of the local
    /// config without the binding named `binding`: a Worker whose D1, R2 or KV is
    /// missing, to see what it answers then. It is up when `/health` answers 503.
    pub fn start_app_without(&self, binding: &str) -> AppAlone {
        let config = self.config_without("wrangler.app.toml", binding);
        self.app_alone(&[config], &[], 503)
    }

    /// A second gateway with its app, as [`Stack::start_app_alone`], in front of
    /// the suite's legacy, from a copy of the local gateway config without the
    /// binding named `binding`: a gateway whose metrics object or KV is missing,
    /// to see that it still routes. Up when its `/health` answers 200.
    pub fn start_gateway_without(&self, binding: &str) -> AppAlone {
        let configs = [
            self.config_without("wrangler.gateway.toml", binding),
            self.root.join("wrangler.app.toml"),
        ];
        self.app_alone(&configs, &[("LEGACY_ORIGIN", &self.legacy)], 200)
    }

    /// A copy of the local part of the config `file` without the binding named
    /// `binding` (paths in it made absolute).
    fn config_without(&self, file: &str, binding: &str) -> PathBuf {
        let stem = file.trim_end_matches(".toml");
        let config = self.dir.join(format!("{stem}-without-{binding}.toml"));
        let text = std::fs::read_to_string(self.root.join(file)).expect("config");
        std::fs::write(&config, local_config_without(&text, binding, &self.root))
            .expect("config copy");
        config
    }

    /// `wrangler dev` of `configs` (the first one answers on the port) over
    /// freshly migrated state; up when `/health` answers `healthy`.
    fn app_alone(&self, configs: &[PathBuf], vars: &[(&str, &str)], healthy: u16) -> AppAlone {
        let port = free_port();
        let state = self.dir.join(format!("app-alone-state-{port}"));
        self.migrate_d1(&state);
        let mut dev = self.wrangler_dev(&state, port, None);
        for config in configs {
            dev.arg("-c").arg(config);
        }
        // The cron runs on demand (GET /__scheduled).
        dev.arg("--test-scheduled");
        for (name, value) in vars {
            dev.args(["--var", &format!("{name}:{value}")]);
        }
        let (url, group) = self.serve(
            "wrangler dev (app alone)",
            dev,
            port,
            "app-alone",
            healthy,
            120,
        );
        AppAlone {
            url,
            r2: LocalR2::new(state.join("v3/r2")),
            state,
            _group: group,
        }
    }

    /// Spawns `dev`, a `wrangler dev` on `port` logging to `<log>-<port>.log` in the
    /// run's dir, and waits up to `secs` for its `/health` to answer `healthy`;
    /// returns its URL and its process.
    fn serve(
        &self,
        what: &str,
        dev: Command,
        port: u16,
        log: &str,
        healthy: u16,
        secs: u64,
    ) -> (String, Group) {
        let group = Group::spawn(what, dev, &self.dir.join(format!("{log}-{port}.log")));
        let url = format!("http://127.0.0.1:{port}");
        self.wait_for_status(
            what,
            &format!("{url}/health"),
            healthy,
            Duration::from_secs(secs),
        );
        (url, group)
    }

    /// Serves the gateway's alert webhook and keeps what it receives (once per run).
    pub fn webhook_receiver(&self) -> crate::webhook::Receiver {
        let listener = self.webhook.lock().unwrap().take();
        crate::webhook::Receiver::on(listener.expect("the webhook is served once per run"))
    }

    /// Stops everything this stack started (idempotent).
    pub fn shutdown(&self) {
        if let Some(mut w) = self.wrangler.lock().unwrap().take() {
            w.stop();
        }
        // Before PostgreSQL; each stops as the last holder lets go (the tests
        // that held one are done).
        self.stand_ins.lock().unwrap().clear();
        self.stop_legacy();
        let mut pg = self.pg_started.lock().unwrap();
        if *pg {
            let _ = self
                .script("pg")
                .args(["stop", self.pg_dir.to_str().unwrap()])
                .status();
            let _ = std::fs::remove_dir_all(&self.pg_dir);
            *pg = false;
        }
    }

    /// Starts (or restarts) the Django stand-in and waits until it answers.
    pub fn start_legacy(&self) {
        let mut cmd = Command::new(self.root.join("e2e/legacy/run.sh"));
        cmd.envs(self.legacy_env());
        let group = Group::spawn("legacy stand-in", cmd, &self.dir.join("legacy.log"));
        *self.legacy_proc.lock().unwrap() = Some(group);
        self.wait_for_stand_in("the legacy stand-in", &self.legacy);
    }

    /// Waits until the stand-in at `url` answers.
    fn wait_for_stand_in(&self, what: &str, url: &str) {
        let probe = format!("{url}/__test__/status?code=200");
        self.wait_for_status(what, &probe, 200, Duration::from_secs(90));
    }

    pub fn stop_legacy(&self) {
        if let Some(mut g) = self.legacy_proc.lock().unwrap().take() {
            g.stop();
        }
    }

    /// The stand-in's environment, for `run.sh` and `manage.py` alike.
    pub fn legacy_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LEGACY_PORT", self.legacy_port.to_string()),
            ("LEGACY_DB_PORT", self.pg_port.to_string()),
            (
                "LEGACY_MEDIA_ROOT",
                self.dir.join("media").display().to_string(),
            ),
            ("JWT_SECRET", JWT_SECRET.to_string()),
            ("LEGACY_TEST_ENDPOINTS", "1".into()),
            // Every test request reaches Django from 127.0.0.1: DRF's per-IP
            // throttle would stand in for the gateway's own limiter.
            ("LEGACY_THROTTLE_ANON", "off".into()),
            ("LEGACY_THROTTLE_USER", "off".into()),
            ("LEGACY_DELAY_FILE", self.delay_file().display().to_string()),
        ]
    }

    fn delay_file(&self) -> PathBuf {
        self.dir.join("legacy-delay-ms")
    }

    /// Makes the stand-in wait `ms` before each answer (0: none), from its next request.
    pub fn set_legacy_delay(&self, ms: u64) {
        if ms == 0 {
            let _ = std::fs::remove_file(self.delay_file());
        } else {
            std::fs::write(self.delay_file(), ms.to_string()).expect("delay file");
        }
    }

    /// Runs one of the stand-in's `manage.py` commands.
    pub fn legacy_manage(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(self.root.join("e2e/legacy/.venv/bin/python"));
        cmd.arg(self.root.join("e2e/legacy/manage.py"))
            .args(args)
            .envs(self.legacy_env());
        self.run(&format!("manage.py {args:?}"), cmd)
    }

    /// Writes a KV value into the local state the running Workers read, then
    /// waits out the gateway's config cache.
    pub fn kv_put(&self, binding: &str, key: &str, value: &str) {
        self.kv(&["put", "--binding", binding, key, value]);
    }

    pub fn kv_delete(&self, binding: &str, key: &str) {
        self.kv(&["delete", "--binding", binding, key]);
    }

    /// Sets `MIGRATION_KV` `traffic_percentage` (any string, valid or not).
    pub fn set_percentage(&self, value: &str) {
        self.kv_put("MIGRATION_KV", "traffic_percentage", value);
    }

    fn kv(&self, args: &[&str]) {
        let mut cmd = self.wrangler_cmd();
        cmd.args(["kv", "key"]).args(args).args([
            "--local",
            "-c",
            "wrangler.gateway.toml",
            "--persist-to",
            self.persist_dir().to_str().unwrap(),
        ]);
        self.run("wrangler kv", cmd);
        std::thread::sleep(Duration::from_millis(CONFIG_CACHE_MS + 200));
    }

    /// Runs SQL on the app's local D1 (the state the running `wrangler dev` serves) and
    /// returns the rows of the last statement as JSON objects.
    pub fn d1_execute(&self, sql: &str) -> Vec<serde_json::Value> {
        self.d1_execute_at(&self.persist_dir(), sql)
    }

    /// [`Stack::d1_execute`] on the state under `persist_to` (an [`AppAlone`]'s).
    pub fn d1_execute_at(&self, persist_to: &Path, sql: &str) -> Vec<serde_json::Value> {
        let mut cmd = self.wrangler_cmd();
        cmd.args(["d1", "execute", "DB", "--local", "-c", "wrangler.app.toml"])
            .args(["--persist-to", persist_to.to_str().unwrap()])
            .args(["--json", "--command", sql]);
        // The running Workers write to the same SQLite file (the CSV_QUEUE consumer
        // does so right after an upload), so a statement may find it locked; a
        // refused statement changed nothing and is run again.
        let what = format!("d1 execute {sql:?}");
        let mut attempts = 0;
        let out = loop {
            let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
            attempts += 1;
            // wrangler reports the lock on stdout (JSON) or, from workerd, on stderr.
            let busy = [&out.stdout, &out.stderr]
                .iter()
                .any(|o| String::from_utf8_lossy(o).contains("SQLITE_BUSY"));
            if out.status.success() || !busy || attempts == 20 {
                break checked(&what, out);
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        let results: serde_json::Value =
            serde_json::from_str(&out).expect("d1 execute --json output");
        results
            .as_array()
            .and_then(|r| r.last())
            .and_then(|r| r["results"].as_array())
            .cloned()
            .unwrap_or_default()
    }

    /// `cutover replicate <args>` between the stand-in's database and media and the
    /// app behind the gateway, checkpointed in `state` (a file name in the run's dir).
    pub fn replicate_command(&self, state: &str, args: &[&str]) -> Command {
        let database = format!("postgresql://postgres@127.0.0.1:{}/legacy", self.pg_port);
        let mut cmd = self.cutover_command(&self.gateway, &database, &self.dir.join("media"));
        cmd.arg("replicate")
            .args(args)
            .arg("--state")
            .arg(self.dir.join(state));
        cmd
    }

    /// The cutover tool (built by `scripts/build`) between the legacy database
    /// and media folder and the app behind `gateway`, with the operator token.
    pub fn cutover_command(&self, gateway: &str, database_url: &str, media: &Path) -> Command {
        let mut cmd = Command::new(self.root.join("target/release/cutover"));
        cmd.env("CUTOVER_APP_URL", gateway)
            .env("ADMIN_API_TOKEN", crate::ADMIN_TOKEN)
            .env("LEGACY_DATABASE_URL", database_url)
            .env("LEGACY_MEDIA_ROOT", media);
        cmd
    }

    /// Runs SQL on the stand-in's PostgreSQL database and returns `psql`'s unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("legacy", sql)
    }

    /// Runs SQL on another database of the stand-in's PostgreSQL server.
    pub fn psql_in(&self, database: &str, sql: &str) -> String {
        let mut cmd = Command::new("psql");
        cmd.args(["-h", "127.0.0.1", "-p", &self.pg_port.to_string()])
            .args([
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ]);
        self.run(&format!("psql {sql:?}"), cmd)
    }

    /// The local R2 of the running Workers.
    pub fn r2(&self) -> LocalR2 {
        LocalR2::new(self.persist_dir().join("v3/r2"))
    }

    fn persist_dir(&self) -> PathBuf {
        self.dir.join("wrangler-state")
    }

    fn wrangler_cmd(&self) -> Command {
        self.wrangler_at("node_modules/.bin/wrangler")
    }

    /// `program` (wrangler, or a script that runs it) in the checkout, without
    /// wrangler's metrics and update check.
    fn wrangler_at(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.root.join(program));
        cmd.current_dir(&self.root)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("NO_UPDATE_NOTIFIER", "1");
        cmd
    }

    /// `wrangler dev` as `scripts/wrangler-dev` runs it (the command line of
    /// `scripts/dev` too) on 127.0.0.1:`port` with its state under `persist_to`:
    /// both Workers in front of `legacy` when given, else the configs the caller
    /// adds. Quieter than `scripts/dev`, and on a free inspector port. Each
    /// session keeps its own dev registry (sessions that share one hear of each
    /// other's Workers of the same names coming and going, and reload, answering
    /// requests in flight with "Your worker restarted mid-request"), and does not
    /// reload when a config file changes during a run.
    fn wrangler_dev(&self, persist_to: &Path, port: u16, legacy: Option<&str>) -> Command {
        let mut dev = self.wrangler_at("scripts/wrangler-dev");
        dev.env("WRANGLER_REGISTRY_PATH", persist_to.join("dev-registry"))
            .env("WRANGLER_CI_DISABLE_CONFIG_WATCHING", "true")
            .arg(port.to_string())
            .arg(persist_to);
        if let Some(legacy) = legacy {
            dev.args(["--legacy", legacy]);
        }
        dev.args(["--inspector-port", &free_port().to_string()])
            .args(["--log-level", "warn"]);
        dev
    }

    fn script(&self, name: &str) -> Command {
        Command::new(self.root.join("scripts").join(name))
    }

    /// Runs a command to completion; panics with its output unless it succeeded.
    fn run(&self, what: &str, mut cmd: Command) -> String {
        checked(what, cmd.output().unwrap_or_else(|e| panic!("{what}: {e}")))
    }

    /// Waits for the gateway and, through its service binding, the app.
    fn wait_for_workers(&self) {
        let health = format!("{}/health", self.gateway);
        let app_probe = format!("{}/__stack_ready", self.gateway);
        let ip = self.ip();
        self.wait_until(
            "wrangler dev (both Workers)",
            Duration::from_secs(180),
            || {
                let client = crate::client();
                client.get(&health).send().is_ok_and(|r| r.status() == 200)
                    && client
                        .get(&app_probe)
                        .header("X-Beta-User", "true")
                        .header("CF-Connecting-IP", &ip)
                        .send()
                        .is_ok_and(|r| {
                            r.headers().get("x-served-by").and_then(|v| v.to_str().ok())
                                == Some("app-blue")
                        })
            },
        );
    }

    /// Waits until `url` answers `status`, as [`Stack::wait_until`].
    fn wait_for_status(&self, what: &str, url: &str, status: u16, limit: Duration) {
        self.wait_until(what, limit, || {
            crate::client()
                .get(url)
                .send()
                .is_ok_and(|r| r.status() == status)
        });
    }

    fn wait_until(&self, what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if ready() {
                return;
            }
            for group in [&self.wrangler, &self.legacy_proc] {
                if let Some(g) = group.lock().unwrap().as_mut() {
                    assert!(
                        !g.exited(),
                        "{what}: a process exited; see logs in {}",
                        self.dir.display()
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "{what} not ready after {limit:?}; see logs in {}",
            self.dir.display()
        );
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The local part of a wrangler config (what comes before its first `[env.`
/// section) without the block that binds `binding`, with its paths made absolute
/// under `root` so the copy can live elsewhere.
fn local_config_without(config: &str, binding: &str, root: &Path) -> String {
    let local = config.split("\n[env.").next().unwrap_or(config);
    let names = [
        format!("binding = \"{binding}\""),
        format!("name = \"{binding}\""),
    ];
    let mut out = String::new();
    for block in local.split("\n\n") {
        if block.lines().any(|l| names.iter().any(|n| l.trim() == n)) {
            continue;
        }
        for line in block.lines() {
            let absolute = ["main", "directory", "migrations_dir"]
                .iter()
                .find_map(|key| {
                    let value = line
                        .strip_prefix(&format!("{key} = \""))?
                        .strip_suffix('"')?;
                    Some(format!("{key} = \"{}\"", root.join(value).display()))
                });
            out.push_str(&absolute.unwrap_or_else(|| line.to_string()));
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A finished command's standard output; panics with all its output unless it
/// succeeded.
fn checked(what: &str, out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
