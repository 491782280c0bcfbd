//! The isolate's copy of the rollout config, and what to do when KV fails.
//!
//! A copy younger than the cache time is used as it is. Past that KV is read
//! again: a value read replaces the copy; a failed read keeps routing on the
//! last copy however old (an outage of KV must not move people between sides),
//! or on the fallback when this isolate never read one.

/// The last value read, with when (milliseconds).
pub struct LastKnown<T> {
    copy: Option<(f64, T)>,
}

impl<T: Clone> Default for LastKnown<T> {
    fn default() -> LastKnown<T> {
        LastKnown::new()
    }
}

impl<T: Clone> LastKnown<T> {
    pub const fn new() -> LastKnown<T> {
        LastKnown { copy: None }
    }

    /// The copy if it is younger than `max_age_ms` at `now_ms`.
    pub fn fresh(&self, now_ms: f64, max_age_ms: f64) -> Option<T> {
        self.copy
            .as_ref()
            .filter(|(at, _)| now_ms - at < max_age_ms)
            .map(|(_, value)| value.clone())
    }

    /// What to route on after a read at `now_ms`: the value read (kept as the
    /// new copy), else the last copy, else `fallback()`.
    pub fn after_read<E>(
        &mut self,
        now_ms: f64,
        read: Result<T, E>,
        fallback: impl FnOnce() -> T,
    ) -> T {
        match read {
            Ok(value) => {
                self.copy = Some((now_ms, value.clone()));
                value
            }
            Err(_) => match &self.copy {
                Some((_, value)) => value.clone(),
                None => fallback(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_fresh_until_the_cache_time() {
        let mut known = LastKnown::new();
        assert_eq!(known.fresh(0.0, 1000.0), None);
        assert_eq!(known.after_read(100.0, Ok::<_, ()>(25), || 0), 25);
        assert_eq!(known.fresh(1099.0, 1000.0), Some(25));
        assert_eq!(known.fresh(1100.0, 1000.0), None);
    }

    #[test]
    fn a_failed_read_keeps_the_last_copy_however_old() {
        let mut known = LastKnown::new();
        known.after_read(0.0, Ok::<_, &str>(50), || 0);
        assert_eq!(known.after_read(3_600_000.0, Err("kv down"), || 0), 50);
        // The copy's age is not renewed by a failure: the next request reads again.
        assert_eq!(known.fresh(3_600_000.0, 1000.0), None);
        assert_eq!(known.after_read(3_601_000.0, Ok::<_, &str>(75), || 0), 75);
        assert_eq!(known.fresh(3_601_500.0, 1000.0), Some(75));
    }

    #[test]
    fn a_failed_first_read_routes_on_the_fallback() {
        let mut known: LastKnown<u8> = LastKnown::new();
        assert_eq!(known.after_read(0.0, Err("kv down"), || 0), 0);
        assert_eq!(known.fresh(0.0, 1000.0), None);
    }
}
