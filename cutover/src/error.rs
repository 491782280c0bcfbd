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
