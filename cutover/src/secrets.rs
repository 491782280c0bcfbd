//! `secrets`: `wrangler secret put NAME --env E -c CONFIG` for every secret each
//! Worker of an environment needs (`deploy/secrets.toml`), each value read from a
//! dotenv file or the environment and handed to wrangler on stdin. A value is
//! never shown: not in the steps, the report, an error or a dry run (only its
//! length and the start of its SHA-256), and wrangler's own output is shown with
//! every value blanked out. Every value must be there before anything is sent.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use sha2::Digest;

use crate::deploy::output_of;
use crate::error::{Error, Result};
use crate::files::read_toml;
use crate::runbook::{Effect, RunLog};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    worker: Vec<Worker>,
}

/// A Worker's config and the secrets it reads; `envs` maps an environment of
/// this command to the config's environments (production's app is two Workers).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Worker {
    config: PathBuf,
    secrets: Vec<String>,
    envs: BTreeMap<String, Vec<String>>,
}

/// One `wrangler secret put`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    pub name: String,
    pub env: String,
    pub config: PathBuf,
}

impl Put {
    fn args(&self) -> Vec<String> {
        vec![
            "secret".into(),
            "put".into(),
            self.name.clone(),
            "--env".into(),
            self.env.clone(),
            "-c".into(),
            self.config.display().to_string(),
        ]
    }
}

/// Every put `env` needs, in the spec's order; config paths are relative to the spec.
pub fn plan(spec_path: &Path, env: &str) -> Result<Vec<Put>> {
    let spec: Spec = read_toml(spec_path, "secrets spec")?;
    let dir = spec_path.parent().unwrap_or(Path::new("."));
    let mut puts = Vec::new();
    for w in &spec.worker {
        let Some(targets) = w.envs.get(env) else {
            continue;
        };
        for target in targets {
            for name in &w.secrets {
                puts.push(Put {
                    name: name.clone(),
                    env: target.clone(),
                    config: dir.join(&w.config),
                });
            }
        }
    }
    if puts.is_empty() {
        return Err(Error::Config(format!(
            "secrets spec {}: no Worker has secrets for {env:?}",
            spec_path.display()
        )));
    }
    Ok(puts)
}

/// `NAME=value` lines (`export ` allowed, `#` comments, blank lines), values
/// optionally in single quotes (taken as they are) or double quotes (`\n`, `\"`,
/// `\\` unescaped). An error names the line, never its text: it may hold a secret.
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let bad = |why| Error::DotenvLine { line: n + 1, why };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (name, raw) = line.split_once('=').ok_or_else(|| bad("not NAME=value"))?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad("the name is not a variable name"));
        }
        let raw = raw.trim();
        let value = if let Some(inner) = raw.strip_prefix('\'') {
            inner
                .strip_suffix('\'')
                .ok_or_else(|| bad("unterminated single quote"))?
                .to_string()
        } else if let Some(inner) = raw.strip_prefix('"') {
            let inner = inner
                .strip_suffix('"')
                .ok_or_else(|| bad("unterminated double quote"))?;
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match (c, c == '\\') {
                    (_, true) => match chars.next() {
                        Some('n') => out.push('\n'),
                        Some(e @ ('"' | '\\')) => out.push(e),
                        _ => return Err(bad("unknown escape in double quotes")),
                    },
                    (c, false) => out.push(c),
                }
            }
            out
        } else {
            // Unquoted: up to a ` #` comment.
            raw.split(" #").next().unwrap_or("").trim_end().to_string()
        };
        values.insert(name.to_string(), value);
    }
    Ok(values)
}

/// What may be shown of a value: its length and the start of its SHA-256.
pub fn fingerprint(value: &str) -> String {
    let hash = hex::encode(sha2::Sha256::digest(value.as_bytes()));
    format!("{} bytes, sha256 {}…", value.len(), &hash[..8])
}

/// `text` with every value blanked out.
fn redact(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for v in values.values().filter(|v| !v.is_empty()) {
        out = out.replace(v.as_str(), "[secret]");
    }
    out
}

/// The value of each name the puts need, from `from` (a dotenv file) or else
/// the environment; every missing or empty one is named in one error.
pub fn values(puts: &[Put], from: Option<&Path>) -> Result<BTreeMap<String, String>> {
    let file = from.map(read_dotenv).transpose()?;
    let mut found = BTreeMap::new();
    let mut missing = Vec::new();
    for put in puts {
        if found.contains_key(&put.name) || missing.contains(&put.name) {
            continue;
        }
        let value = match &file {
            Some(values) => values.get(&put.name).cloned(),
            None => std::env::var(&put.name).ok(),
        };
        match value.filter(|v| !v.is_empty()) {
            Some(v) => {
                found.insert(put.name.clone(), v);
            }
            None => missing.push(put.name.clone()),
        }
    }
    if !missing.is_empty() {
        let source = from.map_or("the environment".to_string(), |p| p.display().to_string());
        return Err(Error::Refused(format!(
            "no value for {} in {source}; nothing was sent",
            missing.join(", ")
        )));
    }
    Ok(found)
}

