//! Reading (and, for tests, editing) the local R2 state of a `wrangler dev`
//! straight from Miniflare's files, so a test sees orphans the API would hide.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The R2 directory (`<persist-to>/v3/r2`) of one `wrangler dev`.
pub struct LocalR2 {
    root: PathBuf,
}

/// The object keys (sorted) and the number of stored blobs (objects and
/// multipart parts, finished or not).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct R2State {
    pub keys: Vec<String>,
    pub blobs: usize,
}

impl LocalR2 {
    pub fn new(root: PathBuf) -> LocalR2 {
        LocalR2 { root }
    }

    pub fn state(&self) -> R2State {
        let mut keys = self.sql("SELECT key FROM _mf_objects");
        keys.sort();
        let blobs = files_under(&self.root)
            .iter()
            .filter(|p| p.components().any(|c| c.as_os_str() == "blobs"))
            .count();
        R2State { keys, blobs }
    }

    /// An object's custom metadata as stored (`Null` when there is no such object).
    pub fn custom_metadata(&self, key: &str) -> serde_json::Value {
        let rows = self.sql(&format!(
            "SELECT custom_metadata FROM _mf_objects WHERE key = '{}'",
            key.replace('\'', "''")
        ));
        rows.first()
            .map(|json| serde_json::from_str(json).expect("metadata is JSON"))
            .unwrap_or(serde_json::Value::Null)
    }

    /// Rewrites an object's custom metadata under the running Worker (to make an
    /// object look old without waiting a day).
    pub fn set_custom_metadata(&self, key: &str, json: &str) {
        let updated: u32 = self
            .sql(&format!(
                "UPDATE _mf_objects SET custom_metadata = '{}' WHERE key = '{}'; SELECT changes();",
                json.replace('\'', "''"),
                key.replace('\'', "''")
            ))
            .iter()
            .map(|n| n.parse::<u32>().unwrap_or(0))
            .sum();
        assert_eq!(updated, 1, "no R2 object {key}");
    }

    /// The output lines of `sql` run on every bucket's database (one per bucket;
    /// Miniflare's `metadata.sqlite` is not one).
    fn sql(&self, sql: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for path in files_under(&self.root) {
            let name = path.file_name().unwrap_or_default();
            if path.extension().is_some_and(|e| e == "sqlite") && name != "metadata.sqlite" {
                // The running Worker may hold a write lock for a moment: wait for it.
                let out = Command::new("sqlite3")
                    .args(["-cmd", ".timeout 5000"])
                    .arg(&path)
                    .arg(sql)
                    .output()
                    .expect("sqlite3");
                assert!(
                    out.status.success(),
                    "sqlite3 {}: {:?}",
                    path.display(),
                    out
                );
                lines.extend(
                    String::from_utf8_lossy(&out.stdout)
                        .lines()
                        .map(str::to_string),
                );
            }
        }
        lines
    }
}

/// Every file below `dir` (none when it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
