//! The attempt log.
//!
//! Senders record every attempt through an [`AttemptRecorder`], which writes them in batches
//! (one `INSERT` for as many attempts as arrived while the previous write ran) and answers
//! each caller once its row is committed, so a delivery is acknowledged only after its attempt
//! is on disk. While the database is unreachable the recorder keeps retrying and callers wait.

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_contract::{EventType, TenantId, WebhookId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::Row;
use tokio_util::sync::CancellationToken;

use crate::database::Database;
use crate::error::StoreError;
use crate::text::storable_text;

/// How an attempt ended for its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptResult {
    /// The endpoint answered 2xx.
    Delivered,
    /// The attempt failed and another is scheduled.
    WillRetry,
    /// The attempt failed and was the last.
    Failed,
}

impl AttemptResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Delivered => "delivered",
            AttemptResult::WillRetry => "will-retry",
            AttemptResult::Failed => "failed",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "delivered" => Some(AttemptResult::Delivered),
            "will-retry" => Some(AttemptResult::WillRetry),
            "failed" => Some(AttemptResult::Failed),
            _ => None,
        }
    }
}

/// An attempt to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttempt {
    pub webhook_id: WebhookId,
    pub tenant_id: TenantId,
    pub event_id: String,
    pub event_type: EventType,
    /// 1-based.
    pub attempt: u32,
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: u32,
    pub response_status: Option<u16>,
    pub error: Option<String>,
    pub result: AttemptResult,
    /// Made by the test route, not by a real delivery.
    pub test: bool,
    /// The start of the response body.
    pub response_excerpt: Option<String>,
}

/// An attempt as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// Increases with every recorded attempt: the attempt log's cursor.
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub attempt: u32,
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: u32,
    pub response_status: Option<u16>,
    pub error: Option<String>,
    pub result: AttemptResult,
    pub test: bool,
    pub response_excerpt: Option<String>,
}

impl AttemptRecord {
    /// Reads the columns named `<prefix>id`, `<prefix>event_id`, ...; `None` when the id is
    /// NULL (an outer join that found no attempt).
    pub(crate) fn from_prefixed_row(row: &Row, prefix: &str) -> Result<Option<Self>, StoreError> {
        let column = |name: &str| format!("{prefix}{name}");
        let Some(id) = row.try_get::<_, Option<i64>>(column("id").as_str())? else {
            return Ok(None);
        };
        let result: String = row.try_get(column("result").as_str())?;
        let webhook_id: String = row.try_get(column("webhook_id").as_str())?;
        Ok(Some(AttemptRecord {
            id,
            event_id: row.try_get(column("event_id").as_str())?,
            event_type: row.try_get(column("event_type").as_str())?,
            attempt: u32::try_from(row.try_get::<_, i16>(column("attempt").as_str())?).unwrap_or(0),
            attempted_at: row.try_get(column("attempted_at").as_str())?,
            duration_ms: u32::try_from(row.try_get::<_, i32>(column("duration_ms").as_str())?)
                .unwrap_or(0),
            response_status: row
                .try_get::<_, Option<i16>>(column("response_status").as_str())?
                .and_then(|status| u16::try_from(status).ok()),
            error: row.try_get(column("error").as_str())?,
            result: AttemptResult::parse(&result).ok_or(StoreError::Corrupt {
                webhook_id,
                field: "attempt result",
            })?,
            test: row.try_get(column("test").as_str())?,
            response_excerpt: row.try_get(column("response_excerpt").as_str())?,
        }))
    }
}

