//! Interop vectors: the legacy tokens come from PyJWT 2 and simplejwt 5.4 (HS256) with the
//! secret below; the issued token was decoded by simplejwt's `AccessToken` at a frozen clock.

use super::*;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::json;

const SECRET: &str = "test-secret-for-vectors-0123456789abcdef";
const NOW: i64 = 1_750_000_100;
const ISS: &str = "list-cutter-app";
const AUD: &str = "list-cutter";

/// PyJWT: `{"token_type":"access","exp":4102444800,"iat":1750000000,
/// "jti":"0123456789abcdef0123456789abcdef","user_id":42}`.
const LEGACY_ACCESS: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3NTAwMDAwMDAsImp0aSI6IjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwidXNlcl9pZCI6NDJ9.f1TX5RH7BXlyXzr1sWsPUwOOcNWFMnu_IFmw4iPFVsE";
/// The same with `"user_id":"42"`.
const LEGACY_ACCESS_STR_ID: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3NTAwMDAwMDAsImp0aSI6IjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwidXNlcl9pZCI6IjQyIn0.XD7O1Nml5IuB7Khoe7V_FO_XELbp8mHQ0gK59Y7yhCI";
/// The same without `jti`.
const LEGACY_NO_JTI: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3NTAwMDAwMDAsInVzZXJfaWQiOjQyfQ.qK1lkl13P3Cu2DAUw-fREZXcXyGNjEDXpoFbXC6bPhE";
/// The first claims signed HS512 / HS384 with the right secret.
const LEGACY_HS512: &str = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3NTAwMDAwMDAsImp0aSI6IjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwidXNlcl9pZCI6NDJ9.nE2_dQ8dt08goEUK6zhau5OtU5cONIzP138HmOhzdONt0GqKrvDPkdYIn-qFraAq8C49e3zDmIUpvdctdAGCYg";
const LEGACY_HS384: &str = "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3NTAwMDAwMDAsImp0aSI6IjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwidXNlcl9pZCI6NDJ9.jeW4r7lyqOt1JB4bS9BtS4ageTis8cl5IsIOqNftlySc5aKAi4WmWCQko9joXyN7";
/// simplejwt `RefreshToken()` at 1750000000 with `user_id=7`:
/// `{"token_type":"refresh","exp":1750086400,"iat":1750000000,
/// "jti":"ccf6b30a754d4658b16c7792e7377f3b","user_id":7}`.
const SIMPLEJWT_REFRESH: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsImV4cCI6MTc1MDA4NjQwMCwiaWF0IjoxNzUwMDAwMDAwLCJqdGkiOiJjY2Y2YjMwYTc1NGQ0NjU4YjE2Yzc3OTJlNzM3N2YzYiIsInVzZXJfaWQiOjd9.h3MeX8LxM-7_B3BeQM0udAqnpnADyJME819geKQgxoM";
/// Its `.access_token` (simplejwt's default 5 min lifetime): exp 1750000300.
const SIMPLEJWT_ACCESS: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNzUwMDAwMzAwLCJpYXQiOjE3NTAwMDAwMDAsImp0aSI6Ijc5ODZlMmQ1MzcwYzRlOGFhMTkyNjRiZjFlMjUyZTI1IiwidXNlcl9pZCI6N30.-2LvtLlDqyFVu46i9GhbRa2Cw_OMld73gKdBqCxxVPs";

fn cfg() -> JwtConfig {
    JwtConfig::new(SECRET, ISS, AUD)
}

fn alice() -> TokenUser {
    TokenUser {
        id: 42,
        username: "alice".into(),
        is_admin: true,
    }
}

