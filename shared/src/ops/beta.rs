//! Beta access for canary testers: what an admin asks for when issuing a token,
//! the record kept of each token, the invite link, and the cookie a tester's
//! browser keeps. The token itself is `routing::mint_beta_token` (HMAC-signed with
//! `ROUTING_SECRET`); its id ([`token_id`](crate::routing::token_id)) and the
//! revocation list the router refuses live beside it in `routing`, which must not
//! depend on the admin side.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::routing::{Slot, BETA_COOKIE_NAME};

/// Longest beta access an admin may grant.
pub const MAX_LIFETIME_SECS: i64 = 90 * 86_400;
/// Shortest (a token that expires before the tester clicks is a support call).
pub const MIN_LIFETIME_SECS: i64 = 60;
/// Default when the request names no lifetime.
pub const DEFAULT_LIFETIME_SECS: i64 = 7 * 86_400;
/// Longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 100;

/// One issued token, as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BetaRecord {
    pub id: String,
    pub label: String,
    pub issued_by: String,
    /// RFC 3339.
    pub issued_at: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// RFC 3339 of the last request the gateway routed with it, if any.
    #[serde(default)]
    pub last_seen: Option<String>,
    /// RFC 3339 of the revocation, if revoked.
    #[serde(default)]
    pub revoked_at: Option<String>,
    /// The app slot the token is pinned to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
}

/// What `POST /admin/beta` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    pub label: String,
    pub lifetime_secs: i64,
    /// Pin the token to an app slot (a release's smoke test before the switch).
    pub slot: Option<Slot>,
}

/// Parses `{"label": "...", "expires_in": "7d" | 3600, "slot": "blue" | "green"}`
/// (`slot` optional); errors are 400 messages.
pub fn parse_issue(body: &str) -> Result<IssueRequest, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("expected a JSON object: {e}"))?;
    let object = value
        .as_object()
        .ok_or("expected a JSON object {\"label\", \"expires_in\"}")?;
    if let Some(unknown) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "label" | "expires_in" | "slot"))
    {
        return Err(format!("unknown field {unknown:?}"));
    }
    let label = object
        .get("label")
        .and_then(Value::as_str)
        .map(str::trim)
        .ok_or("label is required: who or what the access is for")?;
    if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
        return Err(format!("label must be 1 to {MAX_LABEL_CHARS} characters"));
    }
    if label.chars().any(char::is_control) {
        return Err("label must not contain control characters".into());
    }
    let lifetime_secs = match object.get("expires_in") {
        None | Some(Value::Null) => DEFAULT_LIFETIME_SECS,
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or("expires_in must be whole seconds or a duration like 7d")?,
        Some(Value::String(s)) => parse_duration(s)?,
        Some(_) => return Err("expires_in must be whole seconds or a duration like 7d".into()),
    };
    if !(MIN_LIFETIME_SECS..=MAX_LIFETIME_SECS).contains(&lifetime_secs) {
        return Err(format!(
            "expires_in must be from {MIN_LIFETIME_SECS} s to {} days",
            MAX_LIFETIME_SECS / 86_400
        ));
    }
    let slot = match object.get("slot") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            s.parse::<Slot>()
                .map_err(|_| "slot must be blue or green")?,
        ),
        Some(_) => return Err("slot must be blue or green".into()),
    };
    Ok(IssueRequest {
        label: label.to_string(),
        lifetime_secs,
        slot,
    })
}

/// `90`, `90s`, `30m`, `12h`, `7d` → seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let error = || format!("{text:?} is not a duration like 3600, 30m, 12h or 7d");
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(error()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 9 {
        return Err(error());
    }
    Ok(digits.parse::<i64>().map_err(|_| error())? * scale)
}

/// The link a tester opens: `<origin>/beta/join?token=<token>` (the token is
/// URL-safe as it is).
pub fn invite_link(origin: &str, token: &str) -> String {
    format!("{}/beta/join?token={token}", origin.trim_end_matches('/'))
}

/// The cookie `/beta/join` sets: the token, for as long as it lives.
pub fn join_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{BETA_COOKIE_NAME}={token}; Path=/; HttpOnly{secure}; SameSite=Lax; Max-Age={}",
        max_age_secs.max(0)
    )
}

/// The cookie `/beta/leave` sets: the beta cookie, expired.
pub fn leave_cookie(secure: bool) -> String {
    join_cookie("", 0, secure)
}

/// How long a record is listed after its token expired.
pub const LISTED_AFTER_EXPIRY_SECS: i64 = 30 * 86_400;

/// The stored list of records (absent or unreadable: none).
pub fn parse_records(raw: Option<&str>) -> Vec<BetaRecord> {
    raw.and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default()
}

/// `records` with `record` added, newest first, without the ones expired for
/// longer than [`LISTED_AFTER_EXPIRY_SECS`].
pub fn add_record(
    mut records: Vec<BetaRecord>,
    record: BetaRecord,
    now_unix: i64,
) -> Vec<BetaRecord> {
    records.retain(|r| r.id != record.id && r.expires_at + LISTED_AFTER_EXPIRY_SECS > now_unix);
    records.insert(0, record);
    records
}