/// The end of the attempt batch's statement that keeps `webhook_health` (see
/// [`crate::health`]) from the rows in `inserted`: per webhook, the last real delivery of the
/// batch, and the failures after it. A delivery ends a failing period (announcing
/// `webhook.recovered` when `webhook.failing` was announced); failures start or extend one.
/// A last attempt that failed announces `delivery.failed`: its delivery is being parked.
const HEALTH_FROM_INSERTED: &str = "\
    delivered AS ( \
        SELECT webhook_id, max(attempted_at) AS at FROM inserted \
        WHERE NOT test AND result = 'delivered' GROUP BY webhook_id \
    ), \
    failures AS ( \
        SELECT i.webhook_id, min(i.tenant_id) AS tenant_id, min(i.attempted_at) AS first_at, \
            max(i.attempted_at) AS last_at, count(*) AS n, \
            (array_agg(i.error ORDER BY i.attempted_at DESC))[1] AS last_error \
        FROM inserted i LEFT JOIN delivered d USING (webhook_id) \
        WHERE NOT i.test AND i.result <> 'delivered' AND (d.at IS NULL OR i.attempted_at > d.at) \
        GROUP BY i.webhook_id \
    ), \
    previous AS ( \
        SELECT h.webhook_id, h.tenant_id, h.failing_since, h.failing_announced, d.at AS delivered_at \
        FROM webhook_health h JOIN delivered d USING (webhook_id) \
        WHERE h.failing_since IS NOT NULL AND h.failing_since <= d.at \
        ORDER BY h.webhook_id FOR UPDATE OF h \
    ), \
    recovered AS ( \
        UPDATE webhook_health h SET failing_since = f.first_at, failed_attempts = coalesce(f.n, 0), \
            last_error = coalesce(f.last_error, h.last_error), \
            last_failure_at = coalesce(f.last_at, h.last_failure_at), failing_announced = false \
        FROM previous p LEFT JOIN failures f USING (webhook_id) \
        WHERE h.webhook_id = p.webhook_id \
        RETURNING p.webhook_id, p.tenant_id, p.failing_since, p.failing_announced, p.delivered_at \
    ), \
    announced AS ( \
        INSERT INTO operational_outbox (type, tenant_id, webhook_id, occurred_at, since) \
        SELECT 'webhook.recovered', tenant_id, webhook_id, delivered_at, failing_since \
        FROM recovered WHERE failing_announced \
    ), \
    parked AS ( \
        INSERT INTO operational_outbox (type, tenant_id, webhook_id, occurred_at, event_id, \
            event_type, attempts, last_status, last_error) \
        SELECT 'delivery.failed', tenant_id, webhook_id, attempted_at, event_id, event_type, \
            attempt, response_status, coalesce(error, '') \
        FROM inserted WHERE result = 'failed' AND NOT test \
    ) \
    INSERT INTO webhook_health (webhook_id, tenant_id, failing_since, failed_attempts, last_error, last_failure_at) \
    SELECT f.webhook_id, f.tenant_id, f.first_at, f.n, f.last_error, f.last_at FROM failures f \
    WHERE NOT EXISTS (SELECT 1 FROM previous p WHERE p.webhook_id = f.webhook_id) \
    ORDER BY f.webhook_id \
    ON CONFLICT (webhook_id) DO UPDATE SET \
        failing_since = coalesce(webhook_health.failing_since, EXCLUDED.failing_since), \
        failed_attempts = CASE WHEN webhook_health.failing_since IS NULL THEN EXCLUDED.failed_attempts \
            ELSE webhook_health.failed_attempts + EXCLUDED.failed_attempts END, \
        last_error = EXCLUDED.last_error, last_failure_at = EXCLUDED.last_failure_at";

