//! `dns`: the zone's DNS records (`deploy/dns.toml`) and the gateway's Workers
//! routes (its wrangler config's `routes`) made to exist through Cloudflare's API
//! (`/client/v4`, `Authorization: Bearer`). It lists first and sends only what is
//! missing (POST) or differs (PUT), so a second run sends no write. Every answer
//! is Cloudflare's envelope `{success, errors, messages, result}`; an error in it
//! fails the step with Cloudflare's messages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::files::read_toml;
use crate::percent::encode;
use crate::runbook::{Effect, RunLog};

/// A DNS record as `deploy/dns.toml` names it and Cloudflare's API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub content: String,
    #[serde(default)]
    pub proxied: bool,
    /// Seconds; 1 is Cloudflare's "automatic".
    #[serde(default = "automatic_ttl")]
    pub ttl: u32,
}

fn automatic_ttl() -> u32 {
    1
}

/// A record as the API lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Existing {
    pub id: String,
    #[serde(flatten)]
    pub record: Record,
}

/// A Workers route: requests matching `pattern` go to the Worker `script`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub pattern: String,
    pub script: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExistingRoute {
    pub id: String,
    pub pattern: String,
    #[serde(default)]
    pub script: Option<String>,
}

/// One environment of `deploy/dns.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvConfig {
    zone: String,
    /// The gateway's wrangler config, relative to the dns config.
    gateway_config: PathBuf,
    #[serde(default)]
    records: Vec<Record>,
}

/// What an environment needs: its zone, records and the gateway's routes.
#[derive(Debug)]
pub struct Desired {
    pub zone: String,
    pub records: Vec<Record>,
    pub routes: Vec<Route>,
}

/// Reads `env`'s part of the dns config and the gateway's routes in its wrangler
/// config; refuses placeholders, unknown record types and routes of other zones.
pub fn desired(config: &Path, env: &str) -> Result<Desired> {
    let mut envs: BTreeMap<String, EnvConfig> = read_toml(config, "dns config")?;
    let cfg = envs.remove(env).ok_or_else(|| {
        Error::Config(format!(
            "dns config {}: no [{env}] (it has {:?})",
            config.display(),
            envs.keys().collect::<Vec<_>>()
        ))
    })?;
    for r in &cfg.records {
        if !["A", "AAAA", "CNAME", "TXT"].contains(&r.kind.as_str()) {
            return Err(Error::Config(format!(
                "record {}: type {} is not managed here (A, AAAA, CNAME, TXT)",
                r.name, r.kind
            )));
        }
        if r.content.contains("REPLACE_ME") {
            return Err(Error::Config(format!(
                "record {} {}: the placeholder {} must be replaced",
                r.kind, r.name, r.content
            )));
        }
        if r.name != cfg.zone && !r.name.ends_with(&format!(".{}", cfg.zone)) {
            return Err(Error::Config(format!(
                "record {}: not in the zone {}",
                r.name, cfg.zone
            )));
        }
    }
    let wrangler = config
        .parent()
        .unwrap_or(Path::new("."))
        .join(&cfg.gateway_config);
    let routes = gateway_routes(&wrangler, env, &cfg.zone)?;
    Ok(Desired {
        zone: cfg.zone,
        records: cfg.records,
        routes,
    })
}

/// `[env.<env>]`'s `routes`, for the Worker its `name` deploys.
fn gateway_routes(wrangler: &Path, env: &str, zone: &str) -> Result<Vec<Route>> {
    let doc: toml::Table = read_toml(wrangler, "gateway config")?;
    let section = doc.get("env").and_then(|e| e.get(env)).ok_or_else(|| {
        Error::Config(format!(
            "gateway config {}: no [env.{env}]",
            wrangler.display()
        ))
    })?;
    let script = section
        .get("name")
        .and_then(|n| n.as_str())
        .ok_or_else(|| Error::Config(format!("gateway config [env.{env}]: no name")))?;
    let routes = section.get("routes").and_then(|r| r.as_array());
    routes
        .into_iter()
        .flatten()
        .map(|r| {
            let pattern = r.get("pattern").and_then(|p| p.as_str());
            let route_zone = r.get("zone_name").and_then(|z| z.as_str());
            match (pattern, route_zone) {
                (Some(p), Some(z)) if z == zone => Ok(Route {
                    pattern: p.to_string(),
                    script: script.to_string(),
                }),
                _ => Err(Error::Config(format!(
                    "gateway config [env.{env}]: route {r} is not a pattern of the zone {zone}"
                ))),
            }
        })
        .collect()
}

