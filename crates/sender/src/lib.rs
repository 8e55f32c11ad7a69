//! Herald's sender service.
//!
//! Senders compete on the deliveries queue; run as many replicas as the load needs.
//!
//! - [`service`]: the consumer. One attempt per delivery message; the result decides between
//!   acknowledging, publishing to the next retry stage, or parking in the failed queue, and
//!   the message is acknowledged only once that publish is confirmed.
//! - [`client`]: the HTTP client (signing, timeouts, no redirects, kept-alive connections),
//!   shared with the management API's test route.
//! - [`policy`]: which addresses may be delivered to.
//! - [`targets`]: the cache of webhook definitions, evicted on change notifications.
//! - [`configuration`], [`metrics`], [`startup`]: the process around it.

pub mod client;
pub mod configuration;
pub mod limiter;
pub mod metrics;
pub mod policy;
pub mod service;
pub mod startup;
pub mod targets;

pub use client::{AttemptOutcome, AttemptRequest, ClientSettings, DeliveryClient};
pub use configuration::{DeliveryArgs, SenderArgs, SenderConfig};
pub use service::{Sender, SenderSettings};
