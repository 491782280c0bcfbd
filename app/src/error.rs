//! The one error type of the app's handlers: every way a request can end other
//! than in success, each with the body shape its API promises.

use serde_json::{json, Value};
use shared::app_route::Refusal;
use worker::{Method, Response};

use crate::http;

/// Why a handler stops.
#[derive(Debug)]
pub enum ApiError {
    /// `{"error": message}`: the shape of the Workers-era and admin APIs and of
    /// the anonymous cutter.
    Client(u16, String),
    /// `{"detail": message}`: DRF's shape, for the legacy accounts API.
    Detail(u16, String),
    /// Another JSON body: DRF's field errors, simplejwt's token errors.
    Body(u16, Value),
    /// A complete answer (a 401 with its challenge, a 429 with `Retry-After`).
    Answer(Response),
    /// An internal failure: logged, and a generic 500 for the client.
    Internal(worker::Error),
}

/// What a handler returns.
pub type ApiResult<T = Response> = std::result::Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::Client(400, message.into())
    }

    /// An internal failure of the step `context` (named in the log only).
    pub fn internal(context: &str, error: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(worker::Error::RustError(format!("{context}: {error}")))
    }

    /// The 405 of a known path asked with `method`, in the path's shape.
    pub fn method_not_allowed(refusal: Refusal, method: &Method) -> ApiError {
        match refusal {
            Refusal::Drf => {
                ApiError::Detail(405, format!("Method \"{}\" not allowed.", method.as_ref()))
            }
            Refusal::Plain => ApiError::Client(405, "method not allowed".into()),
        }
    }

    /// The same refusal in DRF's `{"detail"}` shape (the accounts API's).
    pub fn into_detail(self) -> ApiError {
        match self {
            ApiError::Client(status, message) => ApiError::Detail(status, message),
            other => other,
        }
    }

    pub fn into_response(self) -> Response {
        match self {
            ApiError::Client(status, message) => http::json(status, &json!({ "error": message })),
            ApiError::Detail(status, message) => http::detail(status, &message),
            ApiError::Body(status, body) => http::json(status, &body),
            ApiError::Answer(response) => response,
            ApiError::Internal(error) => {
                worker::console_error!("internal error: {error}");
                http::json(500, &json!({"error": "Internal server error"}))
            }
        }
    }
}

impl From<worker::Error> for ApiError {
    fn from(error: worker::Error) -> ApiError {
        ApiError::Internal(error)
    }
}
