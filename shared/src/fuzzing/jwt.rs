//! JWT parsing and validation (`jwt::verify`): any text is refused or yields
//! claims that meet every rule; an issued token verifies to its claims and stops
//! verifying once any byte of it changes, under another key, or after `exp`.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::jwt::{issue, verify, Claims, JwtConfig, JwtError, TokenType, TokenUser, MAX_JTI_LEN};

use super::Input;

const SECRET: &[u8] = b"fuzzing-secret";

fn config(legacy: bool) -> JwtConfig {
    let mut cfg = JwtConfig::new(SECRET, "list-cutter", "list-cutter-api");
    cfg.accept_legacy = legacy;
    cfg
}

/// Input: a mode byte, then mode 0: a token as text; mode 1: header and payload
/// JSON (`\n`-separated), signed here; mode 2: an issued token's fields and a
/// change to make to it.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let now = i64::from(input.byte()) * 1_000 + 1_700_000_000;
    let expected = match mode & 0x10 {
        0 => TokenType::Access,
        _ => TokenType::Refresh,
    };
    let cfg = config(mode & 0x20 == 0);
    match mode % 3 {
        0 => {
            let Ok(token) = std::str::from_utf8(input.rest()) else {
                return;
            };
            accepted_only_if_valid(&cfg, token, expected, now);
        }
        1 => {
            let header = input.until(b'\n');
            let payload = input.rest();
            let token = sign(header, payload);
            accepted_only_if_valid(&cfg, &token, expected, now);
        }
        _ => round_trip(&mut input, &cfg, expected, now),
    }
}

/// `b64(header).b64(payload).HMAC` under [`SECRET`], whatever the two hold.
fn sign(header: &[u8], payload: &[u8]) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(signed.as_bytes());
    format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// Whatever `verify` accepts is HS256 under our key, unexpired, of the expected
/// type, ours or (while accepted) Django's, and its claims are what the payload says.
fn accepted_only_if_valid(cfg: &JwtConfig, token: &str, expected: TokenType, now: i64) {
    let result = verify(cfg, token, expected, now);
    assert_eq!(
        result,
        verify(cfg, token, expected, now),
        "verify is deterministic"
    );
    let Ok(claims) = result else {
        return;
    };
    let mut parts = token.split('.');
    let (header, payload, sig) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert!(parts.next().is_none(), "three parts");
    assert_eq!(
        sign_part(header, payload),
        sig,
        "accepted only with our signature"
    );
    let header: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(
        header.get("alg"),
        Some(&Value::from("HS256")),
        "accepted only as HS256"
    );
    assert!(claims.exp > now, "accepted only before exp");
    assert_eq!(
        claims.token_type, expected,
        "accepted only as the expected type"
    );
    assert!(!claims.jti.is_empty() && claims.jti.len() <= MAX_JTI_LEN);
    match claims.is_legacy() {
        true => assert!(cfg.accept_legacy, "a Django token only while accepted"),
        false => {
            assert_eq!(claims.iss.as_deref(), Some(cfg.issuer.as_str()));
            assert_eq!(claims.aud.as_deref(), Some(cfg.audience.as_str()));
        }
    }
    let payload: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(payload.get("exp").and_then(Value::as_i64), Some(claims.exp));
    assert_eq!(
        payload.get("jti").and_then(Value::as_str),
        Some(claims.jti.as_str())
    );
    let user_id = match payload.get("user_id") {
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        other => other.and_then(Value::as_i64),
    };
    assert_eq!(user_id, Some(claims.user_id), "user_id is the payload's");
}

fn sign_part(header: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(format!("{header}.{payload}").as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Issues a token from fuzzed fields, checks it verifies to the same claims, then
/// that a one-byte change, another key, the other type and `exp` all refuse it.
fn round_trip(input: &mut Input, cfg: &JwtConfig, expected: TokenType, now: i64) {
    let id = input.u64() as i64;
    let position = usize::from(input.byte()) << 8 | usize::from(input.byte());
    let replacement = input.byte();
    let jti_len = usize::from(input.byte() % 140);
    let jti = String::from_utf8_lossy(input.bytes(jti_len)).into_owned();
    let username = String::from_utf8_lossy(input.rest()).into_owned();
    let user = TokenUser {
        id,
        username,
        is_admin: id & 1 == 0,
    };
    let (token, claims) = match issue(cfg, &user, expected, now, jti.clone()) {
        Ok(issued) => issued,
        Err(JwtError::Signing("jti")) => {
            assert!(
                jti.is_empty() || jti.len() > MAX_JTI_LEN,
                "a usable jti is refused"
            );
            return;
        }
        // Over MAX_TOKEN_LEN the payload holds more than 6 000 bytes, all but a
        // few hundred of them the escaped username and jti.
        Err(JwtError::Signing("length")) => {
            let escaped = |s: &str| serde_json::to_string(s).unwrap().len();
            assert!(
                escaped(&user.username) + escaped(&jti) > 5_800,
                "a short token is refused"
            );
            return;
        }
        Err(e) => panic!("issue fails with {e:?}"),
    };
    assert_eq!(
        verify(cfg, &token, expected, now),
        Ok(claims.clone()),
        "an issued token verifies"
    );
    let other = match expected {
        TokenType::Access => TokenType::Refresh,
        TokenType::Refresh => TokenType::Access,
    };
    assert!(
        verify(cfg, &token, other, now).is_err(),
        "only as its own type"
    );
    assert!(
        verify(cfg, &token, expected, claims.exp).is_err(),
        "dead at exp"
    );
    let mut foreign = cfg.clone();
    foreign.secret = b"another-secret".to_vec();
    assert!(
        verify(&foreign, &token, expected, now).is_err(),
        "only under its key"
    );
    let claims_again: Claims = claims.clone();
    assert_eq!(claims_again.user_id, id);

    let mut bytes = token.clone().into_bytes();
    let at = position % bytes.len();
    if bytes[at] == replacement {
        return;
    }
    bytes[at] = replacement;
    if let Ok(changed) = String::from_utf8(bytes) {
        assert!(
            verify(cfg, &changed, expected, now).is_err(),
            "{changed:?}, {token:?} with byte {at} changed, still verifies"
        );
    }
}
