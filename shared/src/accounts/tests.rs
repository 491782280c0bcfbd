use super::*;
use serde_json::json;

fn reg(body: Value) -> Result<Registration, Value> {
    validate_registration(&body, false).map_err(Value::Object)
}

#[test]
fn valid_registration_is_cleaned() {
    let r = reg(json!({"username": " alice ", "email": "A.B@Example.ORG",
                       "password": " pw ", "password2": "pw"}))
    .unwrap();
    assert_eq!(
        r,
        Registration {
            username: "alice".into(),
            email: "A.B@example.org".into(),
            password: "pw".into()
        }
    );
}

#[test]
fn usernames_are_nfkc_normalised_like_django() {
    let body = |u: &str| json!({"username": u, "password": "x", "password2": "x"});
    assert_eq!(
        reg(body("\u{ff41}\u{ff44}\u{ff4d}\u{ff49}\u{ff4e}"))
            .unwrap()
            .username,
        "admin"
    );
    assert_eq!(
        candidate_username(&body("\u{ff41}dmin")).as_deref(),
        Some("admin")
    );
    assert_eq!(reg(body("caf\u{e9}")).unwrap().username, "caf\u{e9}");
    assert_eq!(reg(body("cafe\u{301}")).unwrap().username, "caf\u{e9}");
    // The normalised name is the one checked for uniqueness.
    let taken = validate_registration(&body("\u{ff41}dmin"), true).unwrap_err();
    assert_eq!(taken["username"], json!([USERNAME_TAKEN]));
}

#[test]
fn email_is_optional_and_may_be_blank() {
    for body in [
        json!({"username": "bob", "password": "x", "password2": "x"}),
        json!({"username": "bob", "email": "", "password": "x", "password2": "x"}),
    ] {
        assert_eq!(reg(body).unwrap().email, "");
    }
}

#[test]
fn missing_fields_are_each_reported() {
    assert_eq!(
        reg(json!({})).unwrap_err(),
        json!({"username": [REQUIRED], "password": [REQUIRED], "password2": [REQUIRED]})
    );
}

#[test]
fn blank_null_and_non_string_fields() {
    assert_eq!(
        reg(json!({"username": "  ", "email": null, "password": [], "password2": 12})).unwrap_err(),
        json!({"username": [BLANK], "email": [NULL], "password": [NOT_A_STRING]})
    );
}

#[test]
fn numbers_are_taken_as_text() {
    let r = reg(json!({"username": 42, "password": 1234, "password2": "1234"})).unwrap();
    assert_eq!((r.username.as_str(), r.password.as_str()), ("42", "1234"));
}

#[test]
fn mismatched_passwords_only_after_fields_pass() {
    assert_eq!(
        reg(json!({"username": "a", "password": "x", "password2": "y"})).unwrap_err(),
        json!({"non_field_errors": [PASSWORDS_DIFFER]})
    );
    // A field error hides the object-level check, as in DRF.
    assert_eq!(
        reg(json!({"username": "", "password": "x", "password2": "y"})).unwrap_err(),
        json!({"username": [BLANK]})
    );
}

#[test]
fn taken_username_is_a_field_error_next_to_others() {
    let body = json!({"username": "alice", "password": "x"});
    assert_eq!(candidate_username(&body).as_deref(), Some("alice"));
    assert_eq!(
        Value::Object(validate_registration(&body, true).unwrap_err()),
        json!({"username": [USERNAME_TAKEN], "password2": [REQUIRED]})
    );
}

#[test]
fn username_rules() {
    for ok in ["a", "al.ice@x+y-z_", "Zoë", "用户", &"u".repeat(150)] {
        assert!(is_valid_username(ok), "{ok}");
        assert_eq!(
            candidate_username(&json!({"username": ok})).as_deref(),
            Some(ok)
        );
    }
    for bad in ["a b", "a/b", "a!b", "<script>"] {
        assert_eq!(candidate_username(&json!({"username": bad})), None, "{bad}");
        assert_eq!(
            reg(json!({"username": bad, "password": "x", "password2": "x"})).unwrap_err(),
            json!({"username": [INVALID_USERNAME]})
        );
    }
    let long = "u".repeat(151);
    assert_eq!(
        reg(json!({"username": long, "password": "x", "password2": "x"})).unwrap_err(),
        json!({"username": ["Ensure this field has no more than 150 characters."]})
    );
    // Both validators run and both messages are kept, in DRF's order.
    let long_bad = format!("{}!", "u".repeat(150));
    assert_eq!(
        reg(json!({"username": long_bad, "password": "x", "password2": "x"})).unwrap_err(),
        json!({"username": [INVALID_USERNAME, "Ensure this field has no more than 150 characters."]})
    );
}

