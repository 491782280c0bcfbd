//! Alert and automatic rollback rules, evaluated once a minute by the cron
//! trigger over the app branches' last window, and the webhook payloads.

use super::metrics::{BranchSummary, Summary};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Configurable limits (gateway vars).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Percent of 5xx above which a window is bad (`ALERT_ERROR_RATE`, 5).
    pub max_error_rate: f64,
    /// p95 latency above which a window is bad (`ALERT_P95_MS`, 1000).
    pub max_p95_ms: u32,
    /// Fewer app requests than this say nothing (`ALERT_MIN_REQUESTS`, 20).
    pub min_requests: u64,
    /// Consecutive bad windows before acting (`ALERT_BAD_WINDOWS`, 2).
    pub bad_windows: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_error_rate: 5.0,
            max_p95_ms: 1_000,
            min_requests: 20,
            bad_windows: 2,
        }
    }
}

/// What the cron remembers between runs (kept in the metrics Durable Object).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    pub consecutive_bad: u32,
    /// The open incident's id; while set, no new alert is sent.
    pub incident: Option<String>,
    /// The last percentage seen with a good window.
    pub last_good_percentage: Option<u8>,
    /// The open replication incident's id (replication lag or failure).
    #[serde(default)]
    pub replication_incident: Option<String>,
}

/// A replication alert to send now: a new incident when the replicator turned
/// unhealthy (its id and summary), none while the incident is open; the state
/// closes it once the replicator is healthy (or absent) again.
pub fn replication_alert(
    state: &mut AlertState,
    health: &super::replication::Health,
    now_ms: u64,
) -> Option<(String, String)> {
    if health.state != "unhealthy" {
        state.replication_incident = None;
        return None;
    }
    if state.replication_incident.is_some() {
        return None;
    }
    let id = format!("list-cutter-replication-{now_ms}");
    state.replication_incident = Some(id.clone());
    Some((
        id,
        format!("replication unhealthy: {}", health.problems.join("; ")),
    ))
}

/// What one evaluation decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub state: AlertState,
    /// A new incident to announce (its id and a one-line summary).
    pub alert: Option<(String, String)>,
    /// The percentage to roll back to, when rollback is on and an alert fires.
    pub rollback_to: Option<u8>,
}

/// The app branches together: rollback moves traffic off the app as a whole.
pub fn app_totals(summary: &Summary) -> BranchSummary {
    let mut t = BranchSummary::default();
    let (mut p50, mut p95) = (0, 0);
    for (name, b) in &summary.branches {
        if name.starts_with("app") {
            t.requests += b.requests;
            t.errors += b.errors;
            t.active_users += b.active_users;
            p50 = p50.max(b.p50_ms);
            p95 = p95.max(b.p95_ms);
        }
    }
    t.error_rate = if t.requests == 0 {
        0.0
    } else {
        (t.errors as f64 * 10_000.0 / t.requests as f64).round() / 100.0
    };
    t.p50_ms = p50;
    t.p95_ms = p95;
    t
}

