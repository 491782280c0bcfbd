//! Streaming CSV cut and filter (SPEC §5.3).
//!
//! The input is fed chunk by chunk (chunks may split a record, a quoted field or a
//! multi-byte character anywhere) and only the current record is kept in memory, so a
//! 50 MB object can be cut inside a 128 MB Worker.
//!
//! * [`read_header`] / [`HeaderReader`]: the column names of an upload.
//! * [`Cutter`]: selects columns and keeps the rows that pass every filter.
//! * [`Counter`]: counts rows and columns after an upload.
//! * [`UploadCheck`]: accepts or refuses an upload while it streams into storage.
//! * [`Filter`]: one parsed filter expression (usable to validate saved filters).
//!
//! # Input rules
//!
//! * The input must be UTF-8; one leading BOM is stripped. Any invalid byte sequence is
//!   an [`ErrorKind::InvalidUtf8`] error naming the row and column.
//! * Blank lines are skipped. An input with no record at all (empty, only a BOM, only
//!   blank lines) is [`ErrorKind::EmptyFile`].
//! * The first record is the header. A header in which every name is empty or
//!   whitespace-only (e.g. `,,`) is [`ErrorKind::MissingHeader`]. A header-only file is
//!   valid and cuts to just the header row.
//! * Header names are kept verbatim except: an empty or whitespace-only name becomes
//!   `Unnamed: N` (N = 0-based column index), then duplicates are made unique the way
//!   pandas does (`a`, `a.1`, `a.2`). Every change is listed in [`Header::renamed`].
//! * Rows shorter than the header read as if the missing cells were empty (for filters
//!   and output); cells beyond the header's width are ignored.
//! * One record may span at most [`DEFAULT_MAX_RECORD_BYTES`] of input (configurable);
//!   a longer one is [`ErrorKind::RecordTooLarge`]. This is what bounds memory.
//!
//! # Filter grammar
//!
//! See [`Filter`]. All filters must hold (AND); filters on unselected columns apply too.
//!
//! # Output
//!
//! The selected columns in request order, header row first, RFC 4180 quoting (a cell is
//! quoted when it contains `,`, `"`, CR or LF, with inner quotes doubled; a record made
//! of one empty cell is written as `""` so it does not read back as a blank line), `\n`
//! after every record. Output only ever receives whole records.

mod counter;
mod cutter;
mod eval;
pub(crate) mod filter;
mod header;
mod number;
mod record;
mod upload;
mod write;

#[cfg(test)]
mod tests;

pub use counter::{Counter, Counts};
pub use cutter::{CutSpec, CutStats, Cutter};
pub use filter::Filter;
pub use header::{read_header, Header, HeaderReader, RenamedColumn};
pub use number::parse_number;
pub use upload::{UploadCheck, UploadSummary};

/// Default limit on the input bytes one record may span (8 MiB).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 8 << 20;

/// Most columns one cut may select (a name may repeat). Far above any real
/// selection; it bounds the work one anonymous request can ask for.
pub const MAX_SELECTED_COLUMNS: usize = 10_000;

/// What went wrong; every kind maps to a 4xx for the HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file is not valid UTF-8.
    InvalidUtf8,
    /// The file holds binary data (NUL bytes), not text.
    NotText,
    /// The file holds no record at all.
    EmptyFile,
    /// The first record has no non-empty column name.
    MissingHeader,
    /// One record spans more input than the configured limit.
    RecordTooLarge,
    /// The request selects no column.
    NoColumns,
    /// The request selects more than [`MAX_SELECTED_COLUMNS`] columns.
    TooManyColumns,
    /// A selected or filtered column is not in the header.
    UnknownColumn,
    /// A filter expression does not parse.
    InvalidFilter,
    /// `push` or `finish` was called after `finish` or after an earlier error.
    Finished,
}

impl ErrorKind {
    /// True when the file itself is at fault (as opposed to the request).
    pub fn is_bad_input(self) -> bool {
        matches!(
            self,
            ErrorKind::InvalidUtf8
                | ErrorKind::NotText
                | ErrorKind::EmptyFile
                | ErrorKind::MissingHeader
                | ErrorKind::RecordTooLarge
        )
    }
}

/// An error from the CSV engine: a [`ErrorKind`] plus a message meant for the
/// client, naming the offending row, column or expression.
pub type CsvError = crate::refusal::Refusal<ErrorKind>;