/// The attempt batch's statement, built once: the log rows, then the statement's tail
/// [`HEALTH_FROM_INSERTED`].
static INSERT_BATCH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        // The hourly statistics and each webhook's health are written in the same
        // statement, so they follow exactly what the log holds; rows are taken in key
        // order, so that concurrent batches lock them in the same order.
        "WITH inserted AS ( \
                     INSERT INTO delivery_attempts (webhook_id, tenant_id, event_id, event_type, attempt, \
                         attempted_at, duration_ms, response_status, error, result, test, response_excerpt) \
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int2[], \
                         $6::timestamptz[], $7::int4[], $8::int2[], $9::text[], $10::text[], $11::bool[], $12::text[]) \
                     RETURNING webhook_id, tenant_id, event_id, event_type, attempt, attempted_at, duration_ms, \
                         response_status, result, test, error \
                 ), \
                 rollup AS ( \
                     INSERT INTO delivery_stats_hourly (webhook_id, hour, delivered, will_retry, failed, durations) \
                     SELECT webhook_id, date_trunc('hour', attempted_at), \
                         count(*) FILTER (WHERE result = 'delivered'), \
                         count(*) FILTER (WHERE result = 'will-retry'), \
                         count(*) FILTER (WHERE result = 'failed'), \
                         herald_duration_histogram(array_agg(duration_ms)) \
                     FROM inserted WHERE NOT test GROUP BY 1, 2 ORDER BY 1, 2 \
                     ON CONFLICT (webhook_id, hour) DO UPDATE SET \
                         delivered = delivery_stats_hourly.delivered + EXCLUDED.delivered, \
                         will_retry = delivery_stats_hourly.will_retry + EXCLUDED.will_retry, \
                         failed = delivery_stats_hourly.failed + EXCLUDED.failed, \
                         durations = herald_add_histograms(delivery_stats_hourly.durations, EXCLUDED.durations) \
                 ), \
                 {HEALTH_FROM_INSERTED}",
    )
});

/// Reading and writing the attempt log.
#[derive(Clone)]
pub struct AttemptLog {
    database: Database,
}

impl AttemptLog {
    pub fn new(database: Database) -> Self {
        Self { database }
    }

    /// Writes `attempts` in one statement.
    pub async fn insert(&self, attempts: &[NewAttempt]) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let column = |f: fn(&NewAttempt) -> String| attempts.iter().map(f).collect::<Vec<String>>();
        let webhook_ids = column(|a| a.webhook_id.to_string());
        let tenant_ids = column(|a| a.tenant_id.to_string());
        let event_ids = column(|a| storable_text(&a.event_id).into_owned());
        let event_types = column(|a| a.event_type.as_str().to_owned());
        let results = column(|a| a.result.as_str().to_owned());
        let numbers: Vec<i16> = attempts
            .iter()
            .map(|a| i16::try_from(a.attempt).unwrap_or(i16::MAX))
            .collect();
        let times: Vec<DateTime<Utc>> = attempts.iter().map(|a| a.attempted_at).collect();
        let durations: Vec<i32> = attempts
            .iter()
            .map(|a| i32::try_from(a.duration_ms).unwrap_or(i32::MAX))
            .collect();
        let statuses: Vec<Option<i16>> = attempts
            .iter()
            .map(|a| a.response_status.and_then(|s| i16::try_from(s).ok()))
            .collect();
        // Error texts and response excerpts come from the endpoint: make them storable.
        let errors: Vec<Option<Cow<'_, str>>> = attempts
            .iter()
            .map(|a| a.error.as_deref().map(storable_text))
            .collect();
        let tests: Vec<bool> = attempts.iter().map(|a| a.test).collect();
        let excerpts: Vec<Option<Cow<'_, str>>> = attempts
            .iter()
            .map(|a| a.response_excerpt.as_deref().map(storable_text))
            .collect();

        let client = self.database.pool().get().await?;
        let statement = client.prepare_cached(&INSERT_BATCH).await?;
        client
            .execute(
                &statement,
                &[
                    &webhook_ids,
                    &tenant_ids,
                    &event_ids,
                    &event_types,
                    &numbers,
                    &times,
                    &durations,
                    &statuses,
                    &errors,
                    &results,
                    &tests,
                    &excerpts,
                ],
            )
            .await?;
        Ok(())
    }

    /// Up to `limit` attempts of a webhook of `tenant`, newest first, older than `before`.
    pub async fn list(
        &self,
        tenant: &TenantId,
        webhook: &WebhookId,
        limit: i64,
        before: Option<i64>,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let client = self.database.pool().get().await?;
        let rows = client
            .query(
                "SELECT id, webhook_id, event_id, event_type, attempt, attempted_at, duration_ms, \
                     response_status, error, result, test, response_excerpt \
                 FROM delivery_attempts \
                 WHERE webhook_id = $1 AND tenant_id = $2 AND ($3::bigint IS NULL OR id < $3) \
                 ORDER BY id DESC LIMIT $4",
                &[&webhook.as_str(), &tenant.as_str(), &before, &limit],
            )
            .await?;
        rows.iter()
            .filter_map(|row| AttemptRecord::from_prefixed_row(row, "").transpose())
            .collect()
    }
}

