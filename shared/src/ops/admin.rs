//! The admin API's authorization and request parsing.
//!
//! Two credentials are accepted in `Authorization: Bearer ...`: an access JWT
//! whose claims say `is_admin`, or the operator token `ADMIN_API_TOKEN`
//! (compared in constant time so its bytes cannot be guessed by timing). A JWT
//! also has to be unrevoked and name a user who is still an active admin; the app
//! checks that against D1 and KV, the gateway asks the app.

use crate::jwt::{self, Claims, JwtConfig, TokenType};
use crate::routing::{bearer, parse_percentage, Maintenance};
use subtle::ConstantTimeEq;

/// Who is acting, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// The JWT's `username` (or `user:<id>`), or `admin-token`.
    pub name: String,
}

/// Why an admin request is refused: 401 (no or bad credential) or 403 (valid,
/// but not an admin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Unauthenticated,
    Forbidden,
}

impl Denied {
    pub fn status(self) -> u16 {
        match self {
            Denied::Unauthenticated => 401,
            Denied::Forbidden => 403,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Denied::Unauthenticated => "authentication required",
            Denied::Forbidden => "admin rights required",
        }
    }
}

/// Constant-time equality; an empty expected token never matches, so an unset
/// secret cannot be "guessed" with an empty header.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// Whether the `Authorization` header carries the operator token.
pub fn is_operator(authorization: Option<&str>, admin_token: &str) -> bool {
    bearer(authorization).is_some_and(|t| token_matches(t, admin_token))
}

/// The claims' part of the admin decision: without the admin flag, no access.
fn admin_from_claims(claims: &Claims) -> Result<(), Denied> {
    match claims.is_admin == Some(true) {
        true => Ok(()),
        false => Err(Denied::Forbidden),
    }
}

/// A credential that passed the checks made without storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The operator token.
    Operator,
    /// An access JWT whose claims say `is_admin`. Claims are a snapshot taken at
    /// login: the caller must still check that the token is not revoked and that the
    /// user is still an active admin (the app's D1 and KV know; see
    /// [`current_admin`]).
    Token(Claims),
}

impl Credential {
    /// Who is acting, for the audit trail.
    pub fn admin(&self) -> Admin {
        match self {
            Credential::Operator => Admin {
                name: "admin-token".into(),
            },
            Credential::Token(claims) => Admin {
                name: claims
                    .username
                    .clone()
                    .unwrap_or_else(|| format!("user:{}", claims.user_id)),
            },
        }
    }
}

/// Checks an admin request's credential as far as it can be checked without
/// storage. Django-issued tokens carry no admin flag, so legacy tokens are
/// refused (`accept_legacy` is forced off).
pub fn credential(
    authorization: Option<&str>,
    admin_token: &str,
    jwt: &JwtConfig,
    now_unix: i64,
) -> Result<Credential, Denied> {
    if is_operator(authorization, admin_token) {
        return Ok(Credential::Operator);
    }
    let token = bearer(authorization).ok_or(Denied::Unauthenticated)?;
    let cfg = JwtConfig {
        accept_legacy: false,
        ..jwt.clone()
    };
    let claims = jwt::verify(&cfg, token, TokenType::Access, now_unix)
        .map_err(|_| Denied::Unauthenticated)?;
    admin_from_claims(&claims)?;
    Ok(Credential::Token(claims))
}

/// What the stored state says of a token's admin: a revoked token (logout, a
/// rotation) or a user who is gone or deactivated is unauthenticated; a user who
/// is no longer an admin is forbidden.
pub fn current_admin(revoked: bool, user: Option<(bool, bool)>) -> Result<(), Denied> {
    match (revoked, user) {
        (true, _) | (false, None) | (false, Some((false, _))) => Err(Denied::Unauthenticated),
        (false, Some((true, false))) => Err(Denied::Forbidden),
        (false, Some((true, true))) => Ok(()),
    }
}

/// What `/admin/migration` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationAction {
    GetStatus,
    UpdatePercentage(u8),
    /// `Full` or `WriteFreeze`.
    EnableMaintenance(Maintenance),
    DisableMaintenance,
}

/// A parsed `/admin/migration` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRequest {
    pub action: MigrationAction,
    /// The operator's free-text reason, kept in the audit trail.
    pub reason: Option<String>,
    /// `force=true`: raise the percentage past an unhealthy replicator (audited).
    pub force: bool,
}

/// Longest reason kept; the audit trail is not a document store.
pub const MAX_REASON_LEN: usize = 500;

