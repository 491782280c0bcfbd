//! `validate`: the seed's staging validation, against any deployment (the local
//! gateway, staging, production) as runbook steps: deep health, then a throwaway
//! user's journey through the public API — register, sign in, upload a small CSV,
//! cut it (a column selection and a filter), save the cut and download it, each
//! answer checked — and the cleanup, which runs whatever failed before it: the
//! files through the public API, then the account on both sides. Neither side's
//! public API deletes an account, so the app's admin API
//! (`DELETE /api/admin/users/<id>`) and legacy's database remove it, without
//! logging the removal for replication.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::Api;
use crate::error::{Context, Error, Result};
use crate::execute;
use crate::legacy::{Gone, Legacy};
use crate::runbook::{Effect, RunLog};

pub struct Options {
    pub url: String,
    /// The admin APIs of `url`, with the operator token.
    pub admin: Api,
    /// Sent as `X-Beta-User` on every public request: a beta token, or `true`
    /// where the plain beta header is honoured (local, staging).
    pub beta: Option<String>,
    pub database_url: String,
    /// How long the health check waits for a deployment to come up.
    pub wait: Duration,
    /// How long the cleanup waits for replication to carry the file deletions.
    pub settle: Duration,
}

impl Options {
    /// For the deployment at `url` (a trailing `/` is dropped), its admin APIs
    /// asked with the operator `token`.
    pub fn new(
        url: &str,
        token: &str,
        beta: Option<String>,
        database_url: String,
        (wait, settle): (Duration, Duration),
    ) -> Result<Options> {
        let url = url.trim_end_matches('/').to_string();
        Ok(Options {
            admin: Api::new(&url, token)?,
            url,
            beta,
            database_url,
            wait,
            settle,
        })
    }
}

/// The test file: three rows, of which the filter keeps two.
const SAMPLE: &str = "name,city,amount\nada,Paris,12\nbob,Oslo,3\ncyd,Rome,7\n";
const COLUMNS: [&str; 2] = ["name", "amount"];
const FILTER: (&str, &str) = ("amount", ">5");
const EXPECTED: [&str; 3] = ["name,amount", "ada,12", "cyd,7"];

/// What the journey made, for the cleanup.
#[derive(Default)]
struct Made {
    registered: bool,
    access: Option<String>,
    user_id: Option<i64>,
    upload: Option<Uploaded>,
    saved: Option<String>,
    saved_name: String,
}

struct Uploaded {
    file_id: String,
    file_path: String,
    file_name: String,
}

struct Journey<'a> {
    opts: &'a Options,
    http: Client,
    username: String,
    password: String,
}

/// The side that answered (the gateway's `X-Served-By`), for the step's detail.
fn served_by(resp: &Response) -> String {
    resp.headers()
        .get("x-served-by")
        .and_then(|v| v.to_str().ok())
        .map_or_else(String::new, |s| format!(" (served by {s})"))
}

/// The answer's body when its status is `want`, else an error naming both.
fn expect(what: &str, resp: Response, want: u16) -> Result<(String, String)> {
    let status = resp.status().as_u16();
    let by = served_by(&resp);
    let body = resp.text().map_err(|source| Error::Unanswered {
        call: what.to_string(),
        source,
    })?;
    if status != want {
        return Err(Error::NotExpected {
            call: what.to_string(),
            status,
            expected: want,
            served_by: by,
            excerpt: body.chars().take(300).collect(),
        });
    }
    Ok((body, by))
}

fn parse(what: &str, body: &str) -> Result<Value> {
    serde_json::from_str(body).map_err(|e| Error::Check(format!("{what}: not JSON ({e}): {body}")))
}

/// What the upload step made, which `step` needs.
fn uploaded<'a>(upload: &'a Option<Uploaded>, step: &str) -> Result<&'a Uploaded> {
    upload
        .as_ref()
        .ok_or_else(|| Error::Check(format!("{step}: nothing uploaded")))
}

/// A CSV answer's records, whatever the line endings and final newline (legacy
/// leaves the last record unterminated, the app ends every record).
fn records(csv: &str) -> Vec<&str> {
    csv.lines().filter(|l| !l.is_empty()).collect()
}

