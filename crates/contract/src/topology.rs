//! Names on the broker: the events exchange, Herald's queues and the headers its messages carry.
//!
//! Every exchange, queue and header name is built here and nowhere else.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::ladder::stage_label;

/// The exchange and queue names of one Herald installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    events_exchange: String,
    prefix: String,
    operational_exchange: String,
}

impl Topology {
    pub const DEFAULT_EXCHANGE: &'static str = "platform.events";
    pub const DEFAULT_PREFIX: &'static str = "webhooks";
    pub const DEFAULT_OPERATIONAL_EXCHANGE: &'static str = "herald.operational";
    /// The binding key of the fanout queue: every event type.
    pub const FANOUT_BINDING_KEY: &'static str = "#";

    pub fn new(events_exchange: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            events_exchange: events_exchange.into(),
            prefix: prefix.into(),
            operational_exchange: Self::DEFAULT_OPERATIONAL_EXCHANGE.into(),
        }
    }

    /// The same names, with operational events published to `exchange`.
    pub fn with_operational_exchange(self, exchange: impl Into<String>) -> Self {
        Self {
            operational_exchange: exchange.into(),
            ..self
        }
    }

    /// The topic exchange Herald publishes operational events to (routing key: their type).
    pub fn operational_exchange(&self) -> &str {
        &self.operational_exchange
    }

    /// The topic exchange platform services publish domain events to.
    pub fn events_exchange(&self) -> &str {
        &self.events_exchange
    }

    /// Events waiting for fanout.
    pub fn fanout_queue(&self) -> String {
        format!("{}.fanout", self.prefix)
    }

    /// One message per (event, webhook), consumed by the senders.
    pub fn deliveries_queue(&self) -> String {
        format!("{}.deliveries", self.prefix)
    }

    /// Deliveries fanout publishes while the deliveries queue already holds a backlog
    /// (`OVERFLOW_AFTER` waiting). The senders consume both queues, so deliveries of events
    /// that arrive during a drain wait behind a short queue, not behind the whole backlog.
    pub fn overflow_queue(&self) -> String {
        format!("{}.overflow", self.prefix)
    }

    /// The retry stage that holds a delivery for `delay`.
    pub fn retry_queue(&self, delay: Duration) -> String {
        format!("{}.retry.{}", self.prefix, stage_label(delay))
    }

    /// Deliveries that failed every attempt.
    pub fn failed_queue(&self) -> String {
        format!("{}.failed", self.prefix)
    }

    /// Events (and delivery messages) Herald could not accept.
    pub fn rejected_queue(&self) -> String {
        format!("{}.rejected", self.prefix)
    }

    /// An always-empty queue whose one exclusive consumer is the lock an operation on the
    /// failed or rejected queue holds (`herald failed …`, the API's replay and purge): two
    /// operations never sweep at once, whichever processes run them.
    pub fn parked_lock_queue(&self) -> String {
        format!("{}.parked.lock", self.prefix)
    }
}

impl Default for Topology {
    fn default() -> Self {
        Self::new(Self::DEFAULT_EXCHANGE, Self::DEFAULT_PREFIX)
    }
}

/// The kind of queue Herald declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    /// Replicated, and dead-letters at least once: nothing is lost in a retry stage.
    #[default]
    Quorum,
    /// A single-node queue; its retry stages dead-letter at most once.
    Classic,
}

impl QueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Quorum => "quorum",
            QueueType::Classic => "classic",
        }
    }
}

impl fmt::Display for QueueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QueueType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "quorum" => Ok(QueueType::Quorum),
            "classic" => Ok(QueueType::Classic),
            other => Err(format!("`{other}` is not a queue type (quorum or classic)")),
        }
    }
}

/// Header names of Herald's messages.
///
/// Delivery messages carry the routing facts as headers and the exact request body as their
/// body; a message parked in the failed queue adds the outcome of its last attempt.
pub mod headers {
    /// The webhook a delivery is for (string).
    pub const WEBHOOK_ID: &str = "x-webhook-id";
    /// The tenant that owns the webhook (string).
    pub const TENANT_ID: &str = "x-tenant-id";
    /// The domain event's id (string).
    pub const EVENT_ID: &str = "x-event-id";
    /// The domain event's type (string).
    pub const EVENT_TYPE: &str = "x-event-type";
    /// The event's time, RFC 3339 (string): the start of the delivery-latency clock.
    pub const EVENT_TIMESTAMP: &str = "x-event-timestamp";
    /// Attempts made so far (integer). Herald's own count: never derived from `x-death`.
    pub const ATTEMPTS: &str = "x-attempts";
    /// When the first attempt was made, RFC 3339 (string).
    pub const FIRST_ATTEMPT_AT: &str = "x-first-attempt-at";
    /// The HTTP status of the last attempt (integer); absent when no response came.
    pub const LAST_STATUS: &str = "x-last-status";
    /// The last attempt's failure as a short sentence (string).
    pub const LAST_ERROR: &str = "x-last-error";
    /// When the delivery was parked in the failed queue, RFC 3339 (string).
    pub const FAILED_AT: &str = "x-failed-at";
    /// Why an event or message was rejected (string).
    pub const REJECT_REASON: &str = "x-reject-reason";
    /// The seal fanout puts on a delivery message (`v1,<key id>,<base64 MAC>`, string).
    pub const SEAL: &str = "x-herald-seal";
    /// W3C trace context.
    pub const TRACEPARENT: &str = "traceparent";
    /// W3C trace state.
    pub const TRACESTATE: &str = "tracestate";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_match_the_contract() {
        let topology = Topology::default();
        assert_eq!(topology.events_exchange(), "platform.events");
        assert_eq!(topology.fanout_queue(), "webhooks.fanout");
        assert_eq!(topology.deliveries_queue(), "webhooks.deliveries");
        assert_eq!(
            topology.retry_queue(Duration::from_secs(15)),
            "webhooks.retry.15s"
        );
        assert_eq!(
            topology.retry_queue(Duration::from_secs(60)),
            "webhooks.retry.60s"
        );
        assert_eq!(
            topology.retry_queue(Duration::from_millis(500)),
            "webhooks.retry.500ms"
        );
        assert_eq!(topology.failed_queue(), "webhooks.failed");
        assert_eq!(topology.rejected_queue(), "webhooks.rejected");
        assert_eq!(topology.parked_lock_queue(), "webhooks.parked.lock");
    }

    #[test]
    fn queue_types_parse() {
        assert_eq!("quorum".parse(), Ok(QueueType::Quorum));
        assert_eq!("classic".parse(), Ok(QueueType::Classic));
        assert!("stream".parse::<QueueType>().is_err());
    }
}
