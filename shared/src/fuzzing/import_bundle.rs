//! A bundle of files for the import API (`migration::bundle::Unbundler`): the
//! outcome does not depend on how the body is cut into chunks; accepted files
//! match their records' sizes and checksums and fill the body exactly after the
//! head line; and the files bundled again read back as the same files.

use sha2::{Digest, Sha256};

use crate::migration::bundle::{bundle_head, Unbundler, BUNDLE_BYTES_MAX, BUNDLE_FILE_MAX};
use crate::migration::FileRecord;

/// Input: one byte, the chunk length to feed the body in (0: whole), then the body.
pub fn check(data: &[u8]) {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let whole = read(body, body.len().max(1));
    let chunked = read(body, usize::from(step).max(1));
    assert_eq!(whole, chunked, "the outcome depends on the chunking");
    let Ok(files) = whole else {
        return;
    };
    let head_len = body.iter().position(|&b| b == b'\n').expect("a head line") + 1;
    let sizes: usize = files.iter().map(|(_, bytes)| bytes.len()).sum();
    assert_eq!(head_len + sizes, body.len(), "the files fill the body");
    assert!(sizes as u64 <= BUNDLE_BYTES_MAX);
    for (record, bytes) in &files {
        assert_eq!(record.size, bytes.len() as u64);
        assert!(record.size <= BUNDLE_FILE_MAX);
        assert_eq!(record.sha256, hex::encode(Sha256::digest(bytes)));
    }
    let records: Vec<&FileRecord> = files.iter().map(|(r, _)| r).collect();
    let mut again = bundle_head(&records);
    for (_, bytes) in &files {
        again.extend_from_slice(bytes);
    }
    assert_eq!(read(&again, 7), Ok(files), "bundled again, read back");
}

fn read(body: &[u8], chunk: usize) -> Result<Vec<(FileRecord, Vec<u8>)>, String> {
    let mut reader = Unbundler::new();
    for part in body.chunks(chunk) {
        reader.push(part)?;
    }
    reader.finish()
}
