//! What the streaming parsers answer when they refuse input: a category for the
//! caller to map (an HTTP status, a log field) and a message meant for the client.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal<K> {
    /// The category, for mapping to an HTTP status or a log field.
    pub kind: K,
    /// A human-readable message naming what was refused (a row, column,
    /// expression or part).
    pub message: String,
}

impl<K> Refusal<K> {
    pub(crate) fn new(kind: K, message: impl Into<String>) -> Self {
        Refusal {
            kind,
            message: message.into(),
        }
    }
}

impl<K> fmt::Display for Refusal<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<K: fmt::Debug> std::error::Error for Refusal<K> {}
