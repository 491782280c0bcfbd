//! The cutover rehearsal of `scripts/rehearse`, shortened (`e2e::rehearsal`):
//! 50 people use a gateway, app and stand-in of their own from ever-changing
//! addresses the whole time, through 0 → 5 → 25%, a failing app slot and its
//! automatic rollback, the blue/green switch back, 50%, execute-cutover under a
//! write freeze and rollback-cutover (`scripts/rehearse` adds a second cutover).
//! Nothing acknowledged is lost, nothing deleted comes back, nobody gets a 401
//! for an account that existed, no 5xx outside the fault, and verify is green at
//! the end.

use e2e::rehearsal::{self, Plan, Scenario, FAULT};
use e2e::Stack;
use std::time::Duration;

crate::tests!(
    rehearsal:
    a_short_cutover_rehearsal_with_people_on_it_loses_nothing,
);

fn a_short_cutover_rehearsal_with_people_on_it_loses_nothing(stack: &Stack) {
    let plan = Plan::new(
        Scenario::Cutover { twice: false },
        Duration::from_secs(6),
        5,
    );
    let report = rehearsal::run(stack, &plan);
    let written = report.write(&stack.dir.join("rehearsal")).unwrap();
    eprintln!("{}", report.markdown());
    assert!(report.problems().is_empty(), "{}", report.markdown());
    // The memory figures find the run's two workerd processes.
    let memory = report.memory_at_start;
    assert!(
        memory.workers > 0 && memory.dev_proxy > 0,
        "no workerd found"
    );
    assert!(
        report.ledger.requests > 150,
        "too little traffic: {}",
        report.ledger.requests
    );
    let step = |name: &str| {
        report
            .steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no step {name}: {}", report.markdown()))
    };
    assert!(
        step(FAULT).detail.contains("automatic rollback 25% → "),
        "{}",
        step(FAULT).detail
    );
    for part in [
        "preflight",
        "freeze",
        "drain",
        "verify",
        "switch",
        "unfreeze",
        "watch",
    ] {
        assert!(
            step(&format!("execute-cutover: {part}")).ok,
            "{}",
            report.markdown()
        );
    }
    for part in ["to-legacy", "drain", "verify"] {
        assert!(
            step(&format!("rollback-cutover: {part}")).ok,
            "{}",
            report.markdown()
        );
    }
    // Writes were refused only while a runbook command froze them.
    for (phase, counts) in &report.ledger.per_phase {
        if !phase.starts_with("execute-cutover") {
            assert_eq!(counts[2], 0, "writes refused in {phase}");
        }
    }
    let svg = std::fs::read_to_string(
        written
            .iter()
            .find(|p| p.ends_with("timeline.svg"))
            .unwrap(),
    )
    .unwrap();
    // Two lines on each of the four panels.
    assert!(
        svg.starts_with("<svg") && svg.matches("<polyline").count() == 8,
        "{svg}"
    );
}
