use super::*;

const CT: &str = "multipart/form-data; boundary=XyZ";
const LIMITS: Limits = Limits {
    max_file_bytes: 1 << 20,
    max_field_bytes: 64,
};

/// Owned events, with consecutive data merged, for comparisons.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    File(PartInfo),
    Data(Vec<u8>),
    End,
    Field(String, String),
}

/// Parses `body` pushed in `chunk`-byte pieces.
fn parse_limits(body: &[u8], chunk: usize, limits: Limits) -> Result<Vec<Ev>, MultipartError> {
    let mut parser = Multipart::new(CT, limits)?;
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        parser.push(piece);
        while let Some(event) = parser.next_event()? {
            match event {
                Event::FileStart(info) => out.push(Ev::File(info)),
                Event::Data(d) => match out.last_mut() {
                    Some(Ev::Data(prev)) => prev.extend_from_slice(d),
                    _ => out.push(Ev::Data(d.to_vec())),
                },
                Event::FileEnd => out.push(Ev::End),
                Event::Field { name, value } => out.push(Ev::Field(name, value)),
            }
        }
    }
    parser.finish()?;
    Ok(out)
}

fn parse(body: &[u8], chunk: usize) -> Result<Vec<Ev>, MultipartError> {
    parse_limits(body, chunk, LIMITS)
}

fn body() -> Vec<u8> {
    // The file's content holds near-boundaries that must not end the part.
    b"preamble\r\n--XyZ\r\n\
      Content-Disposition: form-data; name=\"note\"\r\n\r\n\
      hello\r\n--XyZ\r\n\
      Content-Disposition: form-data; name=\"file\"; filename=\"a;b \\\"q\\\".csv\"\r\n\
      Content-Type: text/csv\r\n\r\n\
      a,b\r\n1,2\r\n--XyY\r\n--Xy\r\n-\r\n--XyZ  \r\n\
      Content-Disposition: form-data; name=\"empty\"; filename=\"e.txt\"\r\n\r\n\
      \r\n--XyZ--\r\nepilogue"
        .to_vec()
}

fn expected() -> Vec<Ev> {
    vec![
        Ev::Field("note".into(), "hello".into()),
        Ev::File(PartInfo {
            name: "file".into(),
            filename: "a;b \"q\".csv".into(),
            content_type: Some("text/csv".into()),
        }),
        Ev::Data(b"a,b\r\n1,2\r\n--XyY\r\n--Xy\r\n-".to_vec()),
        Ev::End,
        Ev::File(PartInfo {
            name: "empty".into(),
            filename: "e.txt".into(),
            content_type: None,
        }),
        Ev::End,
    ]
}

#[test]
fn whole_body_at_once() {
    assert_eq!(parse(&body(), usize::MAX).unwrap(), expected());
}

#[test]
fn every_chunk_size_gives_the_same_events() {
    let body = body();
    for chunk in 1..=body.len() {
        assert_eq!(
            parse(&body, chunk).unwrap(),
            expected(),
            "chunk size {chunk}"
        );
    }
}

#[test]
fn every_split_point_gives_the_same_events() {
    let body = body();
    for cut in 0..=body.len() {
        let mut parser = Multipart::new(CT, LIMITS).unwrap();
        let mut data = Vec::new();
        for piece in [&body[..cut], &body[cut..]] {
            parser.push(piece);
            while let Some(event) = parser.next_event().unwrap() {
                if let Event::Data(d) = event {
                    data.extend_from_slice(d);
                }
            }
        }
        parser.finish().unwrap();
        assert_eq!(data, b"a,b\r\n1,2\r\n--XyY\r\n--Xy\r\n-", "split at {cut}");
    }
}

#[test]
fn body_without_preamble() {
    let body =
        b"--XyZ\r\nContent-Disposition: form-data; name=file; filename=x.csv\r\n\r\nabc\r\n--XyZ--";
    let events = parse(body, 1).unwrap();
    assert_eq!(events[1], Ev::Data(b"abc".to_vec()));
    assert_eq!(events.len(), 3);
}

