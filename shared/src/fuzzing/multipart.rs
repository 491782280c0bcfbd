//! The multipart parser (`multipart::Multipart`): a body built from random parts
//! parses back to those parts for any chunking, and any body at all gives the same
//! events and the same verdict whether pushed whole or in pieces.

use crate::multipart::{Event, Limits, Multipart, MultipartErrorKind, PartInfo};

use super::{chunks, Input};

/// Input: a mode byte and a chunking seed; then, for built bodies, the parts (see
/// [`built`]), for raw ones the `Content-Type`, `\n`, and the body.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let seed = input.byte();
    if mode & 1 == 0 {
        built(&mut input, seed);
    } else {
        raw(&mut input, mode, seed);
    }
}

/// What a body means, independent of how the parser's events were cut.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    File(PartInfo, Vec<u8>),
    Field(String, String),
}

const TOKEN: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'()+_,-./:=? ";

/// Builds a body: boundary (1..=70 characters from RFC 2046's set), then parts of
/// (kind byte, name, filename, content type, data), each `0xFF`-separated, parts
/// `0xFE`-separated; preamble and epilogue from the kind bytes.
fn built(input: &mut Input, seed: u8) {
    let boundary_len = usize::from(input.byte() % 70) + 1;
    let boundary: String = input
        .bytes(boundary_len)
        .iter()
        .map(|&b| TOKEN[usize::from(b) % (TOKEN.len() - 1)] as char)
        .collect();
    let delimiter = format!("\r\n--{boundary}");
    let mut parts = Vec::new();
    let mut body = Vec::new();
    let mut first = true;
    while !input.is_empty() && parts.len() < 8 {
        let mut part = Input::new(input.until(0xFE));
        let kind = part.byte();
        let name = header_text(part.until(0xFF));
        let filename = header_text(part.until(0xFF));
        let content_type = header_text(part.until(0xFF)).trim().to_string();
        let data = part.rest().to_vec();
        if find(&data, delimiter.as_bytes()) {
            return;
        }
        // The CRLF before a delimiter belongs to it; the first needs none.
        match first {
            true if kind & 4 != 0 => body.extend_from_slice(b"a preamble, ignored\r\n"),
            true => {}
            false => body.extend_from_slice(b"\r\n"),
        }
        first = false;
        body.extend_from_slice(format!("--{boundary}").as_bytes());
        if kind & 8 != 0 {
            body.extend_from_slice(b" \t");
        }
        body.extend_from_slice(b"\r\n");
        let mut disposition = format!("form-data; name=\"{}\"", escape(&name));
        if kind & 1 != 0 {
            disposition.push_str(&format!("; filename=\"{}\"", escape(&filename)));
        }
        body.extend_from_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
        let content_type = (kind & 2 != 0 && !content_type.is_empty()).then_some(content_type);
        if let Some(ct) = &content_type {
            body.extend_from_slice(format!("content-type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&data);
        parts.push(match kind & 1 != 0 {
            true => Part::File(
                PartInfo {
                    name,
                    filename,
                    content_type,
                },
                data,
            ),
            false => Part::Field(name, String::from_utf8_lossy(&data).into_owned()),
        });
    }
    if parts.is_empty() {
        return;
    }
    body.extend_from_slice(format!("\r\n--{boundary}--").as_bytes());
    if seed & 1 != 0 {
        body.extend_from_slice(b"\r\nan epilogue, ignored\r\n--");
    }
    let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
    let limits = Limits {
        max_file_bytes: u64::MAX,
        max_field_bytes: usize::MAX,
    };
    let (events, result) = parse(&content_type, limits, &chunks(&body, seed));
    assert_eq!(result, Ok(()), "a well-formed body is accepted");
    assert_eq!(
        meaning(&events),
        parts,
        "the parts come back (seed {seed}, body {:?})",
        String::from_utf8_lossy(&body)
    );
}

/// Text for a header value: no CR or LF (browsers encode them), no NUL.
fn header_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Any content type and body, with small limits: pushed in chunks, the parser
/// reports what it reports for one push.
fn raw(input: &mut Input, mode: u8, seed: u8) {
    let content_type = String::from_utf8_lossy(input.until(b'\n')).into_owned();
    let body = input.rest();
    let limits = Limits {
        max_file_bytes: u64::from(mode >> 1) * 4,
        max_field_bytes: usize::from(mode >> 1) * 2,
    };
    let whole = parse(&content_type, limits, &[body]);
    for seed in [seed, 1] {
        let split = parse(&content_type, limits, &chunks(body, seed));
        assert_eq!(
            split.1, whole.1,
            "chunking (seed {seed}) changes the verdict"
        );
        let (whole_data, split_data) = (data_of(&whole.0), data_of(&split.0));
        assert_eq!(
            without_data(&split.0),
            without_data(&whole.0),
            "chunking (seed {seed}) changes the parts"
        );
        match whole.1 {
            Ok(()) => assert_eq!(split_data, whole_data, "chunking changes file bytes"),
            // Pushed whole, a file part over the limit is refused before any of its
            // bytes; in pieces, those within the limit may come out first.
            Err(_) => assert!(
                split_data.starts_with(&whole_data),
                "chunking changes file bytes"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    FileStart(PartInfo),
    Data(Vec<u8>),
    FileEnd,
    Field(String, String),
}

/// The events, then `finish`'s verdict (or the first error's kind).
fn parse(
    content_type: &str,
    limits: Limits,
    chunks: &[&[u8]],
) -> (Vec<Owned>, Result<(), MultipartErrorKind>) {
    let mut parser = match Multipart::new(content_type, limits) {
        Ok(p) => p,
        Err(e) => return (Vec::new(), Err(e.kind)),
    };
    let mut events = Vec::new();
    for chunk in chunks {
        parser.push(chunk);
        loop {
            match parser.next_event() {
                Ok(Some(event)) => events.push(match event {
                    Event::FileStart(info) => Owned::FileStart(info),
                    Event::Data(d) => {
                        assert!(!d.is_empty(), "no empty data events");
                        Owned::Data(d.to_vec())
                    }
                    Event::FileEnd => Owned::FileEnd,
                    Event::Field { name, value } => Owned::Field(name, value),
                }),
                Ok(None) => break,
                Err(e) => return (events, Err(e.kind)),
            }
        }
    }
    (events, parser.finish().map_err(|e| e.kind))
}

fn meaning(events: &[Owned]) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut file: Option<(PartInfo, Vec<u8>)> = None;
    for event in events {
        match event {
            Owned::FileStart(info) => {
                assert!(file.is_none(), "a file starts inside a file");
                file = Some((info.clone(), Vec::new()));
            }
            Owned::Data(d) => file
                .as_mut()
                .expect("data outside a file")
                .1
                .extend_from_slice(d),
            Owned::FileEnd => {
                let (info, data) = file.take().expect("a file ends that did not start");
                parts.push(Part::File(info, data));
            }
            Owned::Field(name, value) => parts.push(Part::Field(name.clone(), value.clone())),
        }
    }
    parts
}

fn data_of(events: &[Owned]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            Owned::Data(d) => Some(d.as_slice()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .concat()
}

fn without_data(events: &[Owned]) -> Vec<&Owned> {
    events
        .iter()
        .filter(|e| !matches!(e, Owned::Data(_)))
        .collect()
}