/// Marks `id` revoked at `at`; false when there is no such record.
pub fn revoke(records: &mut [BetaRecord], id: &str, at: &str) -> bool {
    match records.iter_mut().find(|r| r.id == id) {
        Some(r) => {
            r.revoked_at.get_or_insert_with(|| at.to_string());
            true
        }
        None => false,
    }
}

/// The ids the router must refuse: revoked and not yet expired (an expired token
/// fails on its own, so the list stays short).
pub fn revoked_ids(records: &[BetaRecord], now_unix: i64) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.revoked_at.is_some() && r.expires_at > now_unix)
        .map(|r| r.id.clone())
        .collect()
}

/// Records the last time each id was seen; true when a record changed.
pub fn mark_seen(records: &mut [BetaRecord], seen: &[(String, String)]) -> bool {
    let mut changed = false;
    for (id, at) in seen {
        if let Some(r) = records.iter_mut().find(|r| &r.id == id) {
            if r.last_seen.as_deref() < Some(at.as_str()) {
                r.last_seen = Some(at.clone());
                changed = true;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_requests_parse_with_bounds() {
        let r = parse_issue(r#"{"label": " QA team ", "expires_in": "7d"}"#).unwrap();
        assert_eq!(
            r,
            IssueRequest {
                label: "QA team".into(),
                lifetime_secs: 7 * 86_400,
                slot: None,
            }
        );
        assert_eq!(
            parse_issue(r#"{"label":"smoke","slot":"green"}"#)
                .unwrap()
                .slot,
            Some(Slot::Green)
        );
        assert_eq!(
            parse_issue(r#"{"label":"x"}"#).unwrap().lifetime_secs,
            DEFAULT_LIFETIME_SECS
        );
        assert_eq!(
            parse_issue(r#"{"label":"x","expires_in":3600}"#)
                .unwrap()
                .lifetime_secs,
            3600
        );
        for bad in [
            "",
            "[]",
            r#"{"expires_in":"7d"}"#,
            r#"{"label":""}"#,
            r#"{"label":"a\u0007b"}"#,
            r#"{"label":"x","expires_in":"7w"}"#,
            r#"{"label":"x","expires_in":"91d"}"#,
            r#"{"label":"x","expires_in":10}"#,
            r#"{"label":"x","expires_in":-5}"#,
            r#"{"label":"x","expires_in":true}"#,
            r#"{"label":"x","extra":1}"#,
            r#"{"label":"x","slot":"red"}"#,
            r#"{"label":"x","slot":1}"#,
        ] {
            assert!(parse_issue(bad).is_err(), "{bad}");
        }
        let long = format!(r#"{{"label":"{}"}}"#, "é".repeat(MAX_LABEL_CHARS + 1));
        assert!(parse_issue(&long).is_err());
    }

    #[test]
    fn durations_take_the_usual_units() {
        for (text, secs) in [
            ("90", 90),
            ("90s", 90),
            ("30m", 1_800),
            ("12H", 43_200),
            ("7d", 604_800),
        ] {
            assert_eq!(parse_duration(text), Ok(secs), "{text}");
        }
        for bad in ["", "d", "1.5d", "-1d", "7 d", "9999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn links_and_cookies() {
        assert_eq!(
            invite_link("https://lc.example/", "v1.1.YQ.sig"),
            "https://lc.example/beta/join?token=v1.1.YQ.sig"
        );
        assert_eq!(
            join_cookie("tok", 3600, true),
            "lc_beta=tok; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=3600"
        );
        assert_eq!(
            leave_cookie(false),
            "lc_beta=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }

    fn record(id: &str, expires_at: i64) -> BetaRecord {
        BetaRecord {
            id: id.into(),
            label: format!("label {id}"),
            issued_by: "ops".into(),
            issued_at: "2026-01-01T00:00:00Z".into(),
            expires_at,
            last_seen: None,
            revoked_at: None,
            slot: None,
        }
    }

    #[test]
    fn records_are_added_revoked_and_seen() {
        let now = 1_000_000;
        let old = record("old", now - LISTED_AFTER_EXPIRY_SECS - 1);
        let mut list = add_record(vec![old, record("a", now + 10)], record("b", now + 10), now);
        assert_eq!(
            list.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        assert!(revoke(&mut list, "a", "2026-01-02T00:00:00Z"));
        assert!(!revoke(&mut list, "nope", "x"));
        assert_eq!(revoked_ids(&list, now), ["a"]);
        assert!(
            revoked_ids(&list, now + 10).is_empty(),
            "expired tokens need no entry"
        );
        let seen = vec![("b".to_string(), "2026-01-03T00:00:00Z".to_string())];
        assert!(mark_seen(&mut list, &seen));
        assert!(
            !mark_seen(&mut list, &seen),
            "the same time again changes nothing"
        );
        assert_eq!(list[0].last_seen.as_deref(), Some("2026-01-03T00:00:00Z"));
        let raw = serde_json::to_string(&list).unwrap();
        assert_eq!(parse_records(Some(&raw)), list);
        assert!(parse_records(Some("garbage")).is_empty());
    }
}
