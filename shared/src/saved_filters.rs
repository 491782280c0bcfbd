//! A saved filter's fields as a client sends them (`POST /api/filters`, `PUT
//! /api/filters/<id>`): checked whole before anything is stored.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::csv_cut::{CutSpec, Cutter};
use crate::cut_request::{parse_columns, parse_filters};

/// Longest name kept.
pub const MAX_NAME_CHARS: usize = 200;

/// The stored fields of a saved filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterFields {
    pub name: String,
    pub file_id: String,
    pub columns: Vec<String>,
    pub filters: BTreeMap<String, String>,
}

impl FilterFields {
    /// The cut the filter describes.
    pub fn spec(&self) -> CutSpec {
        CutSpec::new(self.columns.clone(), self.filters.clone())
    }

    pub fn columns_json(&self) -> String {
        json!(self.columns).to_string()
    }

    pub fn filters_json(&self) -> String {
        json!(self.filters).to_string()
    }
}

/// The fields of `body` over `base` (a `PUT` changes what it names; a `POST` has
/// no base, so every field is required). The result has a name, a file, at least
/// one column and expressions that parse.
pub fn parse(body: &Value, base: Option<&FilterFields>) -> Result<FilterFields, String> {
    let Value::Object(map) = body else {
        return Err("The body must be a JSON object.".into());
    };
    let text = |field: &str| -> Result<Option<String>, String> {
        match map.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(_) => Err(format!("{field} must be a string.")),
        }
    };
    let required = |field: &str, value: Option<String>, old: Option<&String>| {
        value
            .or_else(|| old.cloned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{field} is required."))
    };
    let name = required("name", text("name")?, base.map(|b| &b.name))?;
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("name is longer than {MAX_NAME_CHARS} characters."));
    }
    let file_id = required("file_id", text("file_id")?, base.map(|b| &b.file_id))?;
    let columns = match map.get("columns") {
        Some(value) => parse_columns(Some(value))?,
        None => base.map(|b| b.columns.clone()).unwrap_or_default(),
    };
    let filters = match map.get("filters") {
        Some(value) => parse_filters(Some(value))?,
        None => base.map(|b| b.filters.clone()).unwrap_or_default(),
    };
    let fields = FilterFields {
        name,
        file_id,
        columns,
        filters,
    };
    Cutter::new(fields.spec()).map_err(|e| e.message)?;
    Ok(fields)
}

/// Stored JSON text of `columns`/`filters` back into fields; a damaged value reads
/// as empty rather than failing the whole list.
pub fn from_stored(name: String, file_id: String, columns: &str, filters: &str) -> FilterFields {
    FilterFields {
        name,
        file_id,
        columns: serde_json::from_str(columns).unwrap_or_default(),
        filters: serde_json::from_str(filters).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Value {
        json!({"name": " NYC only ", "file_id": "f1", "columns": ["name"], "filters": {"city": "= NYC"}})
    }

    #[test]
    fn a_full_body_parses_trimmed() {
        let f = parse(&full(), None).unwrap();
        assert_eq!(f.name, "NYC only");
        assert_eq!(f.columns, vec!["name"]);
        assert_eq!(f.filters_json(), r#"{"city":"= NYC"}"#);
    }

    #[test]
    fn a_create_needs_every_field() {
        for field in ["name", "file_id"] {
            let mut body = full();
            body.as_object_mut().unwrap().remove(field);
            assert_eq!(
                parse(&body, None).unwrap_err(),
                format!("{field} is required.")
            );
        }
        let mut body = full();
        body.as_object_mut().unwrap().remove("columns");
        assert!(parse(&body, None).unwrap_err().contains("no columns"));
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name() {
        let base = parse(&full(), None).unwrap();
        let f = parse(&json!({"filters": {"age": ">= 28"}}), Some(&base)).unwrap();
        assert_eq!(f.name, base.name);
        assert_eq!(f.columns, base.columns);
        assert_eq!(f.filters, BTreeMap::from([("age".into(), ">= 28".into())]));
    }

    #[test]
    fn bad_fields_are_refused_with_their_name() {
        let base = parse(&full(), None).unwrap();
        let cases = [
            (json!([1]), "The body must be a JSON object."),
            (json!({"name": 3}), "name must be a string."),
            (json!({"name": "  "}), "name is required."),
            (json!({"columns": []}), "no columns selected"),
            (json!({"columns": "name"}), "columns must be a list"),
            (json!({"filters": {"age": "between 1"}}), "column \"age\""),
            (json!({"name": "x".repeat(201)}), "longer than 200"),
        ];
        for (body, expected) in cases {
            let error = parse(&body, Some(&base)).unwrap_err();
            assert!(error.contains(expected), "{body}: {error}");
        }
    }

    #[test]
    fn stored_text_round_trips() {
        let f = parse(&full(), None).unwrap();
        let back = from_stored(
            f.name.clone(),
            f.file_id.clone(),
            &f.columns_json(),
            &f.filters_json(),
        );
        assert_eq!(back, f);
    }
}
