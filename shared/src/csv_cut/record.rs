//! Push-based record splitting on top of `csv_core`: bytes go in chunk by chunk, whole
//! UTF-8-checked records come out one at a time; only the current record is buffered.

use std::ops::ControlFlow;

use csv_core::{ReadRecordResult, Reader};

use super::{CsvError, ErrorKind, DEFAULT_MAX_RECORD_BYTES};

const BOM: &[u8] = b"\xef\xbb\xbf";

/// One complete record whose fields are all valid UTF-8.
pub(crate) struct Record<'a> {
    text: &'a str,
    ends: &'a [usize],
}

impl<'a> Record<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i`, or `""` past the end (short rows read as empty cells).
    pub fn get(&self, i: usize) -> &'a str {
        match self.ends.get(i) {
            Some(&end) => {
                let start = if i == 0 { 0 } else { self.ends[i - 1] };
                &self.text[start..end]
            }
            None => "",
        }
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Splits pushed bytes into records.
pub(crate) struct RecordReader {
    core: Reader,
    fields: Vec<u8>,
    ends: Vec<usize>,
    out_len: usize,
    ends_len: usize,
    /// The first bytes, held back until it is known whether they are a BOM, so that
    /// `csv_core` sees a BOM split across chunks in one piece and strips it.
    head: Vec<u8>,
    head_done: bool,
    /// Input bytes consumed by the record being read.
    record_bytes: usize,
    max_record_bytes: usize,
    /// Records delivered so far (the header is record 0).
    records: u64,
    bytes_in: u64,
}

impl RecordReader {
    pub fn new() -> Self {
        RecordReader {
            core: Reader::new(),
            fields: vec![0; 1024],
            ends: vec![0; 64],
            out_len: 0,
            ends_len: 0,
            head: Vec::with_capacity(BOM.len()),
            head_done: false,
            record_bytes: 0,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            records: 0,
            bytes_in: 0,
        }
    }

    pub fn set_max_record_bytes(&mut self, max: usize) {
        self.max_record_bytes = max.max(1);
    }

    /// Bytes pushed so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Feeds `chunk`, calling `on_record` for each record it completes. Stops early (the
    /// rest of the chunk is dropped) when `on_record` breaks.
    pub fn push<F>(
        &mut self,
        mut chunk: &[u8],
        on_record: &mut F,
    ) -> Result<ControlFlow<()>, CsvError>
    where
        F: FnMut(Record<'_>) -> Result<ControlFlow<()>, CsvError> + ?Sized,
    {
        self.bytes_in += chunk.len() as u64;
        if !self.head_done {
            let take = (BOM.len() - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.head.len() < BOM.len() && BOM.starts_with(&self.head) {
                return Ok(ControlFlow::Continue(()));
            }
            if self.flush_head(on_record)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        if chunk.is_empty() {
            // An empty input would tell csv_core that the data has ended.
            return Ok(ControlFlow::Continue(()));
        }
        self.feed(chunk, on_record)
    }

    /// Signals the end of input, delivering a final unterminated record if any.
    pub fn finish<F>(&mut self, on_record: &mut F) -> Result<(), CsvError>
    where
        F: FnMut(Record<'_>) -> Result<ControlFlow<()>, CsvError> + ?Sized,
    {
        if !self.head_done && self.flush_head(on_record)?.is_break() {
            return Ok(());
        }
        // An empty input tells csv_core there is no more data.
        self.feed(&[], on_record).map(|_| ())
    }

    fn flush_head<F>(&mut self, on_record: &mut F) -> Result<ControlFlow<()>, CsvError>
    where
        F: FnMut(Record<'_>) -> Result<ControlFlow<()>, CsvError> + ?Sized,
    {
        self.head_done = true;
        let head = std::mem::take(&mut self.head);
        if head.is_empty() {
            return Ok(ControlFlow::Continue(()));
        }
        self.feed(&head, on_record)
    }

    fn feed<F>(&mut self, mut input: &[u8], on_record: &mut F) -> Result<ControlFlow<()>, CsvError>
    where
        F: FnMut(Record<'_>) -> Result<ControlFlow<()>, CsvError> + ?Sized,
    {
        let eof = input.is_empty();
        loop {
            let (res, nin, nout, nend) = self.core.read_record(
                input,
                &mut self.fields[self.out_len..],
                &mut self.ends[self.ends_len..],
            );
            input = &input[nin..];
            self.out_len += nout;
            self.ends_len += nend;
            self.record_bytes += nin;
            if self.record_bytes > self.max_record_bytes {
                return Err(self.too_large());
            }
            match res {
                ReadRecordResult::InputEmpty => {
                    if !eof {
                        return Ok(ControlFlow::Continue(()));
                    }
                }
                ReadRecordResult::OutputFull => {
                    let n = self.fields.len() * 2;
                    self.fields.resize(n, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let n = self.ends.len() * 2;
                    self.ends.resize(n, 0);
                }
                ReadRecordResult::Record => {
                    let flow = self.deliver(on_record)?;
                    if flow.is_break() {
                        return Ok(flow);
                    }
                }
                ReadRecordResult::End => return Ok(ControlFlow::Continue(())),
            }
        }
    }

    fn deliver<F>(&mut self, on_record: &mut F) -> Result<ControlFlow<()>, CsvError>
    where
        F: FnMut(Record<'_>) -> Result<ControlFlow<()>, CsvError> + ?Sized,
    {
        let index = self.records;
        let bytes = &self.fields[..self.out_len];
        let ends = &self.ends[..self.ends_len];
        self.out_len = 0;
        self.ends_len = 0;
        self.record_bytes = 0;
        self.records += 1;
        let text = match std::str::from_utf8(bytes) {
            Ok(text) if ends.iter().all(|&e| text.is_char_boundary(e)) => text,
            _ => return Err(invalid_utf8(index, bytes, ends)),
        };
        on_record(Record { text, ends })
    }

    fn too_large(&self) -> CsvError {
        CsvError::new(
            ErrorKind::RecordTooLarge,
            format!(
                "{} is longer than {} bytes; is the file really CSV?",
                describe_row(self.records),
                self.max_record_bytes
            ),
        )
    }
}

/// "the header row" for record 0, "row N" (1-based, data rows only) otherwise.
pub(crate) fn describe_row(index: u64) -> String {
    if index == 0 {
        "the header row".to_string()
    } else {
        format!("row {index}")
    }
}

fn invalid_utf8(index: u64, bytes: &[u8], ends: &[usize]) -> CsvError {
    let mut start = 0;
    let mut column = 0;
    for (i, &end) in ends.iter().enumerate() {
        if std::str::from_utf8(&bytes[start..end]).is_err() {
            column = i + 1;
            break;
        }
        start = end;
    }
    CsvError::new(
        ErrorKind::InvalidUtf8,
        format!(
            "invalid UTF-8 in {}, column {column}: the file must be UTF-8 encoded text",
            describe_row(index)
        ),
    )
}
