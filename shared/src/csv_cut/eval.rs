//! Evaluating parsed filters against cells.

use super::filter::{Filter, Order, Test, Value};

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
fn trim(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] | [first @ last]
            if first.is_ascii_graphic() && last.is_ascii_graphic() =>
        {
            text
        }
        _ => text.trim(),
    }
}

impl Value {
    /// `=` semantics: numeric when both sides are numbers, else trimmed text.
    fn equals(&self, cell: &str, cell_number: Option<f64>) -> bool {
        match (self.number, cell_number) {
            (Some(a), Some(b)) => a == b,
            _ => self.text == cell,
        }
    }
}

impl Filter {
    /// Whether `cell` passes this filter.
    pub fn matches(&self, cell: &str) -> bool {
        let cell = trim(cell);
        match &self.test {
            Test::Order(order, bound) => match parse_number(cell) {
                Some(n) => match order {
                    Order::Gt => n > *bound,
                    Order::Lt => n < *bound,
                    Order::Ge => n >= *bound,
                    Order::Le => n <= *bound,
                },
                None => false,
            },
            Test::Equal { value, negate } => value.equals(cell, parse_number(cell)) != *negate,
            Test::Between(lo, hi) => parse_number(cell).is_some_and(|n| *lo <= n && n <= *hi),
            Test::In(items) => {
                let number = parse_number(cell);
                items.iter().any(|item| item.equals(cell, number))
            }
        }
    }
}
