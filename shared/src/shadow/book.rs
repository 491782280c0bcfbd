//! The results, per route template: how many answers were compared, equal,
//! different, and how many shadow requests failed; the last differing examples;
//! the noise learned for the route; per-minute totals for the dashboard's chart.
//! Kept by the gateway's metrics Durable Object, which records each isolate's
//! batches one at a time.

use super::compare::Difference;
use super::thresholds::Thresholds;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Differing examples kept per route (the newest).
pub const MAX_EXAMPLES: usize = 5;
/// Noise patterns learned per route at most.
pub const MAX_NOISE: usize = 50;
/// How far back the chart goes.
pub const HISTORY_MS: u64 = 60 * 60_000;
const MINUTE_MS: u64 = 60_000;

/// One mirrored request, as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub at_ms: u64,
    /// The route template (`routes::Route::template`).
    pub route: String,
    /// The request's path, without its query.
    pub path: String,
    /// The branch that answered the user (`legacy`, `app-blue`, ...).
    pub primary: String,
    /// The branch the copy went to.
    pub candidate: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Both answered. `noise`: the patterns in which a second answer of the
    /// serving side differed from the first, when one was asked for.
    Compared {
        differences: Vec<Difference>,
        #[serde(default)]
        noise: Option<Vec<String>>,
    },
    /// The copy got no answer (unreachable, timed out, too slow); the user's
    /// request was not affected.
    Failed { error: String },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub compared: u64,
    pub equal: u64,
    pub differing: u64,
    pub errors: u64,
}

impl Counts {
    fn add(&mut self, differing: Option<bool>) {
        match differing {
            None => self.errors += 1,
            Some(d) => {
                self.compared += 1;
                if d {
                    self.differing += 1;
                } else {
                    self.equal += 1;
                }
            }
        }
    }

    fn merge(&mut self, other: &Counts) {
        self.compared += other.compared;
        self.equal += other.equal;
        self.differing += other.differing;
        self.errors += other.errors;
    }

    /// Percent of compared answers that differed.
    pub fn diff_rate(&self) -> f64 {
        percent(self.differing, self.compared)
    }

    /// Percent of mirrored requests that got no answer.
    pub fn error_rate(&self) -> f64 {
        percent(self.errors, self.compared + self.errors)
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / whole as f64).round() / 100.0
    }
}

