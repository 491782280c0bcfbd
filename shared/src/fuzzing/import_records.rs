//! The import API's records (`migration::parse_batch` with `check_user`,
//! `check_file`, `check_edge`): a batch is refused (naming the record) or every
//! record meets the documented rules; accepted records written back as JSON are
//! accepted again as the same records, and importing a record onto itself changes
//! nothing.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::migration::{
    check_edge, check_file, check_user, file_outcome, parse_batch, user_outcome, EdgeRecord,
    FileRecord, Outcome, StoredFile, UserRecord, MAX_BATCH,
};

const USER_ID_OFFSET: i64 = 1_000_000_000;

/// Input: a JSON request body (`{"users": [...]}`, `{"files": [...]}`,
/// `{"relationships": [...]}`, any or all).
pub fn check(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let check_user = |u: &UserRecord| check_user(u, USER_ID_OFFSET);
    if let Some(users) = batch(&body, "users", check_user) {
        for u in &users {
            assert!(0 < u.id && u.id < USER_ID_OFFSET);
            assert!((1..=150).contains(&u.username.chars().count()));
            assert!(!u.password.is_empty());
            assert!(chrono::DateTime::parse_from_rfc3339(&u.created_at).is_ok());
            assert_eq!(user_outcome(u, Some(u), Some(u)), Outcome::Unchanged);
            assert_eq!(user_outcome(u, None, None), Outcome::Created);
        }
    }
    if let Some(files) = batch(&body, "files", check_file) {
        for f in &files {
            assert!((1..=64).contains(&f.file_id.len()));
            assert!(f
                .file_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)));
            assert!(f.user_id > 0);
            assert!((1..=255).contains(&f.file_name.chars().count()));
            assert!(f.sha256.len() == 64 && f.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(!f.sha256.bytes().any(|b| b.is_ascii_uppercase()));
            for origin in ["legacy", "app"] {
                let stored = |record: &FileRecord| StoredFile {
                    record: record.clone(),
                    origin: origin.into(),
                };
                // A sync converges: onto itself a file changes at most once (its
                // repeated tags merged), and then no more.
                let merged = match file_outcome(f, Some(&stored(f)), true) {
                    (Outcome::Unchanged, None) => f.clone(),
                    (Outcome::Updated, Some(merged)) => {
                        assert!(has_repeats(&f.user_tags), "only repeated tags change");
                        merged
                    }
                    other => panic!("a {origin} file imported onto itself: {other:?}"),
                };
                assert_eq!(
                    file_outcome(f, Some(&stored(&merged)), true),
                    (Outcome::Unchanged, None),
                    "a {origin} file imported onto its merged self"
                );
            }
        }
    }
    if let Some(edges) = batch(&body, "relationships", check_edge) {
        for e in &edges {
            assert_ne!(e.parent_id, e.child_id);
            let (source, target) = e.to_legacy();
            assert_eq!(
                EdgeRecord::from_legacy(source, target, &e.relationship).as_ref(),
                Some(e),
                "the legacy edge maps back"
            );
        }
    }
}

/// The accepted records under `key`, after checking the batch rules on them.
fn batch<T>(body: &Value, key: &str, check: impl Fn(&T) -> Result<(), String>) -> Option<Vec<T>>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let result = parse_batch::<T>(body, key, &check);
    let records = match result {
        Ok(records) => records,
        Err(message) => {
            let items = body.get(key).and_then(Value::as_array);
            if let Some(items) = items.filter(|i| i.len() <= MAX_BATCH) {
                assert!(!items.is_empty(), "an empty batch is accepted");
                assert!(
                    message.starts_with(&format!("{key}[")),
                    "{message:?} names the record"
                );
            }
            return None;
        }
    };
    assert!(records.len() <= MAX_BATCH);
    assert!(records.iter().all(|r| check(r).is_ok()));
    let written = serde_json::json!({ key: records });
    assert_eq!(
        parse_batch::<T>(&written, key, &check).as_ref(),
        Ok(&records),
        "records written back are accepted as they were"
    );
    Some(records)
}

fn has_repeats(tags: &[String]) -> bool {
    tags.iter().enumerate().any(|(i, t)| tags[..i].contains(t))
}