/// Signs arbitrary claims HS256, for shapes neither real issuer produces.
fn sign(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn b64(v: serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn legacy_claims() -> serde_json::Value {
    json!({"token_type":"access","exp":4102444800i64,"iat":1750000000,
           "jti":"0123456789abcdef0123456789abcdef","user_id":42})
}

#[test]
fn accepts_pyjwt_legacy_access_token() {
    let c = verify(&cfg(), LEGACY_ACCESS, TokenType::Access, NOW).unwrap();
    assert_eq!(
        c,
        Claims {
            token_type: TokenType::Access,
            exp: 4_102_444_800,
            iat: Some(1_750_000_000),
            jti: "0123456789abcdef0123456789abcdef".into(),
            user_id: 42,
            iss: None,
            aud: None,
            username: None,
            is_admin: None,
        }
    );
    assert!(c.is_legacy());
}

#[test]
fn legacy_tokens_can_be_switched_off() {
    let strict = JwtConfig {
        accept_legacy: false,
        ..cfg()
    };
    for t in [LEGACY_ACCESS, LEGACY_ACCESS_STR_ID, SIMPLEJWT_ACCESS] {
        assert_eq!(
            verify(&strict, t, TokenType::Access, NOW),
            Err(JwtError::LegacyNotAccepted)
        );
    }
    let (own, _) = issue(&strict, &alice(), TokenType::Access, NOW, "j".into()).unwrap();
    assert!(verify(&strict, &own, TokenType::Access, NOW).is_ok());
}

#[test]
fn accepts_user_id_as_numeric_string() {
    let c = verify(&cfg(), LEGACY_ACCESS_STR_ID, TokenType::Access, NOW).unwrap();
    assert_eq!(c.user_id, 42);
}

#[test]
fn accepts_simplejwt_refresh_and_access_pair() {
    let r = verify(&cfg(), SIMPLEJWT_REFRESH, TokenType::Refresh, NOW).unwrap();
    assert_eq!(r.user_id, 7);
    assert_eq!(r.jti, "ccf6b30a754d4658b16c7792e7377f3b");
    assert_eq!(r.exp, 1_750_086_400);
    let a = verify(&cfg(), SIMPLEJWT_ACCESS, TokenType::Access, NOW).unwrap();
    assert_eq!(a.user_id, 7);
}

#[test]
fn expiry_has_no_leeway() {
    let c = cfg();
    let ok = verify(&c, SIMPLEJWT_ACCESS, TokenType::Access, 1_750_000_299);
    assert!(ok.is_ok());
    for now in [1_750_000_300, 1_750_000_301, i64::MAX] {
        let r = verify(&c, SIMPLEJWT_ACCESS, TokenType::Access, now);
        assert_eq!(r, Err(JwtError::Expired));
    }
    let r = verify(&c, SIMPLEJWT_REFRESH, TokenType::Refresh, 1_750_086_400);
    assert_eq!(r, Err(JwtError::Expired));
}

#[test]
fn token_type_must_match() {
    let c = cfg();
    let r = verify(&c, SIMPLEJWT_REFRESH, TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::WrongType));
    let r = verify(&c, LEGACY_ACCESS, TokenType::Refresh, NOW);
    assert_eq!(r, Err(JwtError::WrongType));
    let (refresh, _) = issue(&c, &alice(), TokenType::Refresh, NOW, "r".into()).unwrap();
    let r = verify(&c, &refresh, TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::WrongType));
    let sliding = sign(
        json!({"token_type":"sliding","exp":4102444800i64,"jti":"x","user_id":1}),
        SECRET,
    );
    let r = verify(&c, &sliding, TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::WrongType));
}

#[test]
fn wrong_secret_is_a_bad_signature() {
    let other = JwtConfig::new("another-secret-entirely-0123456789abcdef", ISS, AUD);
    let r = verify(&other, LEGACY_ACCESS, TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::BadSignature));
    let (t, _) = issue(&other, &alice(), TokenType::Access, NOW, "j".into()).unwrap();
    let r = verify(&cfg(), &t, TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::BadSignature));
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    let parts: Vec<&str> = LEGACY_ACCESS.split('.').collect();
    let forged = b64(
        json!({"token_type":"access","exp":4102444800i64,"iat":1750000000,
                            "jti":"0123456789abcdef0123456789abcdef","user_id":1}),
    );
    let t = format!("{}.{}.{}", parts[0], forged, parts[2]);
    let r = verify(&cfg(), &t, TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::BadSignature));
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    let r = verify(&cfg(), &unsigned, TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::BadSignature));
}

