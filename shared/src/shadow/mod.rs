//! Shadow diffing: for a sample of safe requests on listed routes, the gateway
//! also asks the side that is not serving, after the user's answer is on its way,
//! and compares the two answers (as Twitter's Diffy and GitHub's Scientist do).
//! What is pure lives here: which routes may be mirrored ([`routes`]), how two
//! answers are compared and what is noise ([`compare`]), the sample rate
//! ([`rate`]), the counts per route with redacted examples and learned noise
//! ([`book`]), when a route differs too often ([`thresholds`]) and the hold that
//! puts on raising the percentage ([`gate`]).

pub mod book;
pub mod compare;
pub mod gate;
pub mod rate;
pub mod routes;
pub mod thresholds;

pub use book::{Book, Observation, Outcome, Report};
pub use compare::{compare, Answer, Difference};
pub use routes::{shadowable, Route};
pub use thresholds::Thresholds;
