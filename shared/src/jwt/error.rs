//! Why a token was refused. The HTTP layer answers every variant with the same 401 (see
//! [`simplejwt_error_body`]); the reason is for logs and tests.

use std::fmt;

/// The reason a token was not accepted (or could not be made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Not a JWT, or a claim is missing or of the wrong JSON type; names the part at fault.
    Malformed(&'static str),
    /// The header's `alg` is anything but `HS256` (`none`, HS384, RS256, ...).
    BadAlgorithm,
    /// The signature does not match the shared secret.
    BadSignature,
    /// `exp` is at or before now.
    Expired,
    /// `token_type` is not the one this endpoint expects (e.g. a refresh token as access).
    WrongType,
    /// `iss` is present but is not ours (or `aud` came without `iss`).
    WrongIssuer,
    /// `aud` is present but is not ours (or `iss` came without `aud`).
    WrongAudience,
    /// A Django-issued token (no `iss`/`aud`) while legacy tokens are switched off.
    LegacyNotAccepted,
    /// Encoding a new token failed (bad input to `issue`).
    Signing(&'static str),
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::Malformed(what) => write!(f, "malformed token ({what})"),
            JwtError::BadAlgorithm => f.write_str("algorithm is not HS256"),
            JwtError::BadSignature => f.write_str("bad signature"),
            JwtError::Expired => f.write_str("token expired"),
            JwtError::WrongType => f.write_str("wrong token type"),
            JwtError::WrongIssuer => f.write_str("wrong issuer"),
            JwtError::WrongAudience => f.write_str("wrong audience"),
            JwtError::LegacyNotAccepted => f.write_str("legacy token not accepted"),
            JwtError::Signing(what) => write!(f, "cannot issue token ({what})"),
        }
    }
}

impl std::error::Error for JwtError {}

/// simplejwt's 401 body for a bad refresh token (`POST /api/accounts/token/refresh/`).
pub fn simplejwt_error_body() -> serde_json::Value {
    serde_json::json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
}

/// simplejwt's 401 body for a bad `Authorization: Bearer` access token, as DRF renders it
/// from `JWTAuthentication` (it wraps the per-class message).
pub fn simplejwt_access_error_body() -> serde_json::Value {
    serde_json::json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{
            "token_class": "AccessToken",
            "token_type": "access",
            "message": "Token is invalid or expired"
        }]
    })
}
