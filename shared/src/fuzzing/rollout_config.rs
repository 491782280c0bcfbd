//! The rollout config (`routing::config_from_raw`): any KV values build a config
//! (never failing as a whole), every problem names its key, and the config written
//! back as KV values reads back equal with no problem; so does its JSON form.

use crate::routing::{config_from_raw, ConfigError, RawConfig, RolloutConfig};

use super::Input;

/// Input: up to six values (`traffic_percentage`, `maintenance_mode`, `route_pins`,
/// `staging_hosts`, `beta_header_enabled`, `beta_revoked`), `0xFF`-separated; a
/// lone `0x00` is an absent key.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let mut values: Vec<Option<&str>> = Vec::new();
    for _ in 0..6 {
        let value = input.until(0xFF);
        if value == b"\0" {
            values.push(None);
            continue;
        }
        match std::str::from_utf8(value) {
            Ok(text) => values.push(Some(text)),
            Err(_) => return,
        }
    }
    let raw = RawConfig {
        traffic_percentage: values[0],
        maintenance_mode: values[1],
        route_pins: values[2],
        staging_hosts: values[3],
        beta_header_enabled: values[4],
        beta_revoked: values[5],
    };
    let defaults = RolloutConfig {
        percentage: 40,
        beta_header_enabled: true,
        staging_hosts: vec!["staging.".into()],
        ..RolloutConfig::all_legacy()
    };
    let (config, errors) = config_from_raw(&raw, &defaults);
    assert_eq!(
        config_from_raw(&raw, &defaults),
        (config.clone(), errors.clone()),
        "deterministic"
    );
    assert!(config.percentage <= 100, "a percentage is at most 100");
    let keys: Vec<&str> = errors.iter().map(ConfigError::key).collect();
    for (key, value) in [
        ("traffic_percentage", raw.traffic_percentage),
        ("maintenance_mode", raw.maintenance_mode),
        ("route_pins", raw.route_pins),
        ("staging_hosts", raw.staging_hosts),
        ("beta_header_enabled", raw.beta_header_enabled),
        ("beta_revoked", raw.beta_revoked),
    ] {
        assert!(
            keys.iter().filter(|k| **k == key).count() <= 1,
            "one problem per key"
        );
        if value.is_none() && key != "traffic_percentage" {
            assert!(!keys.contains(&key), "an absent {key} is no problem");
        }
    }
    if keys.contains(&"traffic_percentage") {
        assert_eq!(config.percentage, 0, "a bad percentage means all legacy");
    }
    for error in &errors {
        let message = error.to_string();
        assert!(message.contains(error.key()), "{message:?} names its key");
        assert!(
            message.chars().count() < 1_000,
            "a message quotes a bounded part"
        );
    }
    for pin in &config.pins {
        assert!(pin.path_prefix.starts_with('/'), "pins start with /");
        if let Some(m) = &pin.method {
            assert!(!m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()));
        }
    }

    // Written back as KV values, it reads back equal, with no problem.
    let percentage = config.percentage.to_string();
    let pins = serde_json::to_string(&config.pins).unwrap();
    let hosts = serde_json::to_string(&config.staging_hosts).unwrap();
    let flag = config.beta_header_enabled.to_string();
    let revoked = serde_json::to_string(&config.beta_revoked).unwrap();
    let written = RawConfig {
        traffic_percentage: Some(&percentage),
        maintenance_mode: Some(config.maintenance.as_str()),
        route_pins: Some(&pins),
        staging_hosts: Some(&hosts),
        beta_header_enabled: Some(&flag),
        beta_revoked: Some(&revoked),
    };
    assert_eq!(
        config_from_raw(&written, &RolloutConfig::all_legacy()),
        (config.clone(), Vec::new()),
        "the config written back reads back equal"
    );
    let json = serde_json::to_string(&config).unwrap();
    let back: RolloutConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, config, "the JSON form reads back equal");
}
