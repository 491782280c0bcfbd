//! Who is signed in, for identity-sticky routing: a request with a valid access
//! token (the app's or Django's: both sides sign with the same HS256 secret) is
//! bucketed by its user id rather than its address, so a person keeps one side
//! across networks and devices while the percentage holds.
//!
//! The two databases meet through replication, which lags. A token younger than
//! the replication bound was just issued by one side, after a login or a
//! registration that the other side may not know yet, so it is served by the side
//! that issued it until the bound has passed.

use crate::jwt::{self, JwtConfig, TokenType};

/// The signed-in person behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub user_id: i64,
    /// The app issued the token (it names an issuer); Django's name none.
    pub from_app: bool,
    /// `iat` (Django's tokens carry it too); `exp - lifetime` is not assumed.
    pub issued_at: i64,
}

/// The identity of `Authorization: Bearer <access token>`, when the token
/// verifies and has not expired. Anything else is no identity: the request is
/// routed as an anonymous one, and the backend answers the bad token.
pub fn identity(authorization: Option<&str>, cfg: &JwtConfig, now_unix: i64) -> Option<Identity> {
    let token = super::http::bearer(authorization)?;
    let cfg = JwtConfig {
        accept_legacy: true,
        ..cfg.clone()
    };
    let claims = jwt::verify(&cfg, token, TokenType::Access, now_unix).ok()?;
    Some(Identity {
        user_id: claims.user_id,
        from_app: !claims.is_legacy(),
        issued_at: claims.iat.unwrap_or(now_unix),
    })
}

/// The bucket of a person: FNV-1a of `user:<id>` (never the same key space as an
/// address) mod 100, so raising the percentage moves people one way only.
pub fn user_bucket(user_id: i64) -> u8 {
    super::bucket_of(&format!("user:{user_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{issue, TokenUser};

    const NOW: i64 = 1_800_000_000;

    fn cfg() -> JwtConfig {
        JwtConfig::new("identity-secret", "list-cutter", "list-cutter-api")
    }

    fn token(cfg: &JwtConfig, ty: TokenType, iat: i64) -> String {
        let user = TokenUser {
            id: 42,
            username: "p".into(),
            is_admin: false,
        };
        issue(cfg, &user, ty, iat, format!("j{iat}")).unwrap().0
    }

    #[test]
    fn a_valid_access_token_names_its_person_and_side() {
        let app = token(&cfg(), TokenType::Access, NOW - 100);
        let id = identity(Some(&format!("Bearer {app}")), &cfg(), NOW).unwrap();
        assert_eq!(
            id,
            Identity {
                user_id: 42,
                from_app: true,
                issued_at: NOW - 100
            }
        );
        // Django's: no issuer or audience.
        let django = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &serde_json::json!({"token_type": "access", "exp": NOW + 300, "iat": NOW - 5,
                                "jti": "abc", "user_id": 7}),
            &jsonwebtoken::EncodingKey::from_secret(b"identity-secret").unwrap(),
        )
        .unwrap();
        let id = identity(Some(&format!("Bearer {django}")), &cfg(), NOW).unwrap();
        assert_eq!((id.user_id, id.from_app, id.issued_at), (7, false, NOW - 5));
    }

    #[test]
    fn anything_else_is_anonymous() {
        let other = JwtConfig::new("another-secret", "list-cutter", "list-cutter-api");
        for auth in [
            None,
            Some("Bearer".to_string()),
            Some("Basic abc".to_string()),
            Some(format!("Bearer {}", token(&other, TokenType::Access, NOW))),
            Some(format!("Bearer {}", token(&cfg(), TokenType::Refresh, NOW))),
            Some(format!(
                "Bearer {}",
                token(&cfg(), TokenType::Access, NOW - 3_600)
            )),
        ] {
            assert_eq!(identity(auth.as_deref(), &cfg(), NOW), None, "{auth:?}");
        }
    }

    #[test]
    fn people_spread_over_the_buckets() {
        let mut seen = [0u32; 100];
        for id in 0..10_000 {
            seen[user_bucket(id) as usize] += 1;
        }
        assert!(seen.iter().all(|n| (50..=150).contains(n)), "{seen:?}");
        assert_ne!(user_bucket(1), super::super::bucket_of("1"));
    }
}
