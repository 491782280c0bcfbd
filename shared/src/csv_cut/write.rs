//! RFC 4180 output with `\n` record terminators.

/// Appends one record: cells joined by `,`, quoted when needed, then `\n`. With
/// `neutralize`, a cell a spreadsheet would run as a formula gets a leading `'`.
pub(crate) fn write_record<'a, I>(out: &mut Vec<u8>, cells: I, neutralize: bool)
where
    I: IntoIterator<Item = &'a str>,
{
    let start = out.len();
    let mut count = 0usize;
    for cell in cells {
        if count > 0 {
            out.push(b',');
        }
        if neutralize && is_formula(cell) {
            // The mark is part of the cell: inside its quotes when it needs them.
            write_cell(out, &format!("'{cell}"));
        } else {
            write_cell(out, cell);
        }
        count += 1;
    }
    // A lone empty cell would be a blank line, which readers skip.
    if count == 1 && out.len() == start {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
}

/// A cell Excel, LibreOffice or Sheets would evaluate (OWASP's CSV injection
/// list: a leading `=`, `+`, `-`, `@`, tab or carriage return). Numbers such as
/// `-5` or `+1.5e3` are data and stay as they are.
pub(crate) fn is_formula(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    ) && super::number::parse_number(cell).is_none()
}

fn write_cell(out: &mut Vec<u8>, cell: &str) {
    let bytes = cell.as_bytes();
    // A table, not a `matches!`: wasm runs that as a jump table per byte.
    if !bytes.iter().any(|&b| NEEDS_QUOTES[usize::from(b)]) {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Byte by byte rather than a copy per run between quotes: cells are short,
    // and each copy is a call into the runtime's memory.copy in wasm.
    for &b in bytes {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// The bytes that make a cell need quotes: `,`, `"`, CR and LF.
const NEEDS_QUOTES: [bool; 256] = {
    let mut table = [false; 256];
    table[b',' as usize] = true;
    table[b'"' as usize] = true;
    table[b'\r' as usize] = true;
    table[b'\n' as usize] = true;
    table
};

#[cfg(test)]
mod tests {
    use super::write_record;

    fn line(cells: &[&str]) -> String {
        let mut out = Vec::new();
        write_record(&mut out, cells.iter().copied(), false);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(line(&["a", "b c", " d "]), "a,b c, d \n");
        assert_eq!(
            line(&["a,b", "say \"hi\"", "x\ny", "cr\r"]),
            "\"a,b\",\"say \"\"hi\"\"\",\"x\ny\",\"cr\r\"\n"
        );
        assert_eq!(line(&["\""]), "\"\"\"\"\n");
    }

    #[test]
    fn lone_empty_cell_is_quoted() {
        assert_eq!(line(&[""]), "\"\"\n");
        assert_eq!(line(&["", ""]), ",\n");
    }

    #[test]
    fn a_neutralised_cell_that_needs_quotes_is_quoted_whole() {
        // Found by fuzzing: the `'` went before the opening quote, so `=a,b`
        // came out as `'"=a,b"`, which reads back as two cells.
        let mut out = Vec::new();
        write_record(&mut out, ["=a,b", "\t\"x\"", "\r", "ok"], true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"'=a,b\",\"'\t\"\"x\"\"\",\"'\r\",ok\n"
        );
    }

    #[test]
    fn formulas_are_neutralised_only_when_asked() {
        let cells = [
            "=cmd|' /C calc'!A0",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "-5",
            "+1.5e3",
            "a=b",
        ];
        let mut plain = Vec::new();
        write_record(&mut plain, cells.iter().copied(), false);
        assert!(String::from_utf8(plain).unwrap().starts_with("=cmd"));
        let mut safe = Vec::new();
        write_record(&mut safe, cells.iter().copied(), true);
        assert_eq!(
            String::from_utf8(safe).unwrap(),
            "'=cmd|' /C calc'!A0,'+1+1,'-2+3,'@SUM(A1),'\tx,-5,+1.5e3,a=b\n"
        );
    }
}
