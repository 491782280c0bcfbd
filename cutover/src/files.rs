//! The local files the tool reads and writes: its own JSON (the checkpoint, run
//! logs), read when it is there and written atomically so that a killed run
//! leaves the last whole version; and the deploy configs (TOML).

use std::path::Path;

use crate::error::{Error, Result};

/// The JSON file at `path` (a checkpoint, a run log), `None` when there is none.
pub fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    role: &'static str,
) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Parse {
                role,
                path: path.to_path_buf(),
                source: Box::new(e),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            role: Some(role),
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, renamed.
pub fn write_json(path: &Path, role: &'static str, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|source| Error::Io {
            role: Some(role),
            path: path.to_path_buf(),
            source,
        })
}

/// A TOML file (its `role` in messages), parsed.
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path, role: &'static str) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        role: Some(role),
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| Error::Parse {
        role,
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}