/// A delivery whose last attempt failed for good: parked in the failed queue (unless an
/// operator purged it), as the attempt log knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParkedRecord {
    /// The attempt's id: the listing's cursor.
    pub id: i64,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub failed_at: DateTime<Utc>,
}

impl AttemptLog {
    /// The tenant's deliveries parked as failed (of one webhook, when given), newest first,
    /// older than `before`: failed attempts with no later attempt of the same delivery (a
    /// replayed one has a later attempt). Index scans only, whatever the size of the queue.
    pub async fn parked(
        &self,
        tenant: &TenantId,
        webhook: Option<&WebhookId>,
        limit: i64,
        before: Option<i64>,
    ) -> Result<Vec<ParkedRecord>, StoreError> {
        let client = self.database.pool().get().await?;
        let rows = client
            .query(
                "SELECT a.id, a.webhook_id, a.event_id, a.event_type, a.attempt, \
                     a.response_status, a.error, a.attempted_at \
                 FROM delivery_attempts a \
                 WHERE a.tenant_id = $1 AND a.result = 'failed' AND NOT a.test \
                   AND ($2::text IS NULL OR a.webhook_id = $2) \
                   AND ($3::bigint IS NULL OR a.id < $3) \
                   AND NOT EXISTS (SELECT 1 FROM delivery_attempts later \
                       WHERE later.webhook_id = a.webhook_id AND later.event_id = a.event_id \
                         AND later.id > a.id AND NOT later.test) \
                 ORDER BY a.id DESC LIMIT $4",
                &[
                    &tenant.as_str(),
                    &webhook.map(WebhookId::as_str),
                    &before,
                    &limit,
                ],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ParkedRecord {
                    id: row.try_get("id")?,
                    webhook_id: row.try_get("webhook_id")?,
                    event_id: row.try_get("event_id")?,
                    event_type: row.try_get("event_type")?,
                    attempts: u32::try_from(row.try_get::<_, i16>("attempt")?).unwrap_or(0),
                    last_status: row
                        .try_get::<_, Option<i16>>("response_status")?
                        .and_then(|status| u16::try_from(status).ok()),
                    last_error: row.try_get("error")?,
                    failed_at: row.try_get("attempted_at")?,
                })
            })
            .collect()
    }
}

impl AttemptLog {
    /// Deletes up to `batch` attempts made before `before`; returns how many went.
    pub async fn prune(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError> {
        let client = self.database.pool().get().await?;
        let deleted = client
            .execute(
                "DELETE FROM delivery_attempts WHERE id IN ( \
                     SELECT id FROM delivery_attempts WHERE attempted_at < $1 LIMIT $2)",
                &[&before, &batch],
            )
            .await?;
        // Statistics are shown for a week at most.
        client
            .execute(
                "DELETE FROM delivery_stats_hourly WHERE hour < now() - interval '8 days'",
                &[],
            )
            .await?;
        Ok(deleted)
    }

    /// Removes every attempt made before `before`, a batch at a time (so that recording never
    /// waits long for a lock), until none is left or `stop` is cancelled; returns how many went.
    pub async fn remove_older_than(
        &self,
        before: DateTime<Utc>,
        stop: &CancellationToken,
    ) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let deleted = self.prune(before, PRUNE_BATCH).await?;
            removed += deleted;
            if deleted < PRUNE_BATCH as u64 || stop.is_cancelled() {
                return Ok(removed);
            }
        }
    }

    /// Every `every`, deletes the attempts older than `retention`, in batches, until
    /// `shutdown`.
    pub fn spawn_pruner(
        self,
        retention: Duration,
        every: Duration,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                let Ok(retention) = chrono::Duration::from_std(retention) else {
                    return;
                };
                let before = Utc::now() - retention;
                let pruned = match self.remove_older_than(before, &shutdown).await {
                    Ok(pruned) => pruned,
                    Err(error) => {
                        tracing::warn!(%error, "pruning old attempts failed; trying again later");
                        0
                    }
                };
                if pruned > 0 {
                    tracing::info!(pruned, "pruned attempts older than the retention");
                }
            }
        })
    }
}

