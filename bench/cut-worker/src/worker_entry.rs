//! The fetch handler: read the body, cut it `k` times, answer the digest.

use futures_util::StreamExt;
use worker::{event, Context, Env, Request, Response, Result};

use crate::{cut, spec_from_query, Answer, Digest};

#[event(fetch)]
async fn fetch(mut req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let k: u32 = pairs
        .iter()
        .find(|(key, _)| key == "k")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let spec = spec_from_query(pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    // Read piece by piece into one buffer: the whole body never sits twice in memory.
    let length = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut file = Vec::with_capacity(length);
    let mut body = req.stream()?;
    while let Some(piece) = body.next().await {
        file.extend_from_slice(&piece?);
    }
    let mut digest = Digest::default();
    for _ in 0..k {
        digest = match cut(&file, &spec) {
            Ok(digest) => digest,
            Err(e) => return Response::error(e.message, 400),
        };
    }
    Response::from_json(&Answer {
        bytes_in: file.len() as u64,
        digest,
    })
}
