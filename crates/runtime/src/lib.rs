//! What every Herald process shares.
//!
//! - [`args`]: the environment variables (each also a `--flag`) common to several commands,
//!   turned into the broker and database configurations.
//! - [`telemetry`]: logging (text or JSON) and tracing.
//! - [`health`]: readiness flags and the `/healthz`, `/readyz` and `/metrics` routes.
//! - [`shutdown`]: SIGTERM/SIGINT as a cancellation token.
//! - [`retry`]: capped exponential backoff with jitter, and the loop that keeps a broker
//!   session alive across connection failures.

pub mod args;
pub mod broker;
pub mod database;
pub mod health;
pub mod process;
pub mod retry;
pub mod shutdown;
pub mod telemetry;
pub mod trace;

pub use axum::Router;
pub use health::{Readiness, ReadyFlag};
pub use prometheus_client::registry::Registry;
