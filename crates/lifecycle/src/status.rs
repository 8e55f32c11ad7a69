//! "Is anything stuck?": every Herald queue's depth and consumers, the age of the oldest
//! delivery waiting, the parked counts, and the webhooks failing now; as a report
//! (`herald status`, `GET /v1/status`) and as gauges sampled for Prometheus.
//!
//! Nothing here sweeps a queue: depths and consumers come from passive declarations, what
//! the senders hold and how far they have come from what they report to the database, the
//! failing webhooks from an index. It answers as fast with a million messages parked as with
//! none.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_broker::lapin::{Channel, Connection};
use herald_broker::topology::{inspect, queue_specs};
use herald_broker::{BrokerConfig, connect};
use herald_contract::format_timestamp;
use herald_runtime::retry::keep_running;
use herald_store::HealthStore;
use herald_store::health::FailingWebhook;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// The failing webhooks a report lists, at most.
const FAILING_LISTED: i64 = 100;

/// A sender that has not reported for this long is gone: what it held is back in the queue.
pub const REPORT_LIVENESS: Duration = Duration::from_secs(10);

/// One queue's state.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueStatus {
    pub name: String,
    /// Messages waiting to be taken.
    pub ready: u32,
    /// Messages taken and not yet acknowledged; `None` when no one reports it (the broker
    /// tells it only through its management plugin).
    pub unacknowledged: Option<u64>,
    pub consumers: u32,
}

/// A webhook failing now.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailingWebhookStatus {
    pub tenant_id: String,
    pub webhook_id: String,
    pub name: String,
    pub enabled: bool,
    /// When its current failing period began (RFC 3339).
    pub since: String,
    /// Attempts that failed since.
    pub failed_deliveries: u64,
    pub last_error: Option<String>,
}

impl From<FailingWebhook> for FailingWebhookStatus {
    fn from(failing: FailingWebhook) -> Self {
        Self {
            tenant_id: failing.tenant_id,
            webhook_id: failing.webhook_id,
            name: failing.name,
            enabled: failing.enabled,
            since: format_timestamp(failing.since),
            failed_deliveries: failing.failed_attempts,
            last_error: failing.last_error,
        }
    }
}

/// What `herald status` and `GET /v1/status` answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub checked_at: String,
    pub queues: Vec<QueueStatus>,
    /// How long the oldest delivery waiting in the deliveries queue has waited, at most, in
    /// seconds: 0 when none waits; `None` when deliveries wait and no sender ever took one.
    pub oldest_waiting_seconds: Option<f64>,
    /// Deliveries parked in the failed queue.
    pub failed: u32,
    /// Messages in the rejected queue.
    pub rejected: u32,
    /// Webhooks with only failures for `FAILING_AFTER` or longer, longest first (at most 100).
    pub failing_webhooks: Vec<FailingWebhookStatus>,
}

/// Gathers the report on `connection` and `health`.
pub async fn gather(
    connection: &Connection,
    broker: &BrokerConfig,
    health: &HealthStore,
    failing_after: Duration,
) -> anyhow::Result<StatusReport> {
    let channel = connection.create_channel().await?;
    let report = gather_on(&channel, broker, health, failing_after).await;
    let _ = channel.close(200, "status gathered".into()).await;
    report
}