#[test]
fn only_hs256_is_accepted() {
    let c = cfg();
    let payload = b64(legacy_claims());
    for alg in [
        "none", "None", "NONE", "hs256", "HS384", "HS512", "RS256", "ES256", "EdDSA",
    ] {
        let header = b64(json!({"alg": alg, "typ": "JWT"}));
        for sig in ["", "c2lnbmF0dXJl"] {
            let t = format!("{header}.{payload}.{sig}");
            let r = verify(&c, &t, TokenType::Access, NOW);
            assert_eq!(r, Err(JwtError::BadAlgorithm), "{alg}");
        }
    }
    let no_alg = format!("{}.{payload}.", b64(json!({"typ": "JWT"})));
    let r = verify(&c, &no_alg, TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::BadAlgorithm));
    for t in [LEGACY_HS512, LEGACY_HS384] {
        let r = verify(&c, t, TokenType::Access, NOW);
        assert_eq!(r, Err(JwtError::BadAlgorithm));
    }
}

#[test]
fn issuer_and_audience_must_be_ours_when_present() {
    let (t, _) = issue(&cfg(), &alice(), TokenType::Access, NOW, "j".into()).unwrap();
    let other_aud = JwtConfig::new(SECRET, ISS, "someone-else");
    let r = verify(&other_aud, &t, TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::WrongAudience));
    let other_iss = JwtConfig::new(SECRET, "someone-else", AUD);
    let r = verify(&other_iss, &t, TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::WrongIssuer));

    // Half an app token is not a legacy token.
    let mut only_iss = legacy_claims();
    only_iss["iss"] = json!(ISS);
    let r = verify(&cfg(), &sign(only_iss, SECRET), TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::WrongAudience));
    let mut only_aud = legacy_claims();
    only_aud["aud"] = json!(AUD);
    let r = verify(&cfg(), &sign(only_aud, SECRET), TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::WrongIssuer));
    let mut aud_list = legacy_claims();
    aud_list["iss"] = json!(ISS);
    aud_list["aud"] = json!([AUD]);
    let r = verify(&cfg(), &sign(aud_list, SECRET), TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::Malformed("aud")));
}

#[test]
fn jti_is_required() {
    let r = verify(&cfg(), LEGACY_NO_JTI, TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::Malformed("jti")));
    for bad in [
        json!(""),
        json!(5),
        json!(null),
        json!("x".repeat(MAX_JTI_LEN + 1)),
    ] {
        let mut claims = legacy_claims();
        claims["jti"] = bad;
        let r = verify(&cfg(), &sign(claims, SECRET), TokenType::Access, NOW);
        assert_eq!(r, Err(JwtError::Malformed("jti")));
    }
}

#[test]
fn claim_types_are_checked() {
    let cases = [
        ("user_id", json!("4x2"), "user_id"),
        ("user_id", json!(""), "user_id"),
        ("user_id", json!("-"), "user_id"),
        ("user_id", json!(" 42"), "user_id"),
        ("user_id", json!("99999999999999999999"), "user_id"),
        ("user_id", json!(4.2), "user_id"),
        ("user_id", json!(true), "user_id"),
        ("user_id", json!(null), "user_id"),
        ("exp", json!("4102444800"), "exp"),
        ("exp", json!(4102444800.5), "exp"),
        ("exp", json!(null), "exp"),
        ("iat", json!("now"), "iat"),
        ("token_type", json!(1), "token_type"),
        ("token_type", json!(null), "token_type"),
        ("username", json!(7), "username"),
        ("is_admin", json!("true"), "is_admin"),
    ];
    for (name, value, err) in cases {
        let mut claims = legacy_claims();
        claims[name] = value.clone();
        let r = verify(&cfg(), &sign(claims, SECRET), TokenType::Access, NOW);
        assert_eq!(r, Err(JwtError::Malformed(err)), "{name}={value}");
    }
    let mut no_user = legacy_claims();
    no_user.as_object_mut().unwrap().remove("user_id");
    let r = verify(&cfg(), &sign(no_user, SECRET), TokenType::Access, NOW);
    assert_eq!(r, Err(JwtError::Malformed("user_id")));
    let mut negative = legacy_claims();
    negative["user_id"] = json!("-3");
    let c = verify(&cfg(), &sign(negative, SECRET), TokenType::Access, NOW).unwrap();
    assert_eq!(c.user_id, -3);
}