/// One API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: Method,
    /// Below the API base, e.g. `/zones/<id>/dns_records`.
    pub path: String,
    pub body: Option<Value>,
    /// The step's name in the run log.
    pub step: String,
}

impl Call {
    pub fn show(&self, base: &str) -> String {
        match &self.body {
            Some(body) => format!("{} {base}{} {body}", self.method, self.path),
            None => format!("{} {base}{}", self.method, self.path),
        }
    }
}

/// Whether two record types cannot share a name (a CNAME shares it with nothing).
fn clash(a: &str, b: &str) -> bool {
    a != b && (a == "CNAME" || b == "CNAME")
}

/// The writes that make `existing` hold `desired`: a record of the same type and
/// name that differs is overwritten (PUT), a missing one created (POST); a name
/// held by a record that cannot coexist with a desired one (a CNAME beside
/// anything) is refused before any write, as is a desired type twice on a name.
pub fn plan_records(zone_id: &str, desired: &[Record], existing: &[Existing]) -> Result<Vec<Call>> {
    let mut calls = Vec::new();
    for (i, want) in desired.iter().enumerate() {
        if desired[..i]
            .iter()
            .any(|d| d.name == want.name && (d.kind == want.kind || clash(&d.kind, &want.kind)))
        {
            return Err(Error::Config(format!(
                "dns config: {} {} clashes with another record of that name",
                want.kind, want.name
            )));
        }
        let on_name: Vec<&Existing> = existing
            .iter()
            .filter(|e| e.record.name == want.name)
            .collect();
        if let Some(other) = on_name.iter().find(|e| clash(&e.record.kind, &want.kind)) {
            return Err(Error::Refused(format!(
                "{} {} cannot be added beside the zone's {} {} -> {} (id {}): remove that record or list it in the dns config",
                want.kind, want.name, other.record.kind, other.record.name, other.record.content, other.id
            )));
        }
        // An address of the other family left unproxied would send part of the
        // clients around the route (e.g. the legacy server's A record).
        if let Some(other) = on_name.iter().find(|e| {
            want.proxied
                && !e.record.proxied
                && e.record.kind != want.kind
                && e.record.kind != "TXT"
        }) {
            return Err(Error::Refused(format!(
                "{} {} is unproxied (-> {}, id {}): clients would bypass the route; proxy or remove it, or list it in the dns config",
                other.record.kind, other.record.name, other.record.content, other.id
            )));
        }
        let step = format!("record {} {}", want.kind, want.name);
        let body = Some(json!(want));
        match on_name.iter().find(|e| e.record.kind == want.kind) {
            Some(have) if have.record == *want => {}
            Some(have) => calls.push(Call {
                method: Method::PUT,
                path: format!("/zones/{zone_id}/dns_records/{}", have.id),
                body,
                step,
            }),
            None => calls.push(Call {
                method: Method::POST,
                path: format!("/zones/{zone_id}/dns_records"),
                body,
                step,
            }),
        }
    }
    Ok(calls)
}

/// The writes that route each desired pattern to its Worker.
pub fn plan_routes(zone_id: &str, desired: &[Route], existing: &[ExistingRoute]) -> Vec<Call> {
    desired
        .iter()
        .filter_map(|want| {
            let step = format!("route {}", want.pattern);
            let body = Some(json!(want));
            match existing.iter().find(|e| e.pattern == want.pattern) {
                Some(have) if have.script.as_deref() == Some(&want.script) => None,
                Some(have) => Some(Call {
                    method: Method::PUT,
                    path: format!("/zones/{zone_id}/workers/routes/{}", have.id),
                    body,
                    step,
                }),
                None => Some(Call {
                    method: Method::POST,
                    path: format!("/zones/{zone_id}/workers/routes"),
                    body,
                    step,
                }),
            }
        })
        .collect()
}

