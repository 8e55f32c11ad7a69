//! The sender's metrics.

use herald_store::AttemptResult;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an attempt.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// `delivered`, `will-retry` or `failed`.
    pub result: &'static str,
    /// `2xx`, `3xx`, `4xx`, `5xx`, or `none` when no response came.
    pub status_class: &'static str,
}

/// Labels of a retry-stage publish.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// The stage's delay, as in its queue name (`15s`).
    pub stage: String,
}

herald_runtime::label_values! {
    /// Why a delivery was dropped without an attempt.
    pub enum DropReason {
        WebhookDeleted => "webhook_deleted",
        /// Not a Herald delivery: moved to the rejected queue.
        Malformed => "malformed",
    }
}

/// Labels of a delivery dropped without an attempt.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    pub reason: DropReason,
}

/// Counters, gauges and histograms of the sender.
#[derive(Clone)]
pub struct SenderMetrics {
    pub attempts: Family<AttemptLabels, Counter>,
    pub retries_scheduled: Family<StageLabels, Counter>,
    pub failed: Counter,
    pub dropped: Family<DropLabels, Counter>,
    pub deferred: Counter,
    pub in_flight: Gauge,
    pub broker_connected: Gauge,
    /// The registry version whose every change the target cache has taken in.
    pub registry_version: Gauge,
    pub request_seconds: Histogram,
    pub delivery_latency_seconds: Histogram,
    /// From entering the deliveries queue to being taken by a sender.
    pub queue_wait_seconds: Histogram,
}

impl SenderMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            attempts: Family::default(),
            retries_scheduled: Family::default(),
            failed: Counter::default(),
            dropped: Family::default(),
            deferred: Counter::default(),
            in_flight: Gauge::default(),
            broker_connected: Gauge::default(),
            registry_version: Gauge::default(),
            request_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            delivery_latency_seconds: Histogram::new(exponential_buckets(0.001, 2.5, 20)),
            queue_wait_seconds: Histogram::new(exponential_buckets(0.5, 2.0, 16)),
        };
        registry.register(
            "herald_sender_registry_version",
            "The registry version whose every change the target cache has taken in",
            metrics.registry_version.clone(),
        );
        registry.register(
            "herald_sender_attempts",
            "Delivery attempts, by result and status class",
            metrics.attempts.clone(),
        );
        registry.register(
            "herald_sender_retries_scheduled",
            "Deliveries published to a retry stage, by stage",
            metrics.retries_scheduled.clone(),
        );
        registry.register(
            "herald_sender_failed",
            "Deliveries parked in the failed queue",
            metrics.failed.clone(),
        );
        registry.register(
            "herald_sender_dropped",
            "Deliveries dropped without an attempt, by reason",
            metrics.dropped.clone(),
        );
        registry.register(
            "herald_sender_deferred",
            "Deliveries deferred, unspent, because their webhook had the most deliveries in flight it may have",
            metrics.deferred.clone(),
        );
        registry.register(
            "herald_sender_in_flight",
            "Deliveries being worked on",
            metrics.in_flight.clone(),
        );
        registry.register(
            "herald_sender_broker_connected",
            "1 while the sender is connected to the broker and consuming",
            metrics.broker_connected.clone(),
        );
        registry.register(
            "herald_sender_request_duration_seconds",
            "Duration of each HTTP attempt",
            metrics.request_seconds.clone(),
        );
        registry.register(
            "herald_sender_delivery_latency_seconds",
            "Time from the event's timestamp to its successful delivery",
            metrics.delivery_latency_seconds.clone(),
        );
        registry.register(
            "herald_sender_queue_wait_seconds",
            "Time a delivery waited in the deliveries queue before a sender took it (to the second)",
            metrics.queue_wait_seconds.clone(),
        );
        // Every known series starts at zero, so that rates and dashboards work from the start.
        let _ = metrics.attempts.get_or_create(&AttemptLabels {
            result: AttemptResult::Delivered.as_str(),
            status_class: status_class(Some(200)),
        });
        for result in [AttemptResult::WillRetry, AttemptResult::Failed] {
            for status_class in [Some(300), Some(400), Some(500), None].map(status_class) {
                let _ = metrics.attempts.get_or_create(&AttemptLabels {
                    result: result.as_str(),
                    status_class,
                });
            }
        }
        for &reason in DropReason::ALL {
            let _ = metrics.dropped.get_or_create(&DropLabels { reason });
        }
        metrics
    }
}

/// The status class label of an HTTP status.
pub fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
        None => "none",
    }
}
