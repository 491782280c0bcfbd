//! The shadow gate: a route whose answers differ too often holds raising the
//! percentage past a configured level, until it is fixed (and the counts reset)
//! or the raise is forced — the way an unhealthy replicator holds it
//! (`ops::replication`).

use super::book::{Report, RouteReport};
use crate::ops::hold::Hold;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Gateway vars `SHADOW_MAX_DIFF_RATE`, `SHADOW_MIN_COMPARED`, `SHADOW_HOLD_ABOVE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Percent of compared answers that may differ on a route (1).
    pub max_diff_rate: f64,
    /// Fewer comparisons than this say nothing about a route (20).
    pub min_compared: u64,
    /// Raising the percentage up to this level is never held (10): a small
    /// canary may run while differences are looked into.
    pub hold_above: u8,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_diff_rate: 1.0,
            min_compared: 20,
            hold_above: 10,
        }
    }
}

impl Thresholds {
    /// The routes over the threshold, each as one line.
    pub fn problems(&self, routes: &BTreeMap<String, RouteReport>) -> Vec<String> {
        routes
            .iter()
            .filter(|(_, r)| {
                r.counts.compared >= self.min_compared && r.diff_rate > self.max_diff_rate
            })
            .map(|(name, r)| {
                format!(
                    "{name}: {}% of {} answers differ (over {}%)",
                    r.diff_rate, r.counts.compared, self.max_diff_rate
                )
            })
            .collect()
    }
}

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
