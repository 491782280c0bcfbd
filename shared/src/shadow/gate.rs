//! The shadow gate: a route whose answers differ too often holds raising the
//! percentage past a configured level, until it is fixed (and the counts reset)
//! or the raise is forced — the way an unhealthy replicator holds it
//! (`ops::replication`).

use super::book::Report;
use crate::ops::hold::Hold;

/// Why a raise from `from` to `to` is held, if it is: only raises, only past
/// `hold_above`, only while a route is over the threshold.
pub fn hold(report: &Report, from: u8, to: u8) -> Option<Hold> {
    if to <= from || to <= report.thresholds.hold_above || report.problems.is_empty() {
        return None;
    }
    let problems = report.problems.join("; ");
    Some(Hold {
        refusal: format!(
            "shadow comparisons differ ({problems}); the percentage can be raised past {} once they match, or with force=true",
            report.thresholds.hold_above
        ),
        forced: format!("forced past shadow differences: {problems}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shadow::book::{Book, Observation, Outcome};
    use crate::shadow::compare::Difference;
    use crate::shadow::thresholds::Thresholds;

    fn report(differing: u64, equal: u64, t: &Thresholds) -> Report {
        let mut book = Book::default();
        let one = |differs: bool| Observation {
            at_ms: 1,
            route: "GET /api/accounts/user/".into(),
            path: "/api/accounts/user/".into(),
            primary: "legacy".into(),
            candidate: "app-blue".into(),
            outcome: Outcome::Compared {
                differences: if differs {
                    vec![Difference {
                        path: "status".into(),
                        primary: "200".into(),
                        candidate: "401".into(),
                    }]
                } else {
                    vec![]
                },
                noise: None,
            },
        };
        let batch: Vec<Observation> = (0..differing)
            .map(|_| one(true))
            .chain((0..equal).map(|_| one(false)))
            .collect();
        book.record(&batch, 1);
        book.report(1.0, t)
    }

    #[test]
    fn a_differing_route_holds_raises_past_the_level() {
        let t = Thresholds::default();
        let bad = report(5, 15, &t);
        assert_eq!(bad.problems.len(), 1, "{:?}", bad.problems);
        assert!(
            bad.problems[0].contains("25% of 20 answers"),
            "{:?}",
            bad.problems
        );
        let held = hold(&bad, 10, 50).unwrap();
        assert!(held.refusal.contains("force=true"), "{}", held.refusal);
        assert!(held.forced.starts_with("forced past shadow differences"));
        assert!(hold(&bad, 0, 10).is_none(), "up to the level is free");
        assert!(hold(&bad, 50, 20).is_none(), "lowering never waits");
        assert!(hold(&bad, 20, 20).is_none());
    }

    #[test]
    fn too_few_or_few_enough_differences_hold_nothing() {
        let t = Thresholds::default();
        assert!(
            hold(&report(5, 10, &t), 0, 100).is_none(),
            "15 < 20 compared"
        );
        assert!(hold(&report(0, 200, &t), 0, 100).is_none());
        let strict = Thresholds {
            max_diff_rate: 0.0,
            min_compared: 1,
            hold_above: 0,
        };
        assert!(hold(&report(1, 1_000, &strict), 0, 1).is_some());
    }
}
