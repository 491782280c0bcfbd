//! A cutover rehearsal on a gateway, app and stand-in of its own, with a
//! synthetic population using it the whole time and `cutover replicate`
//! running: ramp 0 → 5 → 25%, a failing app slot and the automatic rollback,
//! the blue/green switch back to the good slot, 50%, `execute-cutover` to 100%
//! under a write freeze, `rollback-cutover`, and a second cutover. The report
//! gives requests and errors per step, what was acknowledged against what both
//! sides hold, each step's time, and a timeline picture. The same run as a
//! soak (`Scenario::Soak`, `scripts/soak`) holds 50% with the percentage moving
//! around it, and reports latency per request and workerd's memory.

use crate::population::{Ledger, Population};
use crate::process::Group;
use crate::{client, send_json, Pair, Stack, StandIn, ADMIN_TOKEN};
use reqwest::blocking::RequestBuilder;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long and how big.
pub struct Plan {
    pub people: usize,
    pub threads: usize,
    /// How long each percentage is held.
    pub hold: Duration,
    /// execute-cutover's watch window.
    pub watch_secs: u64,
    /// Names the stand-in's database and the run's files.
    pub name: &'static str,
    /// The stand-in's first user id.
    pub first_id: u32,
    /// How many client addresses the people send from (fresh ones of the
    /// stack's, [`Stack::ips`]).
    pub addresses: usize,
    pub scenario: Scenario,
    /// One upload in a hundred is a file of 1 to this many MiB (0: none).
    pub large_upload_mib: usize,
}

impl Plan {
    /// 50 people, 10 at a time, from their own range of addresses: the plan of
    /// the scripts and the suite, with no large uploads.
    pub fn new(scenario: Scenario, hold: Duration, watch_secs: u64) -> Plan {
        Plan {
            people: 50,
            threads: 10,
            hold,
            watch_secs,
            name: match scenario {
                Scenario::Soak => "soak",
                Scenario::Cutover { .. } => "rehearsal",
            },
            first_id: 1_000,
            addresses: 200_000,
            scenario,
            large_upload_mib: 0,
        }
    }
}

/// A script's run of `plan` on a fresh stack: prints the report and writes it
/// into `out`; fails (exit 1) when the report names a problem.
pub fn run_script(plan: &Plan, out: &std::path::Path) -> std::process::ExitCode {
    let stack = Stack::start();
    let report = run(&stack, plan);
    stack.shutdown();
    print!("{}", report.markdown());
    match report.write(out) {
        Ok(files) => {
            for f in files {
                println!("wrote {}", f.display());
            }
        }
        Err(e) => eprintln!("writing the report to {}: {e}", out.display()),
    }
    match report.problems().is_empty() {
        true => std::process::ExitCode::SUCCESS,
        false => std::process::ExitCode::from(1),
    }
}

/// What the run goes through while the people use the system.
#[derive(Clone, Copy, PartialEq)]
pub enum Scenario {
    /// The ramp, the fault, 50%, execute-cutover and rollback-cutover; `twice`
    /// goes on with a second cutover.
    Cutover { twice: bool },
    /// A soak: 50%, moved to 40 and 60% and back, each held for the plan's hold.
    Soak,
}

/// The step in which the app slot fails on purpose: its 5xx are expected.
pub const FAULT: &str = "fault: the app slot fails";

/// The switch back to the good slot: until the gateway's cached config has it,
/// a request can still meet the failed slot, so the fault's window ends here.
pub const BLUE_GREEN: &str = "blue-green: back to the good slot";

