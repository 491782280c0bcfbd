//! The `Range` request header (RFC 9110 §14) for downloads: one byte range is
//! served as a 206; several ranges, or a header that does not parse, get the whole
//! file, as the RFC allows.

/// What to send for a `Range` header against a file of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// The whole file (200).
    Full,
    /// Bytes `start..=end` (206 with `Content-Range: bytes start-end/size`).
    Part { start: u64, end: u64 },
    /// Nothing of the file is in range (416 with `Content-Range: bytes */size`).
    Unsatisfiable,
}

impl RangeAnswer {
    pub fn of(header: Option<&str>, size: u64) -> RangeAnswer {
        let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
            return RangeAnswer::Full;
        };
        if spec.contains(',') {
            return RangeAnswer::Full;
        }
        let Some((first, last)) = spec.trim().split_once('-') else {
            return RangeAnswer::Full;
        };
        let number = |s: &str| -> Option<Option<u64>> {
            let s = s.trim();
            if s.is_empty() {
                Some(None)
            } else if s.bytes().all(|b| b.is_ascii_digit()) {
                // Too many digits for u64 is still "past the end".
                Some(Some(s.parse().unwrap_or(u64::MAX)))
            } else {
                None
            }
        };
        match (number(first), number(last)) {
            (Some(Some(start)), Some(last)) => {
                if start >= size {
                    return RangeAnswer::Unsatisfiable;
                }
                let end = last.map_or(size - 1, |l| l.min(size - 1));
                if end < start {
                    return RangeAnswer::Full;
                }
                RangeAnswer::Part { start, end }
            }
            // `bytes=-n`: the last n bytes.
            (Some(None), Some(Some(suffix))) => {
                if suffix == 0 || size == 0 {
                    return RangeAnswer::Unsatisfiable;
                }
                RangeAnswer::Part {
                    start: size.saturating_sub(suffix),
                    end: size - 1,
                }
            }
            _ => RangeAnswer::Full,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::{self, *};

    fn of(h: &str, size: u64) -> RangeAnswer {
        RangeAnswer::of(Some(h), size)
    }

    #[test]
    fn one_range_is_a_part() {
        assert_eq!(of("bytes=0-9", 100), Part { start: 0, end: 9 });
        assert_eq!(of("bytes=90-", 100), Part { start: 90, end: 99 });
        assert_eq!(of("bytes=90-500", 100), Part { start: 90, end: 99 });
        assert_eq!(of("bytes=-10", 100), Part { start: 90, end: 99 });
        assert_eq!(of("bytes=-500", 100), Part { start: 0, end: 99 });
        assert_eq!(of(" bytes= 5 - 5 ", 100), Part { start: 5, end: 5 });
    }

    #[test]
    fn out_of_range_is_unsatisfiable() {
        assert_eq!(of("bytes=100-", 100), Unsatisfiable);
        assert_eq!(of("bytes=99999999999999999999999-", 100), Unsatisfiable);
        assert_eq!(of("bytes=-0", 100), Unsatisfiable);
        assert_eq!(of("bytes=0-", 0), Unsatisfiable);
    }

    #[test]
    fn anything_else_is_the_whole_file() {
        assert_eq!(RangeAnswer::of(None, 100), Full);
        for h in [
            "items=0-5",
            "bytes=0-1,5-6",
            "bytes=a-b",
            "bytes=9-3",
            "bytes=",
            "bytes=-",
        ] {
            assert_eq!(of(h, 100), Full, "{h}");
        }
    }
}
