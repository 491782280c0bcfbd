use proptest::prelude::*;

use super::*;

const PEOPLE: &str = "name,age,city,salary\n\
John,25,NYC,50000\n\
Jane,30,LA,75000\n\
Bob,35,NYC,60000\n\
Alice,28,Chicago,65000\n\
Charlie,42,LA,80000\n";

fn spec(columns: &[&str], filters: &[(&str, &str)]) -> CutSpec {
    CutSpec::new(columns.iter().copied(), filters.iter().copied())
}

/// Cuts `input` pushed in chunks of the given sizes (cycled; the rest in one piece).
fn cut_in_chunks(input: &[u8], spec: CutSpec, sizes: &[usize]) -> Result<String, CsvError> {
    let mut cutter = Cutter::new(spec)?;
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = sizes
            .next()
            .copied()
            .unwrap_or(rest.len())
            .clamp(1, rest.len());
        cutter.push(&rest[..n], &mut out)?;
        rest = &rest[n..];
    }
    let stats = cutter.finish(&mut out)?;
    assert_eq!(stats.bytes_out, out.len() as u64);
    assert_eq!(stats.bytes_in, input.len() as u64);
    Ok(String::from_utf8(out).expect("output is UTF-8"))
}

fn cut(input: &str, columns: &[&str], filters: &[(&str, &str)]) -> Result<String, CsvError> {
    cut_in_chunks(input.as_bytes(), spec(columns, filters), &[])
}

