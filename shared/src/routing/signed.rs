//! Values the gateway hands to clients and must be able to trust when they come
//! back: the sticky bucket cookie and the beta tester token.
//!
//! Both are HMAC-SHA256 signed with one secret. Each signs a payload that starts
//! with its own context string, so a value minted for one purpose never verifies
//! as the other.
//!
//! Formats (all parts are cookie- and header-safe):
//! - sticky: `v1.<bucket>.<sig>`, bucket in decimal 0..=99,
//!   `sig = b64url(HMAC(key, "lc_route\nv1\n<bucket>"))`
//! - beta: `v1.<expires_at_unix>.<b64url(label)>.<sig>`,
//!   `sig = b64url(HMAC(key, "lc_beta\nv1\n<expires_at_unix>\n<b64url(label)>"))`;
//!   pinned to an app slot (`blue`/`green`, for a release's smoke test before
//!   the switch): `v1.<expires_at_unix>.<b64url(label)>.<slot>.<sig>`, the slot
//!   signed as a fourth line.
//!
//! `b64url` is unpadded URL-safe base64. Verification recomputes the HMAC over
//! the exact received text and compares it in constant time.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::bucket::BUCKETS;
use super::slot::Slot;

type HmacSha256 = Hmac<Sha256>;

/// Cookie that keeps a client's bucket across IP changes.
pub const STICKY_COOKIE_NAME: &str = "lc_route";
/// Cookie a beta tester carries to be forced onto the app.
pub const BETA_COOKIE_NAME: &str = "lc_beta";
/// Header alternative to the beta cookie, for API clients and scripts.
pub const BETA_TOKEN_HEADER: &str = "X-Beta-Token";
/// Thirty days: long enough that a returning user keeps their side for the
/// whole canary, short enough that abandoned buckets expire.
pub const STICKY_MAX_AGE_SECS: u32 = 2_592_000;

const VERSION: &str = "v1";
const STICKY_CONTEXT: &str = "lc_route";
const BETA_CONTEXT: &str = "lc_beta";
/// Upper bound on what is even considered for verification, so a huge header
/// costs nothing beyond a length check.
const MAX_SIGNED_LEN: usize = 1024;
/// HMAC-SHA256 output in unpadded base64url.
const SIG_B64_LEN: usize = 43;

/// The gateway's routing secret. It never appears in `Debug` output so that a
/// logged config or decision cannot leak it.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// Wraps the secret bytes (e.g. the `ROUTING_SECRET` Worker secret).
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self(secret.as_ref().to_vec())
    }

    fn mac(&self, context: &str, parts: &[&str]) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(context.as_bytes());
        mac.update(b"\n");
        mac.update(VERSION.as_bytes());
        for part in parts {
            mac.update(b"\n");
            mac.update(part.as_bytes());
        }
        mac
    }

    fn sign(&self, context: &str, parts: &[&str]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(context, parts).finalize().into_bytes())
    }

    fn verify(&self, context: &str, parts: &[&str], sig_b64: &str) -> bool {
        if sig_b64.len() != SIG_B64_LEN {
            return false;
        }
        let Ok(sig) = URL_SAFE_NO_PAD.decode(sig_b64) else {
            return false;
        };
        // `verify_slice` compares in constant time.
        self.mac(context, parts).verify_slice(&sig).is_ok()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// The signed cookie value for a bucket. A bucket outside 0..=99 is reduced
/// modulo 100 so that the cookie always verifies and always names a real bucket.
pub fn sticky_cookie_value(key: &SigningKey, bucket: u8) -> String {
    sign_sticky_unchecked(key, &(bucket % BUCKETS).to_string())
}

fn sign_sticky_unchecked(key: &SigningKey, bucket: &str) -> String {
    let sig = key.sign(STICKY_CONTEXT, &[bucket]);
    format!("{VERSION}.{bucket}.{sig}")
}

/// The bucket a sticky cookie holds, or `None` for anything that is not a value
/// this key minted (tampered, forged, garbled, other version): the caller then
/// treats the client as having no cookie.
pub fn verify_sticky(key: &SigningKey, value: &str) -> Option<u8> {
    let value = value.trim();
    if value.len() > MAX_SIGNED_LEN {
        return None;
    }
    let mut parts = value.split('.');
    let (Some(version), Some(bucket), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if version != VERSION || !is_canonical_decimal(bucket) || bucket.len() > 2 {
        return None;
    }
    if !key.verify(STICKY_CONTEXT, &[bucket], sig) {
        return None;
    }
    let bucket: u8 = bucket.parse().ok()?;
    (bucket < BUCKETS).then_some(bucket)
}

/// The `Set-Cookie` header value pinning a client to its bucket. `secure` is off
/// only for local development, which runs over plain http where browsers drop
/// `Secure` cookies.
pub fn sticky_set_cookie(key: &SigningKey, bucket: u8, secure: bool) -> String {
    let value = sticky_cookie_value(key, bucket);
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{STICKY_COOKIE_NAME}={value}; Path=/; HttpOnly{secure}; SameSite=Lax; Max-Age={STICKY_MAX_AGE_SECS}"
    )
}

/// What a valid beta token says, for logs and the admin view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetaClaims {
    /// Unix seconds after which the token no longer routes.
    pub expires_at_unix: i64,
    /// Who the token was issued to, so a leaked token can be traced.
    pub label: String,
    /// The app slot its requests go to, whichever slot serves everyone else.
    pub slot: Option<Slot>,
}