/// Cloudflare's API with a token.
pub struct Cloudflare {
    pub base: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Cloudflare {
    pub fn new(base: &str, token: &str) -> Result<Cloudflare> {
        Ok(Cloudflare {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(Error::Client)?,
        })
    }

    /// One request; the envelope's `result`, or its errors.
    pub fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let shown = format!("{method} {path}");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let unanswered = |source| Error::Unanswered {
            call: shown.clone(),
            source,
        };
        let resp = req.send().map_err(unanswered)?;
        let status = resp.status().as_u16();
        let text = resp.text().map_err(unanswered)?;
        let envelope: Value = serde_json::from_str(&text).map_err(|_| Error::NotEnvelope {
            call: shown.clone(),
            status,
            excerpt: text.chars().take(200).collect(),
        })?;
        if envelope["success"] == true && (200..300).contains(&status) {
            return Ok(envelope["result"].clone());
        }
        let errors: Vec<String> = envelope["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{} (code {})",
                    e["message"].as_str().unwrap_or("?"),
                    e["code"]
                )
            })
            .collect();
        Err(Error::Status {
            call: shown,
            status,
            message: errors.join("; "),
        })
    }

    fn list<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Vec<T>> {
        serde_json::from_value(self.call(Method::GET, path, None)?).map_err(|source| Error::Json {
            what: Some(format!("GET {path}")),
            source,
        })
    }
}