/// Parses the query of `/admin/migration` (the seed's contract plus `mode=`,
/// `reason=` and `force=`). Errors are messages for a 400.
pub fn parse_migration(params: &[(String, String)]) -> Result<MigrationRequest, String> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let action = match get("action") {
        None | Some("get_status") => MigrationAction::GetStatus,
        Some("update_percentage") => {
            let raw = get("percentage").ok_or("percentage is required")?;
            let pct = parse_percentage(Some(raw))
                .map_err(|_| format!("percentage must be an integer from 0 to 100, got {raw:?}"))?;
            MigrationAction::UpdatePercentage(pct)
        }
        Some("enable_maintenance") => match get("mode").unwrap_or("full") {
            "full" => MigrationAction::EnableMaintenance(Maintenance::Full),
            "write_freeze" => MigrationAction::EnableMaintenance(Maintenance::WriteFreeze),
            other => return Err(format!("mode must be full or write_freeze, got {other:?}")),
        },
        Some("disable_maintenance") => MigrationAction::DisableMaintenance,
        Some(other) => return Err(format!("unknown action {other:?}")),
    };
    let reason = get("reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| r.chars().take(MAX_REASON_LEN).collect());
    let force = match get("force") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(format!("force must be true or false, got {other:?}")),
    };
    Ok(MigrationRequest {
        action,
        reason,
        force,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{issue, TokenUser};

    const SECRET: &str = "test-secret-0123456789";

    fn cfg() -> JwtConfig {
        JwtConfig::new(SECRET, "list-cutter", "list-cutter-api")
    }

    fn token(is_admin: bool, ty: TokenType) -> String {
        let user = TokenUser {
            id: 7,
            username: "ops".into(),
            is_admin,
        };
        issue(&cfg(), &user, ty, 1_000, "j".into()).unwrap().0
    }

    fn params(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn operator_token_and_admin_jwt_are_accepted() {
        let a = credential(Some("Bearer tok"), "tok", &cfg(), 1_001).unwrap();
        assert_eq!(
            (&a, a.admin().name.as_str()),
            (&Credential::Operator, "admin-token")
        );
        let bearer = format!("Bearer {}", token(true, TokenType::Access));
        let a = credential(Some(&bearer), "tok", &cfg(), 1_001).unwrap();
        assert_eq!(a.admin().name, "ops");
        assert!(matches!(a, Credential::Token(c) if c.user_id == 7));
    }

    #[test]
    fn a_token_counts_only_while_its_user_is_still_an_active_admin() {
        assert_eq!(current_admin(false, Some((true, true))), Ok(()));
        assert_eq!(
            current_admin(true, Some((true, true))),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(current_admin(false, None), Err(Denied::Unauthenticated));
        assert_eq!(
            current_admin(false, Some((false, true))),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(
            current_admin(false, Some((true, false))),
            Err(Denied::Forbidden)
        );
    }

    #[test]
    fn missing_bad_or_non_admin_credentials_are_refused() {
        let c = cfg();
        assert_eq!(credential(None, "tok", &c, 1), Err(Denied::Unauthenticated));
        assert_eq!(
            credential(Some("Basic tok"), "tok", &c, 1),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(
            credential(Some("Bearer tok2"), "tok", &c, 1),
            Err(Denied::Unauthenticated)
        );
        // An unset operator token matches nothing, not even an empty bearer.
        assert_eq!(
            credential(Some("Bearer "), "", &c, 1),
            Err(Denied::Unauthenticated)
        );
        let user = format!("Bearer {}", token(false, TokenType::Access));
        assert_eq!(
            credential(Some(&user), "tok", &c, 1_001),
            Err(Denied::Forbidden)
        );
        let refresh = format!("Bearer {}", token(true, TokenType::Refresh));
        assert_eq!(
            credential(Some(&refresh), "tok", &c, 1_001),
            Err(Denied::Unauthenticated)
        );
        let expired = format!("Bearer {}", token(true, TokenType::Access));
        assert_eq!(
            credential(Some(&expired), "tok", &c, 1_000 + 601),
            Err(Denied::Unauthenticated)
        );
        let other = JwtConfig::new(SECRET, "someone-else", "list-cutter-api");
        assert_eq!(
            credential(Some(&expired), "tok", &other, 1_001),
            Err(Denied::Unauthenticated)
        );
    }

    #[test]
    fn migration_actions_parse() {
        let p = |q: &[(&str, &str)]| parse_migration(&params(q));
        assert_eq!(p(&[]).unwrap().action, MigrationAction::GetStatus);
        assert_eq!(
            p(&[("action", "update_percentage"), ("percentage", "25")])
                .unwrap()
                .action,
            MigrationAction::UpdatePercentage(25)
        );
        assert_eq!(
            p(&[("action", "enable_maintenance")]).unwrap().action,
            MigrationAction::EnableMaintenance(Maintenance::Full)
        );
        let r = p(&[
            ("action", "enable_maintenance"),
            ("mode", "write_freeze"),
            ("reason", " final sync "),
        ])
        .unwrap();
        assert_eq!(
            r.action,
            MigrationAction::EnableMaintenance(Maintenance::WriteFreeze)
        );
        assert_eq!(r.reason.as_deref(), Some("final sync"));
        assert_eq!(
            p(&[("action", "disable_maintenance")]).unwrap().action,
            MigrationAction::DisableMaintenance
        );
    }

    #[test]
    fn bad_migration_requests_are_refused() {
        let p = |q: &[(&str, &str)]| parse_migration(&params(q));
        for bad in ["101", "-1", "50.5", "abc", ""] {
            assert!(p(&[("action", "update_percentage"), ("percentage", bad)]).is_err());
        }
        assert!(p(&[("action", "update_percentage")]).is_err());
        assert!(p(&[("action", "drop_tables")]).is_err());
        assert!(p(&[("action", "enable_maintenance"), ("mode", "half")]).is_err());
    }
}
