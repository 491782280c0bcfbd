//! Proxy fidelity and failure handling: bodies, queries, headers, cookies and
//! redirects pass unchanged; a dead or slow origin gives a JSON error in time.

use crate::common::{header, headers_all, served_by};
use e2e::{client, sha256_hex, Stack, LEGACY_TIMEOUT_MS};
use serde_json::Value;
use shared::routing::SECURITY_HEADERS;
use std::time::{Duration, Instant};

crate::tests!(
    proxy:
    multipart_upload_20mb_arrives_byte_identical,
    encoded_query_strings_pass_unchanged,
    headers_and_forwarding_info_reach_legacy,
    several_set_cookie_headers_pass,
    redirects_are_returned_not_followed,
    security_headers_on_every_response,
    legacy_down_gives_json_502_then_recovers,
    slow_legacy_gives_json_504_in_time,
    rate_limit_gives_429_with_retry_after,
    legacy_204_with_a_body_breaks_no_later_request,
);

fn echo(stack: &Stack) -> String {
    format!("{}/__test__/echo", stack.gateway)
}

fn multipart_upload_20mb_arrives_byte_identical(stack: &Stack) {
    stack.set_percentage("0");
    // A 20 MB multipart body built by hand, so the exact bytes sent are known.
    let boundary = "----lc-e2e-boundary-7f3a";
    let mut body = Vec::with_capacity(21 << 20);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(b"id,name,value\n");
    let mut i = 0u64;
    while body.len() < 20 << 20 {
        body.extend_from_slice(
            format!(
                "{i},name-{i},{}\n",
                i.wrapping_mul(2_654_435_761) % 1_000_003
            )
            .as_bytes(),
        );
        i += 1;
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let expected = sha256_hex(&body);
    let len = body.len();

    let resp = client()
        .post(echo(stack))
        .header("CF-Connecting-IP", stack.ip())
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .unwrap();
    assert_eq!(served_by(&resp), "legacy");
    let got: Value = resp.json().unwrap();
    assert_eq!(got["method"], "POST");
    assert_eq!(got["body_length"], len as u64);
    assert_eq!(got["body_sha256"], expected);
}

fn encoded_query_strings_pass_unchanged(stack: &Stack) {
    stack.set_percentage("0");
    let query =
        "q=a%20b&slash=%2F%3F%26%3D&utf=%C3%A9t%C3%A9&plus=a+b&empty=&dup=1&dup=2&raw=~!*()";
    let resp = client()
        .get(format!("{}?{query}", echo(stack)))
        .header("CF-Connecting-IP", stack.ip())
        .send()
        .unwrap();
    let got: Value = resp.json().unwrap();
    assert_eq!(got["query"], query);
    assert_eq!(got["path"], "/__test__/echo");
}

fn headers_and_forwarding_info_reach_legacy(stack: &Stack) {
    stack.set_percentage("0");
    let ip = stack.ip();
    let resp = client()
        .put(echo(stack))
        .header("CF-Connecting-IP", &ip)
        .header("X-Request-Id", "client-chosen-id.42")
        .header("X-Multi", "first")
        .header("X-Multi", "second")
        .header("Authorization", "Bearer not-a-real-token")
        .body("hello")
        .send()
        .unwrap();
    assert_eq!(
        header(&resp, "x-request-id").as_deref(),
        Some("client-chosen-id.42")
    );
    let got: Value = resp.json().unwrap();
    assert_eq!(got["method"], "PUT");
    assert_eq!(got["body_sha256"], sha256_hex(b"hello"));
    let headers: Vec<(String, String)> = got["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_lowercase(),
                h[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let values = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    // fetch() joins repeated request headers into one, in order.
    let multi = values("x-multi").join(", ");
    assert_eq!(multi, "first, second");
    assert_eq!(values("authorization"), ["Bearer not-a-real-token"]);
    assert_eq!(values("x-request-id"), ["client-chosen-id.42"]);
    assert_eq!(values("x-forwarded-for"), [ip.as_str()]);
    assert_eq!(values("x-forwarded-proto"), ["http"]);
    let gateway_host = stack.gateway.trim_start_matches("http://");
    assert_eq!(values("x-forwarded-host"), [gateway_host]);
    let legacy_host = stack.legacy.trim_start_matches("http://");
    assert_eq!(values("host"), [legacy_host], "Host is the legacy origin's");

    // An unsafe client request id is replaced, not passed on.
    let resp = client()
        .get(echo(stack))
        .header("CF-Connecting-IP", &ip)
        .header("X-Request-Id", "bad id with spaces")
        .send()
        .unwrap();
    let id = header(&resp, "x-request-id").unwrap();
    assert_eq!(id.len(), 32, "a generated id: {id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
}

fn several_set_cookie_headers_pass(stack: &Stack) {
    stack.set_percentage("0");
    let resp = stack
        .get_from("/__test__/cookies", &stack.ip())
        .send()
        .unwrap();
    let cookies = headers_all(&resp, "set-cookie");
    for expected in [
        "a=1; Path=/",
        "b=2; HttpOnly; Path=/",
        "c=3; Max-Age=60; Path=/",
    ] {
        let name = &expected[..2];
        let got = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("cookie {name} missing from {cookies:?}"));
        let mut got_parts: Vec<&str> = got.split("; ").collect();
        let mut want_parts: Vec<&str> = expected.split("; ").collect();
        got_parts.sort();
        want_parts.sort();
        assert_eq!(got_parts, want_parts);
    }
    // Plus the gateway's own sticky cookie, as a separate header.
    assert!(cookies.iter().any(|c| c.starts_with("lc_route=")));
    assert_eq!(cookies.len(), 4, "{cookies:?}");
}

fn redirects_are_returned_not_followed(stack: &Stack) {
    stack.set_percentage("0");
    let ip = stack.ip();
    for (path, status, location) in [
        ("/__test__/redirect", 302, "/__test__/echo?from=redirect"),
        // Django's APPEND_SLASH answer comes back as it is too.
        ("/api/accounts/user?x=1", 301, "/api/accounts/user/?x=1"),
    ] {
        let resp = stack.get_from(path, &ip).send().unwrap();
        assert_eq!(resp.status(), status, "{path}");
        assert_eq!(
            header(&resp, "location").as_deref(),
            Some(location),
            "{path}"
        );
    }
}

fn security_headers_on_every_response(stack: &Stack) {
    stack.set_percentage("0");
    let ip = stack.ip();
    let c = client();
    let responses = [
        c.get(echo(stack))
            .header("CF-Connecting-IP", &ip)
            .send()
            .unwrap(),
        c.get(format!("{}/api/nothing", stack.gateway))
            .header("CF-Connecting-IP", &ip)
            .header("X-Beta-User", "true")
            .send()
            .unwrap(),
        c.get(format!("{}/health", stack.gateway)).send().unwrap(),
    ];
    for resp in &responses {
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(
                header(resp, name).as_deref(),
                Some(*value),
                "{name} on a response served by {}",
                served_by(resp)
            );
        }
    }
}

fn legacy_down_gives_json_502_then_recovers(stack: &Stack) {
    stack.set_percentage("0");
    let ip = stack.ip();
    stack.stop_legacy();
    let started = Instant::now();
    let resp = stack.get_from("/api/accounts/user/", &ip).send();
    let elapsed = started.elapsed();
    stack.start_legacy();
    let resp = resp.unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(served_by(&resp), "legacy");
    assert!(
        elapsed < Duration::from_millis(LEGACY_TIMEOUT_MS + 2_000),
        "took {elapsed:?}"
    );
    let body: Value = resp.json().unwrap();
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("legacy")),
        "{body}"
    );

    let resp = stack.get_from("/api/accounts/user/", &ip).send().unwrap();
    assert_eq!(
        resp.status(),
        401,
        "the next request after a restart is served"
    );
    assert_eq!(served_by(&resp), "legacy");
}

