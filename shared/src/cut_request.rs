//! The JSON of a cut: `{"columns": [...], "filters": {column: expression}}`, as
//! `export_csv/` receives it and saved filters keep it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::csv_cut::{CutSpec, Cutter};

/// The selected columns: a list of names; absent or `null` is no column.
pub fn parse_columns(value: Option<&Value>) -> Result<Vec<String>, String> {
    let error = || "columns must be a list of column names".to_string();
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| c.as_str().map(str::to_string).ok_or_else(error))
            .collect(),
        Some(_) => Err(error()),
    }
}

/// The filters: an object of column → expression (a string, `null` meaning none).
pub fn parse_filters(value: Option<&Value>) -> Result<BTreeMap<String, String>, String> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(column, expression)| match expression {
                Value::String(e) => Ok((column.clone(), e.clone())),
                Value::Null => Ok((column.clone(), String::new())),
                _ => Err(format!("The filter for column '{column}' must be a string")),
            })
            .collect(),
        Some(_) => Err("filters must be an object of column: expression".into()),
    }
}

/// The cut a request body asks for, every expression parsed: at least one column,
/// filters that parse. Columns are checked against the file's header later.
/// `neutralize_formulas: true` opts in to formula-safe output.
pub fn parse_spec(body: &Value) -> Result<Cutter, String> {
    let columns = parse_columns(body.get("columns"))?;
    if columns.is_empty() {
        return Err("No columns provided.".into());
    }
    let filters = parse_filters(body.get("filters"))?;
    let neutralize_formulas = match body.get("neutralize_formulas") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("neutralize_formulas must be true or false".into()),
    };
    let spec = CutSpec {
        neutralize_formulas,
        ..CutSpec::new(columns, filters)
    };
    Cutter::new(spec).map_err(|e| e.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_and_filters_parse() {
        let body = json!({"columns": ["name", "age"], "filters": {"age": "> 3", "city": null}});
        assert!(parse_spec(&body).is_ok());
        assert_eq!(
            parse_filters(body.get("filters")).unwrap(),
            BTreeMap::from([("age".into(), "> 3".into()), ("city".into(), String::new())])
        );
    }

    #[test]
    fn bad_shapes_are_named() {
        assert_eq!(
            parse_spec(&json!({"filters": {}})).err().unwrap(),
            "No columns provided."
        );
        assert_eq!(
            parse_spec(&json!({"columns": "name"})).err().unwrap(),
            "columns must be a list of column names"
        );
        assert_eq!(
            parse_spec(&json!({"columns": ["a", 1]})).err().unwrap(),
            "columns must be a list of column names"
        );
        assert_eq!(
            parse_spec(&json!({"columns": ["a"], "filters": ["a"]}))
                .err()
                .unwrap(),
            "filters must be an object of column: expression"
        );
        assert_eq!(
            parse_spec(&json!({"columns": ["a"], "filters": {"a": 5}}))
                .err()
                .unwrap(),
            "The filter for column 'a' must be a string"
        );
    }

    #[test]
    fn a_bad_expression_names_its_column() {
        let message = parse_spec(&json!({"columns": ["a"], "filters": {"age": "~ 5"}}))
            .err()
            .unwrap();
        assert!(
            message.contains("age") && message.contains("~ 5"),
            "{message}"
        );
    }
}
