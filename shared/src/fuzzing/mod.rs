//! Property checks over untrusted input, one per parser, shared by the
//! coverage-guided fuzz targets in `fuzz/` and by the native test below that
//! replays the committed corpus (`fuzz/corpus/<target>/`).
//!
//! Each `check` takes arbitrary bytes, returns quietly for input it cannot use and
//! panics, naming the property, when one does not hold. Built for tests and with the
//! `fuzzing` feature only; nothing here ships in a Worker.

pub mod byte_range;
pub mod csv_cut;
pub mod filter;
pub mod import_bundle;
pub mod import_records;
pub mod jwt;
pub mod multipart;
pub mod rollout_config;
pub mod signed;

/// A property check over arbitrary bytes.
pub type Check = fn(&[u8]);

/// Every target: its name (the fuzz target's and the corpus folder's) and check.
pub const TARGETS: &[(&str, Check)] = &[
    ("byte_range", byte_range::check),
    ("csv_cut", csv_cut::check),
    ("filter", filter::check),
    ("import_bundle", import_bundle::check),
    ("import_records", import_records::check),
    ("jwt", jwt::check),
    ("multipart", multipart::check),
    ("rollout_config", rollout_config::check),
    ("signed", signed::check),
];

/// Reads structure out of fuzz bytes: leading control bytes, then the rest. Past
/// the end every read yields zeros, so any input is usable.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u64(&mut self) -> u64 {
        let mut v = 0u64;
        for _ in 0..8 {
            v = (v << 8) | u64::from(self.byte());
        }
        v
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// The bytes up to the next `sep` (dropped), or all that is left.
    pub fn until(&mut self, sep: u8) -> &'a [u8] {
        match self.data.iter().position(|&b| b == sep) {
            Some(i) => {
                let head = &self.data[..i];
                self.data = &self.data[i + 1..];
                head
            }
            None => self.rest(),
        }
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Splits `data` into chunks whose sizes follow `seed` (0: one chunk; otherwise
/// sizes 1..=`seed` drawn by a small xorshift), so every split point is reachable.
pub fn chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    if seed == 0 {
        return vec![data];
    }
    let mut state = u32::from(seed).wrapping_mul(0x9E37_79B9) | 1;
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state % u32::from(seed)) as usize + 1;
        let (head, tail) = rest.split_at(n.min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::TARGETS;

    /// Every committed corpus input of every target, checked on stable Rust.
    #[test]
    fn committed_corpus_holds_every_property() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        for (name, check) in TARGETS {
            let dir = root.join(name);
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|entry| entry.unwrap().path())
                .collect();
            files.sort();
            assert!(!files.is_empty(), "no corpus for {name}");
            for path in files {
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(outcome.is_ok(), "{name}: {} fails", path.display());
            }
        }
    }

    #[test]
    fn chunks_cover_the_input_in_order() {
        let data: Vec<u8> = (0..=255).collect();
        for seed in [0, 1, 2, 7, 255] {
            let parts = super::chunks(&data, seed);
            assert_eq!(parts.concat(), data, "seed {seed}");
            assert!(parts.iter().all(|p| !p.is_empty()));
        }
    }
}
