//! The rolling metrics window: per branch request counts, 5xx counts, a latency
//! histogram and the distinct client keys seen, in 10-second slices. One window
//! lives in a Durable Object so every isolate's requests land in the same place.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Slice width.
pub const SLICE_MS: u64 = 10_000;
/// The window `/metrics`, status and alerts look at.
pub const WINDOW_MS: u64 = 5 * 60_000;
/// How far back the dashboard charts go.
pub const HISTORY_MS: u64 = 60 * 60_000;
/// Distinct clients counted per branch and slice; beyond that the count is a floor.
pub const MAX_CLIENTS_PER_SLICE: usize = 5_000;
/// Upper bounds (ms) of the latency histogram buckets; the last one is open.
pub const LATENCY_BOUNDS_MS: [u32; 18] = [
    5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000,
];

/// One proxied request, as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub at_ms: u64,
    /// `legacy`, `app-blue` or `app-green`.
    pub branch: String,
    pub status: u16,
    pub latency_ms: u32,
    /// A hash of the client key (never the IP itself).
    pub client: u32,
    /// The id of the beta token that routed it (`routing::token_id`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<String>,
}

/// The series that counts beta testers' requests (also counted in their branch):
/// canary errors show before any percentage moves.
pub const BETA_SERIES: &str = "beta";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceStats {
    pub requests: u64,
    pub errors: u64,
    /// Counts per `LATENCY_BOUNDS_MS` bucket, plus one open bucket.
    pub latency: Vec<u64>,
    /// Client hashes; emptied once the slice leaves the window.
    pub clients: BTreeSet<u32>,
}

impl SliceStats {
    fn add(&mut self, s: &Sample) {
        self.requests += 1;
        if s.status >= 500 {
            self.errors += 1;
        }
        if self.latency.len() != LATENCY_BOUNDS_MS.len() + 1 {
            self.latency.resize(LATENCY_BOUNDS_MS.len() + 1, 0);
        }
        let bucket = LATENCY_BOUNDS_MS
            .iter()
            .position(|&b| s.latency_ms <= b)
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        self.latency[bucket] += 1;
        if self.clients.len() < MAX_CLIENTS_PER_SLICE {
            self.clients.insert(s.client);
        }
    }

    fn merge(&mut self, other: &SliceStats) {
        self.requests += other.requests;
        self.errors += other.errors;
        if self.latency.len() < other.latency.len() {
            self.latency.resize(other.latency.len(), 0);
        }
        for (a, b) in self.latency.iter_mut().zip(&other.latency) {
            *a += b;
        }
        self.clients.extend(&other.clients);
    }
}

/// Slices keyed by their start (ms), then by branch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub slices: BTreeMap<u64, BTreeMap<String, SliceStats>>,
}

/// The numbers for one branch (or all) over a span.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BranchSummary {
    pub requests: u64,
    pub errors: u64,
    /// Percent of requests that got a 5xx.
    pub error_rate: f64,
    /// Upper bound of the histogram bucket holding the percentile (ms).
    pub p50_ms: u32,
    pub p95_ms: u32,
    /// Distinct client keys seen (approximate: hashed, capped per slice).
    pub active_users: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub window_seconds: u64,
    pub branches: BTreeMap<String, BranchSummary>,
    pub total: BranchSummary,
    /// Beta testers' requests (a part of the branches' numbers, not added to them).
    #[serde(default)]
    pub beta: BranchSummary,
}

/// One chart point per branch and minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub at_ms: u64,
    pub branch: String,
    pub requests: u64,
    pub error_rate: f64,
    pub p95_ms: u32,
}

impl Window {
    pub fn record(&mut self, samples: &[Sample], now_ms: u64) {
        for s in samples {
            let start = s.at_ms - s.at_ms % SLICE_MS;
            let slice = self.slices.entry(start).or_default();
            slice.entry(s.branch.clone()).or_default().add(s);
            if s.beta.is_some() {
                slice.entry(BETA_SERIES.into()).or_default().add(s);
            }
        }
        self.prune(now_ms);
    }

    /// Drops what the charts no longer show and the client sets the window no
    /// longer counts, so the stored state stays small.
    pub fn prune(&mut self, now_ms: u64) {
        let history_start = now_ms.saturating_sub(HISTORY_MS);
        let window_start = now_ms.saturating_sub(WINDOW_MS + SLICE_MS);
        self.slices = std::mem::take(&mut self.slices).split_off(&history_start);
        for (_, branches) in self.slices.range_mut(..window_start) {
            for stats in branches.values_mut() {
                stats.clients.clear();
            }
        }
    }

    fn merged(&self, from_ms: u64, to_ms: u64) -> BTreeMap<String, SliceStats> {
        let mut by_branch: BTreeMap<String, SliceStats> = BTreeMap::new();
        for (_, branches) in self.slices.range(from_ms..to_ms) {
            for (branch, stats) in branches {
                by_branch.entry(branch.clone()).or_default().merge(stats);
            }
        }
        by_branch
    }

