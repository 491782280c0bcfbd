//! The header row: column names made unique the way pandas does.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use super::record::{Record, RecordReader};
use super::{CsvError, ErrorKind};

/// The column names of a file, after renaming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Unique column names in file order; these are the names requests refer to.
    pub columns: Vec<String>,
    /// The names that differ from the file's header, in column order.
    pub renamed: Vec<RenamedColumn>,
}

/// One header name that was changed to make it non-empty and unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenamedColumn {
    /// 0-based column index.
    pub index: usize,
    /// The name as written in the file.
    pub original: String,
    /// The name it is known by.
    pub name: String,
}

impl Header {
    /// Builds a header from raw names: an empty or whitespace-only name becomes
    /// `Unnamed: N`, then duplicates get `.1`, `.2`, … (pandas' algorithm, so
    /// `a,a,a.1` gives `a, a.1, a.1.1`). Fails when no name is non-empty.
    pub fn from_names<'a, I>(names: I) -> Result<Header, CsvError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let raw: Vec<&str> = names.into_iter().collect();
        if raw.iter().all(|n| n.trim().is_empty()) {
            return Err(CsvError::new(
                ErrorKind::MissingHeader,
                "the first row has no column names; a header row is required",
            ));
        }
        let mut counts: HashMap<String, usize> = HashMap::with_capacity(raw.len());
        let mut columns = Vec::with_capacity(raw.len());
        let mut renamed = Vec::new();
        for (index, &original) in raw.iter().enumerate() {
            let mut name = if original.trim().is_empty() {
                format!("Unnamed: {index}")
            } else {
                original.to_string()
            };
            let mut count = counts.get(&name).copied().unwrap_or(0);
            while count > 0 {
                counts.insert(name.clone(), count + 1);
                name = format!("{name}.{count}");
                count = counts.get(&name).copied().unwrap_or(0);
            }
            counts.insert(name.clone(), count + 1);
            if name != original {
                renamed.push(RenamedColumn {
                    index,
                    original: original.to_string(),
                    name: name.clone(),
                });
            }
            columns.push(name);
        }
        debug_assert_eq!(
            columns.iter().collect::<HashSet<_>>().len(),
            columns.len(),
            "header names must be unique"
        );
        Ok(Header { columns, renamed })
    }

    /// Index of the column called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    pub(crate) fn from_record(record: &Record<'_>) -> Result<Header, CsvError> {
        Header::from_names(record.iter())
    }
}

pub(crate) fn empty_file() -> CsvError {
    CsvError::new(
        ErrorKind::EmptyFile,
        "the file is empty: a CSV file with a header row is required",
    )
}

/// Reads only the header of a streamed file.
///
/// Push chunks until [`HeaderReader::push`] returns the header; bytes after the
/// header row are never parsed or checked.
pub struct HeaderReader {
    reader: RecordReader,
    header: Option<Header>,
}

impl Default for HeaderReader {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderReader {
    /// A reader expecting the first byte of the file.
    pub fn new() -> Self {
        HeaderReader {
            reader: RecordReader::new(),
            header: None,
        }
    }

    /// Limits the input bytes the header row may span (default
    /// [`DEFAULT_MAX_RECORD_BYTES`](super::DEFAULT_MAX_RECORD_BYTES)).
    pub fn with_max_record_bytes(mut self, max: usize) -> Self {
        self.reader.set_max_record_bytes(max);
        self
    }

    /// Feeds the next chunk; returns the header once its row is complete.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Option<&Header>, CsvError> {
        if self.header.is_none() {
            let header = &mut self.header;
            // The header is the first record; the rest of the chunk is not parsed.
            let _ = self.reader.push(chunk, &mut |record| {
                *header = Some(Header::from_record(&record)?);
                Ok(ControlFlow::Break(()))
            })?;
        }
        Ok(self.header.as_ref())
    }

    /// Ends the input: the header, even if its row had no line terminator.
    pub fn finish(mut self) -> Result<Header, CsvError> {
        if self.header.is_none() {
            let header = &mut self.header;
            self.reader.finish(&mut |record| {
                *header = Some(Header::from_record(&record)?);
                Ok(ControlFlow::Break(()))
            })?;
        }
        self.header.ok_or_else(empty_file)
    }
}

/// The header of a file given its whole content, or a prefix that holds at least the
/// complete header row (a prefix that ends inside the header row yields the names read
/// so far: stream through [`HeaderReader`] when that can happen).
pub fn read_header(bytes: &[u8]) -> Result<Header, CsvError> {
    let mut reader = HeaderReader::new();
    reader.push(bytes)?;
    reader.finish()
}
