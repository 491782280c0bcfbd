//! Failed-login limits per username and per client address, with the windows in KV
//! `AUTH_TOKENS` (expiring with the window).
//!
//! KV is eventually consistent across locations (a write can take up to a minute to be seen
//! elsewhere) and a read-modify-write can lose a concurrent increment, so an attacker who
//! spreads attempts across locations may get a few more than `MAX_FAILURES` per window.
//! That is acceptable here: each attempt still costs a full 870 000-iteration PBKDF2 on our
//! side, the limit only has to turn thousands of guesses into a handful, and a stricter
//! counter (a Durable Object) would add a round trip to every login.

use crate::tokens;
use shared::accounts::throttle::{self, Window};
use worker::{Env, Result};

fn keys(username: &str, ip: Option<&str>) -> Vec<String> {
    let mut keys = vec![throttle::key("user", username)];
    keys.extend(ip.map(|ip| throttle::key("ip", ip)));
    keys
}

async fn window(env: &Env, key: &str) -> Result<Option<Window>> {
    let text = tokens::store(env)?.get(key).text().await?;
    // An unreadable value counts as no failures rather than locking anyone out.
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Seconds to wait, when the username or the address has used up its failures.
pub async fn retry_after(
    env: &Env,
    username: &str,
    ip: Option<&str>,
    now: i64,
) -> Result<Option<i64>> {
    let mut wait = None;
    for key in keys(username, ip) {
        if let Some(secs) = window(env, &key).await?.and_then(|w| w.retry_after(now)) {
            wait = wait.max(Some(secs));
        }
    }
    Ok(wait)
}

pub async fn record_failure(env: &Env, username: &str, ip: Option<&str>, now: i64) -> Result<()> {
    let kv = tokens::store(env)?;
    for key in keys(username, ip) {
        let next = Window::after_failure(window(env, &key).await?, now);
        kv.put(&key, serde_json::to_string(&next)?)?
            .expiration_ttl((next.reset_at - now).max(60) as u64)
            .execute()
            .await?;
    }
    Ok(())
}

/// A successful login ends the username's window (the address keeps its count: one address
/// guessing many usernames stays limited).
pub async fn clear_user(env: &Env, username: &str) -> Result<()> {
    tokens::store(env)?
        .delete(&throttle::key("user", username))
        .await?;
    Ok(())
}
