//! Herald's sender service.
//!
//! Senders compete on the deliveries queue; run as many replicas as the load needs.
//!
//! - [`service`]: the consumer. One attempt per delivery message; the result decides between
//!   acknowledging, publishing to the next retry stage, or parking in the failed queue, and
//!   the message is acknowledged only once that publish is confirmed.
//!   How an attempt is made (client, headers, network policy) is `herald-delivery`'s.
//! - [`decision`]: what a delivery leads to (attempted or dropped; recorded how; retried,
//!   parked or done), as pure functions.
//! - [`targets`]: the cache of webhook definitions, evicted on change notifications.
//! - [`configuration`], [`metrics`], [`startup`]: the process around it.

pub mod configuration;
pub mod decision;
pub mod limiter;
pub mod metrics;
pub mod service;
pub mod startup;
pub mod targets;

pub use configuration::{SenderArgs, SenderConfig};
pub use service::{Sender, SenderSettings};