fn names(input: &str, filters: &[(&str, &str)]) -> Vec<String> {
    cut(input, &["name"], filters)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

fn matches(expr: &str, cell: &str) -> bool {
    Filter::parse("c", expr)
        .unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
        .unwrap_or_else(|| panic!("{expr:?} should be a filter"))
        .matches(cell)
}

fn parse_error(expr: &str) -> CsvError {
    match Filter::parse("age", expr) {
        Err(e) => e,
        Ok(f) => panic!("{expr:?} should not parse, got {f:?}"),
    }
}

// ---------------------------------------------------------------- fixture

#[test]
fn fixture_equality_between_and_combined() {
    assert_eq!(names(PEOPLE, &[("city", "= NYC")]), ["John", "Bob"]);
    assert_eq!(
        names(PEOPLE, &[("age", "BETWEEN 28 AND 35")]),
        ["Jane", "Bob", "Alice"]
    );
    assert_eq!(
        names(
            PEOPLE,
            &[
                ("age", ">= 28"),
                ("salary", "> 60000"),
                ("city", "IN (LA, Chicago)")
            ]
        ),
        // Alice (28, 65000, Chicago) passes all three; the legacy test data that
        // expected only Jane and Charlie contradicts its own filters.
        ["Jane", "Alice", "Charlie"]
    );
    assert_eq!(
        names(PEOPLE, &[("age", "between 28 and 35")]),
        ["Jane", "Bob", "Alice"]
    );
}

#[test]
fn fixture_output_order_and_stats() {
    let mut cutter = Cutter::new(spec(&["salary", "name"], &[("city", "!= NYC")])).unwrap();
    let mut out = Vec::new();
    cutter.push(PEOPLE.as_bytes(), &mut out).unwrap();
    let stats = cutter.finish(&mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "salary,name\n75000,Jane\n65000,Alice\n80000,Charlie\n"
    );
    assert_eq!((stats.rows_in, stats.rows_out), (5, 3));
    assert_eq!(
        cutter.header().unwrap().columns,
        ["name", "age", "city", "salary"]
    );
}

#[test]
fn filter_on_unselected_column_applies() {
    assert_eq!(
        cut(PEOPLE, &["city"], &[("name", "IN (Bob, Jane)")]).unwrap(),
        "city\nLA\nNYC\n"
    );
}

#[test]
fn empty_and_blank_filters_are_no_filter() {
    assert_eq!(names(PEOPLE, &[("age", ""), ("city", "  \t ")]).len(), 5);
    assert_eq!(Filter::parse("c", "   ").unwrap(), None);
}

// ---------------------------------------------------------------- operators

#[test]
fn ordering_operators() {
    assert!(matches("> 5", "6") && !matches("> 5", "5"));
    assert!(matches(">= 5", "5") && !matches(">= 5", "4.99"));
    assert!(matches("< 5", "-5") && !matches("< 5", "5"));
    assert!(matches("<= -1.5", "-1.5") && !matches("<= -1.5", "-1.4"));
    assert!(matches(">0.1", "0.25") && matches("<1e3", "999"));
    assert!(
        matches("  >   5  ", " 7 "),
        "whitespace around expression and cell"
    );
}

#[test]
fn ordering_on_non_numeric_cell_is_false() {
    for cell in ["abc", "", "NaN", "inf", "12abc", "1,000"] {
        assert!(!matches("> 0", cell), "{cell:?}");
        assert!(!matches("< 0", cell), "{cell:?}");
        assert!(!matches("BETWEEN -10 AND 10", cell), "{cell:?}");
    }
}

#[test]
fn equality_numeric_when_both_numbers() {
    assert!(matches("= 7", "007"));
    assert!(matches("== 7", "7.0"));
    assert!(matches("= 007", "7"));
    assert!(!matches("!= 7", "007"));
    assert!(matches("= -2.5", "-2.50"));
    assert!(
        matches("= '7'", "7.0"),
        "quotes do not force text comparison"
    );
}

#[test]
fn equality_as_text() {
    assert!(matches("= NYC", "NYC") && !matches("= NYC", "nyc"));
    assert!(matches("!= \"NY\"", "NYC") && !matches("!= \"NY\"", "NY"));
    assert!(matches("= 'New York'", "New York"));
    assert!(matches("=New York", " New York "), "cell and value trimmed");
    assert!(matches("= \"\"", "") && matches("= ''", "   "));
    assert!(!matches("= \"\"", "x"));
    assert!(matches("= 'O'Brien'", "O'Brien"));
    assert!(matches("= \"<tag>\"", "<tag>"));
    assert!(matches("= 2024-01-05", "2024-01-05"));
    assert!(matches("= abc", "abc") && !matches("= abc", "7"));
    assert!(matches("= 日本", "日本"));
}

#[test]
fn between_inclusive_and_case_insensitive() {
    assert!(matches("BETWEEN 1 AND 5", "1") && matches("BETWEEN 1 AND 5", "5"));
    assert!(!matches("BETWEEN 1 AND 5", "5.01") && !matches("BETWEEN 1 AND 5", "0.99"));
    assert!(matches("Between -5 aNd -1", "-3"));
    assert!(matches("BETWEEN 0.5 AND 1.5", "1"));
    assert!(
        !matches("BETWEEN 5 AND 1", "3"),
        "reversed bounds match nothing"
    );
}

#[test]
fn in_lists() {
    let f = "IN (John, \"Jane\", 'Bob')";
    assert!(matches(f, "John") && matches(f, "Jane") && matches(f, "Bob"));
    assert!(!matches(f, "john") && !matches(f, "Alice"));
    assert!(matches("IN (5)", "5.0") && matches("IN(1,2,3)", "002"));
    assert!(
        matches("in ('a, b', c)", "a, b"),
        "quoted items may hold commas"
    );
    assert!(!matches("in ('a, b', c)", "a"));
    assert!(matches("IN ('x)', y)", "x)"));
    assert!(matches("IN ('O''Brien')", "O'Brien"));
    assert!(matches("IN (  spaced out  , z)", "spaced out"));
    assert!(matches("IN ('')", ""));
    assert!(
        !matches("IN ()", "") && !matches("IN ( )", "x"),
        "IN () matches nothing"
    );
}

#[test]
fn bad_expressions_are_errors_naming_column_and_expression() {
    for expr in [
        "abc",
        "25",
        ">",
        "> ",
        "> abc",
        ">= '5'",
        "=",
        "!=  ",
        "=> 5",
        "= 'open",
        "BETWEEN",
        "BETWEEN 20",
        "BETWEEN 20 AND",
        "BETWEEN AND 30",
        "BETWEEN 1 AND 2 AND 3",
        "BETWEEN a AND 3",
        "BETWEEN 1 OR 3",
        "IN",
        "IN a, b",
        "IN (a",
        "IN (a,)",
        "IN (a,,b)",
        "IN ('a' b)",
        "IN ('a)",
        "IN (a) x",
        "India",
        "LIKE '%a%'",
        "<> 5",
    ] {
        let e = parse_error(expr);
        assert_eq!(e.kind, ErrorKind::InvalidFilter, "{expr:?}");
        assert!(!e.kind.is_bad_input());
        assert!(e.message.contains("\"age\""), "{expr:?}: {e}");
        assert!(e.message.contains(&format!("{expr:?}")), "{expr:?}: {e}");
    }
    assert_eq!(
        parse_error("abc").to_string(),
        "invalid filter for column \"age\": \"abc\" — expected an operator: > < >= <= = == != BETWEEN IN"
    );
    assert!(parse_error("> abc")
        .message
        .contains("expected a number after >"));
    assert!(parse_error("BETWEEN 20")
        .message
        .contains("BETWEEN <number> AND <number>"));
    assert!(parse_error("IN (a").message.contains("missing closing"));
}

#[test]
fn bad_filter_is_reported_before_reading() {
    let e = Cutter::new(spec(&["name"], &[("age", "> 1"), ("city", "near NYC")]))
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::InvalidFilter);
    assert!(e.message.contains("\"city\""));
}

