//! The filter-expression grammar, parsed once per request.

use super::number::parse_number;
use super::{CsvError, ErrorKind};

/// One parsed filter expression, tested against a cell with [`Filter::matches`].
///
/// Grammar (surrounding whitespace is ignored; keywords are case-insensitive):
///
/// | expression | holds when |
/// |---|---|
/// | `> n`, `< n`, `>= n`, `<= n` | the cell is a number and compares so with `n`; `n` must be a number |
/// | `= v`, `== v`, `!= v` | (not) equal: numerically when cell and `v` are both numbers (`007 = 7`), else as text |
/// | `BETWEEN a AND b` | the cell is a number with `a <= cell <= b` (`a > b` matches nothing) |
/// | `IN (v1, 'v2', "v3")` | the cell equals some item, by the same rule as `=`; `IN ()` matches nothing |
///
/// Numbers follow [`parse_number`]. Text comparison is case-sensitive and ignores
/// leading and trailing whitespace of both the cell and the value. A value may be
/// wrapped in one pair of `'…'` or `"…"` quotes, which are removed; inside an `IN`
/// list a quoted item may contain commas and `)`, and a doubled quote stands for
/// itself (`'O''Brien'`). An unquoted `=`/`!=` value must not start with one of
/// `< > = !` (quote it), so that typos like `=> 5` are errors rather than text.
/// Anything else is an [`ErrorKind::InvalidFilter`] error naming the column and the
/// expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub(crate) test: Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Gt,
    Lt,
    Ge,
    Le,
}

/// A comparison value: its text and, when it is a number, its numeric value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    pub text: String,
    pub number: Option<f64>,
}

impl Value {
    fn new(text: &str) -> Value {
        let text = text.trim();
        Value {
            text: text.to_string(),
            number: parse_number(text),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    Order(Order, f64),
    Equal { value: Value, negate: bool },
    Between(f64, f64),
    In(Vec<Value>),
}

const EXPECTED_OPERATOR: &str = "expected an operator: > < >= <= = == != BETWEEN IN";

impl Filter {
    /// Parses the expression for `column`. `Ok(None)` for an empty or whitespace-only
    /// expression (no filter); the error message names both column and expression.
    pub fn parse(column: &str, expression: &str) -> Result<Option<Filter>, CsvError> {
        parse_test(expression.trim())
            .map(|test| test.map(|test| Filter { test }))
            .map_err(|why| {
                CsvError::new(
                    ErrorKind::InvalidFilter,
                    format!("invalid filter for column {column:?}: {expression:?} — {why}"),
                )
            })
    }
}

fn parse_test(expr: &str) -> Result<Option<Test>, String> {
    if expr.is_empty() {
        return Ok(None);
    }
    const SYMBOLS: [(&str, Option<Order>, bool); 7] = [
        (">=", Some(Order::Ge), false),
        ("<=", Some(Order::Le), false),
        ("==", None, false),
        ("!=", None, true),
        (">", Some(Order::Gt), false),
        ("<", Some(Order::Lt), false),
        ("=", None, false),
    ];
    for (symbol, order, negate) in SYMBOLS {
        if let Some(rest) = expr.strip_prefix(symbol) {
            let rest = rest.trim();
            return match order {
                Some(order) => Ok(Some(Test::Order(order, number(rest, symbol)?))),
                None => Ok(Some(Test::Equal {
                    value: equality_value(rest, symbol)?,
                    negate,
                })),
            };
        }
    }
    if let Some(rest) = keyword(expr, "BETWEEN") {
        return between(rest).map(Some);
    }
    if let Some(rest) = keyword(expr, "IN") {
        return in_list(rest).map(Some);
    }
    Err(EXPECTED_OPERATOR.to_string())
}

/// The text after `word` when `expr` starts with it (any case) followed by whitespace,
/// `(` or the end.
fn keyword<'a>(expr: &'a str, word: &str) -> Option<&'a str> {
    let head = expr.get(..word.len())?;
    if !head.eq_ignore_ascii_case(word) {
        return None;
    }
    let rest = &expr[word.len()..];
    match rest.chars().next() {
        None => Some(rest),
        Some(c) if c.is_whitespace() || c == '(' => Some(rest.trim_start()),
        Some(_) => None,
    }
}

