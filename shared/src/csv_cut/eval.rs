//! Evaluating parsed filters against cells.

use super::filter::{Filter, Order, Test, Value};
use super::number::{parse_number, trim};

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
