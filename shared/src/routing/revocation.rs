//! Revoking beta tokens: a token is named by the first [`TOKEN_ID_LEN`] characters
//! of its signature, so revoking needs no token text and the rollout config keeps
//! only a list of ids (`beta_revoked`) for the router to refuse.

/// Characters of the signature that name a token (96 bits).
pub const TOKEN_ID_LEN: usize = 16;

/// The id of a token (well-formed or not: only the gateway's verification trusts it).
pub fn token_id(token: &str) -> Option<String> {
    let sig = token.trim().rsplit('.').next()?;
    (sig.len() > TOKEN_ID_LEN && token.contains('.')).then(|| sig[..TOKEN_ID_LEN].to_string())
}

/// The revocation list kept in the rollout config (`beta_revoked`): a JSON array
/// of token ids.
pub fn parse_revoked(raw: &str) -> Result<Vec<String>, String> {
    serde_json::from_str::<Vec<String>>(raw).map_err(|e| format!("a JSON array of token ids ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{mint_beta_token, SigningKey};

    #[test]
    fn a_token_is_named_by_its_signature() {
        let key = SigningKey::new(b"k");
        let a = mint_beta_token(&key, 2_000_000_000, "a", None);
        let b = mint_beta_token(&key, 2_000_000_000, "b", None);
        let (ia, ib) = (token_id(&a).unwrap(), token_id(&b).unwrap());
        assert_eq!(ia.len(), TOKEN_ID_LEN);
        assert_ne!(ia, ib);
        assert!(a.ends_with(&a[a.len() - 43..]) && a[a.len() - 43..].starts_with(&ia));
        assert_eq!(token_id("garbage"), None);
        assert_eq!(token_id(&format!(" {a}\n")), Some(ia), "surrounding space");
    }

    #[test]
    fn the_revocation_list_is_a_json_array_of_ids() {
        assert_eq!(
            parse_revoked(r#"["a","b"]"#),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(parse_revoked("[]"), Ok(vec![]));
        assert!(parse_revoked("a,b").is_err());
        assert!(parse_revoked(r#"[1]"#).is_err());
    }
}
