//! Request validation of the accounts API, worded and shaped exactly as Django REST
//! framework answers on the legacy side, so a client cannot tell which side refused it.
//!
//! The legacy serializers are `UserRegistrationSerializer` (a `ModelSerializer` on Django's
//! `User`: username, email, password, password2) and simplejwt's `TokenObtainPairSerializer`
//! and `TokenRefreshSerializer`. DRF validates every field, collects the messages per field in
//! a map of lists, and runs the object-level check (`non_field_errors`) only when every field
//! passed. Field values are strings; numbers are taken as their text and other JSON types are
//! "Not a valid string.". `CharField` trims surrounding whitespace by default, which includes
//! the registration passwords (a legacy quirk kept so both sides hash the same string); the
//! login password is a `PasswordField` and is not trimmed.
//!
//! Uniqueness of the username needs the database: the caller checks the name returned by
//! [`candidate_username`] and passes the answer to [`validate_registration`].

use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

pub mod throttle;

pub const REQUIRED: &str = "This field is required.";
pub const BLANK: &str = "This field may not be blank.";
pub const NULL: &str = "This field may not be null.";
pub const NOT_A_STRING: &str = "Not a valid string.";
pub const INVALID_EMAIL: &str = "Enter a valid email address.";
pub const INVALID_USERNAME: &str =
    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
pub const USERNAME_TAKEN: &str = "A user with that username already exists.";
pub const PASSWORDS_DIFFER: &str = "Passwords do not match";
pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";
/// simplejwt's 401 detail for a failed login.
pub const BAD_CREDENTIALS: &str = "No active account found with the given credentials";

/// `auth_user.username` and `auth_user.email` column lengths; `password` is 128 in the model.
pub const USERNAME_MAX: usize = 150;
pub const EMAIL_MAX: usize = 254;
pub const PASSWORD_MAX: usize = 128;

/// A DRF error map, e.g. `{"username": ["This field is required."]}`.
pub type FieldErrors = Map<String, Value>;

/// A registration that passed every legacy rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub username: String,
    /// `''` when not given, as Django stores it; the domain part is lowercased like
    /// `BaseUserManager.normalize_email`.
    pub email: String,
    pub password: String,
}

/// Login form fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// How one serializer field treats its input.
struct FieldRule {
    name: &'static str,
    required: bool,
    allow_blank: bool,
    trim: bool,
    max_len: Option<usize>,
}

/// Runs DRF's `CharField.run_validation` for one field: `Ok(None)` when absent and optional,
/// `Err(messages)` when refused. `check` adds the field's own validators; like DRF, all of a
/// field's validators run and their messages are collected.
fn char_field(
    data: &Map<String, Value>,
    rule: &FieldRule,
    check: impl Fn(&str) -> Vec<&'static str>,
) -> Result<Option<String>, Vec<String>> {
    let text = match data.get(rule.name) {
        None if rule.required => return Err(vec![REQUIRED.into()]),
        None => return Ok(None),
        Some(Value::Null) => return Err(vec![NULL.into()]),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(vec![NOT_A_STRING.into()]),
    };
    let text = if rule.trim {
        text.trim().to_owned()
    } else {
        text
    };
    if text.is_empty() {
        return if rule.allow_blank {
            Ok(Some(text))
        } else {
            Err(vec![BLANK.into()])
        };
    }
    let mut errors: Vec<String> = check(&text).into_iter().map(String::from).collect();
    if let Some(max) = rule.max_len {
        if text.chars().count() > max {
            errors.push(format!(
                "Ensure this field has no more than {max} characters."
            ));
        }
    }
    if text.contains('\0') {
        errors.push(NULL_CHARACTERS.into());
    }
    if errors.is_empty() {
        Ok(Some(text))
    } else {
        Err(errors)
    }
}

/// DRF's answer to a JSON body that is not an object.
fn expect_object(body: &Value) -> Result<&Map<String, Value>, FieldErrors> {
    let got = match body {
        Value::Object(map) => return Ok(map),
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
    };
    Err(non_field_error(&format!(
        "Invalid data. Expected a dictionary, but got {got}."
    )))
}

/// `{"non_field_errors": [message]}`.
pub fn non_field_error(message: &str) -> FieldErrors {
    let mut errors = Map::new();
    errors.insert("non_field_errors".into(), Value::from(vec![message]));
    errors
}

/// Collects one field's outcome into `errors`.
fn collect(
    errors: &mut FieldErrors,
    name: &str,
    outcome: Result<Option<String>, Vec<String>>,
) -> Option<String> {
    match outcome {
        Ok(v) => v,
        Err(messages) => {
            errors.insert(name.into(), Value::from(messages));
            None
        }
    }
}

const USERNAME: FieldRule = FieldRule {
    name: "username",
    required: true,
    allow_blank: false,
    trim: true,
    max_len: Some(USERNAME_MAX),
};

/// A registration's username, NFKC-normalised as Django's `normalize_username`
/// stores it, so that a full-width look-alike (`ａｄｍｉｎ`) is the same name and is
/// refused as taken rather than becoming a second user.
fn username_field(data: &Map<String, Value>) -> Result<Option<String>, Vec<String>> {
    let name = char_field(data, &USERNAME, |u| {
        if is_valid_username(&u.nfkc().collect::<String>()) {
            vec![]
        } else {
            vec![INVALID_USERNAME]
        }
    })?;
    Ok(name.map(|u| u.nfkc().collect()))
}

/// The username to check for uniqueness, when the body's username passes its other rules.
pub fn candidate_username(body: &Value) -> Option<String> {
    username_field(body.as_object()?).ok().flatten()
}

