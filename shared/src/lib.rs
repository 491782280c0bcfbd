//! The logic of List Cutter's edge cutover, free of any Workers binding so that it
//! runs natively (unit tests, the operator CLI) and inside both Workers (wasm).

pub mod accounts;
pub mod app_route;
pub mod byte_range;
pub mod cors;
pub mod csv_cut;
pub mod cut_request;
pub mod files;
pub mod frontend;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod jwt;
pub mod migration;
pub mod multipart;
pub mod ops;
pub mod password;
pub mod refusal;
pub mod routing;
pub mod saved_filters;
pub mod shadow;
