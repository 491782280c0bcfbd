//! The filter grammar (`csv_cut::Filter`): parsing is total and deterministic,
//! surrounding whitespace and keyword case do not matter, a printed filter parses
//! back to itself, and the operators agree with each other on every cell.

use crate::csv_cut::filter::{Order, Test, Value};
use crate::csv_cut::{parse_number, ErrorKind, Filter};

/// Input: the expression, then `\n`-separated cells to evaluate it on.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let expr = lines.next().unwrap_or("");
    let cells: Vec<&str> = lines.collect();

    let parsed = parse(expr);
    assert_eq!(parsed, parse(expr), "parse is deterministic");
    let padded = format!(" \t{expr} \n");
    assert_eq!(parse(&padded), parsed, "surrounding whitespace is ignored");
    if let Some(swapped) = swap_keyword_case(expr) {
        // Errors may quote the word as written; what parses must be the same.
        assert_eq!(
            parse(&swapped).ok(),
            parsed.clone().ok(),
            "keywords are case-insensitive"
        );
    }
    if let Err(e) = Filter::parse("col", expr) {
        assert_eq!(e.kind, ErrorKind::InvalidFilter);
        assert!(e.message.contains("\"col\""), "the error names the column");
    }
    if parsed == Ok(None) {
        assert!(
            expr.trim().is_empty(),
            "only a blank expression is no filter"
        );
    }
    let Some(filter) = parsed.ok().flatten() else {
        return;
    };

    let printed = print(&filter.test);
    assert_eq!(
        parse(&printed),
        Ok(Some(filter.clone())),
        "{printed:?}, the printed form of {expr:?}, parses back to the same filter"
    );

    for cell in cells.iter().copied().chain(["", " 7 ", "007", "-0", "x"]) {
        let m = filter.matches(cell);
        assert_eq!(m, filter.matches(cell), "matching is deterministic");
        assert_eq!(
            m,
            filter.matches(&format!("  {cell}\t")),
            "cells are trimmed"
        );
        assert_eq!(m, reference(&filter.test, cell), "{expr:?} on {cell:?}");
        for (related, expected) in relatives(&filter.test, cell) {
            assert_eq!(m, expected, "{expr:?} and {related:?} disagree on {cell:?}");
        }
    }
}

/// The filter, or why not (the message without the expression it quotes).
fn parse(expr: &str) -> Result<Option<Filter>, String> {
    Filter::parse("col", expr).map_err(|e| {
        let (_, why) = e
            .message
            .rsplit_once(" — ")
            .expect("the message gives a reason");
        why.to_string()
    })
}

/// `expr` with the case of a leading `BETWEEN`/`IN`/`AND` keyword flipped.
fn swap_keyword_case(expr: &str) -> Option<String> {
    let trimmed = expr.trim_start();
    let word_len = trimmed
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(trimmed.len());
    let word = &trimmed[..word_len];
    if !["between", "in"].contains(&word.to_ascii_lowercase().as_str()) {
        return None;
    }
    let flipped = flip_case(word);
    let mut rest = trimmed[word_len..].to_string();
    if word.eq_ignore_ascii_case("between") {
        // `AND` is a keyword too.
        rest = rest
            .split(' ')
            .map(|w| match w.eq_ignore_ascii_case("and") {
                true => flip_case(w),
                false => w.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    Some(format!("{flipped}{rest}"))
}

fn flip_case(word: &str) -> String {
    word.chars()
        .map(|c| match c.is_ascii_lowercase() {
            true => c.to_ascii_uppercase(),
            false => c.to_ascii_lowercase(),
        })
        .collect()
}

/// An order's symbol and its complement's (a number satisfies exactly one).
fn symbols(order: &Order) -> (&'static str, &'static str) {
    match order {
        Order::Gt => (">", "<="),
        Order::Lt => ("<", ">="),
        Order::Ge => (">=", "<"),
        Order::Le => ("<=", ">"),
    }
}

/// A canonical expression for a parsed test (numbers in Rust's shortest exact form,
/// texts quoted).
pub(crate) fn print(test: &Test) -> String {
    let quoted = |v: &Value| format!("'{}'", v.text.replace('\'', "''"));
    match test {
        Test::Order(order, n) => format!("{} {n:?}", symbols(order).0),
        // `=` takes the text between the outer quotes as it is (no doubling).
        Test::Equal { value, negate } => {
            format!("{} '{}'", if *negate { "!=" } else { "==" }, value.text)
        }
        Test::Between(lo, hi) => format!("BETWEEN {lo:?} AND {hi:?}"),
        Test::In(items) => format!(
            "in ({})",
            items.iter().map(quoted).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// What the grammar's table says, computed on its own.
fn reference(test: &Test, cell: &str) -> bool {
    let cell = cell.trim();
    let number = parse_number(cell);
    let equal = |v: &Value| match (v.number, number) {
        (Some(a), Some(b)) => a == b,
        _ => v.text == cell,
    };
    match test {
        Test::Order(order, bound) => number.is_some_and(|n| match order {
            Order::Gt => n > *bound,
            Order::Lt => n < *bound,
            Order::Ge => n >= *bound,
            Order::Le => n <= *bound,
        }),
        Test::Equal { value, negate } => equal(value) != *negate,
        Test::Between(lo, hi) => number.is_some_and(|n| *lo <= n && n <= *hi),
        Test::In(items) => items.iter().any(equal),
    }
}

/// Other expressions whose result on `cell` follows from this one's, with that result.
fn relatives(test: &Test, cell: &str) -> Vec<(String, bool)> {
    let eval = |expr: &str| {
        Filter::parse("col", expr)
            .unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
            .expect("not blank")
            .matches(cell)
    };
    let numeric = parse_number(cell).is_some();
    let mut out = Vec::new();
    match test {
        Test::Order(order, n) => {
            let e = format!("{} {n:?}", symbols(order).1);
            // A number is on exactly one side; text is on neither.
            out.push((e.clone(), numeric && !eval(&e)));
        }
        Test::Equal { value, negate } => {
            let e = format!("{} '{}'", if *negate { "=" } else { "!=" }, value.text);
            out.push((e.clone(), !eval(&e)));
            if !negate {
                let e = format!("IN ('{}')", value.text.replace('\'', "''"));
                out.push((e.clone(), eval(&e)));
            }
        }
        Test::Between(lo, hi) => {
            let (ge, le) = (format!(">= {lo:?}"), format!("<= {hi:?}"));
            out.push((format!("{ge} and {le}"), eval(&ge) && eval(&le)));
        }
        Test::In(items) => {
            let any = items.iter().any(|v| eval(&format!("= '{}'", v.text)));
            out.push(("= each item".to_string(), any));
        }
    }
    out
}