#[test]
fn boundary_is_read_from_the_content_type() {
    assert_eq!(
        boundary("multipart/form-data; charset=utf-8; boundary=\"a b\"").unwrap(),
        "a b"
    );
    assert_eq!(boundary("Multipart/Form-Data;BOUNDARY=x").unwrap(), "x");
    for bad in [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "application/json; boundary=x",
        "",
    ] {
        let err = Multipart::new(bad, LIMITS).err().unwrap();
        assert_eq!(err.kind, MultipartErrorKind::MissingBoundary, "{bad}");
    }
}

#[test]
fn truncated_bodies_are_errors() {
    let body = body();
    let end = body.len() - b"--\r\nepilogue".len();
    for cut in 0..end {
        let err = parse(&body[..cut], 7).unwrap_err();
        assert_eq!(err.kind, MultipartErrorKind::Truncated, "cut at {cut}");
    }
}

#[test]
fn file_larger_than_the_limit_is_refused() {
    let limits = Limits {
        max_file_bytes: 10,
        ..LIMITS
    };
    let ok = b"--XyZ\r\nContent-Disposition: form-data; name=file; filename=x\r\n\r\n0123456789\r\n--XyZ--";
    assert!(parse_limits(ok, 1, limits).is_ok());
    let big = b"--XyZ\r\nContent-Disposition: form-data; name=file; filename=x\r\n\r\n0123456789A\r\n--XyZ--";
    for chunk in [1, 5, 1000] {
        let err = parse_limits(big, chunk, limits).unwrap_err();
        assert_eq!(err.kind, MultipartErrorKind::FileTooLarge);
    }
}

#[test]
fn field_larger_than_the_cap_is_refused() {
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=f\r\n\r\n{}\r\n--XyZ--",
        "x".repeat(65)
    );
    let err = parse(body.as_bytes(), 3).unwrap_err();
    assert_eq!(err.kind, MultipartErrorKind::FieldTooLarge);
}

#[test]
fn malformed_parts_are_errors() {
    for body in [
        &b"--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--"[..],
        b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",
        b"--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--",
        b"--XyZjunk\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--XyZ--",
    ] {
        let err = parse(body, 2).unwrap_err();
        assert_eq!(err.kind, MultipartErrorKind::Malformed, "{body:?}");
    }
}

#[test]
fn memory_stays_bounded_by_the_chunk_size() {
    let mut parser = Multipart::new(CT, LIMITS).unwrap();
    parser.push(b"--XyZ\r\nContent-Disposition: form-data; name=file; filename=x\r\n\r\n");
    while parser.next_event().unwrap().is_some() {}
    let mut total = 0;
    for _ in 0..1000 {
        parser.push(&[b'a'; 1000]);
        while let Some(event) = parser.next_event().unwrap() {
            if let Event::Data(d) = event {
                total += d.len();
            }
        }
        assert!(parser.buf.len() <= 1000 + parser.delimiter.len());
    }
    assert_eq!(total, 1_000_000);
}

/// A field part whose boundary line has `padding` spaces and whose header
/// block is `header_len` bytes long.
fn padded(padding: usize, header_len: usize) -> Vec<u8> {
    let disposition = "Content-Disposition: form-data; name=\"n\"";
    let filler = header_len - disposition.len() - 2;
    format!(
        "--XyZ{}\r\n{disposition}\r\nX: {}\r\n\r\nv\r\n--XyZ--\r\n",
        " ".repeat(padding),
        "a".repeat(filler - 3)
    )
    .into_bytes()
}

#[test]
fn padding_and_header_limits_give_one_verdict_however_the_body_is_chunked() {
    for (padding, header_len, ok) in [
        (MAX_PADDING_BYTES, MAX_HEADER_BYTES, true),
        (MAX_PADDING_BYTES + 1, 100, false),
        (0, MAX_HEADER_BYTES + 1, false),
        (0, MAX_HEADER_BYTES - 1, true),
    ] {
        let body = padded(padding, header_len);
        let whole = parse(&body, body.len());
        assert_eq!(
            whole.is_ok(),
            ok,
            "padding {padding}, headers {header_len}: {whole:?}"
        );
        for chunk in [1, 2, 3, 7, 255, 256, 257, 4096] {
            assert_eq!(
                parse(&body, chunk),
                whole,
                "padding {padding}, headers {header_len}, chunks of {chunk}"
            );
        }
    }
}
