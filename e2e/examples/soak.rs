//! A soak through the gateway (`e2e::rehearsal` with `Scenario::Soak`): 50
//! people on a gateway, app and stand-in of their own for the given minutes,
//! from ever-changing addresses, with uploads up to 50 MiB, while the
//! percentage moves 50 → 40 → 60 → 50% and `cutover replicate` runs. Prints
//! requests, 5xx, p50/p99 per request, workerd's memory at the start and the
//! end, and what was acknowledged against what both sides hold; writes the
//! report to the output folder; exits 1 when anything was lost or a 5xx came.
//!
//!   cargo run --release -p e2e --example soak -- [minutes] [out dir] [largest upload MiB, 50]

use e2e::rehearsal::{self, Plan, Scenario};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let minutes: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    let out = args
        .get(1)
        .map_or_else(|| PathBuf::from("target/soak"), PathBuf::from);
    // Four holds: 50, 40, 60 and 50% again.
    let mut plan = Plan::new(Scenario::Soak, Duration::from_secs(minutes * 60 / 4), 0);
    plan.large_upload_mib = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    rehearsal::run_script(&plan, &out)
}