#[test]
fn email_rules() {
    for ok in [
        "a@example.org",
        "first.last+tag@sub.example.co.uk",
        "x@localhost",
        "o'neil@example.org",
        "a@[127.0.0.1]",
        "a@[IPv6:::1]",
    ] {
        assert!(is_valid_email(ok), "{ok}");
    }
    for bad in [
        "plain",
        "@example.org",
        "a@",
        "a@example",
        "a@example.c",
        "a..b@example.org",
        ".a@example.org",
        "a@-example.org",
        "a@exa_mple.org",
        "a b@example.org",
        "a@b@example.org",
    ] {
        assert!(!is_valid_email(bad), "{bad}");
    }
    assert_eq!(
        reg(json!({"username": "a", "email": "nope", "password": "x", "password2": "x"}))
            .unwrap_err(),
        json!({"email": [INVALID_EMAIL]})
    );
}

#[test]
fn password_length_and_null_characters() {
    let long = "p".repeat(129);
    assert_eq!(
        reg(json!({"username": "a", "password": long, "password2": long})).unwrap_err(),
        json!({"password": ["Ensure this field has no more than 128 characters."]})
    );
    assert_eq!(
        reg(json!({"username": "a", "password": "a\u{0}b", "password2": "a\u{0}b"})).unwrap_err(),
        json!({"password": [NULL_CHARACTERS], "password2": [NULL_CHARACTERS]})
    );
}

#[test]
fn non_object_bodies() {
    for (body, got) in [
        (json!([1]), "list"),
        (json!("x"), "str"),
        (json!(1), "int"),
        (json!(1.5), "float"),
        (json!(true), "bool"),
        (Value::Null, "NoneType"),
    ] {
        let expected = json!({"non_field_errors":
            [format!("Invalid data. Expected a dictionary, but got {got}.")]});
        assert_eq!(reg(body.clone()).unwrap_err(), expected);
        assert_eq!(Value::Object(validate_login(&body).unwrap_err()), expected);
    }
}

#[test]
fn login_keeps_password_whitespace() {
    assert_eq!(
        validate_login(&json!({"username": " bob ", "password": " pw "})).unwrap(),
        Credentials {
            username: "bob".into(),
            password: " pw ".into()
        }
    );
    assert_eq!(
        Value::Object(validate_login(&json!({"password": ""})).unwrap_err()),
        json!({"username": [REQUIRED], "password": [BLANK]})
    );
}

#[test]
fn refresh_field() {
    assert_eq!(validate_refresh(&json!({"refresh": "t"})).unwrap(), "t");
    assert_eq!(
        Value::Object(validate_refresh(&json!({})).unwrap_err()),
        json!({"refresh": [REQUIRED]})
    );
}

#[test]
fn json_bodies() {
    assert_eq!(parse_json_body(b"  ").unwrap(), json!({}));
    assert_eq!(parse_json_body(br#"{"a":1}"#).unwrap(), json!({"a": 1}));
    let err = parse_json_body(b"{nope").unwrap_err();
    assert!(err["detail"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error - "));
}

#[test]
fn email_domain_is_lowercased_only() {
    assert_eq!(
        normalize_email("Mixed.Case@EXAMPLE.Org"),
        "Mixed.Case@example.org"
    );
}

#[test]
fn a_plain_field_is_refused_under_its_own_name() {
    let data = json!({"refresh": "  ", "username": " bob "});
    let data = data.as_object().unwrap();
    let mut errors = Map::new();
    assert_eq!(plain_field(data, &PLAIN, &mut errors), Some("bob".into()));
    assert!(errors.is_empty());
    let refresh = FieldRule {
        name: "refresh",
        ..PLAIN
    };
    assert_eq!(plain_field(data, &refresh, &mut errors), None);
    assert_eq!(errors.keys().collect::<Vec<_>>(), ["refresh"], "{errors:?}");
}
