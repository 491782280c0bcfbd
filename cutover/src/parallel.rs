//! Work spread over a few threads: file hashes, transfers and downloads, each
//! a wait on a disk or on the app.

/// Runs `work` over `items` on up to `jobs` threads; results come back in order.
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let jobs = jobs.clamp(1, items.len().max(1));
    let mut slots: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                let work = &work;
                s.spawn(move || {
                    (j..items.len())
                        .step_by(jobs)
                        .map(|i| (i, work(&items[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("a worker thread panicked") {
                slots[i] = Some(r);
            }
        }
    });
    slots
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parallel;

    #[test]
    fn results_come_back_in_the_order_of_the_items() {
        let items: Vec<u32> = (0..37).collect();
        for jobs in [0, 1, 4, 100] {
            let doubled = parallel(&items, jobs, |i| i * 2);
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
        assert!(parallel(&[] as &[u32], 4, |i| *i).is_empty());
    }
}