/// A differing answer, redacted (paths and summaries only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub at_ms: u64,
    pub path: String,
    pub primary: String,
    pub candidate: String,
    pub differences: Vec<Difference>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteBook {
    pub counts: Counts,
    /// Patterns seen differing between two answers of the same side.
    pub noise: BTreeSet<String>,
    /// Second answers asked for.
    pub noise_probes: u64,
    /// Newest last.
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Book {
    pub routes: BTreeMap<String, RouteBook>,
    /// Totals per minute start (ms).
    pub minutes: BTreeMap<u64, Counts>,
}

impl Book {
    /// Counts a batch. A probe's noise is learned before the comparison it came
    /// with is judged, so a field that differs on its own never counts.
    pub fn record(&mut self, batch: &[Observation], now_ms: u64) {
        for o in batch {
            let route = self.routes.entry(o.route.clone()).or_default();
            let differing = match &o.outcome {
                Outcome::Failed { .. } => None,
                Outcome::Compared { differences, noise } => {
                    if let Some(noise) = noise {
                        route.noise_probes += 1;
                        for p in noise {
                            if route.noise.len() < MAX_NOISE {
                                route.noise.insert(p.clone());
                            }
                        }
                    }
                    let real: Vec<Difference> = differences
                        .iter()
                        .filter(|d| !route.noise.contains(&d.pattern()))
                        .cloned()
                        .collect();
                    if !real.is_empty() {
                        route.examples.push(Example {
                            at_ms: o.at_ms,
                            path: o.path.clone(),
                            primary: o.primary.clone(),
                            candidate: o.candidate.clone(),
                            differences: real.clone(),
                        });
                        let extra = route.examples.len().saturating_sub(MAX_EXAMPLES);
                        route.examples.drain(..extra);
                    }
                    Some(!real.is_empty())
                }
            };
            route.counts.add(differing);
            self.minutes
                .entry(o.at_ms - o.at_ms % MINUTE_MS)
                .or_default()
                .add(differing);
        }
        let keep_from = now_ms.saturating_sub(HISTORY_MS);
        self.minutes = std::mem::take(&mut self.minutes).split_off(&keep_from);
    }

    /// What the admin API, `/metrics` and the dashboard show.
    pub fn report(&self, rate: f64, thresholds: &Thresholds) -> Report {
        let mut total = Counts::default();
        let routes: BTreeMap<String, RouteReport> = self
            .routes
            .iter()
            .map(|(name, r)| {
                total.merge(&r.counts);
                let report = RouteReport {
                    counts: r.counts,
                    diff_rate: r.counts.diff_rate(),
                    error_rate: r.counts.error_rate(),
                    noise: r.noise.iter().cloned().collect(),
                    noise_probes: r.noise_probes,
                    examples: r.examples.iter().rev().cloned().collect(),
                };
                (name.clone(), report)
            })
            .collect();
        let problems = routes
            .iter()
            .filter_map(|(name, r)| thresholds.problem(name, r.counts.compared, r.diff_rate))
            .collect();
        Report {
            rate,
            total: RateCounts {
                counts: total,
                diff_rate: total.diff_rate(),
                error_rate: total.error_rate(),
            },
            routes,
            history: self
                .minutes
                .iter()
                .map(|(at, c)| HistoryPoint {
                    at_ms: *at,
                    compared: c.compared,
                    diff_rate: c.diff_rate(),
                    error_rate: c.error_rate(),
                })
                .collect(),
            thresholds: thresholds.clone(),
            problems,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateCounts {
    #[serde(flatten)]
    pub counts: Counts,
    pub diff_rate: f64,
    pub error_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteReport {
    #[serde(flatten)]
    pub counts: Counts,
    pub diff_rate: f64,
    pub error_rate: f64,
    pub noise: Vec<String>,
    pub noise_probes: u64,
    /// Newest first.
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub at_ms: u64,
    pub compared: u64,
    pub diff_rate: f64,
    pub error_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The share of requests mirrored now.
    pub rate: f64,
    pub total: RateCounts,
    pub routes: BTreeMap<String, RouteReport>,
    pub history: Vec<HistoryPoint>,
    pub thresholds: Thresholds,
    /// Routes over the diff-rate threshold (they hold percentage raises).
    pub problems: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "GET /api/accounts/user/";

    fn diff(path: &str) -> Difference {
        Difference {
            path: path.into(),
            primary: "1".into(),
            candidate: "2".into(),
        }
    }

    fn seen(at_ms: u64, outcome: Outcome) -> Observation {
        Observation {
            at_ms,
            route: ROUTE.into(),
            path: "/api/accounts/user/".into(),
            primary: "legacy".into(),
            candidate: "app-blue".into(),
            outcome,
        }
    }

    fn compared(differences: Vec<Difference>, noise: Option<Vec<&str>>) -> Outcome {
        Outcome::Compared {
            differences,
            noise: noise.map(|n| n.into_iter().map(String::from).collect()),
        }
    }

    #[test]
    fn counts_examples_and_failures() {
        let mut book = Book::default();
        let mut batch = vec![
            seen(1_000, compared(vec![], None)),
            seen(2_000, compared(vec![diff("$.email")], None)),
            seen(
                3_000,
                Outcome::Failed {
                    error: "timed out".into(),
                },
            ),
        ];
        for i in 0..7 {
            batch.push(seen(
                4_000 + i,
                compared(vec![diff(&format!("$.n{i}"))], None),
            ));
        }
        book.record(&batch, 10_000);
        let r = book.report(1.0, &Thresholds::default());
        let route = &r.routes[ROUTE];
        assert_eq!(
            route.counts,
            Counts {
                compared: 9,
                equal: 1,
                differing: 8,
                errors: 1
            }
        );
        assert_eq!(route.diff_rate, 88.89);
        assert_eq!(route.error_rate, 10.0);
        assert_eq!(route.examples.len(), MAX_EXAMPLES);
        assert_eq!(
            route.examples[0].differences[0].path, "$.n6",
            "newest first"
        );
        assert_eq!(r.total.counts, route.counts);
        assert_eq!(r.history.len(), 1);
        assert_eq!(r.history[0].compared, 9);
    }

    #[test]
    fn learned_noise_stops_counting_as_a_difference() {
        let mut book = Book::default();
        book.record(
            &[
                // Before the noise is known: a difference.
                seen(1, compared(vec![diff("$.files[0].etag")], None)),
                // The probe shows the field differs on its own...
                seen(
                    2,
                    compared(vec![diff("$.files[3].etag")], Some(vec!["$.files[*].etag"])),
                ),
                // ...so from now on it does not count.
                seen(3, compared(vec![diff("$.files[1].etag")], None)),
                seen(
                    4,
                    compared(vec![diff("$.files[1].etag"), diff("$.files[1].size")], None),
                ),
            ],
            10,
        );
        let route = &book.report(0.5, &Thresholds::default()).routes[ROUTE];
        assert_eq!((route.counts.equal, route.counts.differing), (2, 2));
        assert_eq!(route.noise, vec!["$.files[*].etag"]);
        assert_eq!(route.noise_probes, 1);
        assert_eq!(route.examples[0].differences, vec![diff("$.files[1].size")]);
    }

    #[test]
    fn history_keeps_the_last_hour() {
        let mut book = Book::default();
        let now = 10 * HISTORY_MS;
        book.record(
            &[
                seen(now - HISTORY_MS - MINUTE_MS, compared(vec![], None)),
                seen(now - 1, compared(vec![], None)),
            ],
            now,
        );
        assert_eq!(book.minutes.len(), 1);
        assert_eq!(book.routes[ROUTE].counts.compared, 2, "counts are kept");
    }

    #[test]
    fn stored_form_round_trips() {
        let mut book = Book::default();
        book.record(&[seen(5, compared(vec![diff("status")], Some(vec![])))], 5);
        let text = serde_json::to_string(&book).unwrap();
        assert_eq!(serde_json::from_str::<Book>(&text).unwrap(), book);
    }
}
