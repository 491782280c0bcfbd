//! The CSV cut engine alone inside workerd, measured from outside by
//! `scripts/bench-cut-workerd` (`examples/cut_workerd.rs`).
//!
//! `POST /?k=K&columns=a,b&filter=column:expression` reads the body fully into
//! memory, then cuts it `K` times and answers the [`Digest`] of the last pass. The
//! runtime's clocks stand still during pure CPU work, so the client times the
//! requests at `k=0` and `k=K`: the difference over `K` is one pass.

use serde::{Deserialize, Serialize};
use shared::csv_cut::{CsvError, CutSpec, Cutter};

#[cfg(target_arch = "wasm32")]
mod worker_entry;

/// The input is fed in pieces of this size, as a stream would deliver it.
pub const CHUNK: usize = 64 << 10;

/// What one pass produced: enough to compare outputs and keep the work from being
/// skipped, small enough that answering costs nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub rows_out: u64,
    pub bytes_out: u64,
    /// A hash of the output bytes (the same chunking gives the same value).
    pub checksum: u64,
}

/// The Worker's answer: the bytes it read (so the client knows the whole file
/// arrived) and the digest of its last pass (all zero for `k=0`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Answer {
    pub bytes_in: u64,
    pub digest: Digest,
}

/// One cut of `file` by `spec`, fed [`CHUNK`] bytes at a time; the output is hashed
/// and dropped after each push, so only the file stays in memory.
pub fn cut(file: &[u8], spec: &CutSpec) -> Result<Digest, CsvError> {
    let mut cutter = Cutter::new(spec.clone())?;
    let mut out = Vec::with_capacity(2 * CHUNK);
    let mut checksum = 0;
    for chunk in file.chunks(CHUNK) {
        cutter.push(chunk, &mut out)?;
        checksum = fold(checksum, &out);
        out.clear();
    }
    let stats = cutter.finish(&mut out)?;
    Ok(Digest {
        rows_out: stats.rows_out,
        bytes_out: stats.bytes_out,
        checksum: fold(checksum, &out),
    })
}

/// A word-at-a-time multiplicative hash: cheap next to the cut it checks.
fn fold(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        hash = (hash ^ u64::from_le_bytes(word.try_into().unwrap())).wrapping_mul(0x100_0000_01b3);
    }
    for &byte in words.remainder() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    hash
}

/// The spec of a query's `columns` (comma-separated) and `filter`s (`column:expression`).
pub fn spec_from_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> CutSpec {
    let mut columns = Vec::new();
    let mut filters = Vec::new();
    for (key, value) in pairs {
        match key {
            "columns" => columns.extend(value.split(',').map(str::to_string)),
            "filter" => {
                let (column, expression) = value.split_once(':').unwrap_or((value, ""));
                filters.push((column.to_string(), expression.to_string()));
            }
            _ => {}
        }
    }
    CutSpec::new(columns, filters)
}
