//! When a route's answers differ too often: the limits the shadow gate
//! ([`super::gate`]) holds raises by, and the judgement of one route against them.
//! Apart from the book and the gate so that both can use it and neither needs
//! the other to say what a problem is.

use serde::{Deserialize, Serialize};

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
    /// The line naming `route` when `compared` answers of which `diff_rate`
    /// percent differed put it over the threshold; `None` when it is fine.
    pub fn problem(&self, route: &str, compared: u64, diff_rate: f64) -> Option<String> {
        (compared >= self.min_compared && diff_rate > self.max_diff_rate).then(|| {
            format!(
                "{route}: {diff_rate}% of {compared} answers differ (over {}%)",
                self.max_diff_rate
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_is_a_problem_only_over_the_rate_with_enough_answers() {
        let t = Thresholds::default();
        assert_eq!(
            t.problem("GET /a", 20, 25.0).as_deref(),
            Some("GET /a: 25% of 20 answers differ (over 1%)")
        );
        assert_eq!(t.problem("GET /a", 19, 25.0), None, "too few to judge");
        assert_eq!(t.problem("GET /a", 1_000, 1.0), None, "at the rate is fine");
        assert!(t.problem("GET /a", 1_000, 1.01).is_some());
    }
}
