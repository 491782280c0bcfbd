//! The CSV cut engine (`csv_cut::Cutter`): for any chunking of the same input it
//! produces the same bytes, counters and error as one whole push, and that is what
//! a simple reference cut (the `csv` crate over the whole input, then the header,
//! filter and output rules of the module docs) produces.

use crate::csv_cut::{CsvError, CutSpec, CutStats, Cutter, ErrorKind, Header};

use super::{chunks, Input};

/// Filters a row may be asked to pass, picked by index.
const FILTERS: &[&str] = &[
    "> 0",
    "<= 5",
    "= a",
    "!= ''",
    "IN (a, 1, 'x,y')",
    "BETWEEN 1 AND 3",
    "== 1",
    "= \"\"",
];

/// Input: 8 control bytes (flags, three selected column indexes, filter column and
/// filter, chunking seed, record limit), then the CSV file.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let picks = [input.byte(), input.byte(), input.byte()];
    let (filter_column, filter) = (input.byte(), input.byte());
    let seed = input.byte();
    let limit = input.byte();
    let file = input.rest();

    let reference = reference_records(file);
    // The columns come from the reference header, so that an unknown column is
    // never the reason for a difference.
    let header = reference
        .0
        .first()
        .and_then(|r| Header::from_names(r.iter().map(String::as_str)).ok());
    let names: Vec<String> = header
        .map(|h| h.columns)
        .unwrap_or_else(|| vec!["a".into()]);
    let count = 1 + usize::from(flags >> 6);
    let columns: Vec<String> = picks[..count.min(3)]
        .iter()
        .map(|&p| names[usize::from(p) % names.len()].clone())
        .collect();
    let mut filters = Vec::new();
    if flags & 2 != 0 {
        filters.push((
            names[usize::from(filter_column) % names.len()].clone(),
            FILTERS[usize::from(filter) % FILTERS.len()].to_string(),
        ));
    }
    let spec = CutSpec {
        columns,
        filters,
        neutralize_formulas: flags & 1 != 0,
    };
    // A small record limit (bit 2) is checked for chunking only: the reference
    // does not model it.
    let max_record = (flags & 4 != 0).then_some(usize::from(limit) + 1);

    let whole = run(&spec, &[file], max_record);
    let split = run(&spec, &chunks(file, seed), max_record);
    assert_eq!(split, whole, "chunking (seed {seed}) changes the cut");
    let bytewise = run(&spec, &chunks(file, 1), max_record);
    assert_eq!(bytewise, whole, "one byte at a time changes the cut");
    if max_record.is_none() {
        let expected = reference_cut(&spec, reference);
        assert_eq!(
            (
                &whole.0,
                whole
                    .1
                    .as_ref()
                    .map(|s| (s.rows_in, s.rows_out))
                    .map_err(|e| e.kind)
            ),
            (&expected.0, expected.1),
            "the engine differs from the reference cut"
        );
    }
}

type Outcome = (Vec<u8>, Result<CutStats, CsvError>);

fn run(spec: &CutSpec, chunks: &[&[u8]], max_record: Option<usize>) -> Outcome {
    let mut cutter = Cutter::new(spec.clone()).expect("the spec is valid");
    if let Some(max) = max_record {
        cutter = cutter.with_max_record_bytes(max);
    }
    let mut out = Vec::new();
    for chunk in chunks {
        if let Err(e) = cutter.push(chunk, &mut out) {
            assert_eq!(
                cutter.push(b"x", &mut Vec::new()),
                Err(e.clone()),
                "errors stick"
            );
            return (out, Err(e));
        }
    }
    let result = cutter.finish(&mut out);
    if let Ok(stats) = &result {
        assert_eq!(
            stats.bytes_out,
            out.len() as u64,
            "bytes_out counts the output"
        );
        assert_eq!(
            stats.bytes_in,
            chunks.iter().map(|c| c.len() as u64).sum::<u64>()
        );
    }
    (out, result)
}

/// The records of the whole input by the `csv` crate, up to the first one that
/// is not UTF-8 (then `true`).
fn reference_records(file: &[u8]) -> (Vec<Vec<String>>, bool) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(file);
    let mut records = Vec::new();
    for record in reader.byte_records() {
        let record = record.expect("reading from memory cannot fail");
        let fields: Option<Vec<String>> = record
            .iter()
            .map(|f| String::from_utf8(f.to_vec()).ok())
            .collect();
        match fields {
            Some(fields) => records.push(fields),
            None => return (records, true),
        }
    }
    (records, false)
}

/// The output and (rows in, rows out) or error kind that the module docs promise.
fn reference_cut(
    spec: &CutSpec,
    (records, utf8_error): (Vec<Vec<String>>, bool),
) -> (Vec<u8>, Result<(u64, u64), ErrorKind>) {
    let mut out = Vec::new();
    let Some((first, rows)) = records.split_first() else {
        let kind = if utf8_error {
            ErrorKind::InvalidUtf8
        } else {
            ErrorKind::EmptyFile
        };
        return (out, Err(kind));
    };
    let header = match Header::from_names(first.iter().map(String::as_str)) {
        Ok(h) => h,
        Err(e) => return (out, Err(e.kind)),
    };
    let index = |name: &str| header.position(name).expect("columns come from the header");
    let select: Vec<usize> = spec.columns.iter().map(|c| index(c)).collect();
    let filters: Vec<_> = spec
        .filters
        .iter()
        .filter_map(|(c, e)| Some((index(c), crate::csv_cut::Filter::parse(c, e).unwrap()?)))
        .collect();
    write(
        &mut out,
        select.iter().map(|&i| header.columns[i].as_str()),
        spec.neutralize_formulas,
    );
    let mut rows_out = 0;
    for row in rows {
        let cell = |i: usize| row.get(i).map_or("", String::as_str);
        if filters.iter().all(|(i, f)| f.matches(cell(*i))) {
            write(
                &mut out,
                select.iter().map(|&i| cell(i)),
                spec.neutralize_formulas,
            );
            rows_out += 1;
        }
    }
    match utf8_error {
        true => (out, Err(ErrorKind::InvalidUtf8)),
        false => (out, Ok((rows.len() as u64, rows_out))),
    }
}

/// RFC 4180 as the module docs describe it, written independently of `write.rs`.
fn write<'a>(out: &mut Vec<u8>, cells: impl Iterator<Item = &'a str>, neutralize: bool) {
    let cells: Vec<String> = cells
        .map(|c| {
            let formula = c.starts_with(['=', '+', '-', '@', '\t', '\r'])
                && crate::csv_cut::parse_number(c).is_none();
            let c = if neutralize && formula {
                format!("'{c}")
            } else {
                c.to_string()
            };
            if c.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c
            }
        })
        .collect();
    let line = match cells.as_slice() {
        [only] if only.is_empty() => "\"\"".to_string(),
        _ => cells.join(","),
    };
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
}
