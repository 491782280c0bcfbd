//! The audit trail of rollout changes: who, when, what changed and why.

use serde::{Deserialize, Serialize};

/// How many entries are kept; older ones drop off.
pub const AUDIT_CAP: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// RFC 3339 UTC.
    pub at: String,
    /// Admin username, `admin-token`, or `auto-rollback`.
    pub who: String,
    /// `update_percentage`, `enable_maintenance`, `switch_deployment`, ...
    pub action: String,
    pub old: String,
    pub new: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The stored trail (newest first); an unreadable one reads as empty.
pub fn parse(stored: Option<&str>) -> Vec<AuditEntry> {
    stored
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// The stored trail with `entry` added; an unreadable trail is restarted rather
/// than blocking the change it records.
pub fn append(stored: Option<&str>, entry: AuditEntry) -> Vec<AuditEntry> {
    let mut trail = parse(stored);
    trail.insert(0, entry);
    trail.truncate(AUDIT_CAP);
    trail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> AuditEntry {
        AuditEntry {
            at: "2026-01-01T00:00:00Z".into(),
            who: "ops".into(),
            action: "update_percentage".into(),
            old: n.to_string(),
            new: (n + 1).to_string(),
            reason: None,
        }
    }

    #[test]
    fn newest_first_and_capped() {
        let mut stored = None::<String>;
        for n in 0..AUDIT_CAP + 5 {
            let trail = append(stored.as_deref(), entry(n));
            stored = Some(serde_json::to_string(&trail).unwrap());
        }
        let trail: Vec<AuditEntry> = serde_json::from_str(stored.as_deref().unwrap()).unwrap();
        assert_eq!(trail.len(), AUDIT_CAP);
        assert_eq!(trail[0].old, (AUDIT_CAP + 4).to_string());
    }

    #[test]
    fn garbage_restarts_the_trail() {
        assert_eq!(append(Some("not json"), entry(1)).len(), 1);
    }
}