// ---------------------------------------------------------------- columns

#[test]
fn unknown_and_missing_columns() {
    let e = cut(PEOPLE, &["name", "zip", "zip", "phone"], &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownColumn);
    assert_eq!(
        e.message,
        "selected columns \"zip\", \"phone\" are not in the file's header"
    );
    let e = cut(PEOPLE, &["name"], &[("zip", "= 1")]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownColumn);
    assert!(e.message.contains("filtered column \"zip\""), "{e}");
    let e = Cutter::new(spec(&[], &[])).err().unwrap();
    assert_eq!(e.kind, ErrorKind::NoColumns);
    assert!(!e.kind.is_bad_input());
}

#[test]
fn selections_are_bounded_and_resolved_against_wide_headers() {
    let names: Vec<String> = (0..MAX_SELECTED_COLUMNS).map(|i| format!("c{i}")).collect();
    let too_many: Vec<&str> = std::iter::repeat_n("c0", MAX_SELECTED_COLUMNS + 1).collect();
    let e = Cutter::new(spec(&too_many, &[])).err().unwrap();
    assert_eq!(e.kind, ErrorKind::TooManyColumns);
    assert!(e.message.contains("10001 columns selected"), "{e}");
    // The widest selection, reversed, against a header of as many columns.
    let file = format!(
        "{}\n{}\n",
        names.join(","),
        (0..names.len())
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let reversed: Vec<&str> = names.iter().rev().map(String::as_str).collect();
    let out = cut(&file, &reversed, &[("c7", "= 7")]).unwrap();
    let last = out.lines().nth(1).unwrap();
    assert!(last.starts_with("9999,9998,"), "{}", &last[..20]);
    assert!(last.ends_with(",1,0"));
}

#[test]
fn unknown_column_error_comes_before_any_output() {
    let mut cutter = Cutter::new(spec(&["nope"], &[])).unwrap();
    let mut out = Vec::new();
    assert!(cutter.push(PEOPLE.as_bytes(), &mut out).is_err());
    assert!(out.is_empty());
    assert!(cutter.push(b"more", &mut out).is_err(), "stays failed");
    assert!(cutter.finish(&mut out).is_err());
}

#[test]
fn repeated_selected_column_is_written_twice() {
    assert_eq!(
        cut("a,b\n1,2\n", &["b", "a", "b"], &[]).unwrap(),
        "b,a,b\n2,1,2\n"
    );
}

// ---------------------------------------------------------------- header

#[test]
fn header_duplicates_and_empty_names_pandas_style() {
    let h = read_header(b"a,,a,b,a, ,a.1\n1,2,3\n").unwrap();
    assert_eq!(
        h.columns,
        ["a", "Unnamed: 1", "a.1", "b", "a.2", "Unnamed: 5", "a.1.1"]
    );
    let renamed: Vec<_> = h
        .renamed
        .iter()
        .map(|r| (r.index, r.original.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(
        renamed,
        [
            (1, "", "Unnamed: 1"),
            (2, "a", "a.1"),
            (4, "a", "a.2"),
            (5, " ", "Unnamed: 5"),
            (6, "a.1", "a.1.1"),
        ]
    );
    assert_eq!(
        cut(
            "x,x,\n1,2,3\n",
            &["x.1", "Unnamed: 2", "x"],
            &[("x.1", "= 2")]
        )
        .unwrap(),
        "x.1,Unnamed: 2,x\n2,3,1\n"
    );
}

#[test]
fn header_names_kept_verbatim() {
    let h = read_header("\u{feff} Name ,Âge,\"a,b\"\r\n".as_bytes()).unwrap();
    assert_eq!(h.columns, [" Name ", "Âge", "a,b"]);
    assert!(h.renamed.is_empty());
    assert_eq!(cut("\"a,b\"\n1\n", &["a,b"], &[]).unwrap(), "\"a,b\"\n1\n");
}

#[test]
fn bom_is_stripped_once() {
    let input = "\u{feff}name,age\nAl,3\n";
    assert_eq!(cut(input, &["name"], &[]).unwrap(), "name\nAl\n");
    for size in 1..4 {
        let out = cut_in_chunks(input.as_bytes(), spec(&["name"], &[]), &[size]).unwrap();
        assert_eq!(out, "name\nAl\n", "chunk size {size}");
    }
    let double = read_header("\u{feff}\u{feff}a\n".as_bytes()).unwrap();
    assert_eq!(double.columns, ["\u{feff}a"]);
}

#[test]
fn empty_and_headerless_files() {
    for input in ["", "\u{feff}", "\n", "\r\n\r\n\n"] {
        let e = cut(input, &["a"], &[]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::EmptyFile, "{input:?}");
        assert!(e.kind.is_bad_input());
        assert_eq!(
            read_header(input.as_bytes()).unwrap_err().kind,
            ErrorKind::EmptyFile
        );
        assert_eq!(
            Counter::new().finish().unwrap_err().kind,
            ErrorKind::EmptyFile
        );
    }
    for input in [",,\n1,2,3\n", " \n1\n", "\"\"\n", " , \t"] {
        let e = cut(input, &["a"], &[]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::MissingHeader, "{input:?}");
        assert!(e.message.contains("header"));
    }
}

#[test]
fn header_only_file_cuts_to_header() {
    assert_eq!(
        cut("name,age\n", &["age"], &[("age", "> 1")]).unwrap(),
        "age\n"
    );
    assert_eq!(
        cut("name,age", &["age", "name"], &[]).unwrap(),
        "age,name\n"
    );
}

#[test]
fn header_reader_stops_at_header() {
    let mut reader = HeaderReader::new();
    assert!(reader.push(b"na").unwrap().is_none());
    assert!(reader.push(b"me,a").unwrap().is_none());
    let h = reader.push(b"ge\nbad \xff row\n").unwrap().unwrap();
    assert_eq!(h.columns, ["name", "age"]);
    assert_eq!(reader.finish().unwrap().columns, ["name", "age"]);
    let mut reader = HeaderReader::new();
    assert!(reader.push(b"x,y").unwrap().is_none());
    assert_eq!(reader.finish().unwrap().columns, ["x", "y"]);
}

#[test]
fn oversized_record_is_an_error() {
    let long = format!("a,b\n1,{}\n2,3\n", "x".repeat(100));
    let mut cutter = Cutter::new(spec(&["a"], &[]))
        .unwrap()
        .with_max_record_bytes(64);
    let mut out = Vec::new();
    let e = cutter.push(long.as_bytes(), &mut out).unwrap_err();
    assert_eq!(e.kind, ErrorKind::RecordTooLarge);
    assert!(e.message.contains("row 1"), "{e}");
    assert_eq!(out, b"a\n");
    let e = HeaderReader::new()
        .with_max_record_bytes(8)
        .push(b"aaaa,bbbb,cccc")
        .unwrap_err();
    assert!(e.message.contains("header row"), "{e}");
}

// ---------------------------------------------------------------- UTF-8

#[test]
fn invalid_utf8_is_an_error_naming_row_and_column() {
    let e = cut_in_chunks(
        b"name,city\nAl,Paris\nBo,Par\xe9s\n",
        spec(&["name"], &[]),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidUtf8);
    assert!(e.kind.is_bad_input());
    assert_eq!(
        e.message,
        "invalid UTF-8 in row 2, column 2: the file must be UTF-8 encoded text"
    );
    let e = read_header(b"na\xffme,b\n").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidUtf8);
    assert!(e.message.contains("header row, column 1"), "{e}");
    // Invalid in a column that is neither selected nor filtered still fails.
    assert!(cut_in_chunks(b"a,b\n1,\xc3\x28\n", spec(&["a"], &[]), &[]).is_err());
    // A truncated sequence at the very end of the file.
    assert!(cut_in_chunks(b"a\n\xe6\x97", spec(&["a"], &[]), &[]).is_err());
    assert!(Counter::new().push(b"a\n\xff\n").is_err());
}

#[test]
fn multibyte_char_split_across_chunks() {
    let input = "name,city\nZoë,東京\n".as_bytes();
    for split in 0..=input.len() {
        let mut cutter = Cutter::new(spec(&["city", "name"], &[])).unwrap();
        let mut out = Vec::new();
        cutter.push(&input[..split], &mut out).unwrap();
        cutter.push(&input[split..], &mut out).unwrap();
        cutter.finish(&mut out).unwrap();
        assert_eq!(out, "city,name\n東京,Zoë\n".as_bytes(), "split at {split}");
    }
}

#[test]
fn invalid_utf8_split_across_chunks() {
    // "é" is C3 A9; C3 followed by "(" is invalid, split between the two bytes.
    let mut cutter = Cutter::new(spec(&["a"], &[])).unwrap();
    let mut out = Vec::new();
    cutter.push(b"a\nok\nx\xc3", &mut out).unwrap();
    let e = cutter.push(b"(y\n", &mut out).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidUtf8);
    assert!(e.message.contains("row 2"), "{e}");
    assert_eq!(out, b"a\nok\n", "only whole records reach the output");
    // Two fields that are each invalid but valid when concatenated: "é" split by a comma.
    assert!(cut_in_chunks(b"a,b\n\xc3,\xa9\n", spec(&["a"], &[]), &[1]).is_err());
}

// ---------------------------------------------------------------- quoting and shapes

#[test]
fn quoted_fields_round_trip() {
    let input =
        "id,text\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n3,\"line1\nline2\"\n4,\"cr\r\"\n5,plain\n";
    assert_eq!(
        cut(input, &["text", "id"], &[]).unwrap(),
        "text,id\n\"a, b\",1\n\"say \"\"hi\"\"\",2\n\"line1\nline2\",3\n\"cr\r\",4\nplain,5\n"
    );
    assert_eq!(
        cut(input, &["id"], &[("text", "= 'a, b'")]).unwrap(),
        "id\n1\n"
    );
}

#[test]
fn crlf_input_gives_lf_output() {
    let input = "name,age\r\nAl,3\r\nBo,4\r\n";
    assert_eq!(
        cut(input, &["age", "name"], &[]).unwrap(),
        "age,name\n3,Al\n4,Bo\n"
    );
    let no_final_newline = "name,age\r\nAl,3\r\nBo,4";
    assert_eq!(
        cut(no_final_newline, &["name"], &[]).unwrap(),
        "name\nAl\nBo\n"
    );
}

#[test]
fn blank_lines_are_skipped() {
    assert_eq!(
        cut("a,b\n\n1,2\n\r\n\n3,4\n\n", &["b"], &[]).unwrap(),
        "b\n2\n4\n"
    );
}

#[test]
fn short_rows_read_as_empty_cells_and_long_rows_are_truncated() {
    let input = "a,b,c\n1\n2,x\n3,y,z,extra,more\n";
    assert_eq!(cut(input, &["c", "a"], &[]).unwrap(), "c,a\n,1\n,2\nz,3\n");
    assert_eq!(cut(input, &["c"], &[]).unwrap(), "c\n\"\"\n\"\"\nz\n");
    assert_eq!(cut(input, &["a"], &[("b", "= \"\"")]).unwrap(), "a\n1\n");
    assert_eq!(cut(input, &["a"], &[("c", "!= z")]).unwrap(), "a\n1\n2\n");
    assert_eq!(cut(input, &["a"], &[("c", "< 100")]).unwrap(), "a\n");
}

// ---------------------------------------------------------------- counter

#[test]
fn counter_counts_rows_and_columns() {
    let mut counter = Counter::new();
    for chunk in PEOPLE.as_bytes().chunks(7) {
        counter.push(chunk).unwrap();
    }
    assert_eq!(counter.header().unwrap().columns.len(), 4);
    assert_eq!(
        counter.finish().unwrap(),
        Counts {
            rows: 5,
            columns: 4
        }
    );
    for (csv, rows, columns) in [
        (&b"a,b\n\"multi\nline\",1\n\n2,3"[..], 2, 2),
        (b"a,b\n", 0, 2),
    ] {
        let mut counter = Counter::new();
        counter.push(csv).unwrap();
        assert_eq!(counter.finish().unwrap(), Counts { rows, columns });
    }
}

// ---------------------------------------------------------------- chunking

/// A deterministic pseudo-random sequence of chunk sizes in 1..=max.
fn random_sizes(seed: u64, count: usize, max: usize) -> Vec<usize> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % max + 1
        })
        .collect()
}

