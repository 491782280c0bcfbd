//! What an upload must pass before it is kept: text CSV, valid UTF-8 throughout, a
//! header row, and no record longer than the engine reads (8 MiB), so that every
//! file kept can be cut whole. Checked while the bytes stream into storage, so the
//! endpoint can answer the columns without reading the object back.

use sha2::{Digest, Sha256};

use super::counter::Counter;
use super::header::Header;
use super::{CsvError, ErrorKind};

/// The facts about an accepted upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSummary {
    pub header: Header,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub size: u64,
}

/// Checks a file chunk by chunk; see the module docs.
pub struct UploadCheck {
    /// Reads the records as a cut will: the header, and each record's size.
    records: Counter,
    sha: Sha256,
    size: u64,
    /// The bytes of a UTF-8 sequence cut by the end of the last chunk (at most 3).
    pending: Vec<u8>,
}

impl Default for UploadCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl UploadCheck {
    pub fn new() -> Self {
        UploadCheck {
            records: Counter::new(),
            sha: Sha256::new(),
            size: 0,
            pending: Vec::new(),
        }
    }

    /// Feeds the next chunk (split anywhere).
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), CsvError> {
        if chunk.contains(&0) {
            return Err(CsvError::new(
                ErrorKind::NotText,
                "the file is not a text CSV file (it contains NUL bytes)",
            ));
        }
        self.check_utf8(chunk)?;
        self.records.push(chunk)?;
        self.sha.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Ends the file: its header, checksum and size.
    pub fn finish(self) -> Result<UploadSummary, CsvError> {
        if !self.pending.is_empty() {
            return Err(self.invalid_utf8(self.size));
        }
        let (_, header) = self.records.finish_with_header()?;
        Ok(UploadSummary {
            header,
            sha256: hex::encode(self.sha.finalize()),
            size: self.size,
        })
    }

    fn check_utf8(&mut self, mut chunk: &[u8]) -> Result<(), CsvError> {
        // Complete a sequence the previous chunk cut, one byte at a time.
        while !self.pending.is_empty() {
            let Some((&b, rest)) = chunk.split_first() else {
                return Ok(());
            };
            self.pending.push(b);
            chunk = rest;
            match std::str::from_utf8(&self.pending) {
                Ok(_) => self.pending.clear(),
                Err(e) if e.error_len().is_some() => return Err(self.invalid_utf8(self.size)),
                Err(_) => {}
            }
        }
        match std::str::from_utf8(chunk) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                self.pending.extend_from_slice(&chunk[e.valid_up_to()..]);
                Ok(())
            }
            Err(e) => Err(self.invalid_utf8(self.size + e.valid_up_to() as u64)),
        }
    }

    fn invalid_utf8(&self, offset: u64) -> CsvError {
        CsvError::new(
            ErrorKind::InvalidUtf8,
            format!("the file is not valid UTF-8 (invalid byte sequence near byte {offset})"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], chunk: usize) -> Result<UploadSummary, CsvError> {
        let mut check = UploadCheck::new();
        for piece in bytes.chunks(chunk) {
            check.push(piece)?;
        }
        check.finish()
    }

    #[test]
    fn accepts_utf8_csv_split_anywhere() {
        let file = "näme,ägé\n€,😀\n".as_bytes();
        for chunk in 1..=file.len() {
            let summary = check(file, chunk).unwrap();
            assert_eq!(summary.header.columns, ["näme", "ägé"]);
            assert_eq!(summary.size, file.len() as u64);
            assert_eq!(
                summary.sha256,
                hex::encode(sha2::Sha256::digest(file)),
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn refuses_invalid_utf8_after_the_header() {
        let mut file = b"a,b\n1,2\n".to_vec();
        file.extend_from_slice(&[b'x', 0xC3, b'(', b'\n']);
        for chunk in 1..=file.len() {
            assert_eq!(
                check(&file, chunk).unwrap_err().kind,
                ErrorKind::InvalidUtf8
            );
        }
        // A sequence cut off by the end of the file.
        assert_eq!(
            check(b"a,b\n\xE2\x82", 1).unwrap_err().kind,
            ErrorKind::InvalidUtf8
        );
    }

    #[test]
    fn refuses_a_record_the_cut_could_not_read() {
        let mut check = UploadCheck::new();
        check.push(b"a,b\n1,2\n").unwrap();
        let big = vec![b'x'; 1 << 20];
        let error = (0..9)
            .find_map(|_| check.push(&big).err())
            .expect("refused within 9 MiB");
        assert_eq!(error.kind, ErrorKind::RecordTooLarge);
        assert!(error.message.contains("row 2"), "{}", error.message);
        // The same bytes in rows of 1 MiB each pass.
        let mut check = UploadCheck::new();
        check.push(b"a\n").unwrap();
        for _ in 0..9 {
            check.push(&big).unwrap();
            check.push(b"\n").unwrap();
        }
        assert_eq!(check.finish().unwrap().header.columns, ["a"]);
    }

    #[test]
    fn refuses_empty_headerless_and_binary_files() {
        assert_eq!(check(b"", 1).unwrap_err().kind, ErrorKind::EmptyFile);
        assert_eq!(check(b"\n\n", 1).unwrap_err().kind, ErrorKind::EmptyFile);
        assert_eq!(
            check(b",,\n1,2,3\n", 2).unwrap_err().kind,
            ErrorKind::MissingHeader
        );
        assert_eq!(
            check(b"a,b\n1,\0\n", 3).unwrap_err().kind,
            ErrorKind::NotText
        );
    }
}
