//! A bundle: many small files' bytes in one import request, so that a
//! migration of small files is not one request (two D1 reads, an upsert and a
//! queue send) per file.
//!
//! The body is one line of JSON, `{"files": [FileRecord]}` and `\n`, then each
//! record's bytes in the order of the records, exactly `size` bytes each. The
//! app reads it whole (it is bounded) and checks every size and SHA-256 before
//! it writes anything. Larger files go one a request, streamed.

use std::ops::Range;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{check_file, parse_batch, FileRecord};

/// Most bytes of one file sent in a bundle.
pub const BUNDLE_FILE_MAX: u64 = 1 << 20;
/// Most bytes of all the files of one bundle.
pub const BUNDLE_BYTES_MAX: u64 = 8 << 20;
/// Most files in one bundle.
pub const BUNDLE_FILES_MAX: usize = 100;
/// Most bytes of the head line.
const HEAD_MAX: usize = 1 << 20;

/// The head line of a bundle of `records`.
pub fn bundle_head(records: &[&FileRecord]) -> Vec<u8> {
    let mut head = serde_json::to_vec(&json!({ "files": records })).expect("records serialise");
    head.push(b'\n');
    head
}

/// The bundles files of these sizes are sent in, as index ranges, in order: at
/// least `ways` when there are that many files (so that `ways` requests can run
/// at once), each within [`BUNDLE_FILES_MAX`] and [`BUNDLE_BYTES_MAX`]. Every
/// size must be at most [`BUNDLE_FILE_MAX`] (larger files are not bundled).
pub fn bundle_ranges(sizes: &[u64], ways: usize) -> Vec<Range<usize>> {
    let per_bundle = (sizes.len() / ways.max(1)).clamp(1, BUNDLE_FILES_MAX);
    let mut ranges = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    let mut end = 0;
    for &size in sizes {
        if end > start && (end - start == per_bundle || bytes + size > BUNDLE_BYTES_MAX) {
            ranges.push(start..end);
            (start, bytes) = (end, 0);
        }
        bytes += size;
        end += 1;
    }
    if end > start {
        ranges.push(start..end);
    }
    ranges
}

/// Reads a bundle from its body's chunks, cut anywhere.
#[derive(Default)]
pub struct Unbundler {
    head: Vec<u8>,
    records: Option<Vec<FileRecord>>,
    file: Vec<u8>,
    done: Vec<(FileRecord, Vec<u8>)>,
}

impl Unbundler {
    pub fn new() -> Unbundler {
        Unbundler::default()
    }

    /// Takes the next chunk of the body. An error names the first problem: the
    /// request is to be refused whole.
    pub fn push(&mut self, mut chunk: &[u8]) -> Result<(), String> {
        while !chunk.is_empty() {
            let Some(records) = &self.records else {
                let (line, rest) = match chunk.iter().position(|&b| b == b'\n') {
                    Some(at) => (&chunk[..at], Some(&chunk[at + 1..])),
                    None => (chunk, None),
                };
                if self.head.len() + line.len() > HEAD_MAX {
                    return Err(format!(
                        "the head line is longer than {HEAD_MAX} bytes (is the body a bundle?)"
                    ));
                }
                self.head.extend_from_slice(line);
                match rest {
                    Some(rest) => {
                        self.records = Some(parse_head(&self.head)?);
                        chunk = rest;
                    }
                    None => return Ok(()),
                }
                continue;
            };
            let Some(record) = records.get(self.done.len()) else {
                return Err("the body goes on after the last file's bytes".into());
            };
            let wanted = (record.size as usize).saturating_sub(self.file.len());
            let take = wanted.min(chunk.len());
            self.file.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            self.complete_files()?;
        }
        Ok(())
    }

    /// Moves the files whose bytes are all in (empty files need none) to `done`,
    /// checked against their records.
    fn complete_files(&mut self) -> Result<(), String> {
        let records = self.records.as_ref().expect("called after the head");
        while let Some(record) = records.get(self.done.len()) {
            if (self.file.len() as u64) < record.size {
                return Ok(());
            }
            let received = hex::encode(Sha256::digest(&self.file));
            if received != record.sha256 {
                return Err(format!(
                    "file {}: Checksum mismatch: declared sha256 {}, received {received}",
                    record.file_id, record.sha256
                ));
            }
            let bytes = std::mem::take(&mut self.file);
            self.done.push((record.clone(), bytes));
        }
        Ok(())
    }

    /// The files, once the body has ended: every one whole and checked.
    pub fn finish(mut self) -> Result<Vec<(FileRecord, Vec<u8>)>, String> {
        if self.records.is_none() {
            return Err("expected a head line of JSON ({\"files\": [...]}) and a newline".into());
        }
        self.complete_files()?;
        let records = self.records.as_ref().expect("checked above");
        if let Some(record) = records.get(self.done.len()) {
            return Err(format!(
                "file {}: Size mismatch: declared {} bytes, the body ends after {}",
                record.file_id,
                record.size,
                self.file.len()
            ));
        }
        Ok(self.done)
    }
}