#[test]
fn chunking_does_not_change_output() {
    let input = "\u{feff}id,name,note,n\r\n\
        1,Zoë,\"a, \"\"quoted\"\"\nnote\",10\r\n\
        2,東京,plain,-3.5\r\n\
        \r\n\
        3,\"\",\"\",7\r\n\
        4,🦀,\"crab\r\nline\",0007\r\n\
        5,short\r\n\
        6,x,y,1e2";
    let spec = || spec(&["note", "id", "name"], &[("n", "IN (10, 7, 100)")]);
    let whole = cut_in_chunks(input.as_bytes(), spec(), &[]).unwrap();
    assert_eq!(
        whole,
        "note,id,name\n\"a, \"\"quoted\"\"\nnote\",1,Zoë\n,3,\n\"crab\r\nline\",4,🦀\ny,6,x\n"
    );
    assert_eq!(
        cut_in_chunks(input.as_bytes(), spec(), &[1]).unwrap(),
        whole
    );
    for seed in 0..50 {
        let sizes = random_sizes(seed, 64, 17);
        assert_eq!(
            cut_in_chunks(input.as_bytes(), spec(), &sizes).unwrap(),
            whole,
            "sizes {sizes:?}"
        );
    }
}

#[test]
fn large_input_in_small_chunks_keeps_buffers_small() {
    let mut input = String::from("id,value,tag\n");
    for i in 0..20_000 {
        input.push_str(&format!("{i},{},\"t,{}\"\n", i % 97, i % 3));
    }
    let mut cutter = Cutter::new(spec(&["id", "tag"], &[("value", "> 90")])).unwrap();
    let mut out = Vec::new();
    let mut total = 0;
    for chunk in input.as_bytes().chunks(4096) {
        cutter.push(chunk, &mut out).unwrap();
        total += out.len();
        out.clear();
    }
    let stats = cutter.finish(&mut out).unwrap();
    total += out.len();
    assert_eq!(stats.rows_in, 20_000);
    assert_eq!(
        stats.rows_out,
        (0..20_000).filter(|i| i % 97 > 90).count() as u64
    );
    assert_eq!(stats.bytes_out, total as u64);
}

