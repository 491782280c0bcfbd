//! Failed-login counting: a fixed window per key (username, client address) that opens at
//! the first failure. Pure; the Worker keeps the windows in KV.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Failures allowed per window; the next attempt is refused until the window ends.
pub const MAX_FAILURES: u32 = 5;
/// Window length (15 minutes).
pub const WINDOW_SECS: i64 = 900;

/// One key's failures since `reset_at - WINDOW_SECS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub count: u32,
    pub reset_at: i64,
}

impl Window {
    /// The window after one more failure at `now` (a new one if `current` has ended).
    pub fn after_failure(current: Option<Window>, now: i64) -> Window {
        match current {
            Some(w) if w.reset_at > now => Window {
                count: w.count.saturating_add(1),
                ..w
            },
            _ => Window {
                count: 1,
                reset_at: now + WINDOW_SECS,
            },
        }
    }

    /// Seconds until another attempt is allowed, if this window refuses one now.
    pub fn retry_after(&self, now: i64) -> Option<i64> {
        (self.count >= MAX_FAILURES && self.reset_at > now).then(|| self.reset_at - now)
    }
}

/// The storage key of a window, e.g. `login_fail:user:<sha256 hex>`. Hashing bounds the key
/// length (KV caps keys at 512 bytes; a username may be 600 UTF-8 bytes) and keeps
/// usernames and addresses out of key listings.
pub fn key(kind: &str, value: &str) -> String {
    format!(
        "login_fail:{kind}:{}",
        hex::encode(Sha256::digest(value.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixth_attempt_is_refused_until_the_window_ends() {
        let mut w = None;
        for i in 0..MAX_FAILURES {
            assert_eq!(w.and_then(|w: Window| w.retry_after(100 + i as i64)), None);
            w = Some(Window::after_failure(w, 100 + i as i64));
        }
        let w = w.unwrap();
        assert_eq!(w.count, MAX_FAILURES);
        assert_eq!(w.retry_after(110), Some(100 + WINDOW_SECS - 110));
        assert_eq!(w.retry_after(100 + WINDOW_SECS), None);
    }

    #[test]
    fn an_ended_window_starts_over() {
        let old = Window {
            count: 9,
            reset_at: 50,
        };
        assert_eq!(
            Window::after_failure(Some(old), 50),
            Window {
                count: 1,
                reset_at: 50 + WINDOW_SECS
            }
        );
    }

    #[test]
    fn keys_are_bounded_and_distinct() {
        let long = "ü".repeat(150);
        assert_eq!(key("user", &long).len(), "login_fail:user:".len() + 64);
        assert_ne!(key("user", "a"), key("ip", "a"));
        assert_ne!(key("user", "a"), key("user", "A"));
    }
}