#[test]
fn garbage_is_refused_without_panicking() {
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    let header = b64(json!({"alg":"HS256","typ":"JWT"}));
    let cases = [
        "".to_string(),
        "abc".into(),
        "a.b".into(),
        "a.b.c".into(),
        "a.b.c.d".into(),
        "..".into(),
        "...".into(),
        "Bearer x.y.z".into(),
        format!("{LEGACY_ACCESS}."),
        format!("{header}.!!!.sig"),
        format!("{header}.{}.", URL_SAFE_NO_PAD.encode("not json")),
        format!("{header}.{}.", b64(json!([1, 2]))),
        format!("{}.e30.", URL_SAFE_NO_PAD.encode("{\"alg\":")),
        "eyJhbGciOiJIUzI1NiJ9.\u{1F600}.x".into(),
        long,
    ];
    for t in cases {
        let r = verify(&cfg(), &t, TokenType::Access, NOW);
        assert!(r.is_err(), "{t:?}");
    }
}

#[test]
fn issued_claims_follow_simplejwt_plus_ours() {
    let jti = jti_from_bytes(&[0x11; 16]);
    let (token, c) = issue(&cfg(), &alice(), TokenType::Access, NOW, jti.clone()).unwrap();
    assert_eq!(c.exp, NOW + 600);
    assert_eq!(c.iat, Some(NOW));
    let payload = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        payload,
        json!({"token_type":"access","exp":NOW + 600,"iat":NOW,"jti":jti,"user_id":42,
               "iss":ISS,"aud":AUD,"username":"alice","is_admin":true})
    );
    assert!(payload["user_id"].is_i64(), "user_id is a JSON number");
    assert_eq!(verify(&cfg(), &token, TokenType::Access, NOW), Ok(c));

    let (refresh, rc) = issue(&cfg(), &alice(), TokenType::Refresh, NOW, jti).unwrap();
    assert_eq!(rc.exp, NOW + 86_400);
    assert!(verify(&cfg(), &refresh, TokenType::Refresh, NOW + 86_399).is_ok());
    let r = verify(&cfg(), &refresh, TokenType::Refresh, NOW + 86_400);
    assert_eq!(r, Err(JwtError::Expired));
}

#[test]
fn issue_refuses_unusable_jti() {
    for jti in [String::new(), "x".repeat(MAX_JTI_LEN + 1)] {
        let r = issue(&cfg(), &alice(), TokenType::Access, NOW, jti);
        assert_eq!(r.unwrap_err(), JwtError::Signing("jti"));
    }
    let r = issue(&cfg(), &alice(), TokenType::Access, i64::MAX, "j".into());
    assert_eq!(r.unwrap_err(), JwtError::Signing("exp"));
}