/// `cutover dns`: looks up the zone, lists its records of the desired names and
/// its routes, then sends each write as a step. A dry run sends nothing, not even
/// the reads (it works offline): it prints them, and the writes for a zone that
/// holds none of the desired records and routes yet.
pub fn run(cf: &Cloudflare, want: &Desired, log: &mut RunLog, dry_run: bool) -> Result<()> {
    let zone_lookup = format!("/zones?name={}", encode(&want.zone));
    let names: Vec<&String> = {
        let mut n: Vec<&String> = want.records.iter().map(|r| &r.name).collect();
        n.sort();
        n.dedup();
        n
    };
    let (zone_id, records, routes) = if dry_run {
        let zone_id = format!("<id of {}>", want.zone);
        eprintln!("dns: would GET {}{zone_lookup}", cf.base);
        for name in &names {
            eprintln!(
                "dns: would GET {}/zones/{zone_id}/dns_records?name={}&per_page=100",
                cf.base,
                encode(name)
            );
        }
        eprintln!("dns: would GET {}/zones/{zone_id}/workers/routes", cf.base);
        eprintln!("dns: then, for a zone without any of them yet:");
        (zone_id, Vec::new(), Vec::new())
    } else {
        let mut zone_id = String::new();
        let mut records: Vec<Existing> = Vec::new();
        let mut routes: Vec<ExistingRoute> = Vec::new();
        log.step(
            "list",
            Effect::Reads,
            "look up the zone, its records and routes",
            || {
                #[derive(Deserialize)]
                struct Zone {
                    id: String,
                }
                let zones: Vec<Zone> = cf.list(&zone_lookup)?;
                zone_id = zones
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        Error::Check(format!(
                            "no zone {} in this account (or the token cannot see it)",
                            want.zone
                        ))
                    })?
                    .id;
                for name in &names {
                    records.extend(cf.list::<Existing>(&format!(
                        "/zones/{zone_id}/dns_records?name={}&per_page=100",
                        encode(name)
                    ))?);
                }
                routes = cf.list(&format!("/zones/{zone_id}/workers/routes"))?;
                Ok(format!(
                    "zone {} ({zone_id}): {} records of those names, {} routes",
                    want.zone,
                    records.len(),
                    routes.len()
                ))
            },
        )?;
        (zone_id, records, routes)
    };
    let mut calls = plan_records(&zone_id, &want.records, &records)?;
    calls.extend(plan_routes(&zone_id, &want.routes, &routes));
    if calls.is_empty() {
        eprintln!("dns: every record and route is as configured; nothing to send");
    }
    for call in &calls {
        log.step(&call.step, Effect::Changes, &call.show(&cf.base), || {
            let result = cf.call(call.method.clone(), &call.path, call.body.as_ref())?;
            let done = if call.method == Method::POST {
                "created"
            } else {
                "updated"
            };
            Ok(format!(
                "{done} (id {})",
                result["id"].as_str().unwrap_or("?")
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: &str, name: &str, content: &str) -> Record {
        Record {
            kind: kind.into(),
            name: name.into(),
            content: content.into(),
            proxied: true,
            ttl: 1,
        }
    }

    fn have(id: &str, r: Record) -> Existing {
        Existing {
            id: id.into(),
            record: r,
        }
    }

    #[test]
    fn missing_records_are_created_differing_ones_overwritten_equal_ones_left() {
        let want = [
            rec("AAAA", "a.example.com", "100::"),
            rec("AAAA", "b.example.com", "100::"),
            rec("A", "c.example.com", "192.0.2.1"),
        ];
        let mut stale = rec("AAAA", "b.example.com", "100::");
        stale.proxied = false;
        let existing = [
            have("r1", rec("A", "c.example.com", "192.0.2.1")),
            have("r2", stale),
        ];
        let calls = plan_records("z", &want, &existing).unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(
            (calls[0].method.as_str(), calls[0].path.as_str()),
            ("POST", "/zones/z/dns_records")
        );
        assert_eq!(
            calls[0].body.as_ref().unwrap(),
            &json!({"type": "AAAA", "name": "a.example.com", "content": "100::", "proxied": true, "ttl": 1})
        );
        assert_eq!(
            (calls[1].method.as_str(), calls[1].path.as_str()),
            ("PUT", "/zones/z/dns_records/r2")
        );
        assert_eq!(calls[1].step, "record AAAA b.example.com");
    }

    #[test]
    fn a_cname_in_the_way_is_refused_before_any_write() {
        let want = [
            rec("AAAA", "a.example.com", "100::"),
            rec("A", "b.example.com", "192.0.2.1"),
        ];
        let existing = [have(
            "r9",
            rec("CNAME", "b.example.com", "elsewhere.example.net"),
        )];
        let err = plan_records("z", &want, &existing).unwrap_err().to_string();
        assert!(
            err.contains("CNAME b.example.com") && err.contains("r9"),
            "{err}"
        );
        let twice = [
            rec("A", "a.example.com", "192.0.2.1"),
            rec("A", "a.example.com", "192.0.2.2"),
        ];
        assert!(plan_records("z", &twice, &[]).is_err());
        let mut legacy = rec("A", "a.example.com", "192.0.2.7");
        legacy.proxied = false;
        let err = plan_records("z", &want[..1], &[have("r3", legacy)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("bypass"), "{err}");
        // A and AAAA share a name.
        let both = [
            rec("A", "a.example.com", "192.0.2.1"),
            rec("AAAA", "a.example.com", "100::"),
        ];
        assert_eq!(plan_records("z", &both, &[]).unwrap().len(), 2);
    }

    #[test]
    fn routes_are_added_or_pointed_at_the_worker() {
        let want = [
            Route {
                pattern: "example.com/*".into(),
                script: "gw".into(),
            },
            Route {
                pattern: "www.example.com/*".into(),
                script: "gw".into(),
            },
            Route {
                pattern: "api.example.com/*".into(),
                script: "gw".into(),
            },
        ];
        let existing = [
            ExistingRoute {
                id: "1".into(),
                pattern: "example.com/*".into(),
                script: Some("gw".into()),
            },
            ExistingRoute {
                id: "2".into(),
                pattern: "www.example.com/*".into(),
                script: None,
            },
        ];
        let calls = plan_routes("z", &want, &existing);
        assert_eq!(
            calls
                .iter()
                .map(|c| (c.method.as_str(), c.path.as_str()))
                .collect::<Vec<_>>(),
            [
                ("PUT", "/zones/z/workers/routes/2"),
                ("POST", "/zones/z/workers/routes")
            ]
        );
        assert_eq!(
            calls[1].body.as_ref().unwrap(),
            &json!({"pattern": "api.example.com/*", "script": "gw"})
        );
    }

    #[test]
    fn the_repository_config_names_the_gateway_routes_of_each_environment() {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/dns.toml");
        let staging = desired(&config, "staging").unwrap();
        assert_eq!(staging.zone, "list-cutter.com");
        assert!(staging
            .routes
            .iter()
            .any(|r| r.pattern == "staging.list-cutter.com/*"
                && r.script == "list-cutter-gateway-staging"));
        // Every routed host has a proxied record, or its requests never reach the route.
        for route in &staging.routes {
            let host = route.pattern.trim_end_matches("/*");
            assert!(
                staging.records.iter().any(|r| r.name == host && r.proxied),
                "{host}"
            );
        }
        let production = desired(&config, "production").unwrap();
        assert_eq!(production.routes.len(), 3);
        assert!(desired(&config, "nowhere")
            .unwrap_err()
            .to_string()
            .contains("no [nowhere]"));
    }
}