/// What the run does, in order.
enum Act {
    /// Set the percentage (or keep it) and hold it.
    Hold(Option<u8>),
    /// Force the broken green slot in; wait for the automatic rollback.
    Fault,
    /// Switch back to the good (blue) slot.
    BlueGreen,
    /// `execute-cutover` with its own run log.
    Cutover(&'static str),
    RollbackCutover,
}

const ACTS: [(&str, Act); 12] = [
    ("0%", Act::Hold(Some(0))),
    ("5%", Act::Hold(Some(5))),
    ("25%", Act::Hold(Some(25))),
    (FAULT, Act::Fault),
    (BLUE_GREEN, Act::BlueGreen),
    ("50%", Act::Hold(Some(50))),
    ("execute-cutover", Act::Cutover("cutover-1")),
    ("100%", Act::Hold(None)),
    ("rollback-cutover", Act::RollbackCutover),
    ("0% after the rollback", Act::Hold(None)),
    ("execute-cutover again", Act::Cutover("cutover-2")),
    ("100% again", Act::Hold(None)),
];

const SOAK: [(&str, Act); 4] = [
    ("50%", Act::Hold(Some(50))),
    ("40%", Act::Hold(Some(40))),
    ("60%", Act::Hold(Some(60))),
    ("50% again", Act::Hold(Some(50))),
];

pub struct Step {
    pub name: String,
    /// Seconds from the start of the run.
    pub started: f64,
    pub seconds: f64,
    pub detail: String,
    pub ok: bool,
    /// A step of a runbook command's own (from its run log).
    pub nested: bool,
}

/// One second of the run, as the sampler saw it.
pub struct Sample {
    pub at: f64,
    pub percentage: Option<u64>,
    pub maintenance: String,
    /// Requests, 5xx and freeze refusals since the previous sample.
    pub requests: u64,
    pub errors: u64,
    pub frozen: u64,
    /// Replication lag (legacy → app, app → legacy), seconds.
    pub lag: [Option<f64>; 2],
    pub memory: Memory,
}

/// The resident memory (KiB) of the run's `wrangler dev`: its workerd running
/// the Workers (and the local D1, R2, KV and queues), and the workerd of
/// wrangler's local proxy in front of them, which production does not have.
#[derive(Clone, Copy, Default)]
pub struct Memory {
    pub workers: u64,
    pub dev_proxy: u64,
}

impl Memory {
    /// Of the `wrangler dev` answering on `port` (`/proc`, Linux): the proxy is
    /// the workerd listening there, the Workers' workerd its sibling.
    fn of(port: &str) -> Memory {
        let processes: Vec<(String, String)> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let status = std::fs::read_to_string(e.path().join("status")).ok()?;
                let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                (status.lines().next() == Some("Name:\tworkerd")).then_some((status, cmdline))
            })
            .collect();
        let field = |status: &str, name: &str| -> Option<String> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line.split_whitespace().nth(1).map(str::to_string)
        };
        let rss = |status: &str| {
            field(status, "VmRSS:")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let entry = format!("entry=127.0.0.1:{port} ");
        let Some((proxy, _)) = processes.iter().find(|(_, cmd)| cmd.contains(&entry)) else {
            return Memory::default();
        };
        let parent = field(proxy, "PPid:");
        let workers = processes
            .iter()
            .filter(|(status, cmd)| field(status, "PPid:") == parent && !cmd.contains(&entry))
            .map(|(status, _)| rss(status))
            .sum();
        Memory {
            workers,
            dev_proxy: rss(proxy),
        }
    }
}

pub struct Report {
    pub title: &'static str,
    /// The run's workerd memory at the start (samples hold the rest).
    pub memory_at_start: Memory,
    pub people: usize,
    pub steps: Vec<Step>,
    pub samples: Vec<Sample>,
    pub ledger: Ledger,
    /// Acknowledged files missing (or different) on a side.
    pub lost: Vec<String>,
    /// Acknowledged deletions whose file is back on a side.
    pub back: Vec<String>,
    pub verify_ok: bool,
    pub verify: Value,
    pub seconds: f64,
}

struct Operator<'a> {
    gateway: &'a str,
    started: Instant,
    started_ms: u64,
}

