//! A full cutover rehearsal on a fresh local stack (`e2e::rehearsal`): 50 people
//! using the system the whole time through the ramp, a failing app slot and its
//! automatic rollback, the blue/green switch back, execute-cutover,
//! rollback-cutover and a second cutover. Prints the report and writes
//! `report.md`, `report.json` and `timeline.svg` to the output folder; exits 1
//! when anything acknowledged was lost or went wrong outside the fault.
//!
//!   cargo run --release -p e2e --example rehearse -- [hold s] [watch s] [out dir]

use e2e::rehearsal::{self, Plan, Scenario};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hold: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(45);
    let watch: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60);
    let out = args
        .get(2)
        .map_or_else(|| PathBuf::from("target/rehearsal"), PathBuf::from);
    let plan = Plan::new(
        Scenario::Cutover { twice: true },
        Duration::from_secs(hold),
        watch,
    );
    rehearsal::run_script(&plan, &out)
}
