//! Row and column counts of an uploaded file.

use std::ops::ControlFlow;

use super::header::{empty_file, Header};
use super::record::RecordReader;
use super::CsvError;

/// The size of a file's table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Data rows (the header excluded; blank lines are not rows).
    pub rows: u64,
    /// Columns in the header.
    pub columns: usize,
}

/// Counts rows and columns of a streamed file, checking it the way [`Cutter`] reads
/// it (UTF-8, header, record size), so a file it accepts can be cut.
///
/// [`Cutter`]: super::Cutter
pub struct Counter {
    reader: RecordReader,
    header: Option<Header>,
    rows: u64,
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

impl Counter {
    /// A counter expecting the first byte of the file.
    pub fn new() -> Self {
        Counter {
            reader: RecordReader::new(),
            header: None,
            rows: 0,
        }
    }

    /// Limits the input bytes one record may span (default
    /// [`DEFAULT_MAX_RECORD_BYTES`](super::DEFAULT_MAX_RECORD_BYTES)).
    pub fn with_max_record_bytes(mut self, max: usize) -> Self {
        self.reader.set_max_record_bytes(max);
        self
    }

    /// The file's header, once its row has been read.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// Feeds the next chunk (any size, split anywhere).
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), CsvError> {
        let Counter {
            reader,
            header,
            rows,
        } = self;
        reader
            .push(chunk, &mut |record| {
                count(header, rows, &record)?;
                Ok(ControlFlow::Continue(()))
            })
            .map(|_| ())
    }

    /// Ends the input and returns the counts; [`ErrorKind::EmptyFile`] when no header
    /// row was found.
    ///
    /// [`ErrorKind::EmptyFile`]: super::ErrorKind::EmptyFile
    pub fn finish(self) -> Result<Counts, CsvError> {
        self.finish_with_header().map(|(counts, _)| counts)
    }

    /// [`Counter::finish`], also giving the header (whose column names a file's
    /// summary shows).
    pub fn finish_with_header(mut self) -> Result<(Counts, Header), CsvError> {
        let Counter {
            reader,
            header,
            rows,
        } = &mut self;
        reader.finish(&mut |record| {
            count(header, rows, &record)?;
            Ok(ControlFlow::Continue(()))
        })?;
        let header = self.header.ok_or_else(empty_file)?;
        let counts = Counts {
            rows: self.rows,
            columns: header.columns.len(),
        };
        Ok((counts, header))
    }
}

fn count(
    header: &mut Option<Header>,
    rows: &mut u64,
    record: &super::record::Record<'_>,
) -> Result<(), CsvError> {
    if header.is_some() {
        *rows += 1;
    } else {
        *header = Some(Header::from_record(record)?);
    }
    Ok(())
}
