//! Comparing two answers to the same request: status, the headers a client acts
//! on, and the body — JSON structurally (key order never matters), anything else
//! by digest. Fields that differ by design between the sides are noise, not
//! differences: tokens and per-answer ids, timestamps written with different
//! precision, legacy's absolute `file_path` against the app's storage key, and the
//! order of arrays whose order the API does not promise.
//!
//! What comes out is redacted by construction: paths and value summaries (type,
//! length, a short fingerprint), never a string's text, so no token and no file
//! content reaches an example.

use super::routes::Route;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Headers compared (lowercase). Others (dates, `Vary`, framework extras, the
/// gateway's own) differ between any two servers.
pub const COMPARED_HEADERS: &[&str] = &["content-type", "content-disposition", "location"];
/// Most differences kept from one comparison.
pub const MAX_DIFFERENCES: usize = 20;
/// Most body bytes read from an answer; a longer body is not compared.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Keys whose values are minted per answer (tokens, token and request ids):
/// only whether both sides have one counts.
const MINTED_KEYS: &[&str] = &[
    "access",
    "refresh",
    "access_token",
    "refresh_token",
    "token",
    "jti",
    "request_id",
];

/// One side's answer, reduced to what is compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// [`COMPARED_HEADERS`] present, by lowercase name.
    pub headers: BTreeMap<String, String>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Empty,
    Json(Value),
    /// Not JSON: compared by length and digest.
    Other {
        len: usize,
        sha256: String,
    },
    /// Longer than [`MAX_BODY_BYTES`]: not compared.
    TooLong,
}

impl Answer {
    /// `body` is `None` when it was longer than [`MAX_BODY_BYTES`].
    pub fn new<'a>(
        status: u16,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: Option<&[u8]>,
    ) -> Answer {
        let headers = headers
            .into_iter()
            .filter_map(|(name, value)| {
                let name = name.to_ascii_lowercase();
                COMPARED_HEADERS
                    .contains(&name.as_str())
                    .then(|| (name.clone(), header_value(&name, value)))
            })
            .collect();
        let body = match body {
            None => Body::TooLong,
            Some([]) => Body::Empty,
            Some(bytes) => match serde_json::from_slice(bytes) {
                Ok(json) => Body::Json(json),
                Err(_) => Body::Other {
                    len: bytes.len(),
                    sha256: hex::encode(Sha256::digest(bytes)),
                },
            },
        };
        Answer {
            status,
            headers,
            body,
        }
    }
}

/// `Content-Type` is compared by media type (`application/json; charset=utf-8`
/// and `application/json` say the same).
fn header_value(name: &str, value: &str) -> String {
    match name {
        "content-type" => value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
        _ => value.trim().to_string(),
    }
}

/// Where two answers differ, with each side's value summarized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// `status`, `header content-type`, `body`, or a JSON path like `$.files[2].size`.
    pub path: String,
    pub primary: String,
    pub candidate: String,
}

impl Difference {
    /// The path with array indices as `[*]`: what noise is learned and matched by.
    pub fn pattern(&self) -> String {
        pattern_of(&self.path)
    }
}

