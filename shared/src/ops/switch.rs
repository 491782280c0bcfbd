//! The blue/green switch gate: whether an app slot may take all app traffic.
//! The gateway probes the slot's `/health` through its binding and reads its
//! error rate over the metrics window; this says what of that fails.

/// Most the slot may take to answer its health check.
pub const MAX_LATENCY_MS: u64 = 1_000;
/// Most the slot's error rate (percent) may be over the window.
pub const MAX_ERROR_RATE: f64 = 1.0;

/// What the gateway found of a slot.
#[derive(Debug, Clone, Default)]
pub struct SlotCheck<'a> {
    /// Its `/health` answered 200.
    pub healthy: bool,
    /// The status it answered, if it answered.
    pub status: Option<u16>,
    /// Why there was no answer, if there was none.
    pub error: Option<&'a str>,
    pub latency_ms: u64,
    /// Percent of its answers that were 5xx over the window.
    pub error_rate: f64,
}

/// Each reason the slot may not take traffic; empty when it may.
pub fn failing(check: &SlotCheck) -> Vec<String> {
    let mut failing = Vec::new();
    if !check.healthy {
        let why = match (check.error, check.status) {
            (Some(error), _) => error.to_string(),
            (None, status) => format!("status {}", status.unwrap_or(0)),
        };
        failing.push(format!("health: {why}"));
    }
    if check.latency_ms >= MAX_LATENCY_MS {
        failing.push(format!(
            "latency: {} ms >= {MAX_LATENCY_MS} ms",
            check.latency_ms
        ));
    }
    if check.error_rate >= MAX_ERROR_RATE {
        failing.push(format!(
            "error rate: {}% >= {MAX_ERROR_RATE}%",
            check.error_rate
        ));
    }
    failing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> SlotCheck<'static> {
        SlotCheck {
            healthy: true,
            status: Some(200),
            error: None,
            latency_ms: 20,
            error_rate: 0.0,
        }
    }

    #[test]
    fn a_fast_healthy_slot_without_errors_may_switch() {
        assert!(failing(&good()).is_empty());
    }

    #[test]
    fn each_failed_check_is_named() {
        let down = SlotCheck {
            healthy: false,
            status: None,
            error: Some("no such service"),
            ..good()
        };
        assert_eq!(failing(&down), ["health: no such service"]);
        let sick = SlotCheck {
            healthy: false,
            status: Some(503),
            ..good()
        };
        assert_eq!(failing(&sick), ["health: status 503"]);
        let slow = SlotCheck {
            latency_ms: MAX_LATENCY_MS,
            ..good()
        };
        assert_eq!(failing(&slow), ["latency: 1000 ms >= 1000 ms"]);
        let erring = SlotCheck {
            error_rate: 1.0,
            ..good()
        };
        assert_eq!(failing(&erring), ["error rate: 1% >= 1%"]);
        let all = SlotCheck {
            healthy: false,
            status: Some(500),
            error: None,
            latency_ms: 5_000,
            error_rate: 50.0,
        };
        assert_eq!(failing(&all).len(), 3);
    }

    #[test]
    fn just_under_the_limits_passes() {
        let edge = SlotCheck {
            latency_ms: MAX_LATENCY_MS - 1,
            error_rate: 0.99,
            ..good()
        };
        assert!(failing(&edge).is_empty());
    }
}
