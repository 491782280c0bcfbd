//! Push-based `multipart/form-data` parsing (RFC 7578) for request bodies that must
//! not be buffered whole.
//!
//! Feed the body chunk by chunk with [`Multipart::push`] (chunks may split anything,
//! the boundary included), drain [`Multipart::next_event`] after each push, and call
//! [`Multipart::finish`] at the end of the body. A part with a `filename` is a file: its
//! bytes come out as [`Event::Data`] slices as soon as they are known not to be part of
//! a boundary. A part without one is a text field, collected whole (up to a small cap)
//! and returned as one [`Event::Field`]. Memory is bounded by the largest chunk pushed
//! plus the field cap, whatever the body size.

/// Limit on a part's header block (its `Content-Disposition`, `Content-Type`, ...).
const MAX_HEADER_BYTES: usize = 16 << 10;
/// Transport padding (spaces and tabs) allowed between a boundary and its CRLF.
const MAX_PADDING_BYTES: usize = 256;

/// Why a body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipartErrorKind {
    /// The content type is not `multipart/form-data` with a usable `boundary`.
    MissingBoundary,
    /// The body does not follow the multipart syntax (headers, delimiters).
    Malformed,
    /// The body ended before the closing delimiter.
    Truncated,
    /// A file part is larger than the per-part limit.
    FileTooLarge,
    /// A text field is larger than the field cap.
    FieldTooLarge,
}

/// A multipart error: a kind plus a message meant for the client.
pub type MultipartError = crate::refusal::Refusal<MultipartErrorKind>;

/// The headers of one file part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// The form field name (`name=` of `Content-Disposition`).
    pub name: String,
    /// The client's file name, as sent (never used as a storage path).
    pub filename: String,
    /// The part's `Content-Type`, if any.
    pub content_type: Option<String>,
}

/// What the parser has found, in body order.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A file part begins.
    FileStart(PartInfo),
    /// The next bytes of the current file part.
    Data(&'a [u8]),
    /// The current file part is complete.
    FileEnd,
    /// A complete text field (lossy UTF-8).
    Field { name: String, value: String },
}

/// Size limits of a [`Multipart`] parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes one file part may hold.
    pub max_file_bytes: u64,
    /// Bytes one text field may hold.
    pub max_field_bytes: usize,
}

enum State {
    /// Before the first delimiter (preamble bytes are ignored).
    Preamble,
    /// Right after a delimiter: `--` (the end) or transport padding and CRLF.
    AfterDelimiter,
    /// Inside a part's header block.
    Headers,
    /// Inside a file part's body.
    File { bytes: u64 },
    /// Inside a text field's body.
    Field { name: String, value: Vec<u8> },
    /// After the closing delimiter (the epilogue is ignored).
    Done,
}

/// The streaming parser; see the module docs.
pub struct Multipart {
    /// `CRLF--boundary`: every delimiter is preceded by CRLF, the first one included
    /// once the body is prefixed with CRLF.
    delimiter: Vec<u8>,
    buf: Vec<u8>,
    pos: usize,
    state: State,
    limits: Limits,
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let missing = || {
        MultipartError::new(
            MultipartErrorKind::MissingBoundary,
            "Expected a multipart/form-data body with a boundary",
        )
    };
    let mut params = content_type.split(';');
    let mime = params.next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return Err(missing());
    }
    let value = params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"'))
        .ok_or_else(missing)?;
    // RFC 2046: 1 to 70 characters.
    if value.is_empty() || value.len() > 70 {
        return Err(missing());
    }
    Ok(value.to_string())
}

impl Multipart {
    /// A parser for a body whose `Content-Type` is `content_type`.
    pub fn new(content_type: &str, limits: Limits) -> Result<Multipart, MultipartError> {
        let boundary = boundary(content_type)?;
        Ok(Multipart {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            buf: b"\r\n".to_vec(),
            pos: 0,
            state: State::Preamble,
            limits,
        })
    }

