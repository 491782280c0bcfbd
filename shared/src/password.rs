//! Django-compatible password hashes (`pbkdf2_sha256$<iterations>$<salt>$<base64>`).
//!
//! During the cutover a user may log in on Django one day and on the app the next, and a
//! rollback must keep every login working, so the app both verifies Django's rows and writes
//! new ones in exactly Django's format. Only `pbkdf2_sha256` is accepted: it is Django 5.1's
//! default hasher and the only one the legacy settings ever used; anything else is rejected.
//!
//! The module draws no randomness itself: [`make_salt`] is fed bytes by the caller (the Worker
//! takes them from its CSPRNG), which keeps it deterministic and testable.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Django 5.1's iteration count for `PBKDF2PasswordHasher`.
pub const DJANGO_DEFAULT_ITERATIONS: u32 = 870_000;

/// Rows claiming more iterations than this are rejected unverified, so a tampered or hostile
/// row cannot make one login burn seconds of CPU (about 11x Django's default).
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// Django's algorithm tag for PBKDF2-HMAC-SHA256.
pub const ALGORITHM: &str = "pbkdf2_sha256";

/// Salt length of `get_random_string(22)`: 22 chars of 62 symbols is just over 128 bits.
pub const SALT_LEN: usize = 22;

/// Django's `RANDOM_STRING_CHARS`.
const SALT_CHARS: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The fields of a well-formed `pbkdf2_sha256` value.
struct Encoded<'a> {
    iterations: u32,
    salt: &'a str,
    hash: &'a str,
}

/// Splits a stored value; `None` for anything that is not a usable `pbkdf2_sha256` hash.
/// Unusable passwords (Django's `!`-prefixed marker) fail the algorithm check.
fn parse(encoded: &str) -> Option<Encoded<'_>> {
    let mut parts = encoded.split('$');
    let (algorithm, iterations, salt, hash) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || algorithm != ALGORITHM || salt.is_empty() || hash.is_empty() {
        return None;
    }
    // Digits only: `u32::from_str` would also take a leading `+`, which Django never writes.
    if !iterations.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let iterations: u32 = iterations.parse().ok()?;
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return None;
    }
    Some(Encoded {
        iterations,
        salt,
        hash,
    })
}

fn derive_b64(password: &str, salt: &str, iterations: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    STANDARD.encode(out)
}

/// Checks `password` against a stored Django hash. Any malformed, unusable or foreign value
/// gives `false`, never a panic.
///
/// Like Django, the salt is used as its UTF-8 bytes (not base64-decoded) and the freshly
/// encoded base64 is compared with the stored field in constant time.
pub fn verify(password: &str, encoded: &str) -> bool {
    let Some(e) = parse(encoded) else {
        return false;
    };
    let computed = derive_b64(password, e.salt, e.iterations);
    computed.as_bytes().ct_eq(e.hash.as_bytes()).into()
}

/// Encodes `password` exactly as Django's `PBKDF2PasswordHasher.encode` does.
///
/// # Panics
/// If `salt` is empty or contains `$`, or `iterations` is 0 or above [`MAX_ITERATIONS`]
/// (Django asserts the same): such a value could never be verified again.
pub fn hash(password: &str, salt: &str, iterations: u32) -> String {
    assert!(
        !salt.is_empty() && !salt.contains('$'),
        "salt must be non-empty and free of '$'"
    );
    assert!(
        (1..=MAX_ITERATIONS).contains(&iterations),
        "iterations out of range"
    );
    let hash = derive_b64(password, salt, iterations);
    format!("{ALGORITHM}${iterations}${salt}${hash}")
}

/// Makes a [`SALT_LEN`]-char salt over Django's alphabet (`a-zA-Z0-9`), like
/// `get_random_string(22)`, from caller-supplied random bytes.
///
/// Pass at least 16 bytes from a CSPRNG (32 is comfortable). The bytes are stretched with
/// SHA-256 in counter mode and mapped by rejection sampling, so every char is uniform
/// whatever the input length and the output never runs short.
pub fn make_salt(random_bytes: &[u8]) -> String {
    let mut salt = String::with_capacity(SALT_LEN);
    let mut counter: u32 = 0;
    while salt.len() < SALT_LEN {
        let block = Sha256::new()
            .chain_update(random_bytes)
            .chain_update(counter.to_le_bytes())
            .finalize();
        counter += 1;
        // 248 = 4 * 62: bytes at or above it would bias the first symbols.
        for b in block.into_iter().filter(|b| *b < 248) {
            if salt.len() == SALT_LEN {
                break;
            }
            salt.push(SALT_CHARS[usize::from(b) % SALT_CHARS.len()] as char);
        }
    }
    salt
}

/// Whether a hash that just verified should be rewritten: fewer iterations than
/// [`DJANGO_DEFAULT_ITERATIONS`] or a salt under 128 bits, as Django's `must_update` judges.
/// More iterations than the default are kept (Django would rewrite them; that only costs).
/// Values that do not parse give `false`: they cannot verify, so there is nothing to upgrade.
pub fn needs_rehash(encoded: &str) -> bool {
    parse(encoded).is_some_and(|e| {
        e.iterations < DJANGO_DEFAULT_ITERATIONS || e.salt.chars().count() < SALT_LEN
    })
}

#[cfg(test)]
mod tests;
