//! The claim set shared with djangorestframework-simplejwt 5.4, and its lenient parsing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::JwtError;

/// Longest `jti` accepted: it becomes part of a KV key (`blacklist:{jti}`, KV caps keys at
/// 512 bytes). simplejwt writes 32 hex chars, the earlier Workers a 36-char UUID.
pub const MAX_JTI_LEN: usize = 128;

/// simplejwt's `token_type` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

impl TokenType {
    /// The claim value, as simplejwt writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
        }
    }
}

/// A verified (or freshly issued) claim set. Field order follows simplejwt's payload.
///
/// Tokens from Django carry only `token_type`, `exp`, `iat`, `jti` and `user_id`: for them
/// `iss`, `aud`, `username` and `is_admin` are `None`, and the caller must look the user up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    pub jti: String,
    /// Always written as a JSON number, as simplejwt does (Django's pk is an int).
    pub user_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_admin: Option<bool>,
}

impl Claims {
    /// A token Django issued: it names neither issuer nor audience.
    pub fn is_legacy(&self) -> bool {
        self.iss.is_none() && self.aud.is_none()
    }

    /// Reads a payload whose signature has already been checked. Types are strict except
    /// `user_id`, which may be a number or a numeric string (both occur in the wild).
    pub(super) fn from_payload(p: &Map<String, Value>) -> Result<Claims, JwtError> {
        let token_type = match p.get("token_type") {
            Some(Value::String(s)) if s == "access" => TokenType::Access,
            Some(Value::String(s)) if s == "refresh" => TokenType::Refresh,
            // A "sliding" or otherwise foreign type is refused like a mismatch.
            Some(Value::String(_)) => return Err(JwtError::WrongType),
            _ => return Err(JwtError::Malformed("token_type")),
        };
        let exp = int(p, "exp")?.ok_or(JwtError::Malformed("exp"))?;
        let jti = match p.get("jti") {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_JTI_LEN => s.clone(),
            _ => return Err(JwtError::Malformed("jti")),
        };
        Ok(Claims {
            token_type,
            exp,
            iat: int(p, "iat")?,
            jti,
            user_id: user_id(p.get("user_id"))?,
            iss: string(p, "iss")?,
            aud: string(p, "aud")?,
            username: string(p, "username")?,
            is_admin: match p.get("is_admin") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(JwtError::Malformed("is_admin")),
            },
        })
    }
}

/// An optional integer claim (a float or string is malformed, as simplejwt never writes one).
fn int(p: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, JwtError> {
    match p.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or(JwtError::Malformed(name)),
    }
}

/// An optional string claim. An array `aud` is refused: neither side ever issues one.
fn string(p: &Map<String, Value>, name: &'static str) -> Result<Option<String>, JwtError> {
    match p.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JwtError::Malformed(name)),
    }
}

fn user_id(v: Option<&Value>) -> Result<i64, JwtError> {
    const E: JwtError = JwtError::Malformed("user_id");
    match v {
        Some(Value::Number(n)) => n.as_i64().ok_or(E),
        Some(Value::String(s)) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(E);
            }
            s.parse().map_err(|_| E)
        }
        _ => Err(E),
    }
}
