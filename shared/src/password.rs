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

mod pbkdf2;

use pbkdf2::Derivation;

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

/// A password hash computed in slices: [`advance`](Slices::advance) runs up to
/// `max` iterations and says whether all are done. A Worker serves other
/// requests from the same isolate while one login's 870 000 iterations (about
/// half a second of CPU) run, so it yields between slices instead of holding
/// them all up.
pub trait Slices {
    fn advance(&mut self, max: u32) -> bool;
}

/// Checking a password against a stored Django hash: [`check`].
pub struct Check<'a> {
    /// `None` for a stored value that cannot verify: nothing to compute.
    derivation: Option<Derivation>,
    expected: &'a str,
}

/// Starts checking `password` against a stored Django hash. Any malformed,
/// unusable or foreign value verifies as `false`, never a panic.
///
/// Like Django, the salt is used as its UTF-8 bytes (not base64-decoded) and the freshly
/// encoded base64 is compared with the stored field in constant time.
pub fn check<'a>(password: &str, encoded: &'a str) -> Check<'a> {
    match parse(encoded) {
        Some(e) => Check {
            derivation: Some(Derivation::new(
                password.as_bytes(),
                e.salt.as_bytes(),
                e.iterations,
            )),
            expected: e.hash,
        },
        None => Check {
            derivation: None,
            expected: "",
        },
    }
}

impl Slices for Check<'_> {
    fn advance(&mut self, max: u32) -> bool {
        self.derivation.as_mut().is_none_or(|d| d.advance(max))
    }
}

impl Check<'_> {
    /// Whether the password matched (once every slice has run).
    pub fn verified(&self) -> bool {
        self.derivation.as_ref().is_some_and(|d| {
            let computed = STANDARD.encode(d.output());
            computed.as_bytes().ct_eq(self.expected.as_bytes()).into()
        })
    }
}

/// Checks `password` against a stored Django hash in one go ([`check`]).
pub fn verify(password: &str, encoded: &str) -> bool {
    let mut check = check(password, encoded);
    check.advance(u32::MAX);
    check.verified()
}

/// Encoding a password as Django does: [`hashing`].
pub struct Hashing {
    derivation: Derivation,
    prefix: String,
}

/// Starts encoding `password` exactly as Django's `PBKDF2PasswordHasher.encode` does.
///
/// # Panics
/// If `salt` is empty or contains `$`, or `iterations` is 0 or above [`MAX_ITERATIONS`]
/// (Django asserts the same): such a value could never be verified again.
pub fn hashing(password: &str, salt: &str, iterations: u32) -> Hashing {
    assert!(
        !salt.is_empty() && !salt.contains('$'),
        "salt must be non-empty and free of '$'"
    );
    assert!(
        (1..=MAX_ITERATIONS).contains(&iterations),
        "iterations out of range"
    );
    Hashing {
        derivation: Derivation::new(password.as_bytes(), salt.as_bytes(), iterations),
        prefix: format!("{ALGORITHM}${iterations}${salt}$"),
    }
}

impl Slices for Hashing {
    fn advance(&mut self, max: u32) -> bool {
        self.derivation.advance(max)
    }
}

impl Hashing {
    /// The stored value (once every slice has run).
    pub fn encoded(self) -> String {
        self.prefix + &STANDARD.encode(self.derivation.output())
    }
}

/// [`hashing`] in one go.
pub fn hash(password: &str, salt: &str, iterations: u32) -> String {
    let mut hashing = hashing(password, salt, iterations);
    hashing.advance(u32::MAX);
    hashing.encoded()
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
