//! The rollout config and how it is read from the raw strings kept in KV.
//!
//! KV is edited by people and scripts, so every key may be absent or wrong. The
//! gateway must keep serving anyway, so parsing never fails as a whole: each key
//! is checked on its own, a bad one falls back to a safe value, and the problem
//! is reported for logs and the admin status instead of turning into a 5xx.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which side serves a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The Django origin.
    Legacy,
    /// The new app Worker (blue or green).
    App,
}

impl Backend {
    /// Stable lowercase name for headers, logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Legacy => "legacy",
            Backend::App => "app",
        }
    }

    /// The side that is not this one.
    pub fn other(self) -> Backend {
        match self {
            Backend::Legacy => Backend::App,
            Backend::App => Backend::Legacy,
        }
    }
}

/// Maintenance state; `WriteFreeze` exists for the final data sync, when reads
/// must keep working but nothing may change on either side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Maintenance {
    /// Normal routing.
    #[default]
    Off,
    /// Every non-gateway request gets a 503.
    Full,
    /// Reads pass; every write method gets a 503.
    WriteFreeze,
}

impl Maintenance {
    /// The value as stored in KV and shown in the admin status.
    pub fn as_str(self) -> &'static str {
        match self {
            Maintenance::Off => "off",
            Maintenance::Full => "full",
            Maintenance::WriteFreeze => "write_freeze",
        }
    }
}

/// A strangler-style rule that keeps an endpoint on one side whatever the
/// percentage, e.g. registration on legacy until the app's version is trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutePin {
    /// HTTP method to match (case-insensitive); `None` matches any method.
    /// Unknown fields are refused so a misspelt `method` cannot silently widen
    /// a pin to every method.
    #[serde(default)]
    pub method: Option<String>,
    /// Matches every path that starts with it; must start with `/`.
    pub path_prefix: String,
    /// Where matching requests go.
    pub backend: Backend,
}

impl RoutePin {
    /// Whether this pin applies to the request.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = match &self.method {
            None => true,
            Some(m) => m.eq_ignore_ascii_case(method),
        };
        method_ok && path.starts_with(&self.path_prefix)
    }
}

/// Everything the routing decision depends on besides the request itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RolloutConfig {
    /// Share of buckets (0..=100) that go to the app.
    pub percentage: u8,
    /// Maintenance state.
    pub maintenance: Maintenance,
    /// Pins, first match wins.
    pub pins: Vec<RoutePin>,
    /// Hosts that always go to the app; an entry ending in `.` is a prefix.
    pub staging_hosts: Vec<String>,
    /// Whether the unsigned `X-Beta-User: true` header is honoured; off in
    /// production once anyone could send it.
    pub beta_header_enabled: bool,
    /// Ids of beta tokens revoked before their expiry ([`token_id`](super::token_id)).
    pub beta_revoked: Vec<String>,
    /// Seconds a freshly issued access token keeps its person on the side that
    /// issued it (the replication lag bound, `REPLICATION_LAG_BOUND_S`).
    pub identity_hold_secs: u32,
}

impl RolloutConfig {
    /// The fail-safe config: everything on legacy, which is what served all users
    /// before the cutover and is therefore never worse than a broken config.
    pub fn all_legacy() -> Self {
        Self {
            percentage: 0,
            maintenance: Maintenance::Off,
            pins: Vec::new(),
            staging_hosts: Vec::new(),
            beta_header_enabled: false,
            beta_revoked: Vec::new(),
            identity_hold_secs: DEFAULT_IDENTITY_HOLD_SECS,
        }
    }
}

/// The replication lag bound assumed when none is configured.
pub const DEFAULT_IDENTITY_HOLD_SECS: u32 = 30;

impl Default for RolloutConfig {
    fn default() -> Self {
        Self::all_legacy()
    }
}

/// KV key names in `MIGRATION_KV`, shared with the admin API and the CLI.
pub mod keys {
    /// Percentage of buckets on the app, an integer 0..=100.
    pub const TRAFFIC_PERCENTAGE: &str = "traffic_percentage";
    /// `off`, `full` or `write_freeze`.
    pub const MAINTENANCE_MODE: &str = "maintenance_mode";
    /// JSON array of route pins.
    pub const ROUTE_PINS: &str = "route_pins";
    /// JSON array or comma-separated list of hosts.
    pub const STAGING_HOSTS: &str = "staging_hosts";
    /// `true` or `false`.
    pub const BETA_HEADER_ENABLED: &str = "beta_header_enabled";
    /// JSON array of revoked beta token ids.
    pub const BETA_REVOKED: &str = "beta_revoked";
    /// Share of safe requests on shadowable routes also sent to the other side,
    /// a number 0..=1 (`shadow::rate`).
    pub const SHADOW_RATE: &str = "shadow_rate";
    /// `DEPLOYMENT_KV`: the app slot serving app traffic, `blue` or `green`.
    pub const CURRENT_VERSION: &str = "current_version";
    /// `DEPLOYMENT_KV`: RFC 3339 of the last blue/green switch.
    pub const SWITCHED_AT: &str = "switched_at";
}