#[test]
fn jti_looks_like_uuid4_hex() {
    assert_eq!(jti_from_bytes(&[0; 16]), "00000000000040008000000000000000");
    assert_eq!(
        jti_from_bytes(&[0xff; 16]),
        "ffffffffffff4fffbfffffffffffffff"
    );
    let j = jti_from_bytes(&[0x11; 16]);
    assert_eq!(j.len(), 32);
    assert!(j
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
}

#[test]
fn error_bodies_match_simplejwt() {
    assert_eq!(
        simplejwt_error_body().to_string(),
        r#"{"code":"token_not_valid","detail":"Token is invalid or expired"}"#
    );
    assert_eq!(
        simplejwt_access_error_body()["detail"],
        "Given token not valid for any token type"
    );
    assert_eq!(JwtError::Expired.to_string(), "token expired");
    assert_eq!(
        JwtError::Malformed("jti").to_string(),
        "malformed token (jti)"
    );
}

#[test]
fn config_debug_hides_the_secret() {
    let s = format!("{:?}", cfg());
    assert!(!s.contains(SECRET));
    assert!(s.contains(ISS));
}

/// `issue` at 1750000000 for alice with `jti_from_bytes(&[0x11; 16])`. simplejwt 5.4
/// (`JWTAuthentication.get_validated_token`, `ACCESS_TOKEN_LIFETIME` 10 min) accepted it with
/// the clock frozen at 1750000000 and 1750000599 (`user_id` read as int 42) and refused it at
/// 1750000600, and also at 1749999999 since PyJWT refuses an `iat` in the future.
const ISSUED_ACCESS: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNzUwMDAwNjAwLCJpYXQiOjE3NTAwMDAwMDAsImp0aSI6IjExMTExMTExMTExMTQxMTE5MTExMTExMTExMTExMTExIiwidXNlcl9pZCI6NDIsImlzcyI6Imxpc3QtY3V0dGVyLWFwcCIsImF1ZCI6Imxpc3QtY3V0dGVyIiwidXNlcm5hbWUiOiJhbGljZSIsImlzX2FkbWluIjp0cnVlfQ.FR0Qb-4jrBPvxebJP1oQLSwHxn-aN4XkEvB1hJcyL8M";

#[test]
fn issue_reproduces_the_token_simplejwt_accepted() {
    let jti = jti_from_bytes(&[0x11; 16]);
    assert_eq!(jti, "11111111111141119111111111111111");
    let (t, c) = issue(&cfg(), &alice(), TokenType::Access, 1_750_000_000, jti).unwrap();
    assert_eq!(t, ISSUED_ACCESS);
    assert_eq!(c.exp, 1_750_000_600);
    let v = verify(&cfg(), ISSUED_ACCESS, TokenType::Access, 1_750_000_599).unwrap();
    assert_eq!(v, c);
    assert_eq!(v.username.as_deref(), Some("alice"));
    assert_eq!(v.is_admin, Some(true));
    assert!(!v.is_legacy());
    let r = verify(&cfg(), ISSUED_ACCESS, TokenType::Access, 1_750_000_600);
    assert_eq!(r, Err(JwtError::Expired));
}

/// Found by fuzzing: `issue` signed tokens longer than `verify` reads (a very long
/// username), tokens that could never be used.
#[test]
fn issue_refuses_a_token_verify_would_refuse() {
    let user = TokenUser {
        username: "x".repeat(MAX_TOKEN_LEN),
        ..alice()
    };
    let jti = "0123456789abcdef0123456789abcdef".to_string();
    assert_eq!(
        issue(&cfg(), &user, TokenType::Access, 1_750_000_000, jti.clone()).unwrap_err(),
        JwtError::Signing("length")
    );
    let (token, _) = issue(&cfg(), &alice(), TokenType::Access, 1_750_000_000, jti).unwrap();
    assert!(verify(&cfg(), &token, TokenType::Access, 1_750_000_000).is_ok());
}

#[test]
fn an_issued_token_is_read_by_an_independent_hs256_implementation() {
    let (token, claims) = issue(&cfg(), &alice(), TokenType::Access, NOW, "ab".repeat(16)).unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let key = DecodingKey::from_secret(SECRET.as_bytes()).unwrap();
    let read = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap();
    assert_eq!(read.header.alg, Algorithm::HS256);
    assert_eq!(read.claims["user_id"], 42);
    assert_eq!(read.claims["jti"], claims.jti);
    assert_eq!(read.claims["exp"], claims.exp);
    // A wrong secret is refused by it too.
    let wrong = DecodingKey::from_secret(b"another secret").unwrap();
    assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &wrong, &validation).is_err());
}

#[test]
fn a_signature_that_is_not_base64url_or_not_ours_is_refused() {
    let (token, _) = issue(&cfg(), &alice(), TokenType::Access, NOW, "cd".repeat(16)).unwrap();
    let (signed, _) = token.rsplit_once('.').unwrap();
    for bad in [
        format!("{signed}.***"),
        format!("{signed}."),
        format!("{signed}.AAAA"),
    ] {
        assert!(
            matches!(
                verify(&cfg(), &bad, TokenType::Access, NOW),
                Err(JwtError::Malformed(_) | JwtError::BadSignature)
            ),
            "{bad}"
        );
    }
    let empty = JwtConfig::new(Vec::new(), ISS, AUD);
    assert_eq!(
        verify(&empty, &token, TokenType::Access, NOW),
        Err(JwtError::BadSignature)
    );
    assert!(issue(&empty, &alice(), TokenType::Access, NOW, "ef".repeat(16)).is_err());
}
