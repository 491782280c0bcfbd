//! An isolate's buffer of reports for the metrics Durable Object: sent as one
//! batch every `FLUSH_EVERY` items or once the oldest is `FLUSH_AFTER_MS` old, so
//! requests never wait for the object and it sees a write per batch, not per
//! request.

pub const FLUSH_EVERY: usize = 25;
pub const FLUSH_AFTER_MS: u64 = 1_000;

#[derive(Debug)]
pub struct Batch<T> {
    items: Vec<T>,
    oldest_ms: u64,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Batch<T> {
    pub const fn new() -> Self {
        Self {
            items: Vec::new(),
            oldest_ms: 0,
        }
    }

    /// Adds `item`; the whole batch when it is due.
    pub fn push(&mut self, item: T, now_ms: u64) -> Option<Vec<T>> {
        if self.items.is_empty() {
            self.oldest_ms = now_ms;
        }
        self.items.push(item);
        let due = self.items.len() >= FLUSH_EVERY
            || now_ms.saturating_sub(self.oldest_ms) >= FLUSH_AFTER_MS;
        due.then(|| self.take())
    }

    /// Everything held (for readers that must see it).
    pub fn take(&mut self) -> Vec<T> {
        std::mem::take(&mut self.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_by_count_or_age() {
        let mut b = Batch::new();
        for i in 0..FLUSH_EVERY - 1 {
            assert_eq!(b.push(i, 0), None);
        }
        assert_eq!(b.push(99, 0).map(|v| v.len()), Some(FLUSH_EVERY));
        assert_eq!(b.push(1, 5_000), None, "a new batch starts its clock");
        assert_eq!(b.push(2, 5_000 + FLUSH_AFTER_MS), Some(vec![1, 2]));
        b.push(3, 9_000);
        assert_eq!(b.take(), vec![3]);
        assert!(b.take().is_empty());
    }
}