/// A config key that could not be used, with enough detail for an operator to
/// fix it from the log line alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The key has no value.
    Missing {
        /// KV key name.
        key: &'static str,
    },
    /// The key has a value that is not allowed.
    Invalid {
        /// KV key name.
        key: &'static str,
        /// The offending value, as stored.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
}

impl ConfigError {
    /// The KV key the problem is about.
    pub fn key(&self) -> &'static str {
        match self {
            ConfigError::Missing { key } | ConfigError::Invalid { key, .. } => key,
        }
    }

    fn invalid(key: &'static str, value: &str, expected: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// Longest part of a bad value quoted in a message, so one huge KV value cannot
/// flood the logs.
const MAX_QUOTED: usize = 80;
/// Longest explanation shown, for the same reason.
const MAX_EXPECTED: usize = 240;

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing { key } => write!(f, "config key `{key}` is not set"),
            ConfigError::Invalid {
                key,
                value,
                expected,
            } => {
                let shown: String = value.chars().take(MAX_QUOTED).collect();
                let more = if shown.len() < value.len() { "…" } else { "" };
                // `expected` may carry serde's error, which quotes the value too.
                let why: String = expected.chars().take(MAX_EXPECTED).collect();
                let cut = if why.len() < expected.len() {
                    "…"
                } else {
                    ""
                };
                write!(
                    f,
                    "config key `{key}` has invalid value {shown:?}{more}: expected {why}{cut}"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Reads `traffic_percentage`: a whole number 0..=100, surrounding whitespace
/// allowed. Fractions, signs and anything out of range are refused rather than
/// rounded or clamped, since a typo must not move real users.
pub fn parse_percentage(raw: Option<&str>) -> Result<u8, ConfigError> {
    let key = keys::TRAFFIC_PERCENTAGE;
    let raw = raw.ok_or(ConfigError::Missing { key })?;
    let s = raw.trim();
    let expected = "an integer from 0 to 100";
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::invalid(key, raw, expected));
    }
    match s.parse::<u8>() {
        Ok(p) if p <= 100 => Ok(p),
        _ => Err(ConfigError::invalid(key, raw, expected)),
    }
}

/// Reads `maintenance_mode`. Besides `off`, `full` and `write_freeze` it accepts
/// the legacy tooling's `true`/`false`, which meant full maintenance on/off.
/// Absent means no maintenance has ever been set.
pub fn parse_maintenance(raw: Option<&str>) -> Result<Maintenance, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Maintenance::Off);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "off" | "false" => Ok(Maintenance::Off),
        "full" | "true" => Ok(Maintenance::Full),
        "write_freeze" | "write-freeze" => Ok(Maintenance::WriteFreeze),
        _ => Err(ConfigError::invalid(
            keys::MAINTENANCE_MODE,
            raw,
            "one of off, full, write_freeze (or true/false)",
        )),
    }
}

/// Reads `route_pins`, a JSON array of pins. The set is taken whole or not at
/// all: half a set of pins could send one step of a flow (say, login) to a
/// different side than the next.
pub fn parse_route_pins(raw: &str) -> Result<Vec<RoutePin>, ConfigError> {
    let key = keys::ROUTE_PINS;
    let expected = r#"a JSON array of {"method"?, "path_prefix", "backend": "legacy"|"app"}"#;
    let mut pins: Vec<RoutePin> = serde_json::from_str(raw)
        .map_err(|e| ConfigError::invalid(key, raw, format!("{expected} ({e})")))?;
    for pin in &mut pins {
        if !pin.path_prefix.starts_with('/') {
            return Err(ConfigError::invalid(
                key,
                raw,
                format!("path_prefix starting with `/`, got {:?}", pin.path_prefix),
            ));
        }
        if let Some(method) = &pin.method {
            let method = method.trim();
            if method == "*" {
                pin.method = None;
            } else if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(ConfigError::invalid(
                    key,
                    raw,
                    format!("an HTTP method name or \"*\", got {method:?}"),
                ));
            } else {
                pin.method = Some(method.to_ascii_uppercase());
            }
        }
    }
    Ok(pins)
}

