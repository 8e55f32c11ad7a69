//! The contract Herald shares between its services and with the platform that feeds it.
//!
//! Everything other programs see, and everything more than one Herald service must agree on,
//! is defined here exactly once:
//!
//! - [`catalog`]: the event types a webhook can subscribe to, with descriptions and sample data.
//! - [`ids`]: validated identifiers ([`TenantId`], [`WebhookId`], [`EventId`]).
//! - [`event`]: the event message platform services publish ([`EventMessage`],
//!   [`OutgoingEvent`]), and parsing one into a [`DomainEvent`] or into the [`RejectReason`]
//!   that sends it to the rejected queue.
//! - [`payload`]: the exact bytes POSTed to an endpoint (`{"meta":{...},"data":{...}}`).
//! - [`signing`]: Standard Webhooks signing secrets and signatures.
//! - [`ladder`]: the retry ladder and what follows a failed attempt.
//! - [`operational`]: the operational events Herald publishes about webhooks (failing,
//!   recovered, disabled, a delivery parked as failed).
//! - [`topology`]: exchange, queue and header names.
//! - [`trace_context`]: W3C `traceparent` / `tracestate` from publishers, validated.
//!
//! The crate does no I/O: the services own the broker, the database and the network.

pub mod catalog;
pub mod event;
pub mod ids;
pub mod ladder;
pub mod operational;
pub mod payload;
pub mod signing;
pub mod topology;
pub mod trace_context;

pub use catalog::{EventType, EventTypeSet};
pub use event::{DomainEvent, EventEnvelope, EventMessage, OutgoingEvent, RejectReason};
pub use ids::{EventId, TenantId, WebhookId};
pub use ladder::{NextStep, RetryLadder};
pub use signing::SigningSecret;
pub use topology::{QueueType, Topology};

/// Formats a timestamp as RFC 3339 in UTC with a `Z` suffix, the one format Herald emits.
pub fn format_timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