    /// The last `WINDOW_MS`, per branch and in total.
    pub fn summary(&self, now_ms: u64) -> Summary {
        let from = now_ms.saturating_sub(WINDOW_MS);
        let from = from - from % SLICE_MS;
        let mut by_branch = self.merged(from, u64::MAX);
        let beta = by_branch.remove(BETA_SERIES).unwrap_or_default();
        let mut total = SliceStats::default();
        for stats in by_branch.values() {
            total.merge(stats);
        }
        Summary {
            window_seconds: WINDOW_MS / 1000,
            branches: by_branch
                .iter()
                .map(|(b, s)| (b.clone(), summarize(s)))
                .collect(),
            total: summarize(&total),
            beta: summarize(&beta),
        }
    }

    /// Per-minute points over `HISTORY_MS`, for the dashboard charts.
    pub fn history(&self, now_ms: u64) -> Vec<HistoryPoint> {
        let minute = 60_000;
        let first = now_ms.saturating_sub(HISTORY_MS);
        let mut points = Vec::new();
        let mut start = first - first % minute;
        while start <= now_ms {
            for (branch, stats) in self.merged(start, start + minute) {
                let s = summarize(&stats);
                points.push(HistoryPoint {
                    at_ms: start,
                    branch,
                    requests: s.requests,
                    error_rate: s.error_rate,
                    p95_ms: s.p95_ms,
                });
            }
            start += minute;
        }
        points
    }
}

fn summarize(s: &SliceStats) -> BranchSummary {
    BranchSummary {
        requests: s.requests,
        errors: s.errors,
        error_rate: if s.requests == 0 {
            0.0
        } else {
            (s.errors as f64 * 10_000.0 / s.requests as f64).round() / 100.0
        },
        p50_ms: percentile(&s.latency, 0.50),
        p95_ms: percentile(&s.latency, 0.95),
        active_users: s.clients.len() as u64,
    }
}

/// The upper bound of the bucket holding the `q` quantile; the open bucket
/// reports twice the last bound.
fn percentile(hist: &[u64], q: f64) -> u32 {
    let n: u64 = hist.iter().sum();
    if n == 0 {
        return 0;
    }
    let rank = (q * n as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, count) in hist.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return LATENCY_BOUNDS_MS
                .get(i)
                .copied()
                .unwrap_or(2 * LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.len() - 1]);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, branch: &str, status: u16, latency_ms: u32, client: u32) -> Sample {
        Sample {
            at_ms,
            branch: branch.into(),
            status,
            latency_ms,
            client,
            beta: None,
        }
    }

    #[test]
    fn beta_requests_are_their_own_series_inside_their_branch() {
        let now = 1_000_000_000;
        let mut w = Window::default();
        let beta = |status| Sample {
            beta: Some("tok1".into()),
            ..sample(now - 500, "app-blue", status, 20, 5)
        };
        w.record(
            &[
                beta(200),
                beta(502),
                sample(now - 500, "app-blue", 200, 20, 6),
            ],
            now,
        );
        let s = w.summary(now);
        assert_eq!(
            (s.beta.requests, s.beta.errors, s.beta.error_rate),
            (2, 1, 50.0)
        );
        assert_eq!(
            s.branches["app-blue"].requests, 3,
            "counted in the branch too"
        );
        assert_eq!(s.total.requests, 3, "and once in the total");
        assert!(!s.branches.contains_key(BETA_SERIES));
        assert!(
            w.history(now).iter().any(|p| p.branch == BETA_SERIES),
            "charted"
        );
    }

    #[test]
    fn error_rate_latency_and_users_per_branch() {
        let now = 1_000_000_000;
        let mut w = Window::default();
        let mut batch = Vec::new();
        for i in 0..100 {
            let status = if i < 10 { 503 } else { 200 };
            let latency = if i < 94 { 40 } else { 900 };
            batch.push(sample(now - 1_000, "app-blue", status, latency, i % 7));
        }
        batch.push(sample(now - 2_000, "legacy", 200, 3, 99));
        w.record(&batch, now);
        let s = w.summary(now);
        let app = &s.branches["app-blue"];
        assert_eq!((app.requests, app.errors), (100, 10));
        assert_eq!(app.error_rate, 10.0);
        assert_eq!(app.p50_ms, 50);
        assert_eq!(app.p95_ms, 1_000);
        assert_eq!(app.active_users, 7);
        assert_eq!(s.branches["legacy"].error_rate, 0.0);
        assert_eq!(s.total.requests, 101);
        assert_eq!(s.total.active_users, 8);
    }

    #[test]
    fn old_samples_leave_the_window_and_history() {
        let now = 10 * HISTORY_MS;
        let mut w = Window::default();
        w.record(
            &[
                sample(now - WINDOW_MS - 2 * SLICE_MS, "legacy", 500, 1, 1),
                sample(now - HISTORY_MS - 2 * SLICE_MS, "legacy", 500, 1, 2),
                sample(now, "legacy", 200, 1, 3),
            ],
            now,
        );
        let s = w.summary(now);
        assert_eq!(s.total.requests, 1);
        assert_eq!(s.total.errors, 0);
        // The one older than the window is still charted; the oldest is gone.
        let charted: u64 = w.history(now).iter().map(|p| p.requests).sum();
        assert_eq!(charted, 2);
    }

    #[test]
    fn empty_window_is_all_zero() {
        let s = Window::default().summary(5);
        assert_eq!(s.total, BranchSummary::default());
    }
}