fn pattern_of(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[*");
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

/// Everything `candidate` says differently from `primary` for `route`, at most
/// [`MAX_DIFFERENCES`].
pub fn compare(route: &Route, primary: &Answer, candidate: &Answer) -> Vec<Difference> {
    let mut out = Vec::new();
    if primary.status != candidate.status {
        push(
            &mut out,
            "status",
            primary.status.to_string(),
            candidate.status.to_string(),
        );
    }
    for name in COMPARED_HEADERS {
        let (a, b) = (primary.headers.get(*name), candidate.headers.get(*name));
        if a != b {
            let show = |v: Option<&String>| match v {
                Some(v) => v.chars().take(80).collect(),
                None => "absent".to_string(),
            };
            push(&mut out, &format!("header {name}"), show(a), show(b));
        }
    }
    match (&primary.body, &candidate.body) {
        (Body::TooLong, _) | (_, Body::TooLong) => {}
        (Body::Json(a), Body::Json(b)) => json(route, "$", a, b, &mut out),
        (a, b) if a != b => push(&mut out, "body", body_summary(a), body_summary(b)),
        _ => {}
    }
    out
}

fn push(out: &mut Vec<Difference>, path: &str, primary: String, candidate: String) {
    if out.len() < MAX_DIFFERENCES {
        out.push(Difference {
            path: path.to_string(),
            primary,
            candidate,
        });
    }
}

fn body_summary(body: &Body) -> String {
    match body {
        Body::Empty => "empty".into(),
        Body::Json(v) => format!("json {}", summary(v)),
        Body::Other { len, sha256 } => format!("{len} bytes #{}", &sha256[..8]),
        Body::TooLong => "too long".into(),
    }
}

/// A value as examples show it: scalars other than strings as they are, strings
/// by length and a fingerprint, containers by size.
pub fn summary(v: &Value) -> String {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => v.to_string(),
        Value::String(s) => {
            let digest = hex::encode(Sha256::digest(s.as_bytes()));
            format!("string({} chars) #{}", s.chars().count(), &digest[..6])
        }
        Value::Array(a) => format!("array({})", a.len()),
        Value::Object(o) => format!("object({} keys)", o.len()),
    }
}

/// The last key of a path (`$.files[2].uploaded_at` → `uploaded_at`).
fn last_key(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// What a key's values are compared by.
enum Rule {
    Exact,
    /// Minted per answer: present on both sides is enough.
    Minted,
    /// The same instant to the second, however it is written.
    Timestamp,
    /// Legacy answers an absolute server path, the app its storage key: a
    /// string on both sides is enough.
    FilePath,
}

fn rule(key: &str) -> Rule {
    if MINTED_KEYS.contains(&key) {
        Rule::Minted
    } else if key == "file_path" {
        Rule::FilePath
    } else if key.ends_with("_at") || key == "timestamp" {
        Rule::Timestamp
    } else {
        Rule::Exact
    }
}

fn json(route: &Route, path: &str, a: &Value, b: &Value, out: &mut Vec<Difference>) {
    if out.len() >= MAX_DIFFERENCES {
        return;
    }
    match rule(last_key(path)) {
        Rule::Minted if !a.is_null() && !b.is_null() => return,
        Rule::FilePath if a.is_string() && b.is_string() => return,
        Rule::Timestamp if same_instant(a, b) => return,
        _ => {}
    }
    let none = |v: &Value| v.is_null() || v.as_array().is_some_and(Vec::is_empty);
    if none(a) && none(b) && route.null_is_empty.contains(&pattern_of(path).as_str()) {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let child = format!("{path}.{key}");
                match (x.get(key), y.get(key)) {
                    (Some(va), Some(vb)) => json(route, &child, va, vb, out),
                    (va, vb) => push(
                        out,
                        &child,
                        va.map_or("absent".into(), summary),
                        vb.map_or("absent".into(), summary),
                    ),
                }
            }
        }
        (Value::Array(x), Value::Array(y))
            if route.unordered.contains(&pattern_of(path).as_str()) =>
        {
            unordered(route, path, x, y, out)
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                push(out, path, summary(a), summary(b));
            }
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                json(route, &format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ if a != b => push(out, path, summary(a), summary(b)),
        _ => {}
    }
}

/// Arrays compared as multisets: both sorted by their elements' noise-free form,
/// then element by element; of different lengths, the elements found on one side
/// only are reported.
fn unordered(route: &Route, path: &str, x: &[Value], y: &[Value], out: &mut Vec<Difference>) {
    let (xs, ys) = (by_canonical(x), by_canonical(y));
    if xs.len() == ys.len() {
        for (i, ((_, va), (_, vb))) in xs.iter().zip(&ys).enumerate() {
            json(route, &format!("{path}[{i}]"), va, vb, out);
        }
        return;
    }
    push(
        out,
        path,
        format!("array({})", x.len()),
        format!("array({})", y.len()),
    );
    let mut unmatched = vec![true; ys.len()];
    for (i, (key, value)) in xs.iter().enumerate() {
        match (0..ys.len()).find(|&j| unmatched[j] && ys[j].0 == *key) {
            Some(j) => unmatched[j] = false,
            None => push(
                out,
                &format!("{path}[{i}]"),
                summary(value),
                "absent".into(),
            ),
        }
    }
    for (j, (_, value)) in ys.iter().enumerate() {
        if unmatched[j] {
            push(
                out,
                &format!("{path}[{j}]"),
                "absent".into(),
                summary(value),
            );
        }
    }
}

fn by_canonical(items: &[Value]) -> Vec<(String, &Value)> {
    let mut v: Vec<(String, &Value)> = items.iter().map(|i| (canonical(i), i)).collect();
    v.sort_by(|p, q| p.0.cmp(&q.0));
    v
}

/// A value's text with the noise-ruled fields blanked, for ordering elements.
fn canonical(v: &Value) -> String {
    fn blank(v: &Value) -> Value {
        match v {
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| match (rule(k), v) {
                        // `[]` sorts as `null`, where a route says they are the same.
                        (Rule::Exact, Value::Array(a)) if a.is_empty() => (k.clone(), Value::Null),
                        (Rule::Exact, _) => (k.clone(), blank(v)),
                        _ => (k.clone(), Value::Null),
                    })
                    .collect(),
            ),
            Value::Array(a) => {
                let mut items: Vec<String> = a.iter().map(canonical).collect();
                items.sort();
                Value::Array(items.into_iter().map(Value::String).collect())
            }
            other => other.clone(),
        }
    }
    blank(v).to_string()
}

