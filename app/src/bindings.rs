//! The app's bindings (`wrangler.app.toml`), each named once.

use worker::{Bucket, D1Database, Env, Fetcher, KvStore, Queue, Result};

pub const DB: &str = "DB";
pub const FILE_STORAGE: &str = "FILE_STORAGE";
pub const AUTH_TOKENS: &str = "AUTH_TOKENS";
pub const CSV_QUEUE: &str = "CSV_QUEUE";
pub const ASSETS: &str = "ASSETS";

pub fn db(env: &Env) -> Result<D1Database> {
    env.d1(DB)
}

pub fn bucket(env: &Env) -> Result<Bucket> {
    env.bucket(FILE_STORAGE)
}

pub fn tokens(env: &Env) -> Result<KvStore> {
    env.kv(AUTH_TOKENS)
}

pub fn csv_queue(env: &Env) -> Result<Queue> {
    env.queue(CSV_QUEUE)
}

/// The frontend's static assets (`app/frontend/dist`).
pub fn assets(env: &Env) -> Result<Fetcher> {
    env.assets(ASSETS)
}
