//! Cut throughput in one run, for 1, 10 and 50 MiB files of `e2e::sample_csv`:
//!
//! * engine: `shared::csv_cut::Cutter` natively, fed 64 KiB chunks;
//! * xsv: `xsv search -s city '^(NYC|São Paulo)$' | xsv select note,id,city`
//!   on a file on disk (two processes in a pipe);
//! * gateway: upload (`csv_cutter/`) and cut (`export_csv/`) through the gateway
//!   to the app Worker in local workerd, R2 included.
//!
//! Every row does the same cut: columns `note,id,city` of the rows whose city is
//! NYC or São Paulo. MB/s is input MiB over wall time.
//!
//!   cargo run --release -p e2e --example cut_bench [xsv binary]

use e2e::{client, ipv4, sample_csv, Stack};
use reqwest::blocking::multipart::{Form, Part};
use serde_json::{json, Value};
use shared::csv_cut::{CutSpec, Cutter};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COLUMNS: [&str; 3] = ["note", "id", "city"];
const FILTER: (&str, &str) = ("city", "IN (NYC, \"São Paulo\")");

fn engine(file: &[u8]) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut cutter = Cutter::new(CutSpec::new(COLUMNS, [FILTER])).expect("spec");
    let mut out = Vec::new();
    for chunk in file.chunks(64 << 10) {
        cutter.push(chunk, &mut out).expect("push");
    }
    cutter.finish(&mut out).expect("finish");
    (started.elapsed(), out)
}

fn xsv(bin: &str, path: &std::path::Path) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut search = Command::new(bin)
        .args(["search", "-s", "city", "^(NYC|São Paulo)$"])
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("xsv search");
    let select = Command::new(bin)
        .args(["select", &COLUMNS.join(",")])
        .stdin(search.stdout.take().unwrap())
        .output()
        .expect("xsv select");
    assert!(search.wait().unwrap().success() && select.status.success());
    (started.elapsed(), select.stdout)
}

/// (upload time, cut-and-download time, the downloaded bytes)
fn gateway(stack: &Stack, file: &[u8], n: u32) -> (Duration, Duration, Vec<u8>) {
    let c = client();
    let started = Instant::now();
    let form = Form::new().part("file", Part::bytes(file.to_vec()).file_name("bench.csv"));
    let resp = c
        .post(format!("{}/api/list_cutter/csv_cutter/", stack.gateway))
        .header("X-Beta-User", "true")
        .header("CF-Connecting-IP", ipv4(490_000 + 2 * n))
        .multipart(form)
        .send()
        .expect("upload");
    assert_eq!(resp.status(), 200);
    let id = resp.json::<Value>().unwrap()["file_path"].clone();
    let uploaded = started.elapsed();
    let started = Instant::now();
    let resp = c
        .post(format!("{}/api/list_cutter/export_csv/", stack.gateway))
        .header("X-Beta-User", "true")
        .header("CF-Connecting-IP", ipv4(490_001 + 2 * n))
        .json(&json!({"columns": COLUMNS, "file_path": id, "filters": {FILTER.0: FILTER.1}}))
        .send()
        .expect("export");
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().expect("download").to_vec();
    (uploaded, started.elapsed(), body)
}

fn main() {
    let xsv_bin = std::env::args().nth(1).unwrap_or_else(|| "xsv".into());
    let stack = Stack::start();
    let dir = stack.dir.join("cut-bench");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let mbps = |bytes: usize, t: Duration| bytes as f64 / (1 << 20) as f64 / t.as_secs_f64();

    println!("| file | engine MB/s | xsv MB/s | xsv = engine | upload MB/s | cut+download MB/s | upload+cut via gateway MB/s | gateway = engine |");
    println!("|---:|---:|---:|:-:|---:|---:|---:|:-:|");
    for (n, mib) in [1usize, 10, 50].into_iter().enumerate() {
        let file = sample_csv(mib << 20);
        let path = dir.join(format!("{mib}.csv"));
        std::fs::write(&path, &file).expect("write sample");
        let (t_engine, cut) = engine(&file);
        let (t_xsv, xsv_cut) = xsv(&xsv_bin, &path);
        let (t_up, t_cut, gw_cut) = gateway(&stack, &file, n as u32);
        println!(
            "| {mib} MiB | {:.0} | {:.0} | {} | {:.1} | {:.1} | {:.1} | {} |",
            mbps(file.len(), t_engine),
            mbps(file.len(), t_xsv),
            if xsv_cut == cut { "yes" } else { "no" },
            mbps(file.len(), t_up),
            mbps(file.len(), t_cut),
            mbps(file.len(), t_up + t_cut),
            if gw_cut == cut { "yes" } else { "no" },
        );
    }
    stack.shutdown();
}