impl Operator<'_> {
    fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        client()
            .request(method, format!("{}{path}", self.gateway))
            .bearer_auth(ADMIN_TOKEN)
            .timeout(Duration::from_secs(30))
    }

    fn status(&self) -> Result<Value, String> {
        let resp = self
            .admin(Method::GET, "/admin/migration?action=get_status")
            .send()
            .map_err(|e| e.to_string())?;
        resp.json().map_err(|e| e.to_string())
    }

    fn percentage(&self) -> Result<u64, String> {
        let st = self.status()?;
        st["traffic_percentage"]
            .as_u64()
            .ok_or_else(|| format!("no percentage in {st}"))
    }

    fn set_percentage(&self, pct: u8) -> Result<String, String> {
        let path =
            format!("/admin/migration?action=update_percentage&percentage={pct}&reason=rehearsal");
        let (status, _, body) = send_json(self.admin(Method::POST, &path));
        match status {
            200 => Ok(format!("{pct}%")),
            _ => Err(format!("to {pct}%: {status} {body}")),
        }
    }

    fn switch(&self, body: Value) -> Result<(), String> {
        let resp = self
            .admin(Method::POST, "/admin/deployment/switch")
            .body(body.to_string())
            .send()
            .map_err(|e| format!("switch {body}: {e}"))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let answer = resp.text().unwrap_or_default();
            return Err(format!("switch {body}: {status} {answer}"));
        }
        std::thread::sleep(Duration::from_millis(crate::CONFIG_CACHE_MS + 200));
        Ok(())
    }

    /// Forces the app's green slot (not running locally: every request to it
    /// fails) in, waits for its errors to reach the gateway's window, runs the
    /// alert cron and waits for the automatic rollback.
    fn fault(&self) -> Result<String, String> {
        let before = self.percentage()?;
        self.switch(json!({"version": "green", "force": true}))?;
        let t = Instant::now();
        loop {
            let (_, _, m) = send_json(self.admin(Method::GET, "/metrics"));
            if m["branches"]["app-green"]["errors"].as_u64().unwrap_or(0) >= 20 {
                break;
            }
            if t.elapsed() > Duration::from_secs(60) {
                return Err(format!("the broken slot answered no errors: {m}"));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let cron = client()
            .get(format!("{}/__scheduled?cron=*+*+*+*+*", self.gateway))
            .send()
            .map_err(|e| e.to_string())?;
        if !cron.status().is_success() {
            return Err(format!("the alert cron: {}", cron.status()));
        }
        let t = Instant::now();
        loop {
            let now = self.percentage()?;
            if now < before {
                return Ok(format!(
                    "automatic rollback {before}% → {now}% after {:.1} s of errors",
                    t.elapsed().as_secs_f64()
                ));
            }
            if t.elapsed() > Duration::from_secs(30) {
                return Err(format!("no automatic rollback from {before}%"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the replicator's rounds succeed again (they failed while the
    /// app slot was down, and the gateway holds raising the percentage until
    /// then): the seconds it took.
    fn replication_recovers(&self) -> Result<f64, String> {
        let t = Instant::now();
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        loop {
            let (_, _, state) = send_json(self.admin(Method::GET, "/admin/replication"));
            // A round that began after the switch, so it met the good slot.
            let fresh = ["legacy_to_app", "app_to_legacy"]
                .iter()
                .all(|d| state["last_round"][d]["last_success_started_ms"].as_u64() > Some(since));
            if fresh && state["state"] == "healthy" {
                return Ok(t.elapsed().as_secs_f64());
            }
            if t.elapsed() > Duration::from_secs(90) {
                return Err(format!(
                    "replication still {}: {}",
                    state["state"], state["problems"]
                ));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The runbook command's steps, from its run log, as steps of this run.
    fn runbook_steps(&self, log: &std::path::Path, under: &str) -> Vec<Step> {
        let ran: Value = std::fs::read(log)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let at = |v: &Value| {
            v.as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| (t.timestamp_millis() as f64 - self.started_ms as f64) / 1000.0)
        };
        ran["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let started = at(&s["started_at"])?;
                let ended = at(&s["ended_at"]).unwrap_or(started);
                Some(Step {
                    name: format!("{under}: {}", s["name"].as_str().unwrap_or("?")),
                    started,
                    seconds: ended - started,
                    detail: s["detail"].as_str().unwrap_or_default().to_string(),
                    ok: s["ok"] == true,
                    nested: true,
                })
            })
            .collect()
    }

    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// Stops the population when the run's driver leaves, even by a panic, so that
/// the thread scope it runs in can end.
struct StopOnDrop<'a>(&'a Population);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Runs the rehearsal; its run logs and the replicator's log go to `stack.dir`.
pub fn run(stack: &Stack, plan: &Plan) -> Report {
    let stand_in = stack.start_stand_in(plan.name, plan.first_id, &[]);
    let pair = stack.start_pair(&stand_in);
    let file = |what: &str| stack.dir.join(format!("{}-{what}", plan.name));
    let cutover = |args: &[&str]| {
        let mut cmd = stack.cutover_command(&pair.gateway, &stand_in.database_url, &stand_in.media);
        cmd.args(args);
        cmd
    };
    let state = file("replicate-state.json");
    let state = state.to_str().unwrap();
    let mut replicator = Group::spawn(
        "cutover replicate (rehearsal)",
        cutover(&["replicate", "--interval", "1", "--state", state]),
        &file("replicate.log"),
    );
    let addresses = stack.ips(plan.addresses);
    let population = Population::new(&pair.gateway, plan.people, plan.threads, addresses)
        .with_large_uploads(plan.large_upload_mib);
    let port = pair
        .gateway
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let memory_at_start = Memory::of(&port);
    let op = Operator {
        gateway: &pair.gateway,
        started: Instant::now(),
        started_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    };
    let samples = Mutex::new(Vec::new());
    let mut steps: Vec<Step> = Vec::new();
    std::thread::scope(|s| {
        population.run(s);
        s.spawn(|| sample(&op, &population, &samples));
        let _stop = StopOnDrop(&population);
        let acts = match plan.scenario {
            Scenario::Cutover { twice: true } => &ACTS[..],
            Scenario::Cutover { twice: false } => &ACTS[..ACTS.len() - 2],
            Scenario::Soak => &SOAK[..],
        };
        for (name, act) in acts {
            population.set_phase(name);
            let started = op.now();
            let mut runbook = Vec::new();
            let result = match act {
                Act::Hold(pct) => {
                    let set = pct.map(|p| op.set_percentage(p)).transpose();
                    std::thread::sleep(plan.hold);
                    set.map(|set| match set {
                        Some(set) => format!("{set}, held {} s", plan.hold.as_secs()),
                        None => format!("held {} s", plan.hold.as_secs()),
                    })
                }
                Act::Fault => op.fault(),
                Act::BlueGreen => op.switch(json!({"version": "blue"})).and_then(|_| {
                    op.replication_recovers().map(|secs| {
                        format!("the blue slot serves again; replication healthy after {secs:.1} s")
                    })
                }),
                Act::Cutover(log) => {
                    let log = file(&format!("{log}.json"));
                    let watch = plan.watch_secs.to_string();
                    let args = [
                        "execute-cutover",
                        "--run-log",
                        log.to_str().unwrap(),
                        "--watch-secs",
                        &watch,
                        "--json",
                    ];
                    let out = runbook_command(cutover(&args));
                    runbook = op.runbook_steps(&log, name);
                    out
                }
                Act::RollbackCutover => {
                    let log = file("rollback.json");
                    let args = [
                        "rollback-cutover",
                        "--run-log",
                        log.to_str().unwrap(),
                        "--json",
                    ];
                    let out = runbook_command(cutover(&args));
                    runbook = op.runbook_steps(&log, name);
                    out
                }
            };
            let ok = result.is_ok();
            steps.push(Step {
                name: name.to_string(),
                started,
                seconds: op.now() - started,
                detail: result.unwrap_or_else(|why| format!("FAILED: {why}")),
                ok,
                nested: false,
            });
            steps.extend(runbook);
            if !ok {
                break;
            }
        }
    });

    // The last changes reach the other side; then a final round drains what is left.
    std::thread::sleep(Duration::from_secs(3));
    replicator.kill();
    let started = op.now();
    let out = cutover(&["replicate", "--once", "--json", "--state", state])
        .output()
        .expect("cutover replicate --once");
    steps.push(Step {
        name: "final replication round".into(),
        started,
        seconds: op.now() - started,
        detail: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        ok: out.status.success(),
        nested: false,
    });
    let ledger = population.ledger.into_inner().unwrap();
    let (lost, back) = compare_sides(stack, &pair, &stand_in, &ledger);
    let out = cutover(&["verify", "--both-ways", "--json"])
        .output()
        .expect("cutover verify");
    let verify = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| json!(String::from_utf8_lossy(&out.stdout)));
    let seconds = op.now();
    drop(pair);
    drop(stand_in);
    Report {
        title: match plan.scenario {
            Scenario::Soak => "Soak",
            Scenario::Cutover { .. } => "Rehearsal",
        },
        memory_at_start,
        people: plan.people,
        steps,
        samples: samples.into_inner().unwrap(),
        ledger,
        lost,
        back,
        verify_ok: out.status.success(),
        verify,
        seconds,
    }
}

/// Runs a runbook command: Ok with its outcome line, or why it failed.
fn runbook_command(mut cmd: std::process::Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Value =
        serde_json::from_str(text.trim().lines().last().unwrap_or_default()).unwrap_or(Value::Null);
    match out.status.success() {
        true => Ok(format!("outcome {}", report["outcome"])),
        false => Err(format!(
            "{}\n{}",
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Every second until the population stops: percentage, maintenance, traffic
/// and replication lag.
fn sample(op: &Operator, population: &Population, samples: &Mutex<Vec<Sample>>) {
    let mut last = (0, 0, 0);
    while !population.stopped() {
        std::thread::sleep(Duration::from_secs(1));
        let status = op.status().unwrap_or(Value::Null);
        let replication: Value = op
            .admin(Method::GET, "/admin/replication")
            .send()
            .and_then(|r| r.json())
            .unwrap_or(Value::Null);
        let now = {
            let l = population.ledger.lock().unwrap();
            (l.requests, l.server_errors.len() as u64, l.frozen)
        };
        let lag = |dir: &str| replication["lag_seconds"][dir].as_f64();
        samples.lock().unwrap().push(Sample {
            at: op.now(),
            percentage: status["traffic_percentage"].as_u64(),
            maintenance: status["maintenance_mode"]
                .as_str()
                .unwrap_or("?")
                .to_string(),
            requests: now.0 - last.0,
            errors: now.1 - last.1,
            frozen: now.2 - last.2,
            lag: [lag("legacy_to_app"), lag("app_to_legacy")],
            memory: Memory::of(op.gateway.rsplit(':').next().unwrap_or_default()),
        });
        last = now;
    }
}

/// (acknowledged files not on both sides as acknowledged, deleted files back).
fn compare_sides(
    stack: &Stack,
    pair: &Pair,
    stand_in: &StandIn,
    ledger: &Ledger,
) -> (Vec<String>, Vec<String>) {
    let on_app: BTreeMap<String, String> = stack
        .d1_execute_at(&pair.persist, "SELECT file_id, checksum FROM files")
        .into_iter()
        .map(|r| {
            (
                r["file_id"].as_str().unwrap_or_default().to_string(),
                r["checksum"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let on_legacy: BTreeSet<String> = stack
        .psql_in(&stand_in.db, "SELECT file_id FROM list_cutter_savedfile")
        .lines()
        .map(str::to_string)
        .collect();
    let mut lost = Vec::new();
    for (id, sha) in &ledger.files {
        if on_app.get(id) != Some(sha) {
            lost.push(format!("file {id}: not on the app as acknowledged"));
        }
        if !on_legacy.contains(id) {
            lost.push(format!("file {id}: not on legacy"));
        }
    }
    let mut back = Vec::new();
    for id in &ledger.deleted {
        if on_app.contains_key(id) {
            back.push(format!("deleted file {id} is back on the app"));
        }
        if on_legacy.contains(id) {
            back.push(format!("deleted file {id} is back on legacy"));
        }
    }
    (lost, back)
}

impl Report {
    /// Everything that makes the rehearsal fail; empty when it passed.
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .steps
            .iter()
            .filter(|s| !s.ok)
            .map(|s| format!("step {}: {}", s.name, s.detail))
            .collect();
        let l = &self.ledger;
        if l.users.len() != self.people {
            problems.push(format!(
                "{} of {} people registered",
                l.users.len(),
                self.people
            ));
        }
        if l.files.is_empty() || l.deleted.is_empty() {
            problems.push("no file kept or none deleted: too little traffic".into());
        }
        // While the serving app slot is down, someone known only to the app
        // (not replicated yet) cannot sign in on either side.
        problems.extend(
            l.unauthorized
                .iter()
                .filter(|(phase, _)| phase != FAULT && phase != BLUE_GREEN)
                .map(|(phase, u)| format!("401 for an account that existed, in {phase}: {u}")),
        );
        problems.extend(
            l.unexpected_errors(&[FAULT, BLUE_GREEN])
                .into_iter()
                .map(|e| {
                    format!(
                        "5xx outside the fault in {}: {} by {} {}",
                        e.phase, e.what, e.by, e.detail
                    )
                }),
        );
        problems.extend(self.lost.iter().cloned());
        problems.extend(self.back.iter().cloned());
        if !self.verify_ok {
            problems.push(format!("verify --both-ways: {}", self.verify["mismatches"]));
        }
        problems
    }

    pub fn to_json(&self) -> Value {
        let l = &self.ledger;
        let memory: serde_json::Map<String, Value> = ["workers", "dev_proxy"]
            .iter()
            .zip(self.memory_course())
            .map(|(what, [start, quarter, peak, end])| {
                let course = json!({"start": start, "quarter": quarter, "peak": peak, "end": end});
                (what.to_string(), course)
            })
            .collect();
        json!({
            "seconds": self.seconds,
            "people": self.people,
            "workerd_rss_kib": memory,
            "latency_ms": l.latency_table().iter().map(|(what, n, p50, p99)| json!({"request": what, "count": n, "p50": p50.as_secs_f64() * 1e3, "p99": p99.as_secs_f64() * 1e3})).collect::<Vec<_>>(),
            "requests": l.requests,
            "frozen": l.frozen,
            "unauthorized_in_fault": l.unauthorized.iter().filter(|(p, _)| p == FAULT || p == BLUE_GREEN).count(),
            "dev_proxy_503s": l.dev_proxy_503s.len(),
            "acknowledged": {"users": l.users.len(), "files": l.files.len(), "deleted": l.deleted.len()},
            "lost": self.lost,
            "back": self.back,
            "verify_ok": self.verify_ok,
            "per_step": l.per_phase.iter().map(|(p, n)| json!({"step": p, "requests": n[0], "errors": n[1], "frozen": n[2]})).collect::<Vec<_>>(),
            "steps": self.steps.iter().map(|s| json!({"name": s.name, "started_s": s.started, "seconds": s.seconds, "ok": s.ok, "detail": s.detail})).collect::<Vec<_>>(),
            "problems": self.problems(),
        })
    }

    /// The report for people: steps with their times, traffic per step, and
    /// what was acknowledged against what both sides hold.
    pub fn markdown(&self) -> String {
        let l = &self.ledger;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {:.0} s, {} people, {} requests ({} writes refused by the freeze), \
             {} users, {} files kept and {} deleted as acknowledged.\n",
            self.title,
            self.seconds,
            self.people,
            l.requests,
            l.frozen,
            l.users.len(),
            l.files.len(),
            l.deleted.len()
        );
        out.push_str("| step | at s | took s | requests | 5xx | frozen | detail |\n|---|---:|---:|---:|---:|---:|---|\n");
        for s in &self.steps {
            let n = l
                .per_phase
                .iter()
                .find(|(p, _)| *p == s.name)
                .map(|(_, n)| *n);
            let cell = |i: usize| n.map_or(String::new(), |n| n[i].to_string());
            let detail: String = s.detail.chars().take(120).collect();
            let _ = writeln!(
                out,
                "| {}{} | {:.1} | {:.1} | {} | {} | {} | {} |",
                if s.ok { "" } else { "✗ " },
                s.name,
                s.started,
                s.seconds,
                cell(0),
                cell(1),
                cell(2),
                detail.replace('|', "/").replace('\n', " ")
            );
        }
        out.push_str("\n| request | count | p50 ms | p99 ms |\n|---|---:|---:|---:|\n");
        for (what, n, p50, p99) in l.latency_table() {
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let _ = writeln!(out, "| {what} | {n} | {:.0} | {:.0} |", ms(p50), ms(p99));
        }
        let [workers, proxy] = self.memory_course().map(|c| c.map(|kib| kib / 1024));
        let _ = writeln!(
            out,
            "\nResident memory, MiB at the start, a quarter into the run, at its peak and at \
             the end: the workerd running the Workers {} / {} / {} / {}; wrangler's local \
             proxy in front of it (not in production) {} / {} / {} / {}.",
            workers[0], workers[1], workers[2], workers[3], proxy[0], proxy[1], proxy[2], proxy[3]
        );
        let _ = writeln!(
            out,
            "401s for accounts known only to the app while its slot was down: {}.",
            l.unauthorized
                .iter()
                .filter(|(p, _)| p == FAULT || p == BLUE_GREEN)
                .count()
        );
        let _ = writeln!(
            out,
            "503s of wrangler dev's local proxy (\"Your worker restarted mid-request\", not in production): {}{}.",
            l.dev_proxy_503s.len(),
            match l.dev_proxy_503s.as_slice() {
                [] => String::new(),
                some => format!(" ({})", some.iter().map(|(p, w)| format!("{w} in {p}")).collect::<Vec<_>>().join("; ")),
            }
        );
        let _ = writeln!(
            out,
            "Acknowledged files missing on a side: {}; deleted files back: {}; verify --both-ways: {}.",
            self.lost.len(),
            self.back.len(),
            if self.verify_ok { "green" } else { "RED" }
        );
        match self.problems().as_slice() {
            [] => out.push_str("Passed.\n"),
            problems => {
                let _ = writeln!(out, "FAILED:\n- {}", problems.join("\n- "));
            }
        }
        out
    }

    /// The Workers' and the dev proxy's memory (KiB): at the start, a quarter
    /// into the run, at the peak and at the end.
    fn memory_course(&self) -> [[u64; 4]; 2] {
        let course = |of: fn(&Memory) -> u64| {
            let at = |s: &Sample| of(&s.memory);
            [
                of(&self.memory_at_start),
                self.samples
                    .iter()
                    .find(|s| s.at >= self.seconds / 4.0)
                    .map_or(0, at),
                self.samples.iter().map(at).max().unwrap_or(0),
                self.samples.last().map_or(0, at),
            ]
        };
        [course(|m| m.workers), course(|m| m.dev_proxy)]
    }

    /// The timeline: percentage, the population's error rate (5xx and writes
    /// refused by the freeze), the replication lag and workerd's memory over
    /// the run, with the run's steps marked.
    pub fn svg(&self) -> String {
        const W: f64 = 960.0;
        const LEFT: f64 = 60.0;
        const PANEL: f64 = 110.0;
        const TOP: f64 = 150.0;
        let span = self.seconds.max(1.0);
        let x = |t: f64| LEFT + (W - LEFT - 20.0) * t / span;
        let height = TOP + 4.0 * (PANEL + 30.0) + 20.0;
        let mut svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
"#
        );
        // Steps: a line and a label each (the runbook's own steps are not drawn).
        for s in self.steps.iter().filter(|s| !s.nested) {
            let xs = x(s.started);
            let _ = writeln!(
                svg,
                r##"<line x1="{xs:.1}" y1="{}" x2="{xs:.1}" y2="{}" stroke="#bbb" stroke-dasharray="3,3"/><text transform="translate({:.1},{}) rotate(-60)" fill="{}">{}</text>"##,
                TOP - 5.0,
                height - 20.0,
                xs + 3.0,
                TOP - 8.0,
                if s.ok { "#333" } else { "#c00" },
                escape(&s.name)
            );
        }
        let mut panel = |n: usize,
                         title: &str,
                         max: f64,
                         unit: &str,
                         lines: &[(&str, Vec<(f64, f64)>)]| {
            let y0 = TOP + n as f64 * (PANEL + 30.0) + 20.0;
            let y = |v: f64| y0 + PANEL - PANEL * (v / max).min(1.0);
            let _ = writeln!(
                svg,
                r##"<text x="{LEFT}" y="{}" font-weight="bold">{title}</text><rect x="{LEFT}" y="{y0}" width="{}" height="{PANEL}" fill="none" stroke="#888"/><text x="{}" y="{}" text-anchor="end">{max:.0}{unit}</text><text x="{}" y="{}" text-anchor="end">0</text>"##,
                y0 - 5.0,
                W - LEFT - 20.0,
                LEFT - 4.0,
                y0 + 10.0,
                LEFT - 4.0,
                y0 + PANEL
            );
            for (i, (label, points)) in lines.iter().enumerate() {
                let colour = ["#1f6feb", "#d73a49", "#2da44e"][i % 3];
                let path: Vec<String> = points
                    .iter()
                    .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
                    .collect();
                let _ = writeln!(
                    svg,
                    r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/><text x="{}" y="{}" fill="{colour}">{label}</text>"#,
                    path.join(" "),
                    W - 20.0 - 140.0 * (i as f64 + 1.0),
                    y0 - 5.0
                );
            }
        };
        let series = |f: &dyn Fn(&Sample) -> Option<f64>| -> Vec<(f64, f64)> {
            self.samples
                .iter()
                .filter_map(|s| f(s).map(|v| (s.at, v)))
                .collect()
        };
        let rate = |part: fn(&Sample) -> u64| {
            move |s: &Sample| Some(part(s) as f64 * 100.0 / s.requests.max(1) as f64)
        };
        panel(
            0,
            "traffic to the app, %",
            100.0,
            "%",
            &[
                ("percentage", series(&|s| s.percentage.map(|p| p as f64))),
                (
                    "maintenance",
                    series(&|s| match s.maintenance.as_str() {
                        "off" => Some(0.0),
                        "?" => None,
                        _ => Some(100.0),
                    }),
                ),
            ],
        );
        panel(
            1,
            "the population's answers, % per second",
            100.0,
            "%",
            &[
                ("5xx", series(&rate(|s| s.errors))),
                ("refused (freeze)", series(&rate(|s| s.frozen))),
            ],
        );
        let lags = series(&|s| s.lag[0])
            .into_iter()
            .chain(series(&|s| s.lag[1]))
            .map(|p| p.1);
        let max_lag = lags.fold(5.0_f64, f64::max).ceil();
        panel(
            2,
            "replication lag, s",
            max_lag,
            " s",
            &[
                ("legacy → app", series(&|s| s.lag[0])),
                ("app → legacy", series(&|s| s.lag[1])),
            ],
        );
        let workers = series(&|s| Some(s.memory.workers as f64 / 1024.0));
        let proxy = series(&|s| Some(s.memory.dev_proxy as f64 / 1024.0));
        let max_mib = workers
            .iter()
            .chain(&proxy)
            .map(|p| p.1)
            .fold(256.0, f64::max);
        panel(
            3,
            "workerd resident memory, MiB",
            (max_mib / 256.0).ceil() * 256.0,
            " MiB",
            &[("the Workers", workers), ("wrangler's proxy", proxy)],
        );
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="{}">0 s</text><text x="{}" y="{}" text-anchor="end">{span:.0} s</text></svg>"#,
            height - 5.0,
            W - 20.0,
            height - 5.0
        );
        svg
    }

    /// Writes `report.md`, `report.json` and `timeline.svg` into `dir`.
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let files = [
            ("report.md", self.markdown()),
            (
                "report.json",
                serde_json::to_string_pretty(&self.to_json()).unwrap(),
            ),
            ("timeline.svg", self.svg()),
        ];
        files
            .into_iter()
            .map(|(name, text)| {
                let path = dir.join(name);
                std::fs::write(&path, text).map(|_| path)
            })
            .collect()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
