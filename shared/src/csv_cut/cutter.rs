//! The chunked streaming driver: header → plan → filter and write each row.

use std::ops::ControlFlow;

use super::filter::Filter;
use super::header::{empty_file, Header};
use super::record::{Record, RecordReader};
use super::write::write_record;
use super::{CsvError, ErrorKind, MAX_SELECTED_COLUMNS};
use std::collections::{HashMap, HashSet};

/// What to cut: the columns to output and the filters rows must pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CutSpec {
    /// Column names (as in [`Header::columns`]) in output order; a name may repeat.
    pub columns: Vec<String>,
    /// `(column, expression)` pairs that must all hold; empty expressions are ignored.
    pub filters: Vec<(String, String)>,
    /// Prefix cells a spreadsheet would run as formulas with `'` (opt-in: the
    /// default output is the data as it was, as on legacy).
    pub neutralize_formulas: bool,
}

impl CutSpec {
    /// A spec from any string-like columns and `(column, expression)` pairs (e.g. a map).
    pub fn new<C, F, K, V>(columns: C, filters: F) -> CutSpec
    where
        C: IntoIterator,
        C::Item: Into<String>,
        F: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        CutSpec {
            columns: columns.into_iter().map(Into::into).collect(),
            filters: filters
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            neutralize_formulas: false,
        }
    }
}

/// Counters of a finished (or ongoing) cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CutStats {
    /// Data rows read (the header excluded).
    pub rows_in: u64,
    /// Data rows written (the header excluded).
    pub rows_out: u64,
    /// Input bytes pushed.
    pub bytes_in: u64,
    /// Output bytes appended, the header row included.
    pub bytes_out: u64,
}

/// Column indexes resolved against the header.
struct Plan {
    select: Vec<usize>,
    filters: Vec<(usize, Filter)>,
}

enum State {
    Open,
    Finished,
    Failed(CsvError),
}

/// Cuts a CSV stream: push the input chunk by chunk, then [`Cutter::finish`].
///
/// Memory stays bounded by the longest record, whatever the file size. Errors in the
/// spec (filters, no columns) come from [`Cutter::new`]; errors against the header
/// (unknown columns) and in the header itself come before any output byte. An input
/// error further down (invalid UTF-8, an oversized record) can come after output was
/// produced: a streaming caller must then abort the response. After an error every
/// call returns that error again.
pub struct Cutter {
    columns: Vec<String>,
    neutralize: bool,
    filters: Vec<(String, Filter)>,
    reader: RecordReader,
    header: Option<Header>,
    plan: Option<Plan>,
    stats: CutStats,
    state: State,
}

impl Cutter {
    /// Parses every filter and checks that columns are selected; the columns are
    /// checked against the header once it has been read.
    pub fn new(spec: CutSpec) -> Result<Cutter, CsvError> {
        if spec.columns.is_empty() {
            return Err(CsvError::new(
                ErrorKind::NoColumns,
                "no columns selected: select at least one column",
            ));
        }
        if spec.columns.len() > MAX_SELECTED_COLUMNS {
            return Err(CsvError::new(
                ErrorKind::TooManyColumns,
                format!(
                    "{} columns selected: at most {MAX_SELECTED_COLUMNS} can be",
                    spec.columns.len()
                ),
            ));
        }
        let mut filters = Vec::with_capacity(spec.filters.len());
        for (column, expression) in spec.filters {
            if let Some(filter) = Filter::parse(&column, &expression)? {
                filters.push((column, filter));
            }
        }
        Ok(Cutter {
            columns: spec.columns,
            neutralize: spec.neutralize_formulas,
            filters,
            reader: RecordReader::new(),
            header: None,
            plan: None,
            stats: CutStats::default(),
            state: State::Open,
        })
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

    /// Counters so far.
    pub fn stats(&self) -> CutStats {
        self.stats
    }

    /// Feeds the next chunk (any size, split anywhere) and appends the output of every
    /// record it completes to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), CsvError> {
        self.check_open()?;
        let result = self.run(out, |reader, on_record| {
            reader.push(chunk, on_record).map(|_| ())
        });
        self.settle(result)
    }