fn slow_legacy_gives_json_504_in_time(stack: &Stack) {
    stack.set_percentage("0");
    let started = Instant::now();
    let resp = client()
        .get(format!(
            "{}/__test__/slow?ms={}",
            stack.gateway,
            LEGACY_TIMEOUT_MS + 4_000
        ))
        .header("CF-Connecting-IP", stack.ip())
        .send()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), 504);
    assert!(
        elapsed >= Duration::from_millis(LEGACY_TIMEOUT_MS - 100)
            && elapsed < Duration::from_millis(LEGACY_TIMEOUT_MS + 2_000),
        "answered after {elapsed:?}"
    );
    let body: Value = resp.json().unwrap();
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out")),
        "{body}"
    );
}

fn rate_limit_gives_429_with_retry_after(stack: &Stack) {
    stack.set_percentage("0");
    let ip = stack.ip();
    let c = client();
    let mut limited = None;
    // Twice the read budget: the local limiter counts in fixed wall-clock minutes,
    // so a minute may end part way through.
    for n in 1..=210 {
        let resp = c
            .get(format!("{}/__test__/status?code=204", stack.gateway))
            .header("CF-Connecting-IP", &ip)
            .send()
            .unwrap();
        if resp.status() == 429 {
            limited = Some((n, resp));
            break;
        }
        assert_eq!(resp.status(), 204);
    }
    let (n, resp) = limited.expect("no 429 after 210 reads");
    assert!(n > 100, "limited after only {n} reads");
    assert_eq!(header(&resp, "retry-after").as_deref(), Some("60"));
    let body: Value = resp.json().unwrap();
    assert!(body["error"].is_string());
    // Another client is not affected.
    let other = c
        .get(format!("{}/__test__/status?code=204", stack.gateway))
        .header("CF-Connecting-IP", stack.ip())
        .send()
        .unwrap();
    assert_eq!(other.status(), 204);
}

