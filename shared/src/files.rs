//! Saved files of signed-in users: the pure parts of the `list_cutter` file
//! endpoints (names, tags, lineage, listing), so that the app Worker stays thin.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{json, Value};

/// The longest display name kept (characters).
pub const MAX_NAME_CHARS: usize = 255;

/// A client's file name reduced to a display name: the part after the last `/` or
/// `\` (so `../../etc/passwd` is `passwd`), without control characters nor the
/// invisible formatting ones that make a name read as another (bidi overrides such
/// as U+202E, zero-width spaces and joiners, the BOM), cut to
/// [`MAX_NAME_CHARS`]. A name with nothing left is `file.csv`. The name is never a
/// storage path (objects are keyed by id), this only keeps names readable and safe
/// to put in a `Content-Disposition`.
pub fn sanitize_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c) && *c != '"')
        .take(MAX_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "file.csv".to_string()
    } else {
        cleaned
    }
}

/// Python's `os.path.splitext`: `("base", ".ext")`; leading dots are not an extension.
fn split_ext(name: &str) -> (&str, &str) {
    let start = name.len() - name.trim_start_matches('.').len();
    match name[start..].rfind('.') {
        Some(i) => name.split_at(start + i),
        None => (name, ""),
    }
}

/// Legacy `set_file_name`: `name` if it is free, else the first free of
/// `base_1.ext`, `base_2.ext`, ...
pub fn unique_name(name: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(name) {
        return name.to_string();
    }
    let (base, ext) = split_ext(name);
    (1..)
        .map(|n| format!("{base}_{n}{ext}"))
        .find(|candidate| !taken.contains(candidate))
        .expect("some counter is free")
}

/// Bidi embeddings, overrides and isolates, zero-width characters, word joiners
/// and the BOM: characters that change how a name reads without being seen.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// What the `base_N.ext` variants of `name` start and end with, for a lookup of
/// the names taken that needs no `LIKE` (D1 caps `LIKE` patterns at 50 bytes,
/// shorter than a legacy name may be).
pub fn variant_affixes(name: &str) -> (String, String) {
    let (base, ext) = split_ext(name);
    (format!("{base}_"), ext.to_string())
}

/// `existing` followed by the new tags not in it yet (a set union that keeps the
/// order tags were added in; legacy's `set()` had no stable order).
pub fn union_tags(existing: &[String], new: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(existing.len() + new.len());
    for tag in existing.iter().chain(new) {
        if !out.contains(tag) {
            out.push(tag.clone());
        }
    }
    out
}

/// Most user tags one file holds (legacy had no bound; 10 000 tags in one request
/// were accepted and stored).
pub const MAX_USER_TAGS: usize = 100;
/// Longest user tag, in characters.
pub const MAX_TAG_CHARS: usize = 100;

/// The tags of an `update_tags` body: `{"user_tags": [strings]}`, each at most
/// [`MAX_TAG_CHARS`] and at most [`MAX_USER_TAGS`] of them.
pub fn parse_user_tags(body: &Value) -> Result<Vec<String>, String> {
    let error = || "user_tags must be a list of strings".to_string();
    let Some(Value::Array(items)) = body.get("user_tags") else {
        return Err(error());
    };
    if items.len() > MAX_USER_TAGS {
        return Err(format!("A file holds at most {MAX_USER_TAGS} tags."));
    }
    items
        .iter()
        .map(|t| match t.as_str() {
            Some(tag) if tag.chars().count() > MAX_TAG_CHARS => {
                Err(format!("A tag is at most {MAX_TAG_CHARS} characters long."))
            }
            Some(tag) => Ok(tag.to_string()),
            None => Err(error()),
        })
        .collect()
}

/// `existing` with `new` added ([`union_tags`]), or the 400 message when that
/// would exceed [`MAX_USER_TAGS`].
pub fn add_user_tags(existing: &[String], new: &[String]) -> Result<Vec<String>, String> {
    let tags = union_tags(existing, new);
    if tags.len() > MAX_USER_TAGS {
        return Err(format!("A file holds at most {MAX_USER_TAGS} tags."));
    }
    Ok(tags)
}

/// A JSON array column (`system_tags`, `user_tags`) as a value; bad text is `[]`.
pub fn tags_value(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Array(_)) => v,
        _ => json!([]),
    }
}

/// Legacy `list_saved_files` order: rows by id, one per `file_name`, the newest
/// upload of a name winning but listed where its name first appeared. Each item is
/// `(file_name, uploaded_at, value)`.
pub fn dedupe_by_name(rows: Vec<(String, String, Value)>) -> Vec<Value> {
    let mut order: Vec<String> = Vec::new();
    let mut best: HashMap<String, (String, Value)> = HashMap::new();
    for (name, uploaded_at, value) in rows {
        match best.get(&name) {
            None => {
                order.push(name.clone());
                best.insert(name, (uploaded_at, value));
            }
            Some((at, _)) if uploaded_at > *at => {
                best.insert(name, (uploaded_at, value));
            }
            Some(_) => {}
        }
    }
    order
        .into_iter()
        .map(|name| best.remove(&name).expect("inserted above").1)
        .collect()
}