/// Reads `staging_hosts`: a JSON array of strings, or a comma-separated list.
/// Entries are lowercased and trimmed; empty entries are dropped.
pub fn parse_staging_hosts(raw: &str) -> Result<Vec<String>, ConfigError> {
    let trimmed = raw.trim();
    let entries: Vec<String> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| {
            ConfigError::invalid(
                keys::STAGING_HOSTS,
                raw,
                format!("a JSON array of host names or a comma-separated list ({e})"),
            )
        })?
    } else {
        trimmed.split(',').map(str::to_string).collect()
    };
    Ok(entries
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect())
}

/// Reads a `true`/`false` flag (also `1`/`0`), case-insensitively.
pub fn parse_flag(key: &'static str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ConfigError::invalid(key, raw, "true or false")),
    }
}

/// The raw KV values, as read; `None` where a key is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawConfig<'a> {
    /// `traffic_percentage`.
    pub traffic_percentage: Option<&'a str>,
    /// `maintenance_mode`.
    pub maintenance_mode: Option<&'a str>,
    /// `route_pins`.
    pub route_pins: Option<&'a str>,
    /// `staging_hosts`.
    pub staging_hosts: Option<&'a str>,
    /// `beta_header_enabled`.
    pub beta_header_enabled: Option<&'a str>,
    pub beta_revoked: Option<&'a str>,
}