fn same_instant(a: &Value, b: &Value) -> bool {
    match (a.as_str().and_then(instant), b.as_str().and_then(instant)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Seconds since the epoch of an RFC 3339 time or SQL's `YYYY-MM-DD HH:MM:SS`
/// (UTC), fractions dropped.
fn instant(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shadow::routes::shadowable;
    use serde_json::json;

    fn answer(status: u16, body: Value) -> Answer {
        let bytes = body.to_string();
        Answer::new(
            status,
            [("Content-Type", "application/json"), ("Date", "today")],
            Some(bytes.as_bytes()),
        )
    }

    fn list() -> &'static Route {
        shadowable("GET", "/api/list_cutter/list_saved_files/").unwrap()
    }

    fn file(id: &str, path: &str, at: &str, tags: Value) -> Value {
        json!({"file_id": id, "file_name": format!("{id}.csv"), "file_path": path,
               "uploaded_at": at, "system_tags": ["uploaded"], "user_tags": tags, "metadata": null})
    }

    #[test]
    fn the_same_listing_written_each_sides_way_is_equal() {
        let legacy = answer(
            200,
            json!({"files": [
                file("a", "/app/media/uploads/a.csv", "2025-02-27T03:04:05.123456Z", json!(["x", "y"])),
                file("b", "/app/media/uploads/b_1.csv", "2025-02-27T03:04:06.5Z", Value::Null),
            ]}),
        );
        // Key order, array order, timestamp precision and form, file_path and a
        // charset parameter all differ; none of it is a difference.
        let app = Answer::new(
            200,
            [("content-type", "application/json; charset=utf-8")],
            Some(
                json!({"files": [
                    file("b", "uploads/user-1/b.csv", "2025-02-27 03:04:06", json!([])),
                    file("a", "uploads/user-1/a.csv", "2025-02-27T03:04:05Z", json!(["y", "x"])),
                ]})
                .to_string()
                .as_bytes(),
            ),
        );
        assert_eq!(compare(list(), &legacy, &app), vec![]);
    }

    #[test]
    fn real_differences_are_found_with_their_paths() {
        let a = answer(
            200,
            json!({"files": [file("a", "/p", "2025-01-01T00:00:00Z", Value::Null)]}),
        );
        let mut changed = file("a", "k", "2025-01-01T00:00:09Z", Value::Null);
        changed["file_name"] = json!("other.csv");
        let b = answer(200, json!({"files": [changed]}));
        let d = compare(list(), &a, &b);
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["$.files[0].file_name", "$.files[0].uploaded_at"]
        );
        assert_eq!(d[0].pattern(), "$.files[*].file_name");
        // Redacted: a string is its length and a fingerprint, never its text.
        assert!(d[0].primary.starts_with("string(5 chars) #"), "{:?}", d[0]);
        assert!(!d[0].candidate.contains("other"));
    }

    #[test]
    fn a_file_on_one_side_only_is_named_by_position() {
        let a = answer(
            200,
            json!({"files": [file("a", "/p", "t", Value::Null), file("b", "/p", "t", Value::Null)]}),
        );
        let b = answer(200, json!({"files": [file("b", "k", "t", Value::Null)]}));
        let d = compare(list(), &a, &b);
        assert_eq!(d[0].path, "$.files");
        assert_eq!(
            (d[0].primary.as_str(), d[0].candidate.as_str()),
            ("array(2)", "array(1)")
        );
        assert_eq!(d[1].path, "$.files[0]");
        assert_eq!(
            (d[1].primary.as_str(), d[1].candidate.as_str()),
            ("object(7 keys)", "absent")
        );
        assert_eq!(d.len(), 2, "{d:?}");
    }

    #[test]
    fn null_is_empty_only_where_the_route_says_so() {
        let a = answer(
            200,
            json!({"files": [file("a", "/p", "t", Value::Null)], "x": null}),
        );
        let b = answer(
            200,
            json!({"files": [file("a", "k", "t", json!([]))], "x": []}),
        );
        let d = compare(list(), &a, &b);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].path, "$.x");
        let c = answer(
            200,
            json!({"files": [file("a", "k", "t", json!(["t"]))], "x": null}),
        );
        assert_eq!(compare(list(), &a, &c)[0].path, "$.files[0].user_tags");
    }

    #[test]
    fn ordered_arrays_keep_their_order() {
        let route = shadowable("GET", "/api/list_cutter/fetch_saved_file/x/").unwrap();
        let a = answer(200, json!({"columns": ["a", "b"]}));
        let b = answer(200, json!({"columns": ["b", "a"]}));
        assert_eq!(compare(route, &a, &b).len(), 2);
    }

    #[test]
    fn status_headers_and_other_bodies() {
        let route = list();
        let a = Answer::new(200, [("Content-Type", "text/csv")], Some(b"a,b\n1,2\n"));
        let b = Answer::new(
            404,
            [("Content-Type", "application/json")],
            Some(b"{\"error\":\"File not found\"}"),
        );
        let d = compare(route, &a, &b);
        assert_eq!(
            d[0],
            Difference {
                path: "status".into(),
                primary: "200".into(),
                candidate: "404".into()
            }
        );
        assert_eq!(d[1].path, "header content-type");
        assert_eq!(d[1].primary, "text/csv");
        assert_eq!(d[2].path, "body");
        assert!(d[2].primary.starts_with("8 bytes #"), "{:?}", d[2]);
        assert_eq!(d[2].candidate, "json object(1 keys)");
        // Bodies over the limit are not compared; the rest still is.
        let long = Answer::new(200, [("Content-Type", "text/csv")], None);
        assert_eq!(compare(route, &a, &long), vec![]);
        assert_eq!(Answer::new(204, [], Some(b"")).body, Body::Empty);
    }

    #[test]
    fn minted_values_count_only_by_presence() {
        let route = list();
        let a = answer(200, json!({"access": "tok1", "request_id": "r1"}));
        let b = answer(200, json!({"access": "tok2", "request_id": "r2"}));
        assert_eq!(compare(route, &a, &b), vec![]);
        let c = answer(200, json!({"access": null, "request_id": "r2"}));
        assert_eq!(compare(route, &a, &c)[0].path, "$.access");
    }

    #[test]
    fn many_differences_are_capped() {
        let a: Vec<u32> = (0..100).collect();
        let b: Vec<u32> = (1..101).collect();
        let d = compare(
            list(),
            &answer(200, json!({"n": a})),
            &answer(200, json!({"n": b})),
        );
        assert_eq!(d.len(), MAX_DIFFERENCES);
    }
}