/// Why a window is bad, or `None` when it is good or too small to judge.
pub fn problem(app: &BranchSummary, t: &Thresholds) -> Option<String> {
    if app.requests < t.min_requests {
        return None;
    }
    let mut why = Vec::new();
    if app.error_rate > t.max_error_rate {
        why.push(format!(
            "app error rate {:.2}% > {}% ({} of {} requests)",
            app.error_rate, t.max_error_rate, app.errors, app.requests
        ));
    }
    if app.p95_ms > t.max_p95_ms {
        why.push(format!("app p95 {} ms > {} ms", app.p95_ms, t.max_p95_ms));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// One cron evaluation. An incident alerts once, when the bad windows reach
/// the threshold, and closes at the next good window.
pub fn evaluate(
    app: &BranchSummary,
    thresholds: &Thresholds,
    state: &AlertState,
    percentage: u8,
    auto_rollback: bool,
    now_ms: u64,
) -> Verdict {
    let mut next = state.clone();
    let Some(why) = problem(app, thresholds) else {
        next.consecutive_bad = 0;
        next.incident = None;
        if app.requests >= thresholds.min_requests || percentage == 0 {
            next.last_good_percentage = Some(percentage);
        }
        return Verdict {
            state: next,
            alert: None,
            rollback_to: None,
        };
    };
    next.consecutive_bad = state.consecutive_bad.saturating_add(1);
    if next.consecutive_bad < thresholds.bad_windows.max(1) || state.incident.is_some() {
        return Verdict {
            state: next,
            alert: None,
            rollback_to: None,
        };
    }
    let id = format!("list-cutter-app-{now_ms}");
    next.incident = Some(id.clone());
    let rollback_to = auto_rollback.then_some(match state.last_good_percentage {
        Some(good) if good < percentage => good,
        _ => 0,
    });
    Verdict {
        state: next,
        alert: Some((id, why)),
        rollback_to,
    }
}

/// A configured receiver (`ALERT_WEBHOOKS` is a JSON list of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub kind: WebhookKind,
    pub url: String,
    /// PagerDuty's integration key.
    #[serde(default)]
    pub routing_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    Slack,
    Pagerduty,
    Generic,
}

pub fn parse_webhooks(raw: &str) -> Result<Vec<Webhook>, String> {
    if raw.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(raw).map_err(|e| format!("ALERT_WEBHOOKS: {e}"))
}

/// The body for one receiver.
pub fn payload(hook: &Webhook, incident: &str, summary: &str, rollback: Option<u8>) -> Value {
    let action = match rollback {
        Some(p) => format!(" Rolled back to {p}%."),
        None => String::new(),
    };
    let text = format!("List Cutter gateway alert: {summary}.{action}");
    match hook.kind {
        WebhookKind::Slack => json!({ "text": text }),
        WebhookKind::Pagerduty => json!({
            "routing_key": hook.routing_key.clone().unwrap_or_default(),
            "event_action": "trigger",
            "dedup_key": incident,
            "payload": {
                "summary": text,
                "severity": "critical",
                "source": "list-cutter-gateway",
            },
        }),
        WebhookKind::Generic => json!({
            "source": "list-cutter-gateway",
            "incident": incident,
            "summary": summary,
            "rolled_back_to": rollback,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(requests: u64, errors: u64, p95_ms: u32) -> BranchSummary {
        BranchSummary {
            requests,
            errors,
            error_rate: errors as f64 * 100.0 / requests.max(1) as f64,
            p50_ms: 10,
            p95_ms,
            active_users: 1,
        }
    }

    fn t(bad_windows: u32) -> Thresholds {
        Thresholds {
            bad_windows,
            ..Thresholds::default()
        }
    }

    #[test]
    fn alerts_once_after_n_bad_windows_and_rolls_back_to_last_good() {
        let good = evaluate(&app(100, 0, 50), &t(2), &AlertState::default(), 10, true, 1);
        assert_eq!(good.state.last_good_percentage, Some(10));
        let first = evaluate(&app(100, 30, 50), &t(2), &good.state, 40, true, 2);
        assert_eq!(
            (first.alert.is_none(), first.state.consecutive_bad),
            (true, 1)
        );
        let second = evaluate(&app(100, 30, 50), &t(2), &first.state, 40, true, 3);
        let (id, why) = second.alert.clone().unwrap();
        assert!(why.contains("error rate 30.00%"), "{why}");
        assert_eq!(second.rollback_to, Some(10));
        // Still bad next minute: the same incident, no new alert.
        let third = evaluate(&app(100, 30, 50), &t(2), &second.state, 10, true, 4);
        assert_eq!((third.alert, third.rollback_to), (None, None));
        assert_eq!(third.state.incident.as_deref(), Some(id.as_str()));
        // A good window closes it.
        let ok = evaluate(&app(100, 0, 50), &t(2), &third.state, 10, true, 5);
        assert_eq!(ok.state.incident, None);
    }

    #[test]
    fn slow_is_bad_too_small_is_not_judged_rollback_optional() {
        assert!(problem(&app(100, 0, 1_500), &Thresholds::default()).is_some());
        assert!(problem(&app(5, 5, 50), &Thresholds::default()).is_none());
        let bad = |rollback| {
            evaluate(
                &app(100, 50, 50),
                &t(1),
                &AlertState::default(),
                30,
                rollback,
                1,
            )
        };
        let v = bad(false);
        assert!(v.alert.is_some());
        assert_eq!(v.rollback_to, None);
        // Without a known good percentage below the current one: back to 0.
        assert_eq!(bad(true).rollback_to, Some(0));
    }

    #[test]
    fn app_totals_join_blue_and_green_and_leave_legacy_out() {
        let mut summary = Summary::default();
        summary.branches.insert("app-blue".into(), app(90, 0, 50));
        summary
            .branches
            .insert("app-green".into(), app(10, 10, 2_000));
        summary
            .branches
            .insert("legacy".into(), app(1_000, 500, 50));
        let t = app_totals(&summary);
        assert_eq!((t.requests, t.errors, t.error_rate), (100, 10, 10.0));
        assert_eq!(t.p95_ms, 2_000, "the worse slot's p95");
    }

    #[test]
    fn webhook_config_and_payloads() {
        let hooks = parse_webhooks(
            r#"[{"kind":"slack","url":"http://s"},{"kind":"pagerduty","url":"http://p","routing_key":"rk"},{"kind":"generic","url":"http://g"}]"#,
        )
        .unwrap();
        assert_eq!(hooks.len(), 3);
        assert!(payload(&hooks[0], "i", "bad", Some(0))["text"]
            .as_str()
            .unwrap()
            .contains("Rolled back to 0%"));
        let pd = payload(&hooks[1], "i-1", "bad", None);
        assert_eq!(pd["routing_key"], "rk");
        assert_eq!(pd["event_action"], "trigger");
        assert_eq!(pd["dedup_key"], "i-1");
        assert_eq!(pd["payload"]["severity"], "critical");
        assert_eq!(payload(&hooks[2], "i", "bad", None)["incident"], "i");
        assert!(parse_webhooks(r#"[{"kind":"email","url":"x"}]"#).is_err());
        assert!(parse_webhooks("").unwrap().is_empty());
    }

    #[test]
    fn replication_alerts_once_per_incident() {
        use crate::ops::replication::{health, Direction, RoundReport};
        let stale = RoundReport {
            legacy_to_app: Direction {
                last_success_started_ms: Some(0),
                ..Direction::default()
            },
            app_to_legacy: Direction {
                last_success_started_ms: Some(0),
                ..Direction::default()
            },
            ..RoundReport::default()
        };
        let mut state = AlertState::default();
        let bad = health(Some(&stale), 120_000, 60);
        let (id, why) = replication_alert(&mut state, &bad, 120_000).unwrap();
        assert!(why.contains("lag 120 s"), "{why}");
        assert_eq!(state.replication_incident.as_deref(), Some(id.as_str()));
        assert_eq!(
            replication_alert(&mut state, &bad, 180_000),
            None,
            "open incident"
        );
        let good = health(Some(&stale), 30_000, 60);
        assert_eq!(replication_alert(&mut state, &good, 30_000), None);
        assert_eq!(state.replication_incident, None, "closed once healthy");
    }
}