/// One lineage edge: `source -[kind]-> target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub id: i64,
    pub source: String,
    pub target: String,
    pub kind: String,
}

pub const CUT_TO: &str = "CUT_TO";
pub const CUT_FROM: &str = "CUT_FROM";

/// Most paths a lineage answer enumerates (a guard against pathological graphs).
const MAX_PATHS: usize = 10_000;

/// Every relationship-unique path of `kind` edges ending at `file_id`, each as
/// its edges from the start node to `file_id`, shortest first (breadth first,
/// edges by id): the paths legacy's Cypher `MATCH p = (a)-[:KIND*]->(f)` returned.
fn paths_into<'a>(edges: &'a [Edge], file_id: &str, kind: &str) -> Vec<Vec<&'a Edge>> {
    let mut incoming: HashMap<&str, Vec<&Edge>> = HashMap::new();
    let mut sorted: Vec<&Edge> = edges.iter().filter(|e| e.kind == kind).collect();
    sorted.sort_by_key(|e| e.id);
    for edge in sorted {
        incoming.entry(edge.target.as_str()).or_default().push(edge);
    }
    let mut paths = Vec::new();
    let mut queue: VecDeque<(&str, Vec<&Edge>)> = VecDeque::from([(file_id, Vec::new())]);
    while let Some((node, suffix)) = queue.pop_front() {
        for edge in incoming.get(node).into_iter().flatten() {
            if paths.len() >= MAX_PATHS {
                return paths;
            }
            if suffix.iter().any(|e| e.id == edge.id) {
                continue;
            }
            let mut path = vec![*edge];
            path.extend(suffix.iter().copied());
            paths.push(path.clone());
            queue.push_back((edge.source.as_str(), path));
        }
    }
    paths
}

