//! The cut engine alone in workerd next to the same engine natively, on the same
//! bytes (`e2e::sample_csv`, 10 and 50 MiB) and the same cut as `cut_bench`:
//! columns `note,id,city` of the rows whose city is NYC or São Paulo.
//!
//! * native: [`bench_cut_worker::cut`] in this process (release profile), `K`
//!   passes timed together;
//! * workerd: the same function in the Worker (`worker-build --release`, as the app
//!   is built) under a `wrangler dev` this program starts on a free loopback port
//!   and stops. Its clocks stand still during CPU work, so each request is timed
//!   here: posts at `k=0` (upload and read only) and `k=K` (plus `K` passes); one
//!   pass is the difference of their medians over `K`.
//!
//! Native and workerd runs alternate; each figure is the median of [`RUNS`]. Every
//! run checks that both sides give the same digest. MB/s is input MiB per second of one pass.
//!
//!   scripts/bench-cut-workerd   (builds the Worker first)

use bench_cut_worker::{cut, spec_from_query, Answer, Digest};
use e2e::{free_port, process::Group, sample_csv};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const COLUMNS: &str = "note,id,city";
const FILTER: &str = "city:IN (NYC, \"São Paulo\")";
/// Timed runs of each kind; the median is kept.
const RUNS: usize = 5;
/// Passes per timed request: about 400 MiB of input, so that the passes, not the
/// upload's jitter, dominate the difference.
const PASS_MIB: usize = 400;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("bench-cut-workerd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("state dir");
    let port = free_port();
    let mut wrangler = Group::spawn(
        "wrangler dev",
        wrangler_dev(&root, &dir, port),
        &dir.join("wrangler.log"),
    );
    let url = format!("http://127.0.0.1:{port}/");
    wait_ready(&url, &mut wrangler, &dir);

    let query = [("columns", COLUMNS), ("filter", FILTER)];
    let spec = spec_from_query(query);
    let mbps = |bytes: usize, t: Duration| bytes as f64 / (1 << 20) as f64 / t.as_secs_f64();
    println!("| file | passes per request | native MB/s | workerd MB/s | workerd / native |");
    println!("|---:|---:|---:|---:|---:|");
    for mib in [10usize, 50] {
        let file = sample_csv(mib << 20);
        let k = (PASS_MIB / mib).max(2) as u32;
        let post = |k: u32| {
            let started = Instant::now();
            let digest = request(&url, &query, k, &file);
            (started.elapsed(), digest)
        };
        post(1); // warm-up: compiles the module, grows its memory
                 // Interleaved, so that other load on the machine falls on both sides alike.
        let (mut native, mut t0, mut tk) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let started = Instant::now();
            let mut want = Digest::default();
            for _ in 0..k {
                want = cut(&file, &spec).expect("native cut");
            }
            native.push(started.elapsed() / k);
            t0.push(post(0).0);
            let (t, got) = post(k);
            assert_eq!(got, want, "the Worker's cut differs from the native one");
            tk.push(t);
        }
        let native = median(native);
        let workerd = median(tk).saturating_sub(median(t0)) / k;
        println!(
            "| {mib} MiB | {k} | {:.0} | {:.0} | {:.2}× |",
            mbps(file.len(), native),
            mbps(file.len(), workerd),
            native.as_secs_f64() / workerd.as_secs_f64(),
        );
    }
    wrangler.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

fn wrangler_dev(root: &Path, dir: &Path, port: u16) -> Command {
    let mut dev = Command::new(root.join("node_modules/.bin/wrangler"));
    dev.current_dir(root)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("NO_UPDATE_NOTIFIER", "1")
        .env("WRANGLER_REGISTRY_PATH", dir.join("dev-registry"))
        .env("WRANGLER_CI_DISABLE_CONFIG_WATCHING", "true")
        .args(["dev", "-c", "bench/cut-worker/wrangler.toml"])
        .args(["--persist-to", dir.to_str().unwrap()])
        .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--inspector-port", &free_port().to_string()])
        .args([
            "--show-interactive-dev-session=false",
            "--log-level",
            "warn",
        ]);
    dev
}

fn wait_ready(url: &str, wrangler: &mut Group, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let client = e2e::client();
    while Instant::now() < deadline {
        if client.post(url).send().is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(
            !wrangler.exited(),
            "wrangler dev exited; see {}",
            dir.join("wrangler.log").display()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!(
        "wrangler dev not ready after 120 s; see {}",
        dir.join("wrangler.log").display()
    );
}

/// The digest of `k` passes in the Worker, checking that it read the whole file.
fn request(url: &str, query: &[(&str, &str)], k: u32, file: &[u8]) -> Digest {
    let resp = e2e::client()
        .post(url)
        .query(query)
        .query(&[("k", k)])
        .body(file.to_vec())
        .send()
        .expect("bench request");
    assert_eq!(resp.status(), 200, "{}", resp.text().unwrap_or_default());
    let answer: Answer = serde_json::from_str(&resp.text().expect("answer")).expect("answer json");
    assert_eq!(answer.bytes_in, file.len() as u64);
    answer.digest
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
