//! The replicator's state as the gateway keeps and judges it. `cutover replicate`
//! reports after every round (`POST /admin/replication`); the gateway derives the
//! lag per direction at read time, from the start of that direction's last
//! successful round, so a replicator that stopped shows a lag that keeps growing.

use serde::{Deserialize, Serialize};

/// One direction of a round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Direction {
    /// When the last round that completed this direction started (ms): every
    /// change made before it is on the other side.
    pub last_success_started_ms: Option<u64>,
    /// Records the last round changed.
    #[serde(default)]
    pub changes: u64,
    /// Records it reported as conflicts (never overwritten).
    #[serde(default)]
    pub conflicts: u64,
    /// Records it could not do (each retried next round).
    #[serde(default)]
    pub errors: u64,
    /// Why the last round failed as a whole, if it did.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Changes logged on the source side and not yet applied when it ended.
    #[serde(default)]
    pub backlog: u64,
}

/// What the replicator reports after a round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundReport {
    /// When the round ended (ms).
    pub at_ms: u64,
    /// How long it took.
    pub round_ms: u64,
    pub legacy_to_app: Direction,
    pub app_to_legacy: Direction,
}

/// The gateway's judgement of the replicator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// `absent` (never reported), `healthy` or `unhealthy`.
    pub state: &'static str,
    /// Seconds of changes not yet known to be on the other side, per direction.
    pub lag_seconds: LagSeconds,
    /// Why it is unhealthy (empty otherwise).
    pub problems: Vec<String>,
    pub last_round: Option<RoundReport>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LagSeconds {
    pub legacy_to_app: Option<f64>,
    pub app_to_legacy: Option<f64>,
}

/// Lag beyond which the replicator is unhealthy when nothing else is set
/// (`ALERT_REPLICATION_LAG_S`).
pub const DEFAULT_MAX_LAG_SECS: u64 = 60;

/// Judges the last report at `now_ms` against `max_lag_secs`.
pub fn health(last: Option<&RoundReport>, now_ms: u64, max_lag_secs: u64) -> Health {
    let Some(report) = last else {
        return Health {
            state: "absent",
            lag_seconds: LagSeconds::default(),
            problems: Vec::new(),
            last_round: None,
        };
    };
    let lag = |d: &Direction| {
        d.last_success_started_ms
            .map(|at| (now_ms.saturating_sub(at) as f64 / 100.0).round() / 10.0)
    };
    let lag_seconds = LagSeconds {
        legacy_to_app: lag(&report.legacy_to_app),
        app_to_legacy: lag(&report.app_to_legacy),
    };
    let mut problems = Vec::new();
    for (name, d, l) in [
        (
            "legacy → app",
            &report.legacy_to_app,
            lag_seconds.legacy_to_app,
        ),
        (
            "app → legacy",
            &report.app_to_legacy,
            lag_seconds.app_to_legacy,
        ),
    ] {
        match l {
            None => problems.push(format!("{name}: no round has completed")),
            Some(secs) if secs > max_lag_secs as f64 => {
                problems.push(format!("{name}: lag {secs} s over {max_lag_secs} s"))
            }
            Some(_) => {}
        }
        if let Some(why) = &d.last_error {
            problems.push(format!("{name}: {why}"));
        }
    }
    Health {
        state: if problems.is_empty() {
            "healthy"
        } else {
            "unhealthy"
        },
        lag_seconds,
        problems,
        last_round: Some(report.clone()),
    }
}

/// Why a raise from `from` to `to` is held, if it is: lowering the percentage
/// never is (that is what a rollback does); raising it waits for a healthy
/// replicator, or none at all (before the split starts there is none).
pub fn hold(health: &Health, from: u8, to: u8) -> Option<super::hold::Hold> {
    if to <= from || health.state != "unhealthy" {
        return None;
    }
    let problems = health.problems.join("; ");
    Some(super::hold::Hold {
        refusal: format!(
            "replication is unhealthy ({problems}); the percentage can be raised once it catches up, or with force=true"
        ),
        forced: format!("forced past unhealthy replication: {problems}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(l2a: Option<u64>, a2l: Option<u64>) -> RoundReport {
        RoundReport {
            at_ms: 10_000,
            round_ms: 500,
            legacy_to_app: Direction {
                last_success_started_ms: l2a,
                ..Direction::default()
            },
            app_to_legacy: Direction {
                last_success_started_ms: a2l,
                ..Direction::default()
            },
        }
    }

    #[test]
    fn lag_grows_from_the_last_successful_round() {
        let r = report(Some(9_000), Some(9_500));
        let h = health(Some(&r), 12_000, 60);
        assert_eq!(h.state, "healthy");
        assert_eq!(h.lag_seconds.legacy_to_app, Some(3.0));
        assert_eq!(h.lag_seconds.app_to_legacy, Some(2.5));
        // The replicator stopped: a minute later it is over the bound.
        let h = health(Some(&r), 9_000 + 61_000, 60);
        assert_eq!(h.state, "unhealthy");
        assert!(
            h.problems[0].contains("legacy → app: lag 61 s"),
            "{:?}",
            h.problems
        );
    }

    #[test]
    fn failures_and_missing_rounds_are_unhealthy() {
        let mut r = report(Some(9_000), None);
        r.legacy_to_app.last_error = Some("PostgreSQL unreachable".into());
        let h = health(Some(&r), 9_500, 60);
        assert_eq!(h.state, "unhealthy");
        assert_eq!(h.problems.len(), 2, "{:?}", h.problems);
        assert_eq!(health(None, 1, 60).state, "absent");
    }

    #[test]
    fn only_raising_the_percentage_is_held() {
        let bad = health(Some(&report(None, None)), 1, 60);
        let held = hold(&bad, 10, 50).unwrap();
        assert!(
            held.refusal.starts_with("replication is unhealthy"),
            "{held:?}"
        );
        assert!(held
            .forced
            .starts_with("forced past unhealthy replication: "));
        assert!(hold(&bad, 50, 0).is_none());
        assert!(hold(&bad, 50, 50).is_none());
        let absent = health(None, 1, 60);
        assert!(hold(&absent, 0, 100).is_none());
        let good = health(Some(&report(Some(1), Some(1))), 2, 60);
        assert!(hold(&good, 0, 100).is_none());
    }

    #[test]
    fn reports_are_strict_json() {
        let r = report(Some(1), Some(2));
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<RoundReport>(&text).unwrap(), r);
        assert!(serde_json::from_str::<RoundReport>(r#"{"at_ms":1}"#).is_err());
        assert!(serde_json::from_str::<RoundReport>(&text.replace("round_ms", "x")).is_err());
    }
}