/// Issues a beta token that forces its holder onto the app until
/// `expires_at_unix`. Only holders of the key can mint one, so unlike the plain
/// `X-Beta-User` header it cannot be spoofed by arbitrary clients.
pub fn mint_beta_token(
    key: &SigningKey,
    expires_at_unix: i64,
    label: &str,
    slot: Option<Slot>,
) -> String {
    let expires = expires_at_unix.to_string();
    let label = URL_SAFE_NO_PAD.encode(label.as_bytes());
    match slot {
        None => {
            let sig = key.sign(BETA_CONTEXT, &[&expires, &label]);
            format!("{VERSION}.{expires}.{label}.{sig}")
        }
        Some(slot) => {
            let sig = key.sign(BETA_CONTEXT, &[&expires, &label, slot.name()]);
            format!("{VERSION}.{expires}.{label}.{slot}.{sig}")
        }
    }
}

/// The claims of a beta token that this key minted and that has not expired at
/// `now_unix`; `None` otherwise.
pub fn beta_token_claims(key: &SigningKey, token: &str, now_unix: i64) -> Option<BetaClaims> {
    let token = token.trim();
    if token.len() > MAX_SIGNED_LEN {
        return None;
    }
    let parts: Vec<&str> = token.splitn(7, '.').collect();
    let (version, expires, label, slot, sig) = match parts[..] {
        [version, expires, label, sig] => (version, expires, label, None, sig),
        [version, expires, label, slot, sig] => (
            version,
            expires,
            label,
            Some(slot.parse::<Slot>().ok()?),
            sig,
        ),
        _ => return None,
    };
    let digits = expires.strip_prefix('-').unwrap_or(expires);
    if version != VERSION || !is_canonical_decimal(digits) {
        return None;
    }
    let signed = match slot {
        None => key.verify(BETA_CONTEXT, &[expires, label], sig),
        Some(slot) => key.verify(BETA_CONTEXT, &[expires, label, slot.name()], sig),
    };
    if !signed {
        return None;
    }
    let expires_at_unix: i64 = expires.parse().ok()?;
    if now_unix >= expires_at_unix {
        return None;
    }
    let label = URL_SAFE_NO_PAD.decode(label).ok()?;
    let label = String::from_utf8(label).ok()?;
    Some(BetaClaims {
        expires_at_unix,
        label,
        slot,
    })
}

/// Whether `token` is a beta token this key minted that is still valid at
/// `now_unix`.
pub fn verify_beta_token(key: &SigningKey, token: &str, now_unix: i64) -> bool {
    beta_token_claims(key, token, now_unix).is_some()
}

