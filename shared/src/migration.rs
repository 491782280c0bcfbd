//! The records the cutover moves between the legacy side (PostgreSQL + media
//! folder) and the app (D1 + R2), their validation, and the decisions an import
//! makes for each one. Pure, so that the app's import API and the operator CLI
//! agree on every rule and both are unit-tested natively.

use std::collections::HashMap;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

use crate::files::{union_tags, CUT_FROM, CUT_TO};

pub mod bundle;
pub mod changes;

/// Most records one import request may carry (D1 binds each batch as one JSON
/// parameter, so the limit is about request size and time, not SQL parameters).
pub const MAX_BATCH: usize = 500;

/// A user as both sides store it: Django's `auth_user` fields the app keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    #[serde(default)]
    pub email: String,
    /// Django's `pbkdf2_sha256$...` hash, copied as it is.
    pub password: String,
    pub is_active: bool,
    /// Django's `is_staff`.
    pub is_admin: bool,
    /// Django's `date_joined`, RFC 3339 UTC.
    pub created_at: String,
    #[serde(default)]
    pub last_login: Option<String>,
}

/// A saved file's row; its bytes travel separately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub file_id: String,
    pub user_id: i64,
    pub file_name: String,
    #[serde(default)]
    pub system_tags: Vec<String>,
    #[serde(default)]
    pub user_tags: Vec<String>,
    /// What the client posted (legacy kept generated files' metadata as a JSON string).
    #[serde(default)]
    pub metadata: Option<String>,
    pub uploaded_at: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
}

/// One lineage row as the app stores it: `child` was cut from `parent`; each cut
/// has a `CUT_TO` and a `CUT_FROM` row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EdgeRecord {
    pub parent_id: String,
    pub child_id: String,
    pub relationship: String,
}

impl EdgeRecord {
    /// The app row of a legacy graph edge: `(A)-[:CUT_TO]->(B)` and
    /// `(B)-[:CUT_FROM]->(A)` both mean B was cut from A.
    pub fn from_legacy(source: &str, target: &str, kind: &str) -> Option<EdgeRecord> {
        let (parent, child) = match kind {
            CUT_TO => (source, target),
            CUT_FROM => (target, source),
            _ => return None,
        };
        Some(EdgeRecord {
            parent_id: parent.to_string(),
            child_id: child.to_string(),
            relationship: kind.to_string(),
        })
    }

    /// `(source, target)` of the legacy graph edge.
    pub fn to_legacy(&self) -> (&str, &str) {
        if self.relationship == CUT_TO {
            (&self.parent_id, &self.child_id)
        } else {
            (&self.child_id, &self.parent_id)
        }
    }
}

