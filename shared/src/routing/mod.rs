//! Routing decision: which backend serves a request.

mod bucket;

pub use bucket::{bucket_of, client_key, fnv1a64, BUCKETS, UNKNOWN_CLIENT_KEY};

/// The backend a request is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Legacy,
    App,
}

/// Chooses the backend for a traffic percentage (0..=100). Placeholder until the
/// bucketing decision lands.
pub fn backend_for_percentage(percentage: u8) -> Backend {
    if percentage >= 100 {
        Backend::App
    } else {
        Backend::Legacy
    }
}
