//! The one notion of "this cell is a number" that filters, their evaluation and
//! formula escaping share.

/// The number a cell or operand spells, if any: Rust's `f64` syntax on the trimmed
/// text (`7`, `-2.5`, `+.5`, `1e3`), restricted to digits, signs, `.` and exponents,
/// so `NaN`, `inf` and `infinity` are text; a value that overflows to infinity
/// (`1e400`) is text too. `1,000` and `0x10` are text.
pub fn parse_number(text: &str) -> Option<f64> {
    let t = trim(text);
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `str::trim`, without decoding characters when both ends are plain ASCII (as
/// almost every cell's are).
pub(super) fn trim(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] | [first @ last]
            if first.is_ascii_graphic() && last.is_ascii_graphic() =>
        {
            text
        }
        _ => text.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_number;

    #[test]
    fn numbers_are_plain_finite_decimals() {
        assert_eq!(parse_number(" 42 "), Some(42.0));
        assert_eq!(parse_number("+.5"), Some(0.5));
        assert_eq!(parse_number("-1e3"), Some(-1000.0));
        for text in [
            "", "NaN", "nan", "inf", "-inf", "Infinity", "1e400", "0x10", "1,000", "1_000",
            "12abc", "--1",
        ] {
            assert_eq!(parse_number(text), None, "{text:?}");
        }
    }
}