    /// Ends the input: writes a last unterminated record, returns the counters.
    /// Fails with [`ErrorKind::EmptyFile`] when no header row was found.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<CutStats, CsvError> {
        self.check_open()?;
        let mut result = self.run(out, |reader, on_record| reader.finish(on_record));
        if result.is_ok() && self.header.is_none() {
            result = Err(empty_file());
        }
        self.settle(result)?;
        self.state = State::Finished;
        Ok(self.stats)
    }

    fn check_open(&self) -> Result<(), CsvError> {
        match &self.state {
            State::Open => Ok(()),
            State::Finished => Err(CsvError::new(
                ErrorKind::Finished,
                "the cut is already finished",
            )),
            State::Failed(error) => Err(error.clone()),
        }
    }

    fn settle(&mut self, result: Result<(), CsvError>) -> Result<(), CsvError> {
        if let Err(error) = &result {
            self.state = State::Failed(error.clone());
        }
        result
    }

    /// Runs `drive` with a record handler that plans on the header and cuts the rows.
    fn run<D>(&mut self, out: &mut Vec<u8>, drive: D) -> Result<(), CsvError>
    where
        D: FnOnce(
            &mut RecordReader,
            &mut dyn FnMut(Record<'_>) -> Result<ControlFlow<()>, CsvError>,
        ) -> Result<(), CsvError>,
    {
        let before = out.len();
        let Cutter {
            columns,
            neutralize,
            filters,
            reader,
            header,
            plan,
            stats,
            ..
        } = self;
        let neutralize = *neutralize;
        let result = drive(reader, &mut |record| {
            match plan {
                Some(plan) => {
                    stats.rows_in += 1;
                    if plan
                        .filters
                        .iter()
                        .all(|(i, filter)| filter.matches(record.get(*i)))
                    {
                        write_record(out, plan.select.iter().map(|&i| record.get(i)), neutralize);
                        stats.rows_out += 1;
                    }
                }
                None => {
                    let h = Header::from_record(&record)?;
                    let p = make_plan(&h, columns, filters)?;
                    write_record(
                        out,
                        p.select.iter().map(|&i| h.columns[i].as_str()),
                        neutralize,
                    );
                    *header = Some(h);
                    *plan = Some(p);
                }
            }
            Ok(ControlFlow::Continue(()))
        });
        self.stats.bytes_in = self.reader.bytes_in();
        self.stats.bytes_out += (out.len() - before) as u64;
        result
    }
}

/// Resolves names to indexes in one pass over each list (a selection of many
/// columns against a wide header must not cost their product).
fn make_plan(
    header: &Header,
    columns: &[String],
    filters: &[(String, Filter)],
) -> Result<Plan, CsvError> {
    let index: HashMap<&str, usize> = header
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut unknown = Unknown::default();
    let select: Vec<usize> = columns
        .iter()
        .filter_map(|name| unknown.resolve(&index, name))
        .collect();
    unknown.check("selected")?;
    let resolved = filters
        .iter()
        .filter_map(|(name, filter)| Some((unknown.resolve(&index, name)?, filter.clone())))
        .collect();
    unknown.check("filtered")?;
    Ok(Plan {
        select,
        filters: resolved,
    })
}

/// The names not in the header, each once, in the order first met.
#[derive(Default)]
struct Unknown<'a> {
    names: Vec<&'a str>,
    seen: HashSet<&'a str>,
}

impl<'a> Unknown<'a> {
    fn resolve(&mut self, index: &HashMap<&str, usize>, name: &'a str) -> Option<usize> {
        let found = index.get(name).copied();
        if found.is_none() && self.seen.insert(name) {
            self.names.push(name);
        }
        found
    }

    fn check(&self, role: &str) -> Result<(), CsvError> {
        match self.names.is_empty() {
            true => Ok(()),
            false => Err(unknown_columns(role, &self.names)),
        }
    }
}

fn unknown_columns(role: &str, names: &[&str]) -> CsvError {
    let list = names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let (noun, verb) = if names.len() == 1 {
        ("column", "is")
    } else {
        ("columns", "are")
    };
    CsvError::new(
        ErrorKind::UnknownColumn,
        format!("{role} {noun} {list} {verb} not in the file's header"),
    )
}