async fn gather_on(
    channel: &Channel,
    broker: &BrokerConfig,
    health: &HealthStore,
    failing_after: Duration,
) -> anyhow::Result<StatusReport> {
    let topology = &broker.topology;
    let deliveries_queue = topology.deliveries_queue();
    let overflow_queue = topology.overflow_queue();
    let tally = health.progress(&deliveries_queue, REPORT_LIVENESS).await?;
    let overflow_tally = health.progress(&overflow_queue, REPORT_LIVENESS).await?;
    let now = Utc::now();
    let mut queues = Vec::new();
    for spec in queue_specs(broker) {
        let declared = inspect(channel, &spec.name)
            .await
            .map_err(|error| anyhow::anyhow!("queue {}: {error}", spec.name))?;
        let consumers = declared.consumer_count();
        let unacknowledged = if consumers == 0 {
            Some(0)
        } else if spec.name == deliveries_queue {
            tally.in_flight
        } else {
            None
        };
        queues.push(QueueStatus {
            name: spec.name,
            ready: declared.message_count(),
            unacknowledged,
            consumers,
        });
    }
    let count = |name: &str| {
        queues
            .iter()
            .find(|queue| queue.name == name)
            .map_or(0, |queue| queue.ready)
    };
    // Each queue is first in, first out on its own; the oldest delivery is the older of the
    // two queues' oldest.
    let oldest_waiting_seconds = [
        oldest_waiting(count(&deliveries_queue), tally.last_enqueued_at, now),
        oldest_waiting(count(&overflow_queue), overflow_tally.last_enqueued_at, now),
    ]
    .into_iter()
    .try_fold(0.0_f64, |oldest, queue| {
        queue.map(|seconds| oldest.max(seconds))
    });
    let failing_webhooks = health
        .failing(failing_after, FAILING_LISTED)
        .await?
        .into_iter()
        .map(FailingWebhookStatus::from)
        .collect();
    Ok(StatusReport {
        checked_at: format_timestamp(now),
        failed: count(&topology.failed_queue()),
        rejected: count(&topology.rejected_queue()),
        queues,
        oldest_waiting_seconds,
        failing_webhooks,
    })
}

/// The age of the oldest of `waiting` deliveries, when the newest delivery any sender took
/// had entered the queue at `last_taken`: the queue is first in, first out, so everything
/// still waiting entered after that.
pub fn oldest_waiting(
    waiting: u32,
    last_taken: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<f64> {
    if waiting == 0 {
        return Some(0.0);
    }
    let last_taken = last_taken?;
    Some(
        (now - last_taken)
            .to_std()
            .unwrap_or_default()
            .as_secs_f64(),
    )
}

/// The report as a table for a terminal.
pub fn render(report: &StatusReport) -> String {
    let mut out = String::new();
    let width = report
        .queues
        .iter()
        .map(|queue| queue.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}  {:>9}  {:>9}",
        "QUEUE", "READY", "UNACKED", "CONSUMERS"
    );
    for queue in &report.queues {
        let unacked = queue
            .unacknowledged
            .map_or_else(|| "?".to_owned(), |n| n.to_string());
        let _ = writeln!(
            out,
            "{:<width$}  {:>9}  {:>9}  {:>9}",
            queue.name, queue.ready, unacked, queue.consumers
        );
    }
    let oldest = match report.oldest_waiting_seconds {
        Some(0.0) => "none waiting".to_owned(),
        Some(seconds) => format!("{seconds:.0}s at most"),
        None => "unknown (no sender has taken a delivery yet)".to_owned(),
    };
    let _ = writeln!(out, "\nOldest waiting delivery: {oldest}");
    let _ = writeln!(
        out,
        "Failed (parked): {}    Rejected: {}",
        report.failed, report.rejected
    );
    if report.failing_webhooks.is_empty() {
        let _ = writeln!(out, "\nNo webhook is failing.");
        return out;
    }
    let _ = writeln!(
        out,
        "\nFailing webhooks ({}):\n{:<20}  {:<37}  {:<24}  {:>8}  LAST ERROR",
        report.failing_webhooks.len(),
        "TENANT",
        "WEBHOOK",
        "SINCE",
        "FAILED"
    );
    for failing in &report.failing_webhooks {
        let disabled = if failing.enabled { "" } else { " (disabled)" };
        let _ = writeln!(
            out,
            "{:<20}  {:<37}  {:<24}  {:>8}  {}{disabled}",
            failing.tenant_id,
            failing.webhook_id,
            failing.since,
            failing.failed_deliveries,
            failing.last_error.as_deref().unwrap_or("-"),
        );
    }
    out
}

/// Labels of a queue's gauges.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

/// How often the gauges are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Gauges of the report, sampled every few seconds: `herald_queue_messages{queue}`,
/// `herald_queue_consumers{queue}`, `herald_deliveries_oldest_waiting_seconds` and
/// `herald_webhooks_failing`. Run them in one process (the API), not in every replica.
pub struct StatusGauges {
    messages: Family<QueueLabels, Gauge>,
    consumers: Family<QueueLabels, Gauge>,
    oldest: Gauge<f64, std::sync::atomic::AtomicU64>,
    failing: Gauge,
}

