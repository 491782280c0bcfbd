//! Why a command (or one of its steps) failed. Each kind carries what the
//! operator needs to find the cause: the request and the answer, the file and
//! its role, legacy's database error, or what to fix. The texts are the ones the
//! run logs, the reports and `cutover: …` on stderr show.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;

use shared::routing::Slot;

#[derive(Debug)]
pub enum Error {
    /// The HTTP client could not be set up.
    Client(reqwest::Error),
    /// A request got no usable answer: no connection, a timeout, or a body
    /// that could not be read. `call` names the request as messages show it.
    Unanswered {
        call: String,
        source: reqwest::Error,
    },
    /// An answer with a failing status, and the reason it gave.
    Status {
        call: String,
        status: u16,
        message: String,
    },
    /// An answer whose status is not the one a step needs, with the start of
    /// its body and who served it (` (served by …)`, or nothing).
    NotExpected {
        call: String,
        status: u16,
        expected: u16,
        served_by: String,
        excerpt: String,
    },
    /// An answer of Cloudflare's API that is not its envelope.
    NotEnvelope {
        call: String,
        status: u16,
        excerpt: String,
    },
    /// A local file (`role`: checkpoint, run log, dns config…) that could not
    /// be read or written.
    Io {
        role: Option<&'static str>,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A local file whose content does not parse.
    Parse {
        role: &'static str,
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A line of a dotenv file that does not parse (its text is never shown:
    /// it may hold a secret).
    DotenvLine { line: usize, why: &'static str },
    /// Legacy's PostgreSQL, and what was being done when that is said.
    Legacy {
        doing: Option<String>,
        source: postgres::Error,
    },
    /// JSON that is not the record or answer expected.
    Json {
        what: Option<String>,
        source: serde_json::Error,
    },
    /// A program the tool runs (wrangler, the checkout's scripts) that could
    /// not be started.
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// A program that ran and failed, with the end of its output.
    CommandFailed {
        program: Option<&'static str>,
        status: ExitStatus,
        output: String,
    },
    /// Something the operator must fix before anything is done: a missing
    /// token or argument, a legacy schema that is not the expected one.
    Refused(String),
    /// A config file's content that cannot be applied as it is.
    Config(String),
    /// A check that found the data, an answer or a deployment not as the step
    /// needs them.
    Check(String),
    /// `--strict`: the first item that could not be done stops the run.
    Strict { item: String, error: String },
    /// A step of the cutover failed after the freeze, and the rollback ran.
    RolledBack { step: String, source: Box<Error> },
    /// A blue-green release whose new slot failed its watch: the old one
    /// serves again.
    SwitchedBack {
        from: Slot,
        to: Slot,
        source: Box<Error>,
    },
    /// `source`, in the course of `context`.
    Context { context: String, source: Box<Error> },
}

impl Error {
    /// The app (or gateway) refused the request (a 4xx other than 429), which
    /// concerns this request, where no answer or a 5xx concerns the run.
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::Status { status, .. } => *status < 500 && *status != 429,
            _ => false,
        }
    }

    /// A failing answer's status and reason.
    pub fn status(&self) -> Option<(u16, &str)> {
        match self {
            Error::Status {
                status, message, ..
            } => Some((*status, message)),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Client(source) => write!(f, "{source}"),
            Error::Unanswered { call, source } => write!(f, "{call}: {source}"),
            Error::Status {
                call,
                status,
                message,
            } => write!(f, "{call}: HTTP {status}: {message}"),
            Error::NotExpected {
                call,
                status,
                expected,
                served_by,
                excerpt,
            } => write!(
                f,
                "{call}: HTTP {status}, expected {expected}{served_by}: {excerpt}"
            ),
            Error::NotEnvelope {
                call,
                status,
                excerpt,
            } => write!(
                f,
                "{call}: HTTP {status}, not Cloudflare's envelope: {excerpt}"
            ),
            Error::Io {
                role: Some(role),
                path,
                source,
            } => write!(f, "{role} {}: {source}", path.display()),
            Error::Io {
                role: None,
                path,
                source,
            } => write!(f, "{}: {source}", path.display()),
            Error::Parse { role, path, source } => {
                write!(f, "{role} {}: {source}", path.display())
            }
            Error::DotenvLine { line, why } => write!(f, "line {line}: {why}"),
            Error::Legacy {
                doing: Some(doing),
                source,
            } => write!(f, "{doing}: {source}"),
            Error::Legacy {
                doing: None,
                source,
            } => write!(f, "{source}"),
            Error::Json {
                what: Some(what),
                source,
            } => write!(f, "{what}: {source}"),
            Error::Json { what: None, source } => write!(f, "{source}"),
            Error::Spawn { program, source } => write!(f, "{program}: {source}"),
            Error::CommandFailed {
                program,
                status,
                output,
            } => match program {
                Some(program) => write!(f, "{program} failed ({status}): {output}"),
                None => write!(f, "failed ({status}): {output}"),
            },
            Error::Refused(why) | Error::Config(why) | Error::Check(why) => f.write_str(why),
            Error::Strict { item, error } => write!(f, "{item}: {error} (--strict)"),
            Error::RolledBack { step, source } => {
                write!(f, "{step} failed ({source}); rolled back")
            }
            Error::SwitchedBack { from, to, source } => {
                write!(f, "{to} failed its watch ({source}); {from} serves again")
            }
            Error::Context { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Client(source) | Error::Unanswered { source, .. } => Some(source),
            Error::Io { source, .. } | Error::Spawn { source, .. } => Some(source),
            Error::Parse { source, .. } => Some(source.as_ref()),
            Error::Legacy { source, .. } => Some(source),
            Error::Json { source, .. } => Some(source),
            Error::RolledBack { source, .. }
            | Error::SwitchedBack { source, .. }
            | Error::Context { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl From<postgres::Error> for Error {
    fn from(source: postgres::Error) -> Error {
        Error::Legacy {
            doing: None,
            source,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(source: serde_json::Error) -> Error {
        Error::Json { what: None, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Says what was being done when an error happened.
pub trait Context<T> {
    fn context(self, context: impl fmt::Display) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: context.to_string(),
            source: Box::new(e.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    fn status(status: u16) -> Error {
        Error::Status {
            call: "/api/admin/import/users".into(),
            status,
            message: "No user 7".into(),
        }
    }

    #[test]
    fn an_answer_says_the_call_its_status_and_reason() {
        assert_eq!(
            status(409).to_string(),
            "/api/admin/import/users: HTTP 409: No user 7"
        );
        let not_expected = Error::NotExpected {
            call: "register".into(),
            status: 500,
            expected: 201,
            served_by: " (served by legacy)".into(),
            excerpt: "oops".into(),
        };
        assert_eq!(
            not_expected.to_string(),
            "register: HTTP 500, expected 201 (served by legacy): oops"
        );
        let not_envelope = Error::NotEnvelope {
            call: "GET /zones".into(),
            status: 502,
            excerpt: "<html>".into(),
        };
        assert_eq!(
            not_envelope.to_string(),
            "GET /zones: HTTP 502, not Cloudflare's envelope: <html>"
        );
    }

    #[test]
    fn a_refusal_is_a_4xx_other_than_429() {
        assert!(status(400).is_refusal());
        assert!(status(404).is_refusal());
        assert!(!status(429).is_refusal());
        assert!(!status(500).is_refusal());
        assert!(!status(503).is_refusal());
        assert!(!Error::Check("no answer".into()).is_refusal());
        assert_eq!(status(404).status(), Some((404, "No user 7")));
        assert_eq!(Error::Check("x".into()).status(), None);
    }

    #[test]
    fn a_file_is_named_with_its_role() {
        let gone = || std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let io = Error::Io {
            role: Some("checkpoint"),
            path: "state.json".into(),
            source: gone(),
        };
        assert_eq!(io.to_string(), "checkpoint state.json: gone");
        let bare = Error::Io {
            role: None,
            path: "media/uploads".into(),
            source: gone(),
        };
        assert_eq!(bare.to_string(), "media/uploads: gone");
        let line = Error::DotenvLine {
            line: 2,
            why: "not NAME=value",
        };
        let parse = Error::Parse {
            role: "secrets file",
            path: "prod.env".into(),
            source: Box::new(line),
        };
        assert_eq!(
            parse.to_string(),
            "secrets file prod.env: line 2: not NAME=value"
        );
        assert!(std::error::Error::source(&parse).is_some());
    }

    #[test]
    fn json_says_what_it_was_when_told() {
        let bad = || serde_json::from_str::<u8>("x").unwrap_err();
        let cause = bad().to_string();
        assert_eq!(Error::from(bad()).to_string(), cause);
        let named = Error::Json {
            what: Some("GET /zones".into()),
            source: bad(),
        };
        assert_eq!(named.to_string(), format!("GET /zones: {cause}"));
    }

    #[test]
    fn a_program_says_how_it_ended() {
        let failed = |program| Error::CommandFailed {
            program,
            status: ExitStatus::from_raw(256),
            output: "a | b".into(),
        };
        assert_eq!(failed(None).to_string(), "failed (exit status: 1): a | b");
        assert_eq!(
            failed(Some("wrangler")).to_string(),
            "wrangler failed (exit status: 1): a | b"
        );
        let spawn = Error::Spawn {
            program: "wrangler".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(spawn.to_string(), "wrangler: no such file");
    }

    #[test]
    fn outcomes_of_runs_name_what_failed_and_what_was_done() {
        let strict = Error::Strict {
            item: "user 3".into(),
            error: "bad email".into(),
        };
        assert_eq!(strict.to_string(), "user 3: bad email (--strict)");
        let rolled = Error::RolledBack {
            step: "drain".into(),
            source: Box::new(Error::Check("no round".into())),
        };
        assert_eq!(rolled.to_string(), "drain failed (no round); rolled back");
        let back = Error::SwitchedBack {
            from: Slot::Blue,
            to: Slot::Green,
            source: Box::new(Error::Check("app error rate 9.0% > 5%".into())),
        };
        assert_eq!(
            back.to_string(),
            "green failed its watch (app error rate 9.0% > 5%); blue serves again"
        );
        let refused = Error::Refused("--interval must be 0 to 3600 seconds".into());
        assert_eq!(refused.to_string(), "--interval must be 0 to 3600 seconds");
    }

    #[test]
    fn context_comes_before_the_cause() {
        let failed: Result<()> = Err(status(404));
        let err = failed
            .context("removing account 7 on the app")
            .context("cleanup")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cleanup: removing account 7 on the app: /api/admin/import/users: HTTP 404: No user 7"
        );
        // Only an answer itself is a refusal, not an error that tells of one.
        assert!(!err.is_refusal());
    }
}