/// Digits only, no sign, no leading zero (except "0"): exactly one spelling per
/// number, so the signed text and the parsed number cannot disagree.
fn is_canonical_decimal(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'))
        && s.len() <= 19
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::new(b"test-routing-secret")
    }

    #[test]
    fn sticky_round_trips_every_bucket() {
        for bucket in 0..100 {
            let value = sticky_cookie_value(&key(), bucket);
            assert_eq!(verify_sticky(&key(), &value), Some(bucket), "{value}");
        }
    }

    #[test]
    fn sticky_format_is_versioned() {
        let value = sticky_cookie_value(&key(), 42);
        assert!(value.starts_with("v1.42."), "{value}");
        assert_eq!(value.len(), "v1.42.".len() + SIG_B64_LEN);
    }

    #[test]
    fn sticky_with_tampered_bucket_is_rejected() {
        let value = sticky_cookie_value(&key(), 42);
        let tampered = value.replacen("v1.42.", "v1.43.", 1);
        assert_eq!(verify_sticky(&key(), &tampered), None);
        let padded = value.replacen("v1.42.", "v1.042.", 1);
        assert_eq!(verify_sticky(&key(), &padded), None);
    }

    #[test]
    fn sticky_with_tampered_signature_is_rejected() {
        let value = sticky_cookie_value(&key(), 42);
        let mut bytes = value.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(verify_sticky(&key(), &tampered), None);
    }

    #[test]
    fn sticky_from_another_key_is_rejected() {
        let value = sticky_cookie_value(&SigningKey::new(b"other"), 42);
        assert_eq!(verify_sticky(&key(), &value), None);
    }

    #[test]
    fn sticky_garbage_is_rejected() {
        for garbage in [
            "",
            "42",
            "v1.42",
            "v1.42.",
            "v1..sig",
            "v2.42.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "v1.42.!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
            "v1.42.sig.extra",
            "\u{0}\u{1}",
            &"x".repeat(5000),
        ] {
            assert_eq!(verify_sticky(&key(), garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn sticky_with_out_of_range_bucket_is_rejected_even_if_signed() {
        for bucket in ["100", "255", "99999"] {
            let value = sign_sticky_unchecked(&key(), bucket);
            assert_eq!(verify_sticky(&key(), &value), None, "{value}");
        }
        // Minting an out-of-range bucket yields a real one instead.
        assert_eq!(
            verify_sticky(&key(), &sticky_cookie_value(&key(), 142)),
            Some(42)
        );
    }

    #[test]
    fn set_cookie_has_the_attributes() {
        let secure = sticky_set_cookie(&key(), 7, true);
        let value = sticky_cookie_value(&key(), 7);
        assert_eq!(
            secure,
            format!("lc_route={value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=2592000")
        );
        let plain = sticky_set_cookie(&key(), 7, false);
        assert_eq!(
            plain,
            format!("lc_route={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000")
        );
        assert!(!plain.contains("Secure"));
    }

    #[test]
    fn beta_token_valid_until_expiry() {
        let token = mint_beta_token(&key(), 2_000, "alice@example.com", None);
        assert!(verify_beta_token(&key(), &token, 1_999));
        assert_eq!(
            beta_token_claims(&key(), &token, 1_000),
            Some(BetaClaims {
                expires_at_unix: 2_000,
                label: "alice@example.com".into(),
                slot: None,
            })
        );
    }

    #[test]
    fn beta_token_expired_is_rejected() {
        let token = mint_beta_token(&key(), 2_000, "alice", None);
        assert!(!verify_beta_token(&key(), &token, 2_000));
        assert!(!verify_beta_token(&key(), &token, 3_000));
    }

    #[test]
    fn beta_token_with_extended_expiry_is_rejected() {
        let token = mint_beta_token(&key(), 2_000, "alice", None);
        let forged = token.replacen("v1.2000.", "v1.9999999999.", 1);
        assert!(!verify_beta_token(&key(), &forged, 1_000));
    }

    #[test]
    fn beta_token_with_swapped_label_is_rejected() {
        let token = mint_beta_token(&key(), 2_000, "alice", None);
        let other_label = URL_SAFE_NO_PAD.encode("mallory");
        let alice_label = URL_SAFE_NO_PAD.encode("alice");
        let forged = token.replacen(&alice_label, &other_label, 1);
        assert_ne!(forged, token);
        assert!(!verify_beta_token(&key(), &forged, 1_000));
    }

    #[test]
    fn a_pinned_token_names_its_slot_and_cannot_be_moved_or_unpinned() {
        let green = mint_beta_token(&key(), 2_000, "smoke", Some(Slot::Green));
        assert!(green.contains(".green."), "{green}");
        assert_eq!(
            beta_token_claims(&key(), &green, 1_000).and_then(|c| c.slot),
            Some(Slot::Green)
        );
        let moved = green.replacen(".green.", ".blue.", 1);
        assert_eq!(beta_token_claims(&key(), &moved, 1_000), None);
        let unpinned = green.replacen(".green.", ".", 1);
        assert_eq!(beta_token_claims(&key(), &unpinned, 1_000), None);
        let plain = mint_beta_token(&key(), 2_000, "smoke", None);
        let sig = plain.rsplit('.').next().unwrap();
        let pinned = plain.replacen(sig, &format!("green.{sig}"), 1);
        assert_eq!(beta_token_claims(&key(), &pinned, 1_000), None);
        let odd = green.replacen(".green.", ".purple.", 1);
        assert_eq!(beta_token_claims(&key(), &odd, 1_000), None);
    }

    #[test]
    fn beta_token_from_another_key_is_rejected() {
        let token = mint_beta_token(&SigningKey::new(b"other"), 2_000, "alice", None);
        assert!(!verify_beta_token(&key(), &token, 1_000));
    }

    #[test]
    fn beta_token_garbage_is_rejected() {
        for garbage in [
            "",
            "true",
            "v1.2000.YWxpY2U",
            "v1.2000.YWxpY2U.sig.x",
            "v1.2000.YWxpY2U.green.sig.x",
            "v1.-0.a.b",
        ] {
            assert!(!verify_beta_token(&key(), garbage, 0), "{garbage:?}");
        }
    }

    #[test]
    fn label_may_contain_separators() {
        let token = mint_beta_token(&key(), 2_000, "a.b\nc d", None);
        assert_eq!(
            beta_token_claims(&key(), &token, 0).map(|c| c.label),
            Some("a.b\nc d".to_string())
        );
    }

    #[test]
    fn sticky_and_beta_signatures_do_not_cross() {
        // A sticky cookie's signature never validates a beta token and back,
        // because each signs under its own context.
        let sticky = sticky_cookie_value(&key(), 42);
        let sig = sticky.rsplit('.').next().unwrap();
        assert!(!key().verify(BETA_CONTEXT, &["42"], sig));
        let token = mint_beta_token(&key(), 2_000, "", None);
        let sig = token.rsplit('.').next().unwrap();
        assert!(!key().verify(STICKY_CONTEXT, &["2000", ""], sig));
    }

    #[test]
    fn debug_does_not_leak_the_secret() {
        assert!(!format!("{:?}", key()).contains("test-routing-secret"));
    }
}
