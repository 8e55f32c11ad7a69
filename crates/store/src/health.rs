//! Webhook health, and the operational events it leads to.
//!
//! Each webhook's health lives in `webhook_health`, kept by the attempt batches themselves
//! (see [`crate::attempts`]): when its current failing period began, how many attempts failed
//! since, the last error. Announcements are written to an outbox in the same transaction as
//! the change they announce, and a relay publishes and then deletes them: whatever the number
//! of replicas, and across restarts, each change is announced once (at least once, should a
//! process die between the broker's confirm and the delete).
//!
//! - the attempt batch ends a failing period with a delivery, announcing `webhook.recovered`
//!   when `webhook.failing` was announced;
//! - [`HealthStore::announce_failing`] announces `webhook.failing` for periods longer than
//!   `FAILING_AFTER`, once each;
//! - [`HealthStore::disable_failing`] disables webhooks failing longer than
//!   `AUTO_DISABLE_AFTER`; a trigger on `webhooks` announces every disabling (`failing` or
//!   `manual`), and clears the health of a webhook that is enabled again;
//! - [`HealthStore::relay`] hands the waiting announcements to a publisher.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_contract::operational::{DisabledReason, Occurrence, OperationalEvent};
use tokio_postgres::Row;

use crate::database::Database;
use crate::error::StoreError;

/// A webhook failing now.
#[derive(Debug, Clone, PartialEq)]
pub struct FailingWebhook {
    pub tenant_id: String,
    pub webhook_id: String,
    pub name: String,
    pub enabled: bool,
    /// The first failed attempt of the current failing period.
    pub since: DateTime<Utc>,
    /// Attempts that failed since.
    pub failed_attempts: u64,
    pub last_error: Option<String>,
}

/// A delivery parked in the failed queue without a last attempt.
#[derive(Debug, Clone)]
pub struct ParkedDelivery<'a> {
    pub tenant_id: &'a str,
    pub webhook_id: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: &'a str,
    pub failed_at: DateTime<Utc>,
}

/// Why a relay round stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError<E> {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("publishing operational events: {0}")]
    Publish(E),
}

/// Webhook health, auto-disable, the operational events outbox, and the senders' progress.
#[derive(Clone)]
pub struct HealthStore {
    database: Database,
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

impl HealthStore {
    pub fn new(database: Database) -> Self {
        Self { database }
    }

    /// Announces `webhook.failing` for every enabled webhook whose failing period is older
    /// than `failing_after` and not yet announced; returns how many.
    pub async fn announce_failing(&self, failing_after: Duration) -> Result<u64, StoreError> {
        let client = self.database.pool().get().await?;
        let announced = client
            .execute(
                "WITH due AS ( \
                     UPDATE webhook_health h SET failing_announced = true \
                     FROM webhooks w \
                     WHERE w.id = h.webhook_id AND w.enabled AND NOT h.failing_announced \
                       AND h.failing_since <= now() - $1::float8 * interval '1 second' \
                     RETURNING h.webhook_id, h.tenant_id, h.failing_since, h.failed_attempts, h.last_error \
                 ) \
                 INSERT INTO operational_outbox (type, tenant_id, webhook_id, occurred_at, since, failed_deliveries, last_error) \
                 SELECT 'webhook.failing', tenant_id, webhook_id, now(), failing_since, failed_attempts, last_error FROM due",
                &[&seconds(failing_after)],
            )
            .await?;
        Ok(announced)
    }

    /// Disables every enabled webhook whose failing period is older than `after`, with reason
    /// `failing`; returns how many.
    pub async fn disable_failing(&self, after: Duration) -> Result<u64, StoreError> {
        let client = self.database.pool().get().await?;
        let disabled = client
            .execute(
                "WITH due AS ( \
                     SELECT w.id FROM webhook_health h JOIN webhooks w ON w.id = h.webhook_id \
                     WHERE w.enabled AND h.failing_since <= now() - $1::float8 * interval '1 second' \
                     ORDER BY w.id FOR UPDATE OF w SKIP LOCKED \
                 ) \
                 UPDATE webhooks w SET enabled = false, disabled_reason = 'failing', \
                     disabled_at = now(), updated_at = now() \
                 FROM due WHERE w.id = due.id",
                &[&seconds(after)],
            )
            .await?;
        Ok(disabled)
    }