/// A file id usable in an R2 key: legacy's are UUIDs; anything of 1..=64
/// letters, digits, `-` and `_` is accepted, nothing that could leave the prefix.
pub fn valid_file_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn valid_sha256(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An RFC 3339 timestamp.
pub fn valid_timestamp(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// Why a user record cannot be imported. Imported ids stay below the app's
/// `USER_ID_OFFSET`: ids above it are the app's own.
pub fn check_user(u: &UserRecord, user_id_offset: i64) -> Result<(), String> {
    if u.id <= 0 || u.id >= user_id_offset {
        return Err(format!(
            "user {}: id must be within 1..{user_id_offset} (the app allocates ids from USER_ID_OFFSET up)",
            u.id
        ));
    }
    if u.username.is_empty() || u.username.chars().count() > 150 {
        return Err(format!("user {}: username must be 1..150 characters", u.id));
    }
    if u.password.is_empty() {
        return Err(format!("user {}: password hash is empty", u.id));
    }
    if !valid_timestamp(&u.created_at) {
        return Err(format!("user {}: created_at is not RFC 3339", u.id));
    }
    if u.last_login.as_deref().is_some_and(|t| !valid_timestamp(t)) {
        return Err(format!("user {}: last_login is not RFC 3339", u.id));
    }
    Ok(())
}

pub fn check_file(f: &FileRecord) -> Result<(), String> {
    let id = &f.file_id;
    if !valid_file_id(id) {
        return Err(format!(
            "file {id:?}: file_id must be 1..64 of [A-Za-z0-9_-]"
        ));
    }
    if f.user_id <= 0 {
        return Err(format!("file {id}: user_id must be positive"));
    }
    if f.file_name.is_empty() || f.file_name.chars().count() > 255 {
        return Err(format!("file {id}: file_name must be 1..255 characters"));
    }
    if !valid_sha256(&f.sha256) {
        return Err(format!(
            "file {id}: sha256 must be 64 lower-case hex digits"
        ));
    }
    if !valid_timestamp(&f.uploaded_at) {
        return Err(format!("file {id}: uploaded_at is not RFC 3339"));
    }
    Ok(())
}

pub fn check_edge(e: &EdgeRecord) -> Result<(), String> {
    if !valid_file_id(&e.parent_id) || !valid_file_id(&e.child_id) {
        return Err(format!(
            "relationship {} -> {}: ids must be file ids",
            e.parent_id, e.child_id
        ));
    }
    if e.parent_id == e.child_id {
        return Err(format!(
            "relationship {0} -> {0}: a file cannot be cut from itself",
            e.parent_id
        ));
    }
    if e.relationship != CUT_TO && e.relationship != CUT_FROM {
        return Err(format!(
            "relationship {} -> {}: type must be CUT_TO or CUT_FROM",
            e.parent_id, e.child_id
        ));
    }
    Ok(())
}

/// The records under `key` of a JSON request body, each checked by `check`; the
/// first problem (naming the record) refuses the whole batch.
pub fn parse_batch<T: DeserializeOwned>(
    body: &Value,
    key: &str,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<Vec<T>, String> {
    let items = body
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("expected {{\"{key}\": [...]}}"))?;
    if items.len() > MAX_BATCH {
        return Err(format!("at most {MAX_BATCH} {key} per request"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let record: T =
                serde_json::from_value(item.clone()).map_err(|e| format!("{key}[{i}]: {e}"))?;
            check(&record).map_err(|e| format!("{key}[{i}]: {e}"))?;
            Ok(record)
        })
        .collect()
}

/// What an import does with one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    /// The record's bytes must be sent (new file, or changed content).
    NeedsContent,
    /// Not imported; the reason says why (never overwritten).
    Conflict(String),
    /// Not imported: it refers to something absent (an owner, a file).
    Missing(String),
}

impl Outcome {
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::NeedsContent => "needs_content",
            Outcome::Conflict(_) => "conflict",
            Outcome::Missing(_) => "missing",
        }
    }

    /// `{"status": ..., "detail"?: ...}` with `id` under `id_key`.
    pub fn to_json(&self, id_key: &str, id: Value) -> Value {
        let mut v = serde_json::json!({ id_key: id, "status": self.status() });
        if let Outcome::Conflict(d) | Outcome::Missing(d) = self {
            v["detail"] = Value::from(d.as_str());
        }
        v
    }
}

/// The decision for an incoming legacy user given the app's rows with the same
/// id or username. `last_login` is not compared (a login on either side moves
/// it); an update keeps the later of the two.
pub fn user_outcome(
    incoming: &UserRecord,
    same_id: Option<&UserRecord>,
    same_name: Option<&UserRecord>,
) -> Outcome {
    if let Some(other) = same_name.filter(|o| o.id != incoming.id) {
        return Outcome::Conflict(format!(
            "username {:?} is user {} on the app, user {} on legacy",
            incoming.username, other.id, incoming.id
        ));
    }
    match same_id {
        None => Outcome::Created,
        Some(existing) => {
            let strip = |u: &UserRecord| UserRecord {
                last_login: None,
                ..u.clone()
            };
            if strip(existing) == strip(incoming) {
                Outcome::Unchanged
            } else {
                Outcome::Updated
            }
        }
    }
}

/// The later of two optional RFC 3339 timestamps.
pub fn later(a: Option<&str>, b: Option<&str>) -> Option<String> {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    match (a, b) {
        (Some(a), Some(b)) => Some(if parse(a) >= parse(b) { a } else { b }.to_string()),
        (a, b) => a.or(b).map(str::to_string),
    }
}

/// An app `files` row as the import compares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    pub record: FileRecord,
    /// `legacy` (imported) or `app` (created on the app).
    pub origin: String,
}

