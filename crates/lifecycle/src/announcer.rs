//! The announcer: announces failing webhooks, disables those failing too long, and publishes
//! every operational event waiting in the outbox to the operational exchange.
//!
//! It runs in every sender and API process; the database makes their work one (see
//! `herald_store::health`), so more replicas neither repeat nor skip an announcement.

use std::time::Duration;

use futures::future::try_join_all;
use herald_broker::{BrokerConfig, PublishError, Publisher, connect};
use herald_contract::operational::OperationalEvent;
use herald_runtime::args::WebhookHealthArgs;
use herald_runtime::retry::keep_running;
use herald_store::HealthStore;
use herald_store::health::RelayError;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The announcements published in one round, at most.
const RELAY_BATCH: i64 = 200;

/// When a webhook is failing, and when it is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Only failures for this long: `webhook.failing`.
    pub failing_after: Duration,
    /// Only failures for this long: disabled. `None`: never.
    pub auto_disable_after: Option<Duration>,
}

impl From<&WebhookHealthArgs> for HealthPolicy {
    fn from(args: &WebhookHealthArgs) -> Self {
        Self {
            failing_after: args.failing_after,
            auto_disable_after: args.auto_disable_after.0,
        }
    }
}

impl HealthPolicy {
    /// How often the announcer looks: often enough that a threshold is acted on within a
    /// quarter of itself, and an event waits at most a second.
    pub fn round_every(&self) -> Duration {
        let shortest = self
            .auto_disable_after
            .map_or(self.failing_after, |after| after.min(self.failing_after));
        (shortest / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }
}

/// Labels of a published operational event.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    r#type: &'static str,
}

/// The announcer's metrics, registered before it starts (a process registers its metrics
/// before it serves them, and starts its work once its database is migrated).
#[derive(Clone)]
pub struct Announcer {
    published: Family<EventLabels, Counter>,
}

impl Announcer {
    /// Registers the counter `herald_operational_events_published{type}`.
    pub fn register(registry: &mut Registry) -> Self {
        let published = Family::<EventLabels, Counter>::default();
        registry.register(
            "herald_operational_events_published",
            "Operational events published to the operational exchange, by type",
            published.clone(),
        );
        for kind in [
            "delivery.failed",
            "webhook.failing",
            "webhook.disabled",
            "webhook.recovered",
        ] {
            let _ = published.get_or_create(&EventLabels { r#type: kind });
        }
        Self { published }
    }

    /// Starts the announcer; it runs until `shutdown`.
    pub fn spawn(
        self,
        health: HealthStore,
        broker: BrokerConfig,
        policy: HealthPolicy,
        shutdown: &CancellationToken,
    ) -> JoinHandle<()> {
        let shutdown = shutdown.clone();
        let published = self.published;
        tokio::spawn(async move {
            keep_running("operational events", &shutdown, || async {
                let connection = connect(&broker, "herald (operational events)").await?;
                let publisher = Publisher::open(&connection).await?;
                let exchange = broker.topology.operational_exchange();
                loop {
                    sweep(&health, policy).await;
                    relay(&health, &publisher, exchange, &published).await?;
                    tokio::select! {
                        _ = shutdown.cancelled() => {
                            let _ = connection.close(200, "stopping".into()).await;
                            return Ok(());
                        }
                        _ = tokio::time::sleep(policy.round_every()) => {}
                    }
                    if !connection.status().connected() {
                        anyhow::bail!("the broker connection closed");
                    }
                }
            })
            .await;
        })
    }
}

/// Announces failing webhooks and disables those failing too long. A database that cannot be
/// reached is tried again next round.
async fn sweep(health: &HealthStore, policy: HealthPolicy) {
    match health.announce_failing(policy.failing_after).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(webhooks = n, "webhooks failing"),
        Err(error) => tracing::warn!(%error, "cannot look for failing webhooks"),
    }
    if let Some(after) = policy.auto_disable_after {
        match health.disable_failing(after).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(webhooks = n, failing_for = ?after, "webhooks disabled after failing")
            }
            Err(error) => tracing::warn!(%error, "cannot disable failing webhooks"),
        }
    }
}

/// Publishes what waits in the outbox; a failed publish ends the broker session.
async fn relay(
    health: &HealthStore,
    publisher: &Publisher,
    exchange: &str,
    published: &Family<EventLabels, Counter>,
) -> Result<(), PublishError> {
    loop {
        let round = health
            .relay(RELAY_BATCH, |events: Vec<OperationalEvent>| async move {
                try_join_all(events.iter().map(|event| async move {
                    publisher.announce(exchange, event).await?;
                    published
                        .get_or_create(&EventLabels {
                            r#type: event.routing_key(),
                        })
                        .inc();
                    tracing::info!(
                        r#type = event.routing_key(),
                        tenant_id = %event.tenant_id,
                        webhook_id = %event.webhook_id,
                        "operational event published"
                    );
                    Ok::<_, PublishError>(())
                }))
                .await
                .map(|_| ())
            })
            .await;
        match round {
            Ok(n) if n < usize::try_from(RELAY_BATCH).unwrap_or(usize::MAX) => return Ok(()),
            Ok(_) => {}
            Err(RelayError::Publish(error)) => return Err(error),
            Err(RelayError::Store(error)) => {
                tracing::warn!(%error, "cannot read the operational events outbox");
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announcer_looks_often_enough_for_the_shortest_threshold() {
        let policy = |failing: u64, disable: Option<u64>| HealthPolicy {
            failing_after: Duration::from_secs(failing),
            auto_disable_after: disable.map(Duration::from_secs),
        };
        assert_eq!(
            policy(3600, Some(5 * 86_400)).round_every(),
            Duration::from_secs(1)
        );
        assert_eq!(policy(2, None).round_every(), Duration::from_millis(500));
        assert_eq!(
            policy(3600, Some(0)).round_every(),
            Duration::from_millis(100)
        );
    }
}
