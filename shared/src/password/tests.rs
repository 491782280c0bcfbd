//! Vectors produced by Django 5.1's `PBKDF2PasswordHasher` (`make_password` / `encode`).

use super::*;

const DJANGO_870K: &str =
    "pbkdf2_sha256$870000$Xq3vR8sTz0LkPa9WmN2bYc$qlMveNzvYkIB9bByAjJN0E+7VRXkERVRQ6eq15Gkk9g=";
const DJANGO_870K_PW: &str = "correct horse battery staple";
const DJANGO_1K: &str = "pbkdf2_sha256$1000$saltsalt$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq+eFeiA=";
const DJANGO_UNICODE: &str =
    "pbkdf2_sha256$2000$sälz✓$FlWvSpSJ0fR/EW/8z3fyuZD2pC+sJNQ/CnHVv+02vWA=";
const DJANGO_EMPTY_PW: &str =
    "pbkdf2_sha256$1000$emptySalt1234567890abc$8i5yYrtqKRFQZ+ziBo3iV6UgYE0n0CiOIV70Jq72AnQ=";
/// `make_password(None)`.
const DJANGO_UNUSABLE: &str = "!sDtxtna04CnYDBIG1KKlCrRXUSJPUrLQL5VLF4PB";

/// One derivation only: 870 000 rounds take ~6 s in an unoptimised test build (0.1 s in
/// release). Wrong passwords are covered by the cheap vectors.
#[test]
fn verifies_django_default_iterations() {
    assert!(verify(DJANGO_870K_PW, DJANGO_870K));
}

#[test]
fn verifies_low_iteration_django_hash() {
    assert!(verify("hunter2", DJANGO_1K));
    assert!(!verify("hunter3", DJANGO_1K));
    assert!(!verify("Hunter2", DJANGO_1K));
}

#[test]
fn salt_is_used_as_utf8_not_base64() {
    assert!(verify("pässwörd🔑", DJANGO_UNICODE));
    assert!(!verify("passwort", DJANGO_UNICODE));
}

#[test]
fn empty_password_is_an_ordinary_password() {
    assert!(verify("", DJANGO_EMPTY_PW));
    assert!(!verify(" ", DJANGO_EMPTY_PW));
}

#[test]
fn hash_reproduces_django_encoding() {
    assert_eq!(hash("hunter2", "saltsalt", 1000), DJANGO_1K);
    assert_eq!(hash("pässwörd🔑", "sälz✓", 2000), DJANGO_UNICODE);
    assert_eq!(hash("", "emptySalt1234567890abc", 1000), DJANGO_EMPTY_PW);
}

#[test]
fn hash_round_trips() {
    let encoded = hash("s3cret!", "AbCdEfGhIjKlMnOpQrStUv", 1200);
    assert!(encoded.starts_with("pbkdf2_sha256$1200$AbCdEfGhIjKlMnOpQrStUv$"));
    assert!(verify("s3cret!", &encoded));
    assert!(!verify("s3cret", &encoded));
}

#[test]
fn tampered_values_fail() {
    // Flipped hash char, changed salt, changed iteration count.
    let flipped = DJANGO_1K.replace("SGost", "SGosu");
    assert!(!verify("hunter2", &flipped));
    assert!(!verify(
        "hunter2",
        &DJANGO_1K.replace("saltsalt", "saltsalT")
    ));
    assert!(!verify("hunter2", &DJANGO_1K.replace("$1000$", "$1001$")));
    // Same digest without padding, or with whitespace: Django compares strings, so do we.
    assert!(!verify("hunter2", DJANGO_1K.trim_end_matches('=')));
    assert!(!verify("hunter2", &format!("{DJANGO_1K} ")));
}

#[test]
fn wrong_algorithm_fails() {
    for alg in [
        "pbkdf2_sha1",
        "PBKDF2_SHA256",
        "argon2",
        "bcrypt_sha256",
        "md5",
        "",
    ] {
        let other = DJANGO_1K.replacen("pbkdf2_sha256", alg, 1);
        assert!(!verify("hunter2", &other), "{alg}");
    }
}

#[test]
fn unusable_password_fails() {
    assert!(!verify("", DJANGO_UNUSABLE));
    assert!(!verify("anything", DJANGO_UNUSABLE));
    assert!(!verify("hunter2", &format!("!{DJANGO_1K}")));
    assert!(!needs_rehash(DJANGO_UNUSABLE));
}