// ---------------------------------------------------------------- properties

fn cell() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,\"'\n\r\té日本🦀-]{0,8}"
}

fn table() -> impl Strategy<Value = (Vec<String>, Vec<Vec<String>>)> {
    (1usize..6).prop_flat_map(|width| {
        (
            prop::collection::vec(cell(), width),
            prop::collection::vec(prop::collection::vec(cell(), width), 0..12),
        )
    })
}

fn write_table(header: &[String], rows: &[Vec<String>]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).unwrap();
    for row in rows {
        writer.write_record(row).unwrap();
    }
    writer.into_inner().unwrap()
}

proptest! {
    #[test]
    fn cut_output_parses_back_to_selected_cells(
        (mut header, rows) in table(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..5),
        sizes in prop::collection::vec(1usize..40, 1..8),
    ) {
        // Make sure the header row has a name so the file is not header-less.
        header[0].insert(0, 'h');
        let input = write_table(&header, &rows);
        let names = read_header(&input).unwrap().columns;
        let select: Vec<usize> = picks.iter().map(|p| p.index(names.len())).collect();
        let columns: Vec<&str> = select.iter().map(|&i| names[i].as_str()).collect();

        let out = cut_in_chunks(&input, spec(&columns, &[]), &sizes).unwrap();
        let whole = cut_in_chunks(&input, spec(&columns, &[]), &[]).unwrap();
        prop_assert_eq!(&out, &whole);

        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(out.as_bytes());
        let parsed: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        let mut expected = vec![columns.iter().map(|c| c.to_string()).collect::<Vec<_>>()];
        for row in &rows {
            expected.push(select.iter().map(|&i| row[i].clone()).collect());
        }
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn counter_agrees_with_csv_crate((mut header, rows) in table(), size in 1usize..64) {
        header[0].insert(0, 'h');
        let input = write_table(&header, &rows);
        let mut counter = Counter::new();
        for chunk in input.chunks(size) {
            counter.push(chunk).unwrap();
        }
        let counts = counter.finish().unwrap();
        prop_assert_eq!(counts, Counts { rows: rows.len() as u64, columns: header.len() });
    }
}
