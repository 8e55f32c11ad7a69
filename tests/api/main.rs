//! The management API against a real database: every route, its errors, hostile input,
//! tenant isolation, test deliveries, secret rotation, secrets at rest and the network policy.

#![allow(clippy::unwrap_used)]

mod console;
mod credentials;
mod errors;
mod hostile;
mod isolation;
mod policy;
mod routes;
mod secrets;
mod stats;