#[test]
fn malformed_values_fail_without_panicking() {
    let cases = [
        "",
        "$",
        "$$$",
        "pbkdf2_sha256",
        "pbkdf2_sha256$1000$saltsalt",
        "pbkdf2_sha256$1000$saltsalt$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq+eFeiA=$x",
        "pbkdf2_sha256$abc$saltsalt$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq+eFeiA=",
        "pbkdf2_sha256$+1000$saltsalt$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq+eFeiA=",
        "pbkdf2_sha256$-1$saltsalt$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq+eFeiA=",
        "pbkdf2_sha256$0$saltsalt$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq+eFeiA=",
        "pbkdf2_sha256$$saltsalt$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq+eFeiA=",
        "pbkdf2_sha256$99999999999999999999$saltsalt$AAAA",
        "pbkdf2_sha256$1000$$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq+eFeiA=",
        "pbkdf2_sha256$1000$saltsalt$",
        "pbkdf2_sha256$1000$saltsalt$not base64!!",
        "pbkdf2_sha256$1000$saltsalt$AAAA",
        "pbkdf2_sha256$1000$saltsalt$SGostCYuh4jIkZF3T30ZOll3DSwORihSR6ozq+eFeiA==",
    ];
    for case in cases {
        assert!(!verify("hunter2", case), "{case:?}");
    }
    // Structurally broken values have nothing to upgrade.
    for case in &cases[..11] {
        assert!(!needs_rehash(case), "{case:?}");
    }
}

#[test]
fn iteration_cap_rejects_without_deriving() {
    let over = format!("pbkdf2_sha256${}$saltsalt$AAAA", MAX_ITERATIONS + 1);
    let t = std::time::Instant::now();
    assert!(!verify("hunter2", &over));
    assert!(t.elapsed() < std::time::Duration::from_millis(100));
}

#[test]
#[should_panic(expected = "salt")]
fn hash_refuses_dollar_in_salt() {
    hash("pw", "a$b", 1000);
}

#[test]
#[should_panic(expected = "iterations")]
fn hash_refuses_zero_iterations() {
    hash("pw", "salt", 0);
}

#[test]
fn make_salt_matches_get_random_string_shape() {
    let salt = make_salt(&[7u8; 32]);
    assert_eq!(salt.len(), SALT_LEN);
    assert!(salt.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(salt, make_salt(&[7u8; 32]), "deterministic in its input");
    assert_ne!(salt, make_salt(&[8u8; 32]));
    // Any input length still yields a full salt.
    assert_eq!(make_salt(&[]).len(), SALT_LEN);
    assert_eq!(make_salt(&[0u8; 1]).len(), SALT_LEN);
}

#[test]
fn make_salt_uses_the_whole_alphabet() {
    let mut seen = std::collections::HashSet::new();
    for i in 0u32..200 {
        seen.extend(make_salt(&i.to_le_bytes()).chars());
    }
    assert_eq!(seen.len(), 62);
}

#[test]
fn needs_rehash_tracks_django_policy() {
    assert!(needs_rehash(DJANGO_1K), "low iterations");
    assert!(!needs_rehash(DJANGO_870K));
    assert!(
        needs_rehash("pbkdf2_sha256$870000$short$AAAA"),
        "salt under 128 bits"
    );
    assert!(!needs_rehash(
        "pbkdf2_sha256$1000000$Xq3vR8sTz0LkPa9WmN2bYc$AAAA"
    ));
}

proptest::proptest! {
    /// The two-compressions-per-iteration loop equals the generic PBKDF2 for
    /// passwords on both sides of the 64-byte key block and any salt.
    #[test]
    fn fast_derive_equals_generic_pbkdf2(
        password in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..150),
        salt in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100),
        iterations in 1u32..40,
    ) {
        let mut generic = [0u8; 32];
        ::pbkdf2::pbkdf2_hmac::<Sha256>(&password, &salt, iterations, &mut generic);
        proptest::prop_assert_eq!(pbkdf2::derive(&password, &salt, iterations), generic);
    }
}

#[test]
fn slices_of_any_size_give_the_same_hash_and_check() {
    for slice in [1, 7, 999, 1000, u32::MAX] {
        let mut hashing = hashing("hunter2", "saltsalt", 1000);
        let mut steps = 0;
        while !hashing.advance(slice) {
            steps += 1;
        }
        assert_eq!(steps, 999usize.div_ceil(slice as usize).saturating_sub(1));
        assert_eq!(hashing.encoded(), DJANGO_1K);

        let mut good = check("hunter2", DJANGO_1K);
        while !good.advance(slice) {}
        assert!(good.verified());
        let mut bad = check("hunter3", DJANGO_1K);
        while !bad.advance(slice) {}
        assert!(!bad.verified());
    }
}

#[test]
fn a_value_that_cannot_verify_is_done_at_once_and_false() {
    let mut c = check("hunter2", DJANGO_UNUSABLE);
    assert!(c.advance(1));
    assert!(!c.verified());
}
