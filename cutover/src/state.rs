//! The checkpoint file: where an interrupted migrate resumes, the SHA-256 of each
//! legacy file already on the app (so a later run reads only files whose size or
//! modification time changed), reverse-sync's watermark and replicate's place in
//! the app's change log. Written atomically
//! (temporary file + rename) after every batch, so a killed run loses at most the
//! batch in flight, which the next run redoes idempotently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::files::{read_json, write_json};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Known {
    pub size: u64,
    pub mtime_ns: i128,
    pub sha256: String,
}

/// Cursors of a run in progress (the last legacy primary key done per table).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cursors {
    pub users: i64,
    pub files: i64,
    pub relationships: i64,
}

/// Where `replicate` is in the app's change log: the last change applied. (D1
/// commits one transaction at a time, so its numbers become visible in order;
/// legacy's log is read as a queue instead, see `capture.rs`.)
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogCheckpoint {
    pub app: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// Set while a migrate or sync is under way; cleared when it completes.
    #[serde(default)]
    pub run: Option<Cursors>,
    #[serde(default)]
    pub files: BTreeMap<String, Known>,
    /// Reverse-sync reads app rows updated at or after this instant.
    #[serde(default)]
    pub reverse_since: Option<String>,
    /// Where `replicate` is in the app's change log; absent until its first
    /// full round (a sync both ways) is done.
    #[serde(default)]
    pub logs: Option<LogCheckpoint>,
    #[serde(skip)]
    path: PathBuf,
}

impl State {
    pub fn load(path: &Path) -> Result<State> {
        let mut state: State = read_json(path, CHECKPOINT)?.unwrap_or_default();
        state.path = path.to_path_buf();
        Ok(state)
    }

    pub fn save(&self) -> Result<()> {
        write_json(&self.path, CHECKPOINT, &serde_json::to_vec(self)?)
    }
}

const CHECKPOINT: &str = "checkpoint";