impl Journey<'_> {
    fn request(&self, method: Method, path: &str, access: Option<&str>) -> RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.opts.url));
        if let Some(beta) = &self.opts.beta {
            req = req.header("X-Beta-User", beta);
        }
        if let Some(token) = access {
            req = req.bearer_auth(token);
        }
        req
    }

    /// A request with the access token of the account the journey signed in to.
    fn signed_in(&self, method: Method, path: &str, made: &Made) -> RequestBuilder {
        self.request(method, path, made.access.as_deref())
    }

    fn send(&self, what: &str, req: RequestBuilder) -> Result<Response> {
        req.send().map_err(|source| Error::Unanswered {
            call: what.to_string(),
            source,
        })
    }

    /// Sends `req`; Ok with the body and who served it when the status is `want`.
    fn call(&self, what: &str, req: RequestBuilder, want: u16) -> Result<(String, String)> {
        expect(what, self.send(what, req)?, want)
    }

    fn health(&self) -> Result<String> {
        let deadline = Instant::now() + self.opts.wait;
        loop {
            match execute::healthy(&self.opts.admin) {
                Ok(detail) => return Ok(detail),
                Err(why) if Instant::now() >= deadline => return Err(why),
                Err(_) => std::thread::sleep(Duration::from_secs(2)),
            }
        }
    }

    fn register(&self, made: &mut Made) -> Result<String> {
        made.registered = true;
        let body = json!({
            "username": self.username,
            "email": format!("{}@example.com", self.username),
            "password": self.password,
            "password2": self.password,
        });
        let req = self
            .request(Method::POST, "/api/accounts/register/", None)
            .json(&body);
        let (_, by) = self.call("register", req, 201)?;
        Ok(format!("registered {}{by}", self.username))
    }

    /// Signs in; also learns the user's id (legacy's login answers only tokens).
    fn login(&self, made: &mut Made) -> Result<String> {
        let body = json!({"username": self.username, "password": self.password});
        let req = self
            .request(Method::POST, "/api/accounts/login/", None)
            .json(&body);
        let (text, by) = self.call("login", req, 200)?;
        let access = parse("login", &text)?["access"]
            .as_str()
            .ok_or_else(|| Error::Check("login: no access token in the answer".into()))?
            .to_string();
        let req = self.request(Method::GET, "/api/accounts/user/", Some(&access));
        let (text, _) = self.call("user", req, 200)?;
        let me = parse("user", &text)?;
        if me["username"] != self.username.as_str() {
            return Err(Error::Check(format!(
                "user: the token is someone else's: {me}"
            )));
        }
        made.user_id = me["id"].as_i64();
        made.access = Some(access);
        Ok(format!("signed in as user {}{by}", me["id"]))
    }

    fn upload(&self, made: &mut Made) -> Result<String> {
        let name = format!("{}.csv", self.username);
        let form = Form::new().part(
            "file",
            Part::bytes(SAMPLE.as_bytes().to_vec())
                .file_name(name)
                .mime_str("text/csv")
                .map_err(Error::Client)?,
        );
        let req = self
            .signed_in(Method::POST, "/api/list_cutter/upload/", made)
            .multipart(form);
        let (text, by) = self.call("upload", req, 200)?;
        let answer = parse("upload", &text)?;
        let field = |k: &str| {
            answer[k]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| Error::Check(format!("upload: no {k} in {answer}")))
        };
        let uploaded = Uploaded {
            file_id: field("file_id")?,
            file_path: field("file_path")?,
            file_name: field("file_name")?,
        };
        let detail = format!(
            "uploaded a CSV of {} bytes as {}{by}",
            SAMPLE.len(),
            uploaded.file_name
        );
        made.upload = Some(uploaded);
        Ok(detail)
    }

    /// The cut as the API answers it; checked against what the filter keeps.
    fn cut(&self, made: &Made) -> Result<(String, String)> {
        let upload = uploaded(&made.upload, "cut")?;
        let body = json!({
            "columns": COLUMNS,
            "file_path": upload.file_path,
            "filters": {FILTER.0: FILTER.1},
        });
        let req = self
            .signed_in(Method::POST, "/api/list_cutter/export_csv/", made)
            .json(&body);
        let (csv, by) = self.call("cut", req, 200)?;
        if records(&csv) != EXPECTED {
            return Err(Error::Check(format!(
                "cut: expected {EXPECTED:?}, got {csv:?}{by}"
            )));
        }
        Ok((
            csv,
            format!(
                "{COLUMNS:?} where {} {}: 2 of 3 rows{by}",
                FILTER.0, FILTER.1
            ),
        ))
    }

    fn save(&self, made: &mut Made, csv: &str) -> Result<String> {
        let upload = uploaded(&made.upload, "save")?;
        made.saved_name = format!("{}-cut.csv", self.username);
        let metadata = json!({"generated_file_details": {
            "source_file": upload.file_name,
            "columns": COLUMNS,
            "column_filters": {FILTER.0: FILTER.1},
            "original_file_id": upload.file_id,
        }});
        let form = Form::new()
            .part(
                "file",
                Part::bytes(csv.as_bytes().to_vec()).file_name(made.saved_name.clone()),
            )
            .text("file_name", made.saved_name.clone())
            .text("metadata", metadata.to_string())
            .text("original_file_id", upload.file_id.clone());
        let req = self
            .signed_in(Method::POST, "/api/list_cutter/save_generated_file/", made)
            .multipart(form);
        let (text, by) = self.call("save", req, 201)?;
        let file_id = parse("save", &text)?["file_id"]
            .as_str()
            .ok_or_else(|| Error::Check("save: no file_id in the answer".into()))?
            .to_string();
        made.saved = Some(file_id);
        Ok(format!("saved the cut as {}{by}", made.saved_name))
    }

    fn download(&self, made: &Made, csv: &str) -> Result<String> {
        let path = format!("/api/list_cutter/download/{}/", made.saved_name);
        let req = self.signed_in(Method::GET, &path, made);
        let (got, by) = self.call("download", req, 200)?;
        if got != csv {
            return Err(Error::Check(format!(
                "download: expected the saved cut {csv:?}, got {got:?}{by}"
            )));
        }
        Ok(format!("downloaded {} bytes, as saved{by}", got.len()))
    }

    /// Deletes the files, then the account on both sides.
    fn cleanup(&self, made: &mut Made) -> Result<String> {
        if made.access.is_none() && made.registered {
            // Registration may have gone through unanswered: sign in to find out.
            let _ = self.login(made);
        }
        let mut said = Vec::new();
        let files: Vec<String> = [
            made.saved.clone(),
            made.upload.as_ref().map(|u| u.file_id.clone()),
        ]
        .into_iter()
        .flatten()
        .collect();
        for file_id in &files {
            let path = format!("/api/list_cutter/delete/{file_id}/");
            let req = self.signed_in(Method::DELETE, &path, made);
            let resp = self.send("delete file", req)?;
            if resp.status().as_u16() != 404 {
                expect("delete file", resp, 204)?;
            }
            said.push(format!("file {file_id} deleted"));
        }
        let Some(id) = made.user_id else {
            return Ok(match made.registered {
                true => "no account to remove (the registration did not go through)".into(),
                false => "nothing to clean up".into(),
            });
        };
        said.push(self.remove_account(id, &files)?);
        Ok(said.join("; "))
    }

    /// Removes the account from the app and from legacy, waiting (up to the
    /// settle time) for replication to carry the file deletions, which both
    /// removals require; then, when a replicator runs, waits for a round that
    /// started after it and removes again whatever that round brought back.
    fn remove_account(&self, id: i64, files: &[String]) -> Result<String> {
        let deadline = Instant::now() + self.opts.settle;
        let mut legacy = Legacy::connect(&self.opts.database_url)?;
        let mut removed = (false, false);
        for pass in 0..3 {
            let (on_legacy, on_app) = loop {
                let on_legacy = self.remove_on_legacy(&mut legacy, id, files)?;
                let on_app = self.remove_on_app(id)?;
                // One side may go while the other still waits for its files.
                removed.0 |= on_app == Gone::Removed;
                removed.1 |= on_legacy == Gone::Removed;
                if on_legacy != Gone::HoldsFiles && on_app != Gone::HoldsFiles {
                    break (on_legacy, on_app);
                }
                if Instant::now() >= deadline {
                    return Err(Error::Check(format!(
                        "account {id} still holds files after {} s (app: {on_app:?}, legacy: {on_legacy:?}); is `cutover replicate` running?",
                        self.opts.settle.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(500));
            };
            // The round after the removal brought nothing back.
            if pass > 0 && (on_legacy, on_app) == (Gone::Absent, Gone::Absent) {
                break;
            }
            let state = self
                .opts
                .admin
                .admin(Method::GET, "/admin/replication", None)
                .unwrap_or(Value::Null);
            // Only a replicator that reports healthy rounds can bring the account
            // back; a retired or stalled one is not waited for.
            if state["state"] != "healthy" {
                break;
            }
            let since = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let left = deadline.saturating_duration_since(Instant::now());
            execute::drained(
                &self.opts.admin,
                since,
                left.max(Duration::from_secs(5)),
                execute::BOTH_WAYS,
            )?;
        }
        let side = |b: bool| if b { "removed" } else { "not there" };
        Ok(format!(
            "account {id} ({}): app {} (admin API), legacy {} (database); neither public API deletes accounts",
            self.username,
            side(removed.0),
            side(removed.1)
        ))
    }

    fn remove_on_app(&self, id: i64) -> Result<Gone> {
        let path = format!(
            "/api/admin/users/{id}?username={}",
            crate::percent::encode(&self.username)
        );
        match self.opts.admin.admin(Method::DELETE, &path, None) {
            Ok(_) => Ok(Gone::Removed),
            // Not "No admin endpoint": an app without this endpoint is a failure.
            Err(why)
                if why.status().is_some_and(|(status, message)| {
                    status == 404 && message.starts_with("No user ")
                }) =>
            {
                Ok(Gone::Absent)
            }
            Err(why)
                if why
                    .status()
                    .is_some_and(|(_, message)| message.contains("still has")) =>
            {
                Ok(Gone::HoldsFiles)
            }
            Err(why) => Err(why).context(format!("removing account {id} on the app")),
        }
    }

    fn remove_on_legacy(&self, db: &mut Legacy, id: i64, files: &[String]) -> Result<Gone> {
        db.remove_account(id, &self.username, files)
            .context(format!("removing account {id} on legacy"))
    }
}

/// A name no one else has: the time and the process.
fn throwaway_name() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("validate_{ms}_{}", std::process::id())
}

pub fn run(opts: &Options, log: &mut RunLog) -> Result<()> {
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(Error::Client)?;
    let username = throwaway_name();
    // Unguessable for the minutes it lives: the name, the clock and the address of a
    // stack value, hashed.
    let seed = format!("{username} {:?} {:p}", SystemTime::now(), &username);
    let password = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes()));
    let journey = Journey {
        opts,
        http,
        username,
        password: password[..24].to_string(),
    };
    let mut made = Made::default();
    let mut cut = String::new();
    let result = log
        .step("health", Effect::Reads, "check the deep health", || {
            journey.health()
        })
        .and_then(|_| {
            log.step(
                "register",
                Effect::Changes,
                "register a throwaway user",
                || journey.register(&mut made),
            )
        })
        .and_then(|_| {
            log.step("login", Effect::Changes, "sign in as that user", || {
                journey.login(&mut made)
            })
        })
        .and_then(|_| {
            log.step("upload", Effect::Changes, "upload a small CSV", || {
                journey.upload(&mut made)
            })
        })
        .and_then(|_| {
            log.step(
                "cut",
                Effect::Changes,
                "cut it: two columns, one filter",
                || {
                    journey.cut(&made).map(|(csv, detail)| {
                        cut = csv;
                        detail
                    })
                },
            )
        })
        .and_then(|_| {
            log.step("save", Effect::Changes, "save the cut", || {
                journey.save(&mut made, &cut)
            })
        })
        .and_then(|_| {
            log.step(
                "download",
                Effect::Changes,
                "download the saved cut",
                || journey.download(&made, &cut),
            )
        });
    let cleaned = log.step(
        "cleanup",
        Effect::Changes,
        "delete the files and the test user on both sides",
        || journey.cleanup(&mut made),
    );
    let result = result.and(cleaned);
    log.finish(if result.is_ok() { "done" } else { "failed" })?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_answer_is_its_records_whatever_the_line_endings() {
        assert_eq!(records("name,amount\r\nada,12\r\ncyd,7"), EXPECTED);
        assert_eq!(records("name,amount\nada,12\ncyd,7\n"), EXPECTED);
    }

    #[test]
    fn a_throwaway_name_is_a_valid_username() {
        let name = throwaway_name();
        assert!(name.starts_with("validate_"), "{name}");
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }

    #[test]
    fn a_step_after_the_upload_says_there_was_none() {
        let err = uploaded(&None, "cut").map(|_| ()).unwrap_err();
        assert_eq!(err.to_string(), "cut: nothing uploaded");
    }
}