/// Validates a registration body like the legacy `UserRegistrationSerializer`.
/// `username_taken` is whether [`candidate_username`] is already in use.
pub fn validate_registration(
    body: &Value,
    username_taken: bool,
) -> Result<Registration, FieldErrors> {
    let data = expect_object(body)?;
    let mut errors = Map::new();
    let username = username_field(data).and_then(|u| match u {
        Some(_) if username_taken => Err(vec![USERNAME_TAKEN.to_owned()]),
        u => Ok(u),
    });
    let username = collect(&mut errors, "username", username);
    let email_rule = FieldRule {
        name: "email",
        required: false,
        allow_blank: true,
        trim: true,
        max_len: Some(EMAIL_MAX),
    };
    let email_check = |e: &str| {
        if is_valid_email(e) {
            vec![]
        } else {
            vec![INVALID_EMAIL]
        }
    };
    let email = collect(
        &mut errors,
        "email",
        char_field(data, &email_rule, email_check),
    );
    let password_rule = FieldRule {
        name: "password",
        required: true,
        allow_blank: false,
        trim: true,
        max_len: Some(PASSWORD_MAX),
    };
    let password = plain_field(data, &password_rule, &mut errors);
    let password2_rule = FieldRule {
        name: "password2",
        max_len: None,
        ..password_rule
    };
    let password2 = plain_field(data, &password2_rule, &mut errors);
    match (username, password, password2) {
        (Some(username), Some(password), Some(password2)) if errors.is_empty() => {
            if password != password2 {
                return Err(non_field_error(PASSWORDS_DIFFER));
            }
            Ok(Registration {
                username,
                email: normalize_email(&email.unwrap_or_default()),
                password,
            })
        }
        _ => Err(errors),
    }
}

/// Validates a login body like simplejwt's `TokenObtainPairSerializer` (before the
/// credentials themselves are checked).
pub fn validate_login(body: &Value) -> Result<Credentials, FieldErrors> {
    let data = expect_object(body)?;
    let mut errors = Map::new();
    let username = plain_field(data, &PLAIN, &mut errors);
    let password_rule = FieldRule {
        name: "password",
        trim: false,
        ..PLAIN
    };
    let password = plain_field(data, &password_rule, &mut errors);
    match (username, password) {
        (Some(username), Some(password)) if errors.is_empty() => {
            Ok(Credentials { username, password })
        }
        _ => Err(errors),
    }
}

/// Validates a refresh body like simplejwt's `TokenRefreshSerializer`; returns the token.
pub fn validate_refresh(body: &Value) -> Result<String, FieldErrors> {
    let data = expect_object(body)?;
    let rule = FieldRule {
        name: "refresh",
        ..PLAIN
    };
    let mut errors = Map::new();
    match plain_field(data, &rule, &mut errors) {
        Some(token) => Ok(token),
        None => Err(errors),
    }
}

/// A field with no validator of its own, refused under its own name.
fn plain_field(
    data: &Map<String, Value>,
    rule: &FieldRule,
    errors: &mut FieldErrors,
) -> Option<String> {
    collect(errors, rule.name, char_field(data, rule, |_| vec![]))
}

/// A required, non-blank, trimmed string without further rules (simplejwt's fields).
const PLAIN: FieldRule = FieldRule {
    name: "username",
    required: true,
    allow_blank: false,
    trim: true,
    max_len: None,
};

/// DRF's 400 detail for a body that is not JSON, e.g.
/// `{"detail": "JSON parse error - expected value at line 1 column 1"}`. The tail is
/// serde's wording, not Python's: clients only show the message.
pub fn parse_json_body(bytes: &[u8]) -> Result<Value, Value> {
    // DRF treats an empty body as an empty form: every required field is then reported.
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| serde_json::json!({"detail": format!("JSON parse error - {e}")}))
}

/// Django's `UnicodeUsernameValidator`: `^[\w.@+-]+\Z`, `\w` being Unicode letters, digits
/// and `_`.
pub fn is_valid_username(username: &str) -> bool {
    !username.is_empty()
        && username
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '+' | '-'))
}

/// Django 5.1's `EmailValidator` for ASCII addresses: a dot-atom user part (quoted user
/// parts are refused here) and a domain of LDH labels with a 2–63 char top label, or
/// `localhost`, or a bracketed IP literal. Internationalized domains are refused (Django
/// would retry them punycode-encoded); the legacy data has none.
pub fn is_valid_email(email: &str) -> bool {
    if email.len() > 320 {
        return false;
    }
    let Some((user, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let atom_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{}|~-".contains(c);
    let user_ok = !user.is_empty()
        && user
            .split('.')
            .all(|a| !a.is_empty() && a.chars().all(atom_char));
    user_ok && is_valid_domain(domain)
}

fn is_valid_domain(domain: &str) -> bool {
    if domain.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        return literal.parse::<std::net::Ipv4Addr>().is_ok()
            || literal
                .strip_prefix("IPv6:")
                .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok());
    }
    let Some((labels, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    let ldh = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars().all(ldh)
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let tld_ok = (2..=63).contains(&tld.len()) && tld.chars().all(ldh) && !tld.ends_with('-');
    tld_ok && labels.split('.').all(label_ok)
}

/// `BaseUserManager.normalize_email`: the domain part lowercased.
pub fn normalize_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((user, domain)) => format!("{user}@{}", domain.to_lowercase()),
        None => email.to_owned(),
    }
}

#[cfg(test)]
mod tests;