/// Attempts deleted per statement when pruning.
const PRUNE_BATCH: i64 = 10_000;

/// An attempt could not be recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RecordError {
    #[error("the attempt recorder has stopped")]
    Stopped,
    #[error("the attempt could not be written: {0}")]
    Rejected(String),
}

struct Pending {
    attempt: NewAttempt,
    written: oneshot::Sender<Result<(), String>>,
}

/// Records attempts in batches. Cheap to clone; the writer stops when every clone is dropped.
#[derive(Clone)]
pub struct AttemptRecorder {
    queue: mpsc::Sender<Pending>,
}

impl AttemptRecorder {
    /// Starts the writer. At most `max_batch` attempts go into one statement.
    pub fn spawn(log: AttemptLog, max_batch: usize) -> (Self, JoinHandle<()>) {
        let (queue, pending) = mpsc::channel(max_batch.max(1) * 4);
        let writer = tokio::spawn(write_batches(log, pending, max_batch.max(1)));
        (Self { queue }, writer)
    }

    /// Records `attempt`, returning once it is committed.
    pub async fn record(&self, attempt: NewAttempt) -> Result<(), RecordError> {
        let (written, done) = oneshot::channel();
        self.queue
            .send(Pending { attempt, written })
            .await
            .map_err(|_| RecordError::Stopped)?;
        done.await
            .map_err(|_| RecordError::Stopped)?
            .map_err(RecordError::Rejected)
    }
}

/// Inserts `attempts`, waiting out a database outage; an error is one waiting cannot cure.
async fn insert_until_decided(log: &AttemptLog, attempts: &[NewAttempt]) -> Result<(), StoreError> {
    let mut pause = Duration::from_millis(50);
    loop {
        match log.insert(attempts).await {
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, held = attempts.len(), retry_in = ?pause, "cannot record attempts yet");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            decided => return decided,
        }
    }
}

async fn write_batches(log: AttemptLog, mut pending: mpsc::Receiver<Pending>, max_batch: usize) {
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    let mut attempts: Vec<NewAttempt> = Vec::with_capacity(max_batch);
    let mut callers = Vec::with_capacity(max_batch);
    while pending.recv_many(&mut batch, max_batch).await > 0 {
        for entry in batch.drain(..) {
            attempts.push(entry.attempt);
            callers.push(entry.written);
        }
        let outcomes = match insert_until_decided(&log, &attempts).await {
            Ok(()) => vec![Ok(()); attempts.len()],
            // One bad row must not cost the others theirs: write them one by one.
            Err(error) if attempts.len() > 1 => {
                tracing::warn!(%error, rows = attempts.len(), "a batch of attempts was refused; writing its rows one by one");
                let mut outcomes = Vec::with_capacity(attempts.len());
                for attempt in &attempts {
                    outcomes.push(
                        insert_until_decided(&log, std::slice::from_ref(attempt))
                            .await
                            .map_err(|error| error.to_string()),
                    );
                }
                outcomes
            }
            Err(error) => vec![Err(error.to_string())],
        };
        for ((attempt, written), outcome) in attempts.drain(..).zip(callers.drain(..)).zip(outcomes)
        {
            if let Err(error) = &outcome {
                tracing::error!(%error, event_id = ?attempt.event_id, webhook_id = %attempt.webhook_id, "an attempt record was refused by the database");
            }
            // The caller may have gone away (shutdown); nothing to tell it then.
            let _ = written.send(outcome);
        }
    }
}
