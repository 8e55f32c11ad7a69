//! Herald's fanout service.
//!
//! Fanout consumes domain events from the fanout queue (bound to the events exchange) and
//! publishes one delivery message per matching webhook to the deliveries queue.
//!
//! - [`index`]: the in-memory routing index (tenant → subscribed webhooks), pure and
//!   unit-tested; matching an event never touches the database.
//! - [`registry`]: keeps the index equal to the registry: a full load at start, then every
//!   change notification, plus a periodic full reload as a safety net; reports the registry
//!   version the index holds (`herald_fanout_registry_version`).
//! - [`service`]: the consumer. An event is acknowledged only after every delivery message it
//!   led to is confirmed by the broker; an event that cannot be parsed is moved to the rejected
//!   queue with its reason (confirmed, then acknowledged). A crash at any point therefore
//!   means a redelivery of the event, never a loss.
//! - [`lanes`]: which queue a delivery goes to: the deliveries queue, or its overflow once
//!   the deliveries queue holds a backlog, so that fresh events do not wait behind it.
//! - [`configuration`], [`metrics`], [`startup`]: the process around it.

pub mod configuration;
pub mod index;
pub mod lanes;
pub mod metrics;
pub mod registry;
pub mod service;
pub mod startup;

pub use configuration::FanoutConfig;
pub use service::{Fanout, FanoutSettings};