impl StatusGauges {
    /// Registers the gauges, a series per queue of `broker`'s topology; they read 0 until
    /// [`StatusGauges::spawn`] samples them.
    pub fn register(registry: &mut Registry, broker: &BrokerConfig) -> Self {
        let gauges = Self {
            messages: Family::default(),
            consumers: Family::default(),
            oldest: Gauge::default(),
            failing: Gauge::default(),
        };
        for spec in queue_specs(broker) {
            let labels = QueueLabels { queue: spec.name };
            let _ = gauges.messages.get_or_create(&labels);
            let _ = gauges.consumers.get_or_create(&labels);
        }
        registry.register(
            "herald_queue_messages",
            "Messages waiting (ready) in each Herald queue",
            gauges.messages.clone(),
        );
        registry.register(
            "herald_queue_consumers",
            "Consumers of each Herald queue",
            gauges.consumers.clone(),
        );
        registry.register(
            "herald_deliveries_oldest_waiting_seconds",
            "How long the oldest delivery waiting in the deliveries queue has waited, at most",
            gauges.oldest.clone(),
        );
        registry.register(
            "herald_webhooks_failing",
            "Enabled webhooks with only failures for FAILING_AFTER or longer",
            gauges.failing.clone(),
        );
        gauges
    }

    /// Samples the gauges until `shutdown`.
    pub fn spawn(
        self,
        broker: BrokerConfig,
        health: HealthStore,
        failing_after: Duration,
        shutdown: &CancellationToken,
    ) {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            // The first sample waits a round: the services starting alongside (in `herald
            // up`) declare the topology meanwhile.
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(SAMPLE_EVERY) => {}
            }
            keep_running("status gauges", &shutdown, || async {
                let connection = connect(&broker, "herald (status)").await?;
                loop {
                    let report = gather(&connection, &broker, &health, failing_after).await?;
                    self.set(&report);
                    if let Ok(count) = health.count_failing(failing_after).await {
                        self.failing.set(count);
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => {
                            let _ = connection.close(200, "stopping".into()).await;
                            return Ok(());
                        }
                        _ = tokio::time::sleep(SAMPLE_EVERY) => {}
                    }
                }
            })
            .await;
        });
    }

    fn set(&self, report: &StatusReport) {
        for queue in &report.queues {
            let labels = QueueLabels {
                queue: queue.name.clone(),
            };
            self.messages
                .get_or_create(&labels)
                .set(i64::from(queue.ready));
            self.consumers
                .get_or_create(&labels)
                .set(i64::from(queue.consumers));
        }
        // Unknown (deliveries wait, and no sender ever took one) shows as 0: the consumers
        // gauge tells that story.
        self.oldest
            .set(report.oldest_waiting_seconds.unwrap_or(0.0));
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, second)
            .single()
            .expect("a time")
    }

    #[test]
    fn the_oldest_waiting_delivery_entered_after_the_last_one_taken() {
        assert_eq!(oldest_waiting(0, Some(at(0)), at(30)), Some(0.0));
        assert_eq!(oldest_waiting(12, Some(at(10)), at(30)), Some(20.0));
        assert_eq!(oldest_waiting(12, None, at(30)), None);
    }

    #[test]
    fn the_table_shows_every_queue_and_every_failing_webhook() {
        let report = StatusReport {
            checked_at: "2026-12-07T10:00:00Z".into(),
            queues: vec![QueueStatus {
                name: "webhooks.deliveries".into(),
                ready: 7,
                unacknowledged: Some(3),
                consumers: 2,
            }],
            oldest_waiting_seconds: Some(42.0),
            failed: 5,
            rejected: 1,
            failing_webhooks: vec![FailingWebhookStatus {
                tenant_id: "acme".into(),
                webhook_id: "WEBH-1".into(),
                name: "crm".into(),
                enabled: true,
                since: "2026-12-07T09:00:00Z".into(),
                failed_deliveries: 12,
                last_error: Some("HTTP 500".into()),
            }],
        };
        let table = render(&report);
        assert!(table.contains("webhooks.deliveries"), "{table}");
        assert!(table.contains("42s at most"), "{table}");
        assert!(table.contains("Failed (parked): 5"), "{table}");
        assert!(table.contains("HTTP 500"), "{table}");
        let json = serde_json::to_value(&report).expect("JSON");
        assert_eq!(json["queues"][0]["unacknowledged"], 3);
        assert_eq!(json["failingWebhooks"][0]["failedDeliveries"], 12);
        assert_eq!(json["oldestWaitingSeconds"], 42.0);
    }
}
