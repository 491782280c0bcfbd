//! A one-shot HTTP/1.1 exchange (`Connection: close`), for the requests the
//! gateway sends the legacy origin on a connection of their own: the origin
//! answers `DELETE` with a `204` that still carries a body, and a pooled client
//! would leave those bytes for the next request to read as its status line. With
//! the whole answer read up to the close, the body is where it belongs.

/// Headers of one hop that the exchange sets itself.
const HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
];

/// The request head: `Host`, `Content-Length` and `Connection: close` are set
/// here; the same names in `headers` are dropped.
pub fn request_head(
    method: &str,
    path_and_query: &str,
    host: &str,
    headers: &[(String, String)],
    body_len: usize,
) -> String {
    let mut head = format!("{method} {path_and_query} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        if HOP.contains(&name.to_ascii_lowercase().as_str()) || !header_safe(name, value) {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if body_len > 0 || !matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS") {
        head.push_str(&format!("Content-Length: {body_len}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    head
}

fn header_safe(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        && !value.bytes().any(|b| b == b'\r' || b == b'\n')
}

/// A response read to the end of its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Every header but the framing ones (`Content-Length`, `Transfer-Encoding`,
    /// `Connection`, `Keep-Alive`), in order, repeats kept.
    pub headers: Vec<(String, String)>,
    /// The body; always empty for 1xx, 204 and 304, whatever the origin sent.
    pub body: Vec<u8>,
}

/// Parses everything the origin sent before it closed the connection.
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the origin closed the connection before the end of the response head")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the response head is not text")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(format!("invalid status line {status_line:?}"));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| format!("invalid status line {status_line:?}"))?;
    let mut headers = Vec::new();
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("invalid header line {line:?}"))?;
        let (name, value) = (name.trim(), value.trim());
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                content_length = Some(value.parse().map_err(|_| "invalid Content-Length")?)
            }
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" | "keep-alive" => {}
            _ => headers.push((name.to_string(), value.to_string())),
        }
    }
    let rest = &raw[end + 4..];
    let body = if status < 200 || status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        dechunk(rest)?
    } else if let Some(len) = content_length {
        rest.get(..len)
            .ok_or("the origin closed the connection before the end of the body")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a truncated chunked body")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "a bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "a bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a truncated chunked body")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("a truncated chunked body")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_closes_the_connection_and_sets_its_own_framing() {
        let headers = vec![
            ("Authorization".to_string(), "Bearer t".to_string()),
            ("Connection".to_string(), "keep-alive".to_string()),
            ("Host".to_string(), "client.example".to_string()),
            ("X-Bad".to_string(), "a\r\nInjected: 1".to_string()),
        ];
        assert_eq!(
            request_head(
                "DELETE",
                "/api/list_cutter/delete/x/",
                "origin:8000",
                &headers,
                0
            ),
            "DELETE /api/list_cutter/delete/x/ HTTP/1.1\r\nHost: origin:8000\r\n\
             Authorization: Bearer t\r\nConnection: close\r\n\r\n"
        );
        assert!(request_head("POST", "/", "h", &[], 0).contains("Content-Length: 0\r\n"));
        assert!(request_head("DELETE", "/", "h", &[], 3).contains("Content-Length: 3\r\n"));
    }

    #[test]
    fn a_204_with_a_body_is_a_204_without_one() {
        let raw = b"HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\
                    Content-Length: 40\r\nVary: Accept\r\n\r\n{\"message\":\"File deleted successfully.\"}";
        let r = parse_response(raw).unwrap();
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
        assert_eq!(
            r.headers,
            [
                ("Content-Type".to_string(), "application/json".to_string()),
                ("Vary".to_string(), "Accept".to_string())
            ]
        );
    }

    #[test]
    fn bodies_are_framed_by_length_chunks_or_the_close() {
        let by_length =
            parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhello+junk")
                .unwrap();
        assert_eq!(
            (by_length.status, by_length.body.as_slice()),
            (404, &b"hello"[..])
        );
        let chunked = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.body, b"hello world");
        let to_close = parse_response(
            b"HTTP/1.0 500 Oops\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n<html>",
        )
        .unwrap();
        assert_eq!(to_close.body, b"<html>");
        assert_eq!(to_close.headers.len(), 2, "repeated headers are kept");
    }

    #[test]
    fn broken_answers_are_errors() {
        for raw in [
            &b""[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 5",
            b"{\"message\":\"x\"}\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert!(
                parse_response(raw).is_err(),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