/// The legacy `fetch_file_lineage` answer: ancestors (CUT_TO chains into the file)
/// then descendants (CUT_FROM chains into the file); `nodes` once each in first-seen
/// order, `edges` once per path they are on (as legacy listed them). `names` maps
/// file ids to names (an unknown id gets `""`).
pub fn lineage(file_id: &str, edges: &[Edge], names: &HashMap<String, String>) -> Value {
    let mut paths = paths_into(edges, file_id, CUT_TO);
    paths.extend(paths_into(edges, file_id, CUT_FROM));
    let mut ids: Vec<&str> = Vec::new();
    for path in &paths {
        let start = path.first().map(|e| e.source.as_str());
        for id in start
            .into_iter()
            .chain(path.iter().map(|e| e.target.as_str()))
        {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let nodes: Vec<Value> = ids
        .iter()
        .map(|id| json!({"file_id": id, "file_name": names.get(*id).cloned().unwrap_or_default()}))
        .collect();
    let edges: Vec<Value> = paths
        .iter()
        .flatten()
        .map(|e| json!({"source": e.source, "target": e.target, "type": e.kind}))
        .collect();
    json!({"nodes": nodes, "edges": edges})
}

/// A URL path segment with `%XX` escapes decoded (lossy UTF-8); `None` for a bad escape.
pub fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The longest prefix of `bytes` that is whole UTF-8 characters, as text.
pub fn utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid up to here"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> HashSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn sanitized_as(cases: &[(&str, &str)]) {
        for (name, clean) in cases {
            assert_eq!(sanitize_name(name), *clean, "{name:?}");
        }
    }

    #[test]
    fn names_lose_their_directories_and_control_characters() {
        sanitized_as(&[
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\x\\data.csv", "data.csv"),
            ("a\r\nb\".csv", "ab.csv"),
            ("..", "file.csv"),
            ("dir/", "file.csv"),
        ]);
        assert_eq!(sanitize_name(&"x".repeat(400)).chars().count(), 255);
    }

    #[test]
    fn unique_names_count_up_like_legacy() {
        assert_eq!(unique_name("a.csv", &set(&[])), "a.csv");
        assert_eq!(unique_name("a.csv", &set(&["a.csv"])), "a_1.csv");
        assert_eq!(unique_name("a.csv", &set(&["a.csv", "a_1.csv"])), "a_2.csv");
        assert_eq!(unique_name("a.tar.gz", &set(&["a.tar.gz"])), "a.tar_1.gz");
        assert_eq!(unique_name(".env", &set(&[".env"])), ".env_1");
        assert_eq!(unique_name("noext", &set(&["noext"])), "noext_1");
    }

    #[test]
    fn variant_affixes_frame_the_counter() {
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(variant_affixes("a_b.csv"), pair("a_b_", ".csv"));
        assert_eq!(variant_affixes("100%"), pair("100%_", ""));
        assert_eq!(variant_affixes(".env"), pair(".env_", ""));
        let long = format!("{}.csv", "n".repeat(250));
        assert_eq!(
            variant_affixes(&long),
            pair(&format!("{}_", "n".repeat(250)), ".csv")
        );
    }

    #[test]
    fn names_lose_invisible_formatting() {
        sanitized_as(&[
            ("inv\u{202E}vsc.csv", "invvsc.csv"),
            ("a\u{200B}b\u{200D}c\u{FEFF}.csv", "abc.csv"),
            ("\u{2066}x\u{2069}.csv", "x.csv"),
            ("\u{202E}\u{200B}", "file.csv"),
            ("caf\u{e9} \u{4e2d}.csv", "caf\u{e9} \u{4e2d}.csv"),
        ]);
    }

    #[test]
    fn tags_union_keeps_order_without_duplicates() {
        let s = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(
            union_tags(&s(&["a", "b"]), &s(&["b", "c", "c"])),
            s(&["a", "b", "c"])
        );
        assert_eq!(parse_user_tags(&json!({"user_tags": ["x"]})), Ok(s(&["x"])));
        assert!(parse_user_tags(&json!({"user_tags": [1]})).is_err());
        assert!(parse_user_tags(&json!({"user_tags": "x"})).is_err());
        assert!(parse_user_tags(&json!({})).is_err());
        let many: Vec<String> = (0..=MAX_USER_TAGS).map(|i| format!("t{i}")).collect();
        assert!(parse_user_tags(&json!({ "user_tags": many })).is_err());
        assert!(parse_user_tags(&json!({ "user_tags": ["x".repeat(MAX_TAG_CHARS + 1)] })).is_err());
        assert!(parse_user_tags(&json!({ "user_tags": ["\u{e9}".repeat(MAX_TAG_CHARS)] })).is_ok());
        let full: Vec<String> = (0..MAX_USER_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(add_user_tags(&full, &s(&["t0"])), Ok(full.clone()));
        assert!(add_user_tags(&full, &s(&["new"])).is_err());
        assert_eq!(tags_value("nonsense"), json!([]));
    }

    #[test]
    fn listing_keeps_the_newest_of_a_name_at_its_first_position() {
        let rows = vec![
            ("a".to_string(), "1".to_string(), json!(1)),
            ("b".to_string(), "2".to_string(), json!(2)),
            ("a".to_string(), "3".to_string(), json!(3)),
        ];
        assert_eq!(dedupe_by_name(rows), vec![json!(3), json!(2)]);
    }

    fn pair(id: i64, parent: &str, child: &str) -> Vec<Edge> {
        vec![
            Edge {
                id: 2 * id,
                source: parent.into(),
                target: child.into(),
                kind: CUT_TO.into(),
            },
            Edge {
                id: 2 * id + 1,
                source: child.into(),
                target: parent.into(),
                kind: CUT_FROM.into(),
            },
        ]
    }

    #[test]
    fn lineage_lists_ancestor_and_descendant_paths_like_legacy() {
        // a -> b -> c, b -> d; ask about b.
        let mut edges = pair(1, "a", "b");
        edges.extend(pair(2, "b", "c"));
        edges.extend(pair(3, "b", "d"));
        let names: HashMap<String, String> = [("a", "A"), ("b", "B"), ("c", "C")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let got = lineage("b", &edges, &names);
        assert_eq!(
            got["nodes"],
            json!([
                {"file_id": "a", "file_name": "A"},
                {"file_id": "b", "file_name": "B"},
                {"file_id": "c", "file_name": "C"},
                {"file_id": "d", "file_name": ""},
            ])
        );
        assert_eq!(
            got["edges"],
            json!([
                {"source": "a", "target": "b", "type": "CUT_TO"},
                {"source": "c", "target": "b", "type": "CUT_FROM"},
                {"source": "d", "target": "b", "type": "CUT_FROM"},
            ])
        );
        // From c: the chain a -> b -> c lists a -> b once per path it is on.
        let got = lineage("c", &edges, &names);
        assert_eq!(got["edges"].as_array().unwrap().len(), 3);
        assert_eq!(
            lineage("zzz", &edges, &names),
            json!({"nodes": [], "edges": []})
        );
    }

    #[test]
    fn percent_decoding_and_utf8_prefixes() {
        assert_eq!(percent_decode("a%20b.csv").as_deref(), Some("a b.csv"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%"), None);
        assert_eq!(utf8_prefix("hé".as_bytes()), "hé");
        assert_eq!(utf8_prefix(&"hé".as_bytes()[..2]), "h");
    }
}
