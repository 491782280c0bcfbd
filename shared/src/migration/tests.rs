use super::*;

fn user(id: i64, name: &str) -> UserRecord {
    UserRecord {
        id,
        username: name.into(),
        email: format!("{name}@example.org"),
        password: "pbkdf2_sha256$870000$salt$hash".into(),
        is_active: true,
        is_admin: false,
        created_at: "2025-02-27T03:04:05.123456Z".into(),
        last_login: None,
    }
}

fn file(id: &str, owner: i64) -> FileRecord {
    FileRecord {
        file_id: id.into(),
        user_id: owner,
        file_name: "a.csv".into(),
        system_tags: vec!["uploaded".into()],
        user_tags: vec!["x".into()],
        metadata: None,
        uploaded_at: "2025-02-27T03:04:05Z".into(),
        size: 3,
        sha256: "a".repeat(64),
    }
}

fn stored(record: FileRecord, origin: &str) -> StoredFile {
    StoredFile {
        record,
        origin: origin.into(),
    }
}

#[test]
fn legacy_edges_map_to_parent_and_child_and_back() {
    let to = EdgeRecord::from_legacy("a", "b", "CUT_TO").unwrap();
    let from = EdgeRecord::from_legacy("b", "a", "CUT_FROM").unwrap();
    assert_eq!((to.parent_id.as_str(), to.child_id.as_str()), ("a", "b"));
    assert_eq!(
        (from.parent_id.as_str(), from.child_id.as_str()),
        ("a", "b")
    );
    assert_eq!(to.to_legacy(), ("a", "b"));
    assert_eq!(from.to_legacy(), ("b", "a"));
    assert!(EdgeRecord::from_legacy("a", "b", "KNOWS").is_none());
}

#[test]
fn records_are_checked_with_messages_naming_them() {
    assert!(check_user(&user(5, "bob"), 1000).is_ok());
    assert!(check_user(&user(1000, "bob"), 1000)
        .unwrap_err()
        .contains("USER_ID_OFFSET"));
    assert!(check_user(&user(0, "bob"), 1000).is_err());
    let mut u = user(5, "");
    assert!(check_user(&u, 1000).unwrap_err().contains("username"));
    u = user(5, "bob");
    u.created_at = "yesterday".into();
    assert!(check_user(&u, 1000).unwrap_err().contains("created_at"));

    assert!(check_file(&file("3f2a-b_9", 1)).is_ok());
    for bad in ["", "../x", "a/b", &"x".repeat(65)] {
        assert!(check_file(&file(bad, 1)).is_err(), "{bad}");
    }
    let mut f = file("abc", 1);
    f.sha256 = "A".repeat(64);
    assert!(check_file(&f).unwrap_err().contains("sha256"));

    let edge = |p: &str, c: &str, k: &str| EdgeRecord {
        parent_id: p.into(),
        child_id: c.into(),
        relationship: k.into(),
    };
    assert!(check_edge(&edge("a", "b", "CUT_TO")).is_ok());
    assert!(check_edge(&edge("a", "a", "CUT_TO")).is_err());
    assert!(check_edge(&edge("a", "b", "LIKES")).is_err());
}

#[test]
fn a_batch_is_refused_whole_naming_the_bad_record() {
    let ok = serde_json::json!({"users": [user(1, "a"), user(2, "b")]});
    assert_eq!(
        parse_batch::<UserRecord>(&ok, "users", |u| check_user(u, 10))
            .unwrap()
            .len(),
        2
    );
    let bad = serde_json::json!({"users": [user(1, "a"), {"id": 2}]});
    let err = parse_batch::<UserRecord>(&bad, "users", |u| check_user(u, 10)).unwrap_err();
    assert!(err.starts_with("users[1]: "), "{err}");
    let err = parse_batch::<UserRecord>(&serde_json::json!([1]), "users", |_| Ok(())).unwrap_err();
    assert!(err.contains("expected"), "{err}");
    let many = serde_json::json!({"users": vec![user(1, "a"); MAX_BATCH + 1]});
    assert!(parse_batch::<UserRecord>(&many, "users", |_| Ok(())).is_err());
}