    /// The webhooks failing for longer than `failing_after`, longest first, at most `limit`.
    pub async fn failing(
        &self,
        failing_after: Duration,
        limit: i64,
    ) -> Result<Vec<FailingWebhook>, StoreError> {
        let client = self.database.pool().get().await?;
        let rows = client
            .query(
                "SELECT h.tenant_id, h.webhook_id, w.name, w.enabled, h.failing_since, \
                     h.failed_attempts, h.last_error \
                 FROM webhook_health h JOIN webhooks w ON w.id = h.webhook_id \
                 WHERE h.failing_since <= now() - $1::float8 * interval '1 second' \
                 ORDER BY h.failing_since, h.webhook_id LIMIT $2",
                &[&seconds(failing_after), &limit],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(FailingWebhook {
                    tenant_id: row.try_get("tenant_id")?,
                    webhook_id: row.try_get("webhook_id")?,
                    name: row.try_get("name")?,
                    enabled: row.try_get("enabled")?,
                    since: row.try_get("failing_since")?,
                    failed_attempts: u64::try_from(row.try_get::<_, i64>("failed_attempts")?)
                        .unwrap_or(0),
                    last_error: row.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// How many enabled webhooks have been failing for longer than `failing_after`.
    pub async fn count_failing(&self, failing_after: Duration) -> Result<i64, StoreError> {
        let client = self.database.pool().get().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM webhook_health h JOIN webhooks w ON w.id = h.webhook_id \
                 WHERE w.enabled AND h.failing_since <= now() - $1::float8 * interval '1 second'",
                &[&seconds(failing_after)],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Hands up to `limit` waiting announcements, oldest first, to `publish`, and deletes them
    /// once it succeeded; returns how many went. Announcements another process is relaying are
    /// skipped, so relays on every replica never publish the same one twice.
    pub async fn relay<F, Fut, E>(&self, limit: i64, publish: F) -> Result<usize, RelayError<E>>
    where
        F: FnOnce(Vec<OperationalEvent>) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let mut client = self.database.pool().get().await.map_err(StoreError::from)?;
        let transaction = client.transaction().await.map_err(StoreError::from)?;
        let rows = transaction
            .query(
                "SELECT id, type, tenant_id, webhook_id, occurred_at, since, failed_deliveries, \
                     last_error, reason, event_id, event_type, attempts, last_status \
                 FROM operational_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                &[&limit],
            )
            .await
            .map_err(StoreError::from)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let ids = rows
            .iter()
            .map(|row| row.try_get::<_, i64>("id"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::from)?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            match decode_announcement(row)? {
                Some(event) => events.push(event),
                None => tracing::warn!(
                    kind = row.try_get::<_, String>("type").unwrap_or_default(),
                    "an operational event of an unknown type was dropped from the outbox"
                ),
            }
        }
        let relayed = events.len();
        publish(events).await.map_err(RelayError::Publish)?;
        transaction
            .execute("DELETE FROM operational_outbox WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(StoreError::from)?;
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(relayed)
    }

    /// Announces `delivery.failed` for a delivery parked without an attempt (its webhook is
    /// disabled).
    pub async fn announce_parked(&self, parked: &ParkedDelivery<'_>) -> Result<(), StoreError> {
        let client = self.database.pool().get().await?;
        client
            .execute(
                "INSERT INTO operational_outbox (type, tenant_id, webhook_id, occurred_at, event_id, \
                     event_type, attempts, last_status, last_error) \
                 VALUES ('delivery.failed', $1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &parked.tenant_id,
                    &parked.webhook_id,
                    &parked.failed_at,
                    &crate::text::storable_text(parked.event_id).as_ref(),
                    &parked.event_type,
                    &i32::try_from(parked.attempts).unwrap_or(i32::MAX),
                    &parked.last_status.map(i32::from),
                    &parked.last_error,
                ],
            )
            .await?;
        Ok(())
    }

    /// Records that `consumer` holds `in_flight` deliveries of `queue` unacknowledged, and
    /// that the last it took had entered the queue at `last_enqueued_at`.
    pub async fn report_progress(&self, progress: &QueueProgress) -> Result<(), StoreError> {
        let client = self.database.pool().get().await?;
        client
            .execute(
                "INSERT INTO queue_progress (consumer, queue, last_enqueued_at, in_flight, reported_at) \
                 VALUES ($1, $2, $3, $4, now()) \
                 ON CONFLICT (consumer) DO UPDATE SET queue = EXCLUDED.queue, \
                     last_enqueued_at = coalesce(EXCLUDED.last_enqueued_at, queue_progress.last_enqueued_at), \
                     in_flight = EXCLUDED.in_flight, reported_at = now()",
                &[
                    &progress.consumer,
                    &progress.queue,
                    &progress.last_enqueued_at,
                    &i32::try_from(progress.in_flight).unwrap_or(i32::MAX),
                ],
            )
            .await?;
        // Replicas that are gone leave a row behind; a day later it tells nothing.
        client
            .execute(
                "DELETE FROM queue_progress WHERE reported_at < now() - interval '1 day'",
                &[],
            )
            .await?;
        Ok(())
    }

    /// How far the consumers of `queue` have come: the newest enqueue time any of them took
    /// (every delivery still waiting entered later), and what the consumers that reported
    /// within `live` hold unacknowledged (`None` when none did).
    pub async fn progress(&self, queue: &str, live: Duration) -> Result<QueueTally, StoreError> {
        let client = self.database.pool().get().await?;
        let row = client
            .query_one(
                "SELECT max(last_enqueued_at), \
                     sum(in_flight) FILTER (WHERE reported_at > now() - $2::float8 * interval '1 second') \
                 FROM queue_progress WHERE queue = $1",
                &[&queue, &seconds(live)],
            )
            .await?;
        Ok(QueueTally {
            last_enqueued_at: row.try_get(0)?,
            in_flight: row
                .try_get::<_, Option<i64>>(1)?
                .map(|n| u64::try_from(n).unwrap_or(0)),
        })
    }
}

/// What a consumer reports about its queue.
#[derive(Debug, Clone)]
pub struct QueueProgress {
    pub consumer: String,
    pub queue: String,
    pub last_enqueued_at: Option<DateTime<Utc>>,
    pub in_flight: u64,
}

/// What the consumers of a queue reported, together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueTally {
    pub last_enqueued_at: Option<DateTime<Utc>>,
    pub in_flight: Option<u64>,
}

fn decode_announcement(row: &Row) -> Result<Option<OperationalEvent>, StoreError> {
    let kind: String = row.try_get("type")?;
    let occurred_at: DateTime<Utc> = row.try_get("occurred_at")?;
    let since: Option<DateTime<Utc>> = row.try_get("since")?;
    let since = since.unwrap_or(occurred_at);
    let occurrence = match kind.as_str() {
        "webhook.failing" => Occurrence::WebhookFailing {
            since,
            failed_deliveries: u64::try_from(
                row.try_get::<_, Option<i64>>("failed_deliveries")?
                    .unwrap_or(0),
            )
            .unwrap_or(0),
            last_error: row.try_get("last_error")?,
        },
        "webhook.disabled" => Occurrence::WebhookDisabled {
            reason: row
                .try_get::<_, Option<String>>("reason")?
                .as_deref()
                .and_then(DisabledReason::parse)
                .unwrap_or(DisabledReason::Manual),
            since,
        },
        "delivery.failed" => Occurrence::DeliveryFailed {
            event_id: row
                .try_get::<_, Option<String>>("event_id")?
                .unwrap_or_default(),
            event_type: row
                .try_get::<_, Option<String>>("event_type")?
                .unwrap_or_default(),
            attempts: u32::try_from(row.try_get::<_, Option<i32>>("attempts")?.unwrap_or(0))
                .unwrap_or(0),
            last_status: row
                .try_get::<_, Option<i32>>("last_status")?
                .and_then(|status| u16::try_from(status).ok()),
            last_error: row
                .try_get::<_, Option<String>>("last_error")?
                .unwrap_or_default(),
        },
        "webhook.recovered" => Occurrence::WebhookRecovered {
            failing_for: (occurred_at - since).to_std().unwrap_or_default(),
        },
        _ => return Ok(None),
    };
    Ok(Some(OperationalEvent {
        tenant_id: row.try_get("tenant_id")?,
        webhook_id: row.try_get("webhook_id")?,
        occurred_at,
        occurrence,
    }))
}