/// The decision for an incoming legacy file and the row merged from both
/// sides (`user_tags` are a union: tags added on the app survive a sync).
pub fn file_outcome(
    incoming: &FileRecord,
    existing: Option<&StoredFile>,
    owner_exists: bool,
) -> (Outcome, Option<FileRecord>) {
    let Some(stored) = existing else {
        if !owner_exists {
            return (
                Outcome::Missing(format!("owner user {} is not on the app", incoming.user_id)),
                None,
            );
        }
        return (Outcome::NeedsContent, None);
    };
    let current = &stored.record;
    if current.user_id != incoming.user_id {
        return (
            Outcome::Conflict(format!(
                "file {} belongs to user {} on the app, {} on legacy",
                incoming.file_id, current.user_id, incoming.user_id
            )),
            None,
        );
    }
    if stored.origin != "legacy" {
        // The app's own file (written back to legacy by reverse-sync): the app
        // stays its source of truth, but tags added on legacy join its own.
        let merged = FileRecord {
            user_tags: union_tags(&current.user_tags, &incoming.user_tags),
            ..current.clone()
        };
        return match &merged == current {
            true => (Outcome::Unchanged, None),
            false => (Outcome::Updated, Some(merged)),
        };
    }
    if current.sha256 != incoming.sha256 || current.size != incoming.size {
        return (Outcome::NeedsContent, None);
    }
    let merged = FileRecord {
        user_tags: union_tags(&incoming.user_tags, &current.user_tags),
        ..incoming.clone()
    };
    if &merged == current {
        (Outcome::Unchanged, None)
    } else {
        (Outcome::Updated, Some(merged))
    }
}

/// Indexes records by a key.
pub fn index_by<T: Clone, K: std::hash::Hash + Eq>(
    items: &[T],
    key: impl Fn(&T) -> K,
) -> HashMap<K, T> {
    items.iter().map(|t| (key(t), t.clone())).collect()
}

/// `k` distinct indices of `0..n` chosen by `seed` (all of them when `k >= n`),
/// in ascending order: verify's random sample of files.
pub fn sample_indices(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    if k >= n {
        return all;
    }
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    // Partial Fisher-Yates with xorshift64: a sample, not cryptography.
    for i in 0..k {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = i + (state % (n - i) as u64) as usize;
        all.swap(i, j);
    }
    let mut picked = all[..k].to_vec();
    picked.sort_unstable();
    picked
}

/// Where a legacy database keeps lineage: its `list_cutter_filerelationship` table,
/// or (the Neo4j era, before that table existed) only each generated file's
/// `metadata` string, whose `generated_file_details.original_file_id` names the
/// file it was cut from. Neo4j itself is not migrated; the metadata is what is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineageSource {
    Table,
    Metadata,
}

/// The original a generated file's metadata names, if any.
pub fn original_in_metadata(metadata: &str) -> Option<String> {
    let value: Value = serde_json::from_str(metadata).ok()?;
    let id = value
        .get("generated_file_details")?
        .get("original_file_id")?
        .as_str()?
        .trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// The app's lineage rows of `child` from its legacy metadata: a `CUT_TO` and a
/// `CUT_FROM` row from the original it names (none when it names none or itself).
pub fn edges_from_metadata(child: &str, metadata: &str) -> Vec<EdgeRecord> {
    match original_in_metadata(metadata) {
        Some(parent) if parent != child => [CUT_TO, CUT_FROM]
            .into_iter()
            .map(|kind| EdgeRecord {
                parent_id: parent.clone(),
                child_id: child.to_string(),
                relationship: kind.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `metadata` naming `parent` as the file it was cut from, the way the Neo4j-era
/// legacy reads it (`generated_file_details.original_file_id`); the cut's own
/// `columns` and `filters` are copied in as `columns`/`column_filters` when the
/// details lack them. `None` when it already names `parent`. Metadata that is not
/// a JSON object is kept under `generated_file_details.app_metadata`.
pub fn metadata_with_original(metadata: Option<&str>, parent: &str) -> Option<String> {
    if metadata.and_then(original_in_metadata).as_deref() == Some(parent) {
        return None;
    }
    let parsed = metadata.map(serde_json::from_str::<Value>);
    let mut root = match parsed {
        Some(Ok(Value::Object(map))) => map,
        Some(_) => {
            let mut map = serde_json::Map::new();
            map.insert(
                "generated_file_details".into(),
                serde_json::json!({ "app_metadata": metadata }),
            );
            map
        }
        None => serde_json::Map::new(),
    };
    let copied = [("columns", "columns"), ("filters", "column_filters")]
        .map(|(from, to)| (to, root.get(from).cloned()));
    let details = root
        .entry("generated_file_details")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !details.is_object() {
        *details = serde_json::json!({ "app_metadata": details.clone() });
    }
    let details = details.as_object_mut().expect("an object");
    for (key, value) in copied {
        if let (Some(value), false) = (value, details.contains_key(key)) {
            details.insert(key.into(), value);
        }
    }
    details.insert("original_file_id".into(), Value::String(parent.to_string()));
    Some(Value::Object(root).to_string())
}

#[cfg(test)]
mod tests;
