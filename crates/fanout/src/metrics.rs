//! Fanout's metrics.

use herald_contract::RejectReason;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

herald_runtime::label_values! {
    /// What became of a consumed event.
    pub enum EventOutcome {
        /// Delivery messages were published for it.
        FannedOut => "fanned_out",
        /// No webhook subscribes to it.
        Unmatched => "unmatched",
        /// It went to the rejected queue.
        Rejected => "rejected",
        /// It went back to the queue after a failure.
        Returned => "returned",
    }
}

/// Labels of consumed events.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: EventOutcome,
}

/// Labels of rejected events.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

/// Counters and gauges of the fanout service.
#[derive(Clone)]
pub struct FanoutMetrics {
    pub events: Family<OutcomeLabels, Counter>,
    pub rejected: Family<ReasonLabels, Counter>,
    pub deliveries_published: Counter,
    pub registry_webhooks: Gauge,
    /// The registry version the routing index holds every change of.
    pub registry_version: Gauge,
    pub broker_connected: Gauge,
    /// 1 while new deliveries go to the overflow queue (the deliveries queue holds a backlog).
    pub overflowing: Gauge,
    pub fanout_seconds: Histogram,
}

impl FanoutMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            events: Family::default(),
            rejected: Family::default(),
            deliveries_published: Counter::default(),
            registry_webhooks: Gauge::default(),
            registry_version: Gauge::default(),
            broker_connected: Gauge::default(),
            overflowing: Gauge::default(),
            fanout_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
        };
        registry.register(
            "herald_fanout_events",
            "Domain events consumed, by outcome",
            metrics.events.clone(),
        );
        registry.register(
            "herald_fanout_events_rejected",
            "Domain events moved to the rejected queue, by reason",
            metrics.rejected.clone(),
        );
        registry.register(
            "herald_fanout_deliveries_published",
            "Delivery messages published and confirmed",
            metrics.deliveries_published.clone(),
        );
        registry.register(
            "herald_fanout_registry_webhooks",
            "Enabled webhooks in the routing index",
            metrics.registry_webhooks.clone(),
        );
        registry.register(
            "herald_fanout_registry_version",
            "The registry version whose every change the routing index holds",
            metrics.registry_version.clone(),
        );
        registry.register(
            "herald_fanout_broker_connected",
            "1 while fanout is connected to the broker and consuming",
            metrics.broker_connected.clone(),
        );
        registry.register(
            "herald_fanout_overflowing",
            "1 while the deliveries queue holds OVERFLOW_AFTER deliveries or more and new ones go to the overflow queue",
            metrics.overflowing.clone(),
        );
        registry.register(
            "herald_fanout_event_duration_seconds",
            "Time from receiving an event to acknowledging it",
            metrics.fanout_seconds.clone(),
        );
        // Every known series starts at zero, so that rates and dashboards work from the start.
        for &outcome in EventOutcome::ALL {
            let _ = metrics.events.get_or_create(&OutcomeLabels { outcome });
        }
        for reason in RejectReason::LABELS {
            let _ = metrics.rejected.get_or_create(&ReasonLabels { reason });
        }
        metrics
    }
}
