//! Range headers (`byte_range::RangeAnswer`): a part lies within the file, and the
//! answer is what an independent reading of RFC 9110's single byte range gives.

use crate::byte_range::RangeAnswer;

use super::Input;

/// Input: a size selector byte and 8 size bytes, then the header.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let selector = input.byte();
    let wide = input.u64();
    // Mostly small files, where the header's numbers meet the size.
    let size = match selector % 4 {
        0 => wide,
        1 => u64::MAX - u64::from(selector >> 2),
        _ => wide % 300,
    };
    let Ok(header) = std::str::from_utf8(input.rest()) else {
        return;
    };
    let answer = RangeAnswer::of(Some(header), size);
    match answer {
        RangeAnswer::Part { start, end } => {
            assert!(
                start <= end && end < size,
                "{header:?} on {size} bytes: {answer:?}"
            )
        }
        RangeAnswer::Unsatisfiable | RangeAnswer::Full => {}
    }
    assert_eq!(
        answer,
        reference(header, size),
        "{header:?} on {size} bytes"
    );
    assert_eq!(RangeAnswer::of(None, size), RangeAnswer::Full);
}

/// `bytes=first-last` / `bytes=-suffix`, numbers as unbounded decimals (compared
/// in u128 after saturating), anything else the whole file.
fn reference(header: &str, size: u64) -> RangeAnswer {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeAnswer::Full;
    };
    let number = |s: &str| -> Result<Option<u128>, ()> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        Ok(Some(s.bytes().fold(0u128, |n, b| {
            (n * 10 + u128::from(b - b'0')).min(u128::from(u64::MAX) + 1)
        })))
    };
    let size = u128::from(size);
    let part = |start: u128, end: u128| RangeAnswer::Part {
        start: start as u64,
        end: end as u64,
    };
    match (number(first), number(last)) {
        (Ok(Some(first)), Ok(last)) if first >= size => {
            let _ = last;
            RangeAnswer::Unsatisfiable
        }
        (Ok(Some(first)), Ok(last)) => {
            let end = last.unwrap_or(size - 1).min(size - 1);
            if end < first {
                RangeAnswer::Full
            } else {
                part(first, end)
            }
        }
        (Ok(None), Ok(Some(suffix))) if suffix == 0 || size == 0 => RangeAnswer::Unsatisfiable,
        (Ok(None), Ok(Some(suffix))) => part(size.saturating_sub(suffix), size - 1),
        _ => RangeAnswer::Full,
    }
}