#[test]
fn user_outcomes_create_update_and_never_overwrite_a_taken_username() {
    let incoming = user(5, "bob");
    assert_eq!(user_outcome(&incoming, None, None), Outcome::Created);
    assert_eq!(
        user_outcome(&incoming, Some(&incoming), Some(&incoming)),
        Outcome::Unchanged
    );
    let mut logged_in = incoming.clone();
    logged_in.last_login = Some("2026-01-01T00:00:00Z".into());
    assert_eq!(
        user_outcome(&incoming, Some(&logged_in), Some(&logged_in)),
        Outcome::Unchanged
    );
    let mut changed = incoming.clone();
    changed.password = "pbkdf2_sha256$870000$other$hash".into();
    assert_eq!(
        user_outcome(&incoming, Some(&changed), Some(&changed)),
        Outcome::Updated
    );
    let app_bob = user(1_000_000_001, "bob");
    match user_outcome(&incoming, None, Some(&app_bob)) {
        Outcome::Conflict(d) => assert!(d.contains("1000000001") && d.contains("bob"), "{d}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn later_picks_the_later_timestamp() {
    let a = "2026-01-01T00:00:00Z";
    let b = "2026-01-02T00:00:00.5+00:00";
    assert_eq!(later(Some(a), Some(b)).as_deref(), Some(b));
    assert_eq!(later(Some(b), Some(a)).as_deref(), Some(b));
    assert_eq!(later(None, Some(a)).as_deref(), Some(a));
    assert_eq!(later(None, None), None);
}

#[test]
fn file_outcomes() {
    let incoming = file("f1", 1);
    assert_eq!(file_outcome(&incoming, None, true).0, Outcome::NeedsContent);
    assert!(matches!(
        file_outcome(&incoming, None, false).0,
        Outcome::Missing(_)
    ));
    let same = stored(incoming.clone(), "legacy");
    assert_eq!(
        file_outcome(&incoming, Some(&same), true),
        (Outcome::Unchanged, None)
    );

    let mut content = incoming.clone();
    content.sha256 = "b".repeat(64);
    assert_eq!(
        file_outcome(&content, Some(&same), true).0,
        Outcome::NeedsContent
    );

    let mut other_owner = incoming.clone();
    other_owner.user_id = 2;
    assert!(matches!(
        file_outcome(&other_owner, Some(&same), true).0,
        Outcome::Conflict(_)
    ));

    // Tags added on either side are kept; the legacy name wins.
    let mut app_tagged = incoming.clone();
    app_tagged.user_tags = vec!["x".into(), "app".into()];
    let mut legacy_changed = incoming.clone();
    legacy_changed.user_tags = vec!["legacy".into()];
    legacy_changed.file_name = "b.csv".into();
    let (outcome, merged) =
        file_outcome(&legacy_changed, Some(&stored(app_tagged, "legacy")), true);
    assert_eq!(outcome, Outcome::Updated);
    let merged = merged.unwrap();
    assert_eq!(merged.user_tags, vec!["legacy", "x", "app"]);
    assert_eq!(merged.file_name, "b.csv");

    // The app's own files keep their name and content; only tags added on
    // legacy join theirs.
    let (outcome, merged) = file_outcome(
        &legacy_changed,
        Some(&stored(incoming.clone(), "app")),
        true,
    );
    assert_eq!(outcome, Outcome::Updated);
    let merged = merged.unwrap();
    assert_eq!(merged.user_tags, vec!["x", "legacy"]);
    assert_eq!(merged.file_name, incoming.file_name);
    let mut same_tags = incoming.clone();
    same_tags.file_name = "renamed-on-legacy.csv".into();
    assert_eq!(
        file_outcome(&same_tags, Some(&stored(incoming, "app")), true).0,
        Outcome::Unchanged
    );
}

#[test]
fn samples_are_distinct_sorted_and_cover_everything_when_asked_for_more() {
    let s = sample_indices(100, 10, 42);
    assert_eq!(s.len(), 10);
    assert!(s.windows(2).all(|w| w[0] < w[1]));
    assert!(s.iter().all(|&i| i < 100));
    assert_ne!(s, sample_indices(100, 10, 43));
    assert_eq!(sample_indices(5, 9, 1), vec![0, 1, 2, 3, 4]);
}

#[test]
fn neo4j_era_metadata_gives_the_lineage_rows() {
    let meta = r#"{"generated_file_details": {"source_file": "/m/uploads/a.csv", "columns": ["x"], "column_filters": {}, "original_file_id": "p-1"}}"#;
    let edges = edges_from_metadata("c-1", meta);
    assert_eq!(edges.len(), 2);
    assert!(edges
        .iter()
        .all(|e| e.parent_id == "p-1" && e.child_id == "c-1"));
    assert_eq!(
        edges
            .iter()
            .map(|e| e.relationship.as_str())
            .collect::<Vec<_>>(),
        ["CUT_TO", "CUT_FROM"]
    );
    // No original, an empty one, itself, or not JSON: no rows.
    for meta in [
        r#"{"columns": ["x"]}"#,
        r#"{"generated_file_details": {"original_file_id": ""}}"#,
        r#"{"generated_file_details": {"original_file_id": "c-1"}}"#,
        r#"{"generated_file_details": {"original_file_id": 7}}"#,
        "not json",
    ] {
        assert!(edges_from_metadata("c-1", meta).is_empty(), "{meta}");
    }
}

#[test]
fn an_app_cut_is_written_back_as_metadata_the_legacy_reads() {
    let app = r#"{"columns":["name"],"filters":{"city":"NYC"}}"#;
    let written = metadata_with_original(Some(app), "p-9").unwrap();
    assert_eq!(original_in_metadata(&written).as_deref(), Some("p-9"));
    let v: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(v["columns"], serde_json::json!(["name"]));
    assert_eq!(
        v["generated_file_details"]["columns"],
        serde_json::json!(["name"])
    );
    assert_eq!(v["generated_file_details"]["column_filters"]["city"], "NYC");
    // Already naming it: nothing to write; naming another: rewritten.
    assert_eq!(metadata_with_original(Some(&written), "p-9"), None);
    let other = metadata_with_original(Some(&written), "p-10").unwrap();
    assert_eq!(original_in_metadata(&other).as_deref(), Some("p-10"));
    // No metadata, or metadata that is not an object.
    let none = metadata_with_original(None, "p-1").unwrap();
    assert_eq!(edges_from_metadata("c", &none).len(), 2);
    let text = metadata_with_original(Some("plain words"), "p-1").unwrap();
    assert_eq!(original_in_metadata(&text).as_deref(), Some("p-1"));
    assert!(text.contains("plain words"));
}
