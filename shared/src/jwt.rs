//! HS256 JWTs interchangeable with djangorestframework-simplejwt 5.4.
//!
//! During the cutover one user may be served by Django and by the app on consecutive
//! requests, so both sides sign with the same secret and the same claim set. Tokens the app
//! issues add `iss`/`aud`/`username`/`is_admin`; simplejwt ignores them (it sets no audience
//! or issuer, so PyJWT skips those checks). Tokens Django issues lack them and are accepted
//! while [`JwtConfig::accept_legacy`] is on.
//!
//! Time is passed in (`now_unix`) rather than read, so verification is deterministic and the
//! Worker decides which clock to trust. `exp` has no leeway: simplejwt's default `LEEWAY` is
//! 0 and PyJWT treats `exp <= now` as expired, so a token is dead on both sides at the same
//! second. `iat` is only type-checked: both signers share the secret and `exp` bounds the
//! lifetime. PyJWT, however, refuses an `iat` ahead of Django's clock, so a token issued here
//! is refused by Django until Django's clock reaches `iat`: keep both clocks NTP-synced.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

mod claims;
mod error;

pub use claims::{Claims, TokenType, MAX_JTI_LEN};
pub use error::{simplejwt_access_error_body, simplejwt_error_body, JwtError};

/// simplejwt's `ACCESS_TOKEN_LIFETIME` in the legacy settings (10 minutes).
pub const ACCESS_TTL_SECS: i64 = 600;
/// simplejwt's `REFRESH_TOKEN_LIFETIME` in the legacy settings (1 day).
pub const REFRESH_TTL_SECS: i64 = 86_400;
/// Seconds of grace after `exp`; zero, like simplejwt (see the module docs).
pub const EXP_LEEWAY_SECS: i64 = 0;
/// Longer inputs are refused before any parsing; real tokens are a few hundred bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Signing and acceptance settings.
#[derive(Clone)]
pub struct JwtConfig {
    /// Django's simplejwt signing key (`SECRET_KEY`), as UTF-8 bytes.
    pub secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    /// Accept tokens without `iss`/`aud` (issued by Django). Turn off once Django is gone.
    pub accept_legacy: bool,
}

impl JwtConfig {
    /// The legacy lifetimes, with legacy tokens accepted.
    pub fn new(secret: impl Into<Vec<u8>>, issuer: &str, audience: &str) -> JwtConfig {
        JwtConfig {
            secret: secret.into(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            access_ttl_secs: ACCESS_TTL_SECS,
            refresh_ttl_secs: REFRESH_TTL_SECS,
            accept_legacy: true,
        }
    }

    fn ttl(&self, token_type: TokenType) -> i64 {
        match token_type {
            TokenType::Access => self.access_ttl_secs,
            TokenType::Refresh => self.refresh_ttl_secs,
        }
    }
}

impl std::fmt::Debug for JwtConfig {
    // Keeps the secret out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field("secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl_secs", &self.access_ttl_secs)
            .field("refresh_ttl_secs", &self.refresh_ttl_secs)
            .field("accept_legacy", &self.accept_legacy)
            .finish()
    }
}

/// Who a token is issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUser {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
}

/// A `jti` shaped like simplejwt's `uuid4().hex`: 32 lowercase hex chars with the UUIDv4
/// version and variant bits set. The caller supplies the 16 bytes from its CSPRNG.
pub fn jti_from_bytes(bytes: &[u8; 16]) -> String {
    let mut b = *bytes;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    hex::encode(b)
}

/// Signs a new token for `user`, valid from `now_unix` for the configured lifetime.
pub fn issue(
    cfg: &JwtConfig,
    user: &TokenUser,
    token_type: TokenType,
    now_unix: i64,
    jti: String,
) -> Result<(String, Claims), JwtError> {
    if jti.is_empty() || jti.len() > MAX_JTI_LEN {
        return Err(JwtError::Signing("jti"));
    }
    let exp = now_unix
        .checked_add(cfg.ttl(token_type))
        .ok_or(JwtError::Signing("exp"))?;
    let claims = Claims {
        token_type,
        exp,
        iat: Some(now_unix),
        jti,
        user_id: user.id,
        iss: Some(cfg.issuer.clone()),
        aud: Some(cfg.audience.clone()),
        username: Some(user.username.clone()),
        is_admin: Some(user.is_admin),
    };
    let payload = serde_json::to_vec(&claims).map_err(|_| JwtError::Signing("encode"))?;
    // The header of the tokens simplejwt was shown to accept (tests' ISSUED_ACCESS).
    let mut token = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mac = signer(&cfg.secret)
        .ok_or(JwtError::Signing("key"))?
        .chain_update(token.as_bytes())
        .finalize()
        .into_bytes();
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(mac));
    // `verify` refuses anything longer: never hand out a token that cannot be used.
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Signing("length"));
    }
    Ok((token, claims))
}

/// Checks a token's algorithm, signature, expiry, type and origin, and returns its claims.
pub fn verify(
    cfg: &JwtConfig,
    token: &str,
    expected: TokenType,
    now_unix: i64,
) -> Result<Claims, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed("length"));
    }
    require_hs256_header(token)?;
    let payload = verified_payload(cfg, token)?;
    let claims = Claims::from_payload(&payload)?;
    if claims.exp <= now_unix.saturating_sub(EXP_LEEWAY_SECS) {
        return Err(JwtError::Expired);
    }
    if claims.token_type != expected {
        return Err(JwtError::WrongType);
    }
    if claims.is_legacy() {
        if !cfg.accept_legacy {
            return Err(JwtError::LegacyNotAccepted);
        }
    } else if claims.iss.as_deref() != Some(cfg.issuer.as_str()) {
        return Err(JwtError::WrongIssuer);
    } else if claims.aud.as_deref() != Some(cfg.audience.as_str()) {
        return Err(JwtError::WrongAudience);
    }
    Ok(claims)
}

/// HMAC-SHA256 keyed with the shared secret; none for an empty secret, which
/// could sign (and so verify) nothing worth trusting.
fn signer(secret: &[u8]) -> Option<Hmac<Sha256>> {
    match secret {
        [] => None,
        key => Hmac::<Sha256>::new_from_slice(key).ok(),
    }
}

/// Refuses any `alg` but `HS256` with a precise reason, before the signature is
/// looked at.
fn require_hs256_header(token: &str) -> Result<(), JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("structure"));
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtError::Malformed("header"))?;
    let header: Map<String, Value> =
        serde_json::from_slice(&header).map_err(|_| JwtError::Malformed("header"))?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "HS256" => Ok(()),
        _ => Err(JwtError::BadAlgorithm),
    }
}

/// The payload, once the HS256 signature over `header.payload` is proven (in
/// constant time). Registered claims are checked by [`verify`] against `now_unix`.
fn verified_payload(cfg: &JwtConfig, token: &str) -> Result<Map<String, Value>, JwtError> {
    let (signed, signature) = token
        .rsplit_once('.')
        .ok_or(JwtError::Malformed("structure"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwtError::Malformed("encoding"))?;
    signer(&cfg.secret)
        .ok_or(JwtError::BadSignature)?
        .chain_update(signed.as_bytes())
        .verify_slice(&signature)
        .map_err(|_| JwtError::BadSignature)?;
    let payload = signed
        .split_once('.')
        .map(|(_, payload)| payload)
        .ok_or(JwtError::Malformed("structure"))?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| JwtError::Malformed("encoding"))?;
    serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed("encoding"))
}

#[cfg(test)]
mod tests;