/// The legacy origin answers `delete/` with `204` plus `Content-Length: 40` and a
/// body (the stand-in too, on the wire). Through the gateway at 0%, uploads and
/// deletes in turn all succeed: the stray bytes never become a later request's
/// answer (a 502), and no write is sent twice.
fn legacy_204_with_a_body_breaks_no_later_request(stack: &Stack) {
    use reqwest::blocking::multipart::{Form, Part};
    use std::io::{Read, Write};

    stack.set_percentage("0");
    let name = crate::common::unique("framing");
    let user = crate::session::User::register(stack, false, &name);
    // The uploads and deletes below come from one address.
    let ip = stack.ip();
    let upload = |i: usize| -> String {
        let resp = client()
            .post(format!("{}/api/list_cutter/upload/", stack.gateway))
            .header("CF-Connecting-IP", &ip)
            .bearer_auth(&user.access)
            .multipart(
                Form::new().part(
                    "file",
                    Part::bytes(format!("n,v\n{i},x\n").into_bytes())
                        .file_name(format!("{name}-{i}.csv")),
                ),
            )
            .send()
            .unwrap();
        assert_eq!(
            (resp.status().as_u16(), served_by(&resp).as_str()),
            (200, "legacy"),
            "upload {i}"
        );
        let body: Value = resp.json().unwrap();
        body["file_id"].as_str().unwrap().to_string()
    };

    // On the wire, directly: the 204 carries its 40 bytes.
    let id = upload(0);
    let addr = stack.legacy.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "DELETE /api/list_cutter/delete/{id}/ HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
        user.access
    )
    .unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 204"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 40"),
        "{head}"
    );
    assert_eq!(body, r#"{"message":"File deleted successfully."}"#);

    // The gateway asks the origin to close the connection after a DELETE.
    let echoed: Value = client()
        .delete(echo(stack))
        .header("CF-Connecting-IP", &ip)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let connection: Vec<&Value> = echoed["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0] == "connection")
        .map(|h| &h[1])
        .collect();
    assert_eq!(connection, [&serde_json::json!("close")], "{echoed}");

    // Through the gateway: every write after a delete still lands, once.
    for i in 1..=12 {
        let id = upload(i);
        let resp = client()
            .delete(format!("{}/api/list_cutter/delete/{id}/", stack.gateway))
            .header("CF-Connecting-IP", &ip)
            .bearer_auth(&user.access)
            .send()
            .unwrap();
        assert_eq!(
            (resp.status().as_u16(), served_by(&resp).as_str()),
            (204, "legacy"),
            "delete {i}"
        );
    }
    let listed: Value = client()
        .get(format!(
            "{}/api/list_cutter/list_saved_files/",
            stack.legacy
        ))
        .bearer_auth(&user.access)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        listed["files"],
        serde_json::json!([]),
        "each upload once, each deleted"
    );
}
