//! The sticky cookie and the beta token (`routing::signed`): what a key mints
//! verifies under that key only, to what was minted, and stops verifying once any
//! byte changes; any text that verifies is exactly what the key mints for it.

use crate::ops::beta::MAX_LABEL_CHARS;
use crate::routing::{
    beta_token_claims, mint_beta_token, sticky_cookie_value, verify_sticky, BetaClaims, SigningKey,
    Slot,
};

use super::Input;

/// Input: key length and key, a bucket, an expiry and a clock, a byte to change
/// and its replacement, then the label (and, as text, a value to verify as is).
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let key_len = usize::from(input.byte() % 80);
    let key = SigningKey::new(input.bytes(key_len));
    let other = SigningKey::new(b"another key");
    let bucket = input.byte();
    let expires = input.u64() as i64 >> (input.byte() % 64);
    let now = expires.wrapping_add(i64::from(input.byte() as i8));
    let position = usize::from(input.byte()) << 8 | usize::from(input.byte());
    let replacement = input.byte();
    let rest = input.rest();

    // The sticky cookie.
    let cookie = sticky_cookie_value(&key, bucket);
    assert_eq!(
        verify_sticky(&key, &cookie),
        Some(bucket % 100),
        "a minted cookie verifies"
    );
    assert_eq!(
        verify_sticky(&key, &format!(" {cookie}\t")),
        Some(bucket % 100)
    );
    assert_eq!(verify_sticky(&other, &cookie), None, "only under its key");
    assert_eq!(
        beta_token_claims(&key, &cookie, now),
        None,
        "a cookie is no beta token"
    );
    if let Some(changed) = change(&cookie, position, replacement) {
        assert_eq!(
            verify_sticky(&key, &changed),
            None,
            "{changed:?}: a changed cookie verifies"
        );
    }

    // The beta token.
    let label: String = String::from_utf8_lossy(rest)
        .chars()
        .take(MAX_LABEL_CHARS)
        .collect();
    let slot = [None, Some(Slot::Blue), Some(Slot::Green)][usize::from(replacement) % 3];
    let token = mint_beta_token(&key, expires, &label, slot);
    let claims = beta_token_claims(&key, &token, now);
    match now < expires {
        true => assert_eq!(
            claims,
            Some(BetaClaims {
                expires_at_unix: expires,
                label: label.clone(),
                slot,
            }),
            "a minted token verifies until it expires"
        ),
        false => assert_eq!(claims, None, "an expired token is refused"),
    }
    assert_eq!(
        beta_token_claims(&other, &token, i64::MIN),
        None,
        "only under its key"
    );
    assert_eq!(
        verify_sticky(&key, &token),
        None,
        "a beta token is no cookie"
    );
    if let Some(changed) = change(&token, position, replacement) {
        assert_eq!(
            beta_token_claims(&key, &changed, i64::MIN),
            None,
            "{changed:?}: a changed token verifies"
        );
    }

    // Arbitrary text: accepted only if it is what the key mints.
    if let Ok(text) = std::str::from_utf8(rest) {
        for key in [&key, &other] {
            if let Some(b) = verify_sticky(key, text) {
                assert!(b < 100);
                assert_eq!(
                    text.trim(),
                    sticky_cookie_value(key, b),
                    "one spelling per cookie"
                );
            }
            if let Some(c) = beta_token_claims(key, text, now) {
                assert!(now < c.expires_at_unix);
                assert_eq!(
                    text.trim(),
                    mint_beta_token(key, c.expires_at_unix, &c.label, c.slot),
                    "one spelling per token"
                );
            }
        }
    }
}

/// `text` with the byte at `position` (modulo its length) replaced, if that changes
/// it and leaves UTF-8.
fn change(text: &str, position: usize, replacement: u8) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    let at = position % bytes.len();
    (bytes[at] != replacement).then_some(())?;
    bytes[at] = replacement;
    String::from_utf8(bytes).ok()
}
