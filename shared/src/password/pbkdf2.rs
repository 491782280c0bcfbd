//! PBKDF2-HMAC-SHA256 with one output block, the only shape Django's hasher uses.
//!
//! Logins in the Worker spend nearly all their CPU in this loop, and wasm has
//! no SHA instructions. The generic `pbkdf2` + `hmac` path pays, per
//! iteration, for the `Digest` buffering and padding of two one-block messages,
//! and `sha2`'s portable compression keeps its schedule in arrays. Here the
//! keyed inner and outer states are computed once, and each iteration is two
//! compressions of a block whose padding is fixed (32 bytes of message after
//! one 64-byte key block), on words, with the rounds unrolled so the schedule
//! lives in locals. `scripts/bench-login` measures it in workerd.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256's round constants (FIPS 180-4, 4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The SHA-256 compression function on a block given as big-endian words.
#[inline(always)]
fn compress(state: &mut [u32; 8], block: [u32; 16]) {
    let mut w = block;
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    macro_rules! round {
        ($i:literal) => {
            let wi = if $i < 16 {
                w[$i & 15]
            } else {
                let (x, y) = (w[($i + 1) & 15], w[($i + 14) & 15]);
                let s0 = x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3);
                let s1 = y.rotate_right(17) ^ y.rotate_right(19) ^ (y >> 10);
                w[$i & 15] = w[$i & 15]
                    .wrapping_add(s0)
                    .wrapping_add(w[($i + 9) & 15])
                    .wrapping_add(s1);
                w[$i & 15]
            };
            let t1 = h
                .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
                .wrapping_add((e & f) ^ (!e & g))
                .wrapping_add(K[$i])
                .wrapping_add(wi);
            let t2 = (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22))
                .wrapping_add((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        };
    }
    macro_rules! rounds {
        ($($i:literal)*) => { $( round!($i); )* };
    }
    rounds!(
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
        32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63
    );
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

/// Compresses the second block of a message of one key block and 32 bytes:
/// those 8 words, the 0x80 marker, and the length, 96 bytes = 768 bits. With
/// the padding constant, the compiler folds it out of the schedule.
///
/// Not inlined: V8 optimises a wasm function on a later call, so a small
/// function called per block is optimised during the first login, where one
/// big loop would run unoptimised to its end.
#[inline(never)]
fn compress_tail(state: &mut [u32; 8], message: &[u32; 8]) {
    let mut block = [0u32; 16];
    block[..8].copy_from_slice(message);
    block[8] = 0x8000_0000;
    block[15] = 768;
    compress(state, block);
}

fn words<const N: usize>(bytes: &[u8]) -> [u32; N] {
    let mut out = [0u32; N];
    for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_be_bytes(chunk.try_into().expect("4 bytes"));
    }
    out
}

/// The state after compressing `key ^ pad`, the first block of every HMAC message.
fn keyed(key: &[u8; 64], pad: u8) -> [u32; 8] {
    let mut state = IV;
    compress(&mut state, words(&key.map(|k| k ^ pad)));
    state
}

/// `PBKDF2(HMAC-SHA256, password, salt, iterations, 32)`, computed in slices
/// of iterations ([`Derivation::advance`]) so a caller can let other work run
/// in between.
pub struct Derivation {
    inner: [u32; 8],
    outer: [u32; 8],
    u: [u32; 8],
    acc: [u32; 8],
    left: u32,
}

impl Derivation {
    /// Keys the HMAC and computes the first iteration. `iterations` is at least 1.
    pub fn new(password: &[u8], salt: &[u8], iterations: u32) -> Derivation {
        let mut key = [0u8; 64];
        if password.len() > key.len() {
            key[..32].copy_from_slice(&Sha256::digest(password));
        } else {
            key[..password.len()].copy_from_slice(password);
        }
        // U1 = HMAC(password, salt || INT(1)); the salt may be any length, so
        // the generic HMAC does this one.
        let mut mac = Hmac::<Sha256>::new_from_slice(password).expect("HMAC takes any key length");
        mac.update(salt);
        mac.update(&1u32.to_be_bytes());
        let u = words(&mac.finalize().into_bytes());
        Derivation {
            inner: keyed(&key, 0x36),
            outer: keyed(&key, 0x5c),
            u,
            acc: u,
            left: iterations.saturating_sub(1),
        }
    }

    /// Runs up to `max` more iterations; true once all are done.
    pub fn advance(&mut self, max: u32) -> bool {
        let n = self.left.min(max);
        for _ in 0..n {
            let mut state = self.inner;
            compress_tail(&mut state, &self.u);
            self.u = self.outer;
            compress_tail(&mut self.u, &state);
            for (a, w) in self.acc.iter_mut().zip(&self.u) {
                *a ^= w;
            }
        }
        self.left -= n;
        self.left == 0
    }

    /// The derived key (complete once [`advance`](Self::advance) said so).
    pub fn output(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(&self.acc) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// `PBKDF2(HMAC-SHA256, password, salt, iterations, 32)` in one go.
#[cfg(test)]
pub fn derive(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut derivation = Derivation::new(password, salt, iterations);
    derivation.advance(u32::MAX);
    derivation.output()
}