    /// Appends the next chunk of the body. Drain [`Multipart::next_event`] before the
    /// next push: bytes already returned are dropped here.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.drain(..self.pos);
        self.pos = 0;
        if !matches!(self.state, State::Done) {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// True once the closing delimiter has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Ends the body: an error unless the closing delimiter was read.
    pub fn finish(&self) -> Result<(), MultipartError> {
        if self.is_done() {
            Ok(())
        } else {
            Err(MultipartError::new(
                MultipartErrorKind::Truncated,
                "The multipart body ended before its closing boundary",
            ))
        }
    }

    /// The next event found in the bytes pushed so far, or `None` when more input is
    /// needed.
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, MultipartError> {
        loop {
            let rest = &self.buf[self.pos..];
            match &mut self.state {
                State::Done => {
                    self.pos = self.buf.len();
                    return Ok(None);
                }
                State::Preamble => match find(rest, &self.delimiter) {
                    Some(i) => {
                        self.pos += i + self.delimiter.len();
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        // Keep only what could still be the start of the delimiter.
                        self.pos += rest.len().saturating_sub(self.delimiter.len());
                        return Ok(None);
                    }
                },
                State::AfterDelimiter => {
                    if rest.len() < 2 {
                        return Ok(None);
                    }
                    if rest.starts_with(b"--") {
                        self.state = State::Done;
                        continue;
                    }
                    // The same verdict however the body is chunked: judge only
                    // the padding seen so far (a last CR may start the CRLF).
                    let eol = find(rest, b"\r\n");
                    let padding = match eol {
                        Some(eol) => &rest[..eol],
                        None => rest.strip_suffix(b"\r").unwrap_or(rest),
                    };
                    if padding.iter().any(|b| !matches!(b, b' ' | b'\t')) {
                        return Err(malformed("unexpected bytes after a boundary"));
                    }
                    if padding.len() > MAX_PADDING_BYTES {
                        return Err(malformed("a boundary line is not followed by CRLF"));
                    }
                    let Some(eol) = eol else {
                        return Ok(None);
                    };
                    self.pos += eol + 2;
                    self.state = State::Headers;
                }
                State::Headers => {
                    let Some(end) = find(rest, b"\r\n\r\n") else {
                        // Beyond this, an end not seen yet would start past the limit.
                        if rest.len() > MAX_HEADER_BYTES + 3 {
                            return Err(malformed("a part's headers are too long"));
                        }
                        return Ok(None);
                    };
                    if end > MAX_HEADER_BYTES {
                        return Err(malformed("a part's headers are too long"));
                    }
                    let headers = parse_headers(&rest[..end])?;
                    self.pos += end + 4;
                    match headers.filename {
                        Some(filename) => {
                            self.state = State::File { bytes: 0 };
                            return Ok(Some(Event::FileStart(PartInfo {
                                name: headers.name,
                                filename,
                                content_type: headers.content_type,
                            })));
                        }
                        None => {
                            self.state = State::Field {
                                name: headers.name,
                                value: Vec::new(),
                            }
                        }
                    }
                }
                State::File { bytes } => {
                    let (data_len, at_delimiter) = match find(rest, &self.delimiter) {
                        Some(i) => (i, true),
                        None => (safe_len(rest, &self.delimiter), false),
                    };
                    *bytes += data_len as u64;
                    if *bytes > self.limits.max_file_bytes {
                        return Err(MultipartError::new(
                            MultipartErrorKind::FileTooLarge,
                            "The file is larger than the limit",
                        ));
                    }
                    let start = self.pos;
                    self.pos += data_len;
                    if data_len > 0 {
                        return Ok(Some(Event::Data(&self.buf[start..start + data_len])));
                    }
                    if !at_delimiter {
                        return Ok(None);
                    }
                    self.pos += self.delimiter.len();
                    self.state = State::AfterDelimiter;
                    return Ok(Some(Event::FileEnd));
                }
                State::Field { value, .. } => {
                    let (data_len, at_delimiter) = match find(rest, &self.delimiter) {
                        Some(i) => (i, true),
                        None => (safe_len(rest, &self.delimiter), false),
                    };
                    if value.len() + data_len > self.limits.max_field_bytes {
                        return Err(MultipartError::new(
                            MultipartErrorKind::FieldTooLarge,
                            "A form field is larger than the limit",
                        ));
                    }
                    value.extend_from_slice(&rest[..data_len]);
                    self.pos += data_len;
                    if !at_delimiter {
                        return Ok(None);
                    }
                    self.pos += self.delimiter.len();
                    let State::Field { name, value } =
                        std::mem::replace(&mut self.state, State::AfterDelimiter)
                    else {
                        unreachable!("matched above")
                    };
                    return Ok(Some(Event::Field {
                        name,
                        value: String::from_utf8_lossy(&value).into_owned(),
                    }));
                }
            }
        }
    }
}

fn malformed(what: &str) -> MultipartError {
    MultipartError::new(
        MultipartErrorKind::Malformed,
        format!("Malformed multipart body: {what}"),
    )
}

/// The first occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut from = 0;
    while let Some(i) = hay[from..].iter().position(|&b| b == first) {
        let at = from + i;
        if hay.len() - at < needle.len() {
            return None;
        }
        if &hay[at..at + needle.len()] == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// How many leading bytes of `rest` (which holds no full delimiter) cannot belong
/// to a delimiter that the next chunk completes.
fn safe_len(rest: &[u8], delimiter: &[u8]) -> usize {
    let keep = (1..delimiter.len().min(rest.len() + 1))
        .rev()
        .find(|&n| rest.ends_with(&delimiter[..n]))
        .unwrap_or(0);
    rest.len() - keep
}

struct PartHeaders {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
}

fn parse_headers(block: &[u8]) -> Result<PartHeaders, MultipartError> {
    let text = std::str::from_utf8(block).map_err(|_| malformed("part headers are not UTF-8"))?;
    let mut disposition = None;
    let mut content_type = None;
    for line in text.split("\r\n") {
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| malformed("a part header line has no colon"))?;
        let key = key.trim();
        if key.eq_ignore_ascii_case("content-disposition") {
            disposition = Some(value.trim());
        } else if key.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    let disposition =
        disposition.ok_or_else(|| malformed("a part has no Content-Disposition header"))?;
    let mut params = split_params(disposition);
    let kind = params.next().unwrap_or_default();
    if !kind.0.eq_ignore_ascii_case("form-data") {
        return Err(malformed("a part is not form-data"));
    }
    let mut name = None;
    let mut filename = None;
    for (key, value) in params {
        if key.eq_ignore_ascii_case("name") {
            name = Some(value);
        } else if key.eq_ignore_ascii_case("filename") {
            filename = Some(value);
        }
    }
    Ok(PartHeaders {
        name: name.ok_or_else(|| malformed("a part has no name"))?,
        filename,
        content_type,
    })
}

/// `form-data; name="a;b"; filename=x` → ("form-data",""), ("name","a;b"), ("filename","x").
/// Quoted values may hold `;` and backslash-escaped quotes.
fn split_params(header: &str) -> impl Iterator<Item = (String, String)> + '_ {
    let mut rest = header;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([';', ' ', '\t']);
        if rest.is_empty() {
            return None;
        }
        let key_end = rest.find(['=', ';']).unwrap_or(rest.len());
        let key = rest[..key_end].trim().to_string();
        rest = &rest[key_end..];
        let Some(after_eq) = rest.strip_prefix('=') else {
            return Some((key, String::new()));
        };
        let after_eq = after_eq.trim_start();
        let mut value = String::new();
        if let Some(quoted) = after_eq.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            rest = &quoted[end..];
        } else {
            let end = after_eq.find(';').unwrap_or(after_eq.len());
            value.push_str(after_eq[..end].trim());
            rest = &after_eq[end..];
        }
        Some((key, value))
    })
}

#[cfg(test)]
mod tests;
