//! What every Herald process shares.
//!
//! - [`args`]: the environment variables (each also a `--flag`) common to several commands,
//!   turned into the broker and database configurations.
//! - [`http`]: serving HTTP within limits (head and request timeouts, a connection cap).
//! - [`process`]: serving health, readiness and metrics, and preparing the database, around a
//!   process's work; [`health`] and [`database`] hold the pieces.
//! - [`broker`]: watching the broker from a process that does not consume.
//! - [`labels`]: metric label values declared once, as enums ([`label_values!`]).
//! - [`escape`]: control characters in text from outside shown escaped (logs, terminals).
//! - [`telemetry`]: logging (text or JSON) and OTLP trace export; [`trace`]: W3C trace context
//!   carried across messages.
//! - [`secret`]: settings that hold secrets (never printed; `<NAME>_FILE` supported).
//! - [`shutdown`]: SIGTERM/SIGINT as a cancellation token.
//! - [`retry`]: capped exponential backoff with jitter, and the loop that keeps a broker
//!   session alive across connection failures.

pub mod args;
pub mod broker;
pub mod database;
pub mod escape;
pub mod health;
pub mod http;
pub mod labels;
pub mod process;
pub mod retry;
pub mod secret;
pub mod shutdown;

/// Ends the process after a fatal error: one line on standard error (the error and its
/// causes, `: `-separated) and exit code 1.
pub fn exit_on_error(result: anyhow::Result<()>) {
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
pub mod telemetry;
pub mod trace;

pub use axum::Router;
pub use health::{Readiness, ReadyFlag};
pub use prometheus_client::registry::Registry;