fn parse_head(line: &[u8]) -> Result<Vec<FileRecord>, String> {
    let head: Value =
        serde_json::from_slice(line).map_err(|e| format!("the head line is not JSON: {e}"))?;
    let records: Vec<FileRecord> = parse_batch(&head, "files", check_file)?;
    if records.len() > BUNDLE_FILES_MAX {
        return Err(format!("at most {BUNDLE_FILES_MAX} files per bundle"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    for record in &records {
        if !seen.insert(&record.file_id) {
            return Err(format!(
                "file_id {} appears twice in the bundle",
                record.file_id
            ));
        }
        if record.size > BUNDLE_FILE_MAX {
            return Err(format!(
                "file {} has {} bytes: files over {BUNDLE_FILE_MAX} bytes are sent one a request",
                record.file_id, record.size
            ));
        }
        total += record.size;
    }
    if total > BUNDLE_BYTES_MAX {
        return Err(format!(
            "the bundle holds {total} bytes, more than {BUNDLE_BYTES_MAX}"
        ));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(n: usize, bytes: &[u8]) -> FileRecord {
        FileRecord {
            file_id: format!("f{n}"),
            user_id: 1,
            file_name: format!("f{n}.csv"),
            system_tags: vec![],
            user_tags: vec![],
            metadata: None,
            uploaded_at: "2024-01-01T00:00:00Z".into(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        }
    }

    fn body(files: &[Vec<u8>]) -> (Vec<FileRecord>, Vec<u8>) {
        let records: Vec<FileRecord> = files
            .iter()
            .enumerate()
            .map(|(n, b)| record(n, b))
            .collect();
        let mut body = bundle_head(&records.iter().collect::<Vec<_>>());
        for f in files {
            body.extend_from_slice(f);
        }
        (records, body)
    }

    fn read(body: &[u8], cuts: &[usize]) -> Result<Vec<(FileRecord, Vec<u8>)>, String> {
        let mut reader = Unbundler::new();
        let mut at = 0;
        for &cut in cuts.iter().chain([&body.len()]) {
            let cut = cut.clamp(at, body.len());
            reader.push(&body[at..cut])?;
            at = cut;
        }
        reader.finish()
    }

    proptest! {
        #[test]
        fn any_chunking_gives_back_the_files(
            files in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
            mut cuts in prop::collection::vec(0usize..3000, 0..12),
        ) {
            cuts.sort();
            let (records, body) = body(&files);
            let got = read(&body, &cuts).unwrap();
            let expected: Vec<_> = records.into_iter().zip(files).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn ranges_cover_every_file_in_order_within_the_limits(
            sizes in prop::collection::vec(0..=BUNDLE_FILE_MAX, 0..400),
            ways in 0usize..8,
        ) {
            let ranges = bundle_ranges(&sizes, ways);
            prop_assert!(ranges.len() >= ways.min(sizes.len()));
            let mut next = 0;
            for r in &ranges {
                prop_assert_eq!(r.start, next);
                prop_assert!(!r.is_empty() && r.len() <= BUNDLE_FILES_MAX);
                prop_assert!(sizes[r.clone()].iter().sum::<u64>() <= BUNDLE_BYTES_MAX);
                next = r.end;
            }
            prop_assert_eq!(next, sizes.len());
        }
    }

    #[test]
    fn a_changed_byte_names_its_file() {
        let (_, mut body) = body(&[b"a,b\n1,2\n".to_vec(), b"x\n".to_vec()]);
        let last = body.len() - 1;
        body[last] = b'y';
        let err = read(&body, &[]).unwrap_err();
        assert!(err.starts_with("file f1: Checksum mismatch"), "{err}");
    }

    #[test]
    fn a_short_or_long_body_is_refused() {
        let (_, body) = body(&[b"a,b\n1,2\n".to_vec()]);
        let err = read(&body[..body.len() - 2], &[]).unwrap_err();
        assert_eq!(
            err,
            "file f0: Size mismatch: declared 8 bytes, the body ends after 6"
        );
        let mut long = body.clone();
        long.extend_from_slice(b"more");
        let err = read(&long, &[5]).unwrap_err();
        assert_eq!(err, "the body goes on after the last file's bytes");
    }

    #[test]
    fn a_bad_head_is_refused_before_any_bytes() {
        assert!(read(b"", &[]).unwrap_err().contains("head line"));
        assert!(read(b"not json\n", &[]).unwrap_err().contains("not JSON"));
        assert!(read(b"{\"files\": 3}\n", &[])
            .unwrap_err()
            .contains("expected {\"files\": [...]}"));
        let twice = record(0, b"x");
        let head = bundle_head(&[&twice, &twice]);
        assert!(read(&head, &[]).unwrap_err().contains("appears twice"));
        let mut big = record(0, b"");
        big.size = BUNDLE_FILE_MAX + 1;
        let err = read(&bundle_head(&[&big]), &[]).unwrap_err();
        assert!(err.contains("one a request"), "{err}");
        let endless = vec![b'['; HEAD_MAX + 1];
        assert!(read(&endless, &[10, 1000])
            .unwrap_err()
            .contains("longer than"));
    }
}
