//! JSON responses and the error type of request handlers.

use worker::{Response, Result};

/// `{"error": message}` with `status`.
pub fn json_error(status: u16, message: &str) -> Result<Response> {
    Ok(Response::from_json(&serde_json::json!({ "error": message }))?.with_status(status))
}

/// Why a handler stops: an answer for the client, or an internal failure (a 500).
pub enum Reject {
    Client(u16, String),
    Internal(worker::Error),
}

impl Reject {
    pub fn bad_request(message: impl Into<String>) -> Reject {
        Reject::Client(400, message.into())
    }

    pub fn into_response(self) -> Result<Response> {
        match self {
            Reject::Client(status, message) => json_error(status, &message),
            Reject::Internal(error) => {
                worker::console_error!("internal error: {error}");
                json_error(500, "Internal server error")
            }
        }
    }
}

impl From<worker::Error> for Reject {
    fn from(error: worker::Error) -> Reject {
        Reject::Internal(error)
    }
}