/// The values of a dotenv file.
fn read_dotenv(path: &Path) -> Result<BTreeMap<String, String>> {
    const ROLE: &str = "secrets file";
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        role: Some(ROLE),
        path: path.to_path_buf(),
        source,
    })?;
    parse_dotenv(&text).map_err(|e| Error::Parse {
        role: ROLE,
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}

/// Runs each put as a step, the value on wrangler's stdin.
pub fn run(
    wrangler: &Path,
    puts: &[Put],
    values: &BTreeMap<String, String>,
    log: &mut RunLog,
) -> Result<()> {
    for put in puts {
        let value = &values[&put.name];
        let shown = format!("{} {}", wrangler.display(), put.args().join(" "));
        let what = format!("{shown} < value of {} ({})", put.name, fingerprint(value));
        let step = format!("{} ({} {})", put.name, put.config.display(), put.env);
        log.step(&step, Effect::Changes, &what, || {
            let failed = |source| Error::Spawn {
                program: wrangler.display().to_string(),
                source,
            };
            let mut child = Command::new(wrangler)
                .args(put.args())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(failed)?;
            // A failed write (wrangler gone early) shows in its exit status.
            let _ = child
                .stdin
                .take()
                .expect("stdin is piped")
                .write_all(value.as_bytes());
            let out = child.wait_with_output().map_err(failed)?;
            let said = redact(&output_of(&out), values);
            match out.status.success() {
                true => Ok(format!("set ({})", fingerprint(value))),
                false => Err(Error::CommandFailed {
                    program: Some("wrangler"),
                    status: out.status,
                    output: said.trim().to_string(),
                }),
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_takes_plain_quoted_and_exported_values() {
        let text = "# a comment\n\nA=plain value # note\nexport B='single $x \\n'\nC=\"dq \\\"x\\\" \\\\ \\n end\"\nD=\n";
        let v = parse_dotenv(text).unwrap();
        assert_eq!(v["A"], "plain value");
        assert_eq!(v["B"], "single $x \\n");
        assert_eq!(v["C"], "dq \"x\" \\ \n end");
        assert_eq!(v["D"], "");
    }

    #[test]
    fn a_bad_dotenv_line_is_named_by_number_never_by_its_text() {
        for bad in [
            "SECRET_VALUE_NO_EQUALS",
            "A B=hunter2",
            "X=\"hunter2",
            "X='hunter2",
        ] {
            let err = parse_dotenv(&format!("OK=1\n{bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("line 2:"), "{err}");
            assert!(
                !err.contains("hunter2") && !err.contains("SECRET_VALUE"),
                "{err}"
            );
        }
    }

    #[test]
    fn missing_values_are_all_named_before_anything_is_sent() {
        let put = |name: &str| Put {
            name: name.into(),
            env: "production".into(),
            config: "w.toml".into(),
        };
        let dir = std::env::temp_dir().join(format!("secrets-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("values.env");
        std::fs::write(&file, "A=1\nC=\n").unwrap();
        let err = values(&[put("A"), put("B"), put("C"), put("A")], Some(&file))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("no value for B, C in"), "{err}");
        let got = values(&[put("A"), put("A")], Some(&file)).unwrap();
        assert_eq!(got.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_repository_spec_gives_both_production_app_slots_the_app_secrets() {
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/secrets.toml");
        let puts = plan(&spec, "production").unwrap();
        for env in ["production", "production-green"] {
            for name in ["JWT_SECRET", "ADMIN_API_TOKEN"] {
                assert!(
                    puts.iter().any(|p| p.name == name
                        && p.env == env
                        && p.config.ends_with("wrangler.app.toml")),
                    "{name} {env}"
                );
            }
        }
        assert!(puts
            .iter()
            .any(|p| p.name == "ROUTING_SECRET" && p.config.ends_with("wrangler.gateway.toml")));
        assert!(plan(&spec, "nowhere").is_err());
    }

    #[test]
    fn output_is_shown_with_values_blanked() {
        let values = BTreeMap::from([("A".to_string(), "s3cret".to_string())]);
        assert_eq!(
            redact("got s3cret twice: s3cret", &values),
            "got [secret] twice: [secret]"
        );
        assert!(!fingerprint("s3cret").contains("s3cret"));
    }
}