fn number(text: &str, after: &str) -> Result<f64, String> {
    parse_number(text).ok_or_else(|| {
        if text.is_empty() {
            format!("expected a number after {after}")
        } else {
            format!("expected a number after {after}, found {text:?}")
        }
    })
}

fn equality_value(rest: &str, symbol: &str) -> Result<Value, String> {
    if rest.is_empty() {
        return Err(format!(
            "expected a value after {symbol} (write {symbol} \"\" to match empty cells)"
        ));
    }
    if let Some(inner) = unquote(rest) {
        return Ok(Value::new(inner));
    }
    if let Some(q) = rest.strip_prefix(['\'', '"']).map(|_| &rest[..1]) {
        return Err(format!("unterminated {q} quote after {symbol}"));
    }
    if rest.starts_with(['<', '>', '=', '!']) {
        return Err(format!(
            "unexpected {:?} after {symbol}; quote the value to compare with text starting with it",
            &rest[..1]
        ));
    }
    Ok(Value::new(rest))
}

/// The inside of `'…'` or `"…"`, if `text` is exactly one quoted string.
fn unquote(text: &str) -> Option<&str> {
    let q = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    (text.len() >= 2 && text.ends_with(q)).then(|| &text[1..text.len() - 1])
}

fn between(rest: &str) -> Result<Test, String> {
    const SHAPE: &str = "expected BETWEEN <number> AND <number>";
    let words: Vec<&str> = rest.split_whitespace().collect();
    match words.as_slice() {
        [lo, and, hi] if and.eq_ignore_ascii_case("AND") => {
            let lo = parse_number(lo).ok_or_else(|| format!("{SHAPE}, found {lo:?}"))?;
            let hi = parse_number(hi).ok_or_else(|| format!("{SHAPE}, found {hi:?}"))?;
            Ok(Test::Between(lo, hi))
        }
        _ => Err(SHAPE.to_string()),
    }
}

fn in_list(rest: &str) -> Result<Test, String> {
    const SHAPE: &str = "expected IN (value, ...)";
    let mut chars = rest.char_indices().peekable();
    if chars.next().map(|(_, c)| c) != Some('(') {
        return Err(SHAPE.to_string());
    }
    let mut items = Vec::new();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        match chars.peek().copied() {
            None => return Err(format!("{SHAPE}: missing closing \")\"")),
            Some((_, ')')) if items.is_empty() => {
                chars.next();
                break;
            }
            Some((_, q @ ('\'' | '"'))) => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => return Err(format!("{SHAPE}: unterminated {q} quote")),
                        Some((_, c)) if c == q => {
                            if chars.next_if(|(_, c)| *c == q).is_some() {
                                text.push(q);
                            } else {
                                break;
                            }
                        }
                        Some((_, c)) => text.push(c),
                    }
                }
                items.push(Value::new(&text));
                while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            }
            Some((start, _)) => {
                let mut end = start;
                while let Some((i, c)) = chars.next_if(|(_, c)| *c != ',' && *c != ')') {
                    end = i + c.len_utf8();
                }
                let item = rest[start..end].trim();
                if item.is_empty() {
                    return Err(format!("{SHAPE}: empty item"));
                }
                items.push(Value::new(item));
            }
        }
        match chars.next() {
            Some((_, ',')) => continue,
            Some((_, ')')) => break,
            Some((_, c)) => return Err(format!("{SHAPE}: unexpected {c:?} after an item")),
            None => return Err(format!("{SHAPE}: missing closing \")\"")),
        }
    }
    if let Some((i, _)) = chars.next() {
        return Err(format!(
            "unexpected {:?} after the closing \")\"",
            &rest[i..]
        ));
    }
    Ok(Test::In(items))
}