/// Builds the effective config from KV values, never failing as a whole.
///
/// Fail-safe rules, key by key:
/// - `traffic_percentage` absent or invalid → 0 (all legacy): a bucket must never
///   move to the app on a value nobody meant.
/// - `maintenance_mode` absent → `Off`; unrecognised → `defaults.maintenance`.
///   Neither `Off` (could silently lift a freeze during the final sync) nor
///   `Full` (could take the site down over a typo) is safe on its own; the
///   gateway's configured default is the operator's stated intent.
/// - `route_pins` absent → `defaults.pins`; invalid → no pins.
/// - `staging_hosts`, `beta_header_enabled` absent or invalid → from `defaults`,
///   which the gateway builds from its environment vars.
///
/// Every problem, including an absent percentage, is returned alongside so the
/// caller can log it, surface it in the admin status, or prefer its last-known
/// good config.
pub fn config_from_raw(
    raw: &RawConfig,
    defaults: &RolloutConfig,
) -> (RolloutConfig, Vec<ConfigError>) {
    let mut errors = Vec::new();

    let percentage = parse_percentage(raw.traffic_percentage).unwrap_or_else(|e| {
        errors.push(e);
        0
    });

    let maintenance = parse_maintenance(raw.maintenance_mode).unwrap_or_else(|e| {
        errors.push(e);
        defaults.maintenance
    });

    let pins = match raw.route_pins {
        None => defaults.pins.clone(),
        Some(s) => parse_route_pins(s).unwrap_or_else(|e| {
            errors.push(e);
            Vec::new()
        }),
    };

    let staging_hosts = match raw.staging_hosts {
        None => defaults.staging_hosts.clone(),
        Some(s) => parse_staging_hosts(s).unwrap_or_else(|e| {
            errors.push(e);
            defaults.staging_hosts.clone()
        }),
    };

    let beta_header_enabled = match raw.beta_header_enabled {
        None => defaults.beta_header_enabled,
        Some(s) => parse_flag(keys::BETA_HEADER_ENABLED, s).unwrap_or_else(|e| {
            errors.push(e);
            defaults.beta_header_enabled
        }),
    };

    // An unreadable list keeps the last good one's default (none): a typo must
    // not lock every tester out, and a revoked token only expires sooner.
    let beta_revoked = match raw.beta_revoked {
        None => defaults.beta_revoked.clone(),
        Some(s) => super::revocation::parse_revoked(s).unwrap_or_else(|expected| {
            errors.push(ConfigError::invalid(keys::BETA_REVOKED, s, expected));
            defaults.beta_revoked.clone()
        }),
    };

    (
        RolloutConfig {
            percentage,
            maintenance,
            pins,
            staging_hosts,
            beta_header_enabled,
            beta_revoked,
            identity_hold_secs: defaults.identity_hold_secs,
        },
        errors,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentage_accepts_integers_in_range() {
        assert_eq!(parse_percentage(Some("0")), Ok(0));
        assert_eq!(parse_percentage(Some("25")), Ok(25));
        assert_eq!(parse_percentage(Some("100")), Ok(100));
        assert_eq!(parse_percentage(Some(" 42 ")), Ok(42));
        assert_eq!(parse_percentage(Some("42\n")), Ok(42));
    }

    #[test]
    fn percentage_refuses_everything_else() {
        for bad in [
            "abc",
            "150",
            "101",
            "-1",
            "+5",
            "50.5",
            "",
            "  ",
            "1e2",
            "256",
            "99999999999999999999",
        ] {
            let err = parse_percentage(Some(bad)).unwrap_err();
            assert_eq!(err.key(), "traffic_percentage", "{bad:?}");
            assert!(matches!(err, ConfigError::Invalid { .. }), "{bad:?}");
        }
    }

    #[test]
    fn a_huge_value_cannot_flood_the_message() {
        // Found by fuzzing: serde's error in `expected` quoted the whole value.
        let raw = format!(
            r#"[{{"path_prefix":"/","backend":"{}"}}]"#,
            "x".repeat(10_000)
        );
        let msg = parse_route_pins(&raw).unwrap_err().to_string();
        assert!(msg.chars().count() < 400, "{} chars", msg.chars().count());
        assert!(msg.contains("route_pins") && msg.ends_with('…'), "{msg}");
    }

    #[test]
    fn percentage_missing_is_its_own_error() {
        assert_eq!(
            parse_percentage(None),
            Err(ConfigError::Missing {
                key: "traffic_percentage"
            })
        );
    }

    #[test]
    fn error_messages_name_key_and_value() {
        let msg = parse_percentage(Some("150")).unwrap_err().to_string();
        assert!(msg.contains("traffic_percentage"), "{msg}");
        assert!(msg.contains("\"150\""), "{msg}");
        assert!(msg.contains("0 to 100"), "{msg}");
        let msg = parse_percentage(None).unwrap_err().to_string();
        assert!(
            msg.contains("traffic_percentage") && msg.contains("not set"),
            "{msg}"
        );
        let long = "9".repeat(10_000);
        let msg = parse_percentage(Some(&long)).unwrap_err().to_string();
        assert!(msg.len() < 300, "{}", msg.len());
    }

    #[test]
    fn maintenance_values() {
        assert_eq!(parse_maintenance(None), Ok(Maintenance::Off));
        assert_eq!(parse_maintenance(Some("off")), Ok(Maintenance::Off));
        assert_eq!(parse_maintenance(Some("false")), Ok(Maintenance::Off));
        assert_eq!(parse_maintenance(Some("full")), Ok(Maintenance::Full));
        assert_eq!(parse_maintenance(Some("true")), Ok(Maintenance::Full));
        assert_eq!(
            parse_maintenance(Some(" Write_Freeze ")),
            Ok(Maintenance::WriteFreeze)
        );
        let err = parse_maintenance(Some("yes")).unwrap_err();
        assert_eq!(err.key(), "maintenance_mode");
        assert!(parse_maintenance(Some("")).is_err());
    }

    #[test]
    fn maintenance_serde_names() {
        assert_eq!(
            serde_json::to_string(&Maintenance::WriteFreeze).unwrap(),
            "\"write_freeze\""
        );
        assert_eq!(serde_json::to_string(&Maintenance::Off).unwrap(), "\"off\"");
        assert_eq!(serde_json::to_string(&Backend::App).unwrap(), "\"app\"");
        assert_eq!(
            serde_json::from_str::<Maintenance>("\"full\"").unwrap(),
            Maintenance::Full
        );
    }

    #[test]
    fn pins_valid_json() {
        let pins = parse_route_pins(
            r#"[{"method":"post","path_prefix":"/api/accounts/register/","backend":"legacy"},
                {"path_prefix":"/api/files/","backend":"app"},
                {"method":"*","path_prefix":"/x","backend":"app"}]"#,
        )
        .unwrap();
        assert_eq!(pins.len(), 3);
        assert_eq!(pins[0].method.as_deref(), Some("POST"));
        assert_eq!(pins[0].backend, Backend::Legacy);
        assert_eq!(pins[1].method, None);
        assert_eq!(pins[2].method, None);
        assert!(pins[0].matches("POST", "/api/accounts/register/"));
        assert!(pins[0].matches("post", "/api/accounts/register/x"));
        assert!(!pins[0].matches("GET", "/api/accounts/register/"));
        assert!(!pins[0].matches("POST", "/api/accounts/"));
        assert_eq!(parse_route_pins("[]"), Ok(vec![]));
    }

    #[test]
    fn pins_invalid_json() {
        for bad in [
            "",
            "nope",
            "{}",
            r#"[{"path_prefix":"/a"}]"#,
            r#"[{"path_prefix":"/a","backend":"blue"}]"#,
            r#"[{"methd":"POST","path_prefix":"/a","backend":"app"}]"#,
            r#"[{"path_prefix":"a/","backend":"app"}]"#,
            r#"[{"method":"PO ST","path_prefix":"/a","backend":"app"}]"#,
            r#"[{"method":"","path_prefix":"/a","backend":"app"}]"#,
        ] {
            let err = parse_route_pins(bad).unwrap_err();
            assert_eq!(err.key(), "route_pins", "{bad:?}");
        }
    }

    #[test]
    fn staging_hosts_json_or_comma_list() {
        assert_eq!(
            parse_staging_hosts(r#"["Staging.", "beta.example.com"]"#).unwrap(),
            vec!["staging.", "beta.example.com"]
        );
        assert_eq!(
            parse_staging_hosts(" staging. , Beta.Example.com,, ").unwrap(),
            vec!["staging.", "beta.example.com"]
        );
        assert_eq!(parse_staging_hosts("").unwrap(), Vec::<String>::new());
        assert!(parse_staging_hosts("[\"unterminated").is_err());
    }

    #[test]
    fn config_from_raw_all_good() {
        let raw = RawConfig {
            traffic_percentage: Some("25"),
            maintenance_mode: Some("write_freeze"),
            route_pins: Some(
                r#"[{"method":"POST","path_prefix":"/api/accounts/register/","backend":"legacy"}]"#,
            ),
            staging_hosts: Some("staging."),
            beta_header_enabled: Some("true"),
            beta_revoked: Some(r#"["abc"]"#),
        };
        let (cfg, errors) = config_from_raw(&raw, &RolloutConfig::all_legacy());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(cfg.percentage, 25);
        assert_eq!(cfg.maintenance, Maintenance::WriteFreeze);
        assert_eq!(cfg.pins.len(), 1);
        assert_eq!(cfg.staging_hosts, vec!["staging."]);
        assert!(cfg.beta_header_enabled);
        assert_eq!(cfg.beta_revoked, vec!["abc"]);
    }

    #[test]
    fn config_from_raw_fails_safe_per_key() {
        let defaults = RolloutConfig {
            percentage: 50,
            maintenance: Maintenance::WriteFreeze,
            pins: vec![RoutePin {
                method: None,
                path_prefix: "/d".into(),
                backend: Backend::App,
            }],
            staging_hosts: vec!["staging.".into()],
            beta_header_enabled: true,
            beta_revoked: Vec::new(),
            identity_hold_secs: 30,
        };
        let raw = RawConfig {
            traffic_percentage: Some("150"),
            maintenance_mode: Some("maybe"),
            route_pins: Some("not json"),
            staging_hosts: Some("[1, 2]"),
            beta_header_enabled: Some("perhaps"),
            beta_revoked: Some("id1,id2"),
        };
        let (cfg, errors) = config_from_raw(&raw, &defaults);
        assert_eq!(
            cfg.percentage, 0,
            "a bad percentage is never the default's 50"
        );
        assert_eq!(
            cfg.maintenance,
            Maintenance::WriteFreeze,
            "a freeze is not lifted by a typo"
        );
        assert!(cfg.pins.is_empty());
        assert_eq!(cfg.staging_hosts, defaults.staging_hosts);
        assert!(cfg.beta_header_enabled);
        let keys: Vec<_> = errors.iter().map(ConfigError::key).collect();
        assert_eq!(
            keys,
            vec![
                "traffic_percentage",
                "maintenance_mode",
                "route_pins",
                "staging_hosts",
                "beta_header_enabled",
                "beta_revoked"
            ]
        );
        assert!(cfg.beta_revoked.is_empty());
    }

    #[test]
    fn config_from_raw_absent_keys() {
        let defaults = RolloutConfig {
            staging_hosts: vec!["staging.".into()],
            beta_header_enabled: true,
            maintenance: Maintenance::Full,
            ..RolloutConfig::all_legacy()
        };
        let (cfg, errors) = config_from_raw(&RawConfig::default(), &defaults);
        assert_eq!(cfg.percentage, 0);
        assert_eq!(cfg.maintenance, Maintenance::Off, "absent means never set");
        assert!(cfg.pins.is_empty());
        assert_eq!(cfg.staging_hosts, vec!["staging."]);
        assert!(cfg.beta_header_enabled);
        assert_eq!(
            errors,
            vec![ConfigError::Missing {
                key: "traffic_percentage"
            }]
        );
    }

    #[test]
    fn all_legacy_is_the_default() {
        let cfg = RolloutConfig::all_legacy();
        assert_eq!(cfg, RolloutConfig::default());
        assert_eq!(cfg.percentage, 0);
        assert_eq!(cfg.maintenance, Maintenance::Off);
        assert!(cfg.pins.is_empty());
    }
}
