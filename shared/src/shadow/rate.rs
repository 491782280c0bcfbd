//! The share of requests mirrored: a rate 0..=1 kept in `MIGRATION_KV`
//! (`routing::keys::SHADOW_RATE`), set through the admin API. Absent or unreadable
//! means 0: a typo must not double the traffic on both backends.

use serde::Deserialize;

/// Reads the stored rate; `Err` names what is wrong with a present value.
pub fn parse_rate(raw: Option<&str>) -> Result<f64, String> {
    let Some(raw) = raw else {
        return Ok(0.0);
    };
    let rate: f64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("shadow rate must be a number from 0 to 1, got {raw:?}"))?;
    check(rate)
}

fn check(rate: f64) -> Result<f64, String> {
    if rate.is_finite() && (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("rate must be a number from 0 to 1, got {rate}"))
    }
}

/// Whether a request is mirrored, given a uniform `draw` in `[0, 1)`.
pub fn sampled(rate: f64, draw: f64) -> bool {
    draw < rate
}

/// Whether the `nth` mirrored request of a route (0-based, counted per isolate)
/// also asks the serving side a second time, to learn which fields differ on
/// their own: the first few of each route, then one in ten, so noise is learned
/// early and kept up at a tenth of the extra load.
pub fn probes_noise(nth: u64) -> bool {
    nth < 5 || nth.is_multiple_of(10)
}

/// `PUT /admin/shadow`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateRequest {
    pub rate: f64,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Parses a `PUT /admin/shadow` body; errors are messages for a 400.
pub fn parse_rate_request(body: &str) -> Result<RateRequest, String> {
    let mut req: RateRequest = serde_json::from_str(body)
        .map_err(|e| format!("expected {{\"rate\": 0..1, \"reason\"?: \"...\"}}: {e}"))?;
    check(req.rate)?;
    req.reason = req
        .reason
        .map(|r| {
            r.trim()
                .chars()
                .take(crate::ops::admin::MAX_REASON_LEN)
                .collect()
        })
        .filter(|r: &String| !r.is_empty());
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_rates() {
        assert_eq!(parse_rate(None), Ok(0.0));
        assert_eq!(parse_rate(Some("0.25")), Ok(0.25));
        assert_eq!(parse_rate(Some(" 1 ")), Ok(1.0));
        for bad in ["", "abc", "1.5", "-0.1", "NaN", "inf"] {
            assert!(parse_rate(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn sampling() {
        assert!(!sampled(0.0, 0.0));
        assert!(sampled(1.0, 0.999));
        assert!(sampled(0.5, 0.49) && !sampled(0.5, 0.5));
        let probed: Vec<u64> = (0..31).filter(|n| probes_noise(*n)).collect();
        assert_eq!(probed, vec![0, 1, 2, 3, 4, 10, 20, 30]);
    }

    #[test]
    fn rate_requests() {
        let r = parse_rate_request(r#"{"rate":0.5,"reason":" canary "}"#).unwrap();
        assert_eq!((r.rate, r.reason.as_deref()), (0.5, Some("canary")));
        assert_eq!(
            parse_rate_request(r#"{"rate":0,"reason":""}"#)
                .unwrap()
                .reason,
            None
        );
        for bad in [
            r#"{"rate":1.01}"#,
            r#"{"rate":-1}"#,
            r#"{"rate":"0.5"}"#,
            r#"{}"#,
            r#"{"rate":0.5,"extra":1}"#,
            "not json",
        ] {
            let err = parse_rate_request(bad).unwrap_err();
            assert!(err.contains("rate"), "{bad}: {err}");
        }
    }
}
