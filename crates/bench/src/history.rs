//! The attempt log at scale: the console's reads of it, and delivery latency while retention
//! removes a day of it.
//!
//! A point seeds `rows` attempts spread evenly over the last 29 days (inside the default
//! 30-day retention, so `herald up`'s own pruner leaves them alone), a tenth of them for the
//! hundred webhooks the console lists, then times the reads and runs a steady load twice: once
//! as it is, and once while the oldest day is removed with the code the pruner runs.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use herald_store::attempts::AttemptLog;
use herald_store::{Database, DatabaseConfig};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::console::time_gets;
use crate::herald::{ADMIN_TOKEN, HeraldUnderTest};
use crate::progress::Progress;
use crate::publishing::{self, TENANT};
use crate::stats::Percentiles;
use herald_testkit::{Clock, Receiver};

/// Webhooks of the bench tenant the console lists (besides the one deliveries go to).
pub const LISTED_WEBHOOKS: usize = 100;
/// Days the seeded attempts span.
const SEEDED_DAYS: i64 = 29;
/// Rows inserted per statement while seeding.
const SEED_CHUNK: usize = 1_000_000;

/// One attempt-log point.
#[derive(Debug, Serialize)]
pub struct AttemptLogPoint {
    /// Attempts in the log before the point's own deliveries.
    pub attempts: usize,
    /// Seconds it took to seed them.
    pub seed_s: f64,
    /// `GET …/webhooks/{id}/attempts?limit=50` of a listed webhook.
    pub attempt_page: Percentiles,
    /// `GET …/webhooks?limit=100` (each webhook with its last attempt).
    pub webhook_list: Percentiles,
    /// The steady load's events per second (one delivery each).
    pub load_per_s: f64,
    /// Publish → receipt under the steady load.
    pub delivery_latency: Percentiles,
    /// The same while retention removes the oldest day.
    pub delivery_latency_during_retention: Percentiles,
    /// Attempts the retention removed (a day's worth).
    pub retention_removed: u64,
    /// Seconds the retention took.
    pub retention_s: f64,
}

/// Measures one point of `rows` seeded attempts, load at `rate` events/s for at least `window`.
pub async fn measure(
    herald: &HeraldUnderTest,
    receiver: &Receiver,
    clock: &Clock,
    rows: usize,
    progress: &Progress,
    rate: f64,
    window: Duration,
) -> anyhow::Result<AttemptLogPoint> {
    let api = herald.api("attempt-log")?;
    let http = reqwest::Client::new();
    let listed = create_listed(&http, &api).await?;
    let database = Database::new(&DatabaseConfig {
        url: herald.database_url.clone(),
        pool_size: 2,
    })?;
    let seeding = Instant::now();
    seed(&database, &listed, rows, progress).await?;
    let seed_s = seeding.elapsed().as_secs_f64();

    let watched = listed.first().context("no listed webhook")?;
    let attempt_page = time_gets(
        &http,
        &format!("{api}/v1/tenants/{TENANT}/webhooks/{watched}/attempts?limit=50"),
    )
    .await?;
    let webhook_list = time_gets(
        &http,
        &format!("{api}/v1/tenants/{TENANT}/webhooks?limit=100"),
    )
    .await?;

    let delivery_latency = steady_load::<()>(herald, receiver, clock, rate, window, None).await?;
    let log = AttemptLog::new(database);
    let oldest_day_ends = Utc::now() - chrono::Duration::days(SEEDED_DAYS - 1);
    let retention = tokio::spawn(async move {
        let started = Instant::now();
        let removed = log
            .remove_older_than(oldest_day_ends, &CancellationToken::new())
            .await?;
        Ok::<_, anyhow::Error>((removed, started.elapsed()))
    });
    let delivery_latency_during_retention =
        steady_load(herald, receiver, clock, rate, window, Some(&retention)).await?;
    let (retention_removed, retention_took) = retention.await??;
    Ok(AttemptLogPoint {
        attempts: rows,
        seed_s,
        attempt_page,
        webhook_list,
        load_per_s: rate,
        delivery_latency,
        delivery_latency_during_retention,
        retention_removed,
        retention_s: retention_took.as_secs_f64(),
    })
}

/// Creates [`LISTED_WEBHOOKS`] webhooks of the bench tenant through the API (subscribed to a
/// type the load never publishes); returns their ids.
async fn create_listed(http: &reqwest::Client, api: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(LISTED_WEBHOOKS);
    for n in 0..LISTED_WEBHOOKS {
        let response = http
            .post(format!("{api}/v1/tenants/{TENANT}/webhooks"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({
                "name": format!("listed-{n}"),
                "url": format!("https://listed-{n}.example.com/hook"),
                "eventTypes": ["company-created"],
            }))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "creating a webhook answered {}",
            response.status()
        );
        let created: serde_json::Value = response.json().await?;
        let id = created["id"]
            .as_str()
            .context("a created webhook without an id")?;
        ids.push(id.to_owned());
    }
    Ok(ids)
}

/// Inserts `rows` attempts in time order over the last [`SEEDED_DAYS`] days: every tenth for
/// a `listed` webhook, the others for 900 webhooks of other tenants; one in fifty failed and
/// will be retried.
async fn seed(
    database: &Database,
    listed: &[String],
    rows: usize,
    progress: &Progress,
) -> anyhow::Result<()> {
    let client = database.pool().get().await?;
    let first_at = Utc::now() - chrono::Duration::days(SEEDED_DAYS);
    let span = chrono::Duration::days(SEEDED_DAYS).num_milliseconds() as f64 / 1000.0;
    let step_s = span / rows.max(1) as f64;
    let tenant = TENANT.to_owned();
    for start in (0..rows).step_by(SEED_CHUNK) {
        let end = (start + SEED_CHUNK).min(rows);
        let (start, end) = (start as i64, end as i64 - 1);
        client
            .execute(
                "INSERT INTO delivery_attempts (webhook_id, tenant_id, event_id, event_type, \
                     attempt, attempted_at, duration_ms, response_status, error, result, test) \
                 SELECT CASE WHEN g % 10 = 0 \
                            THEN ($1::text[])[1 + (g / 10) % cardinality($1::text[])] \
                            ELSE 'wh_seeded_' || (g % 900) END, \
                        CASE WHEN g % 10 = 0 THEN $2 ELSE 'tenant-' || (g % 900) END, \
                        'seeded-' || g, 'contact-created', 1, \
                        $3::timestamptz + make_interval(secs => g * $4::float8), \
                        5 + g % 200, \
                        CASE WHEN g % 50 = 1 THEN 500 ELSE 200 END, \
                        CASE WHEN g % 50 = 1 THEN 'HTTP 500' END, \
                        CASE WHEN g % 50 = 1 THEN 'will-retry' ELSE 'delivered' END, \
                        false \
                 FROM generate_series($5::bigint, $6::bigint) g",
                &[&listed, &tenant, &first_at, &step_s, &start, &end],
            )
            .await
            .context("seeding attempts")?;
        progress.step(&format!("attempt log: {} of {rows} seeded", end + 1));
    }
    client.batch_execute("ANALYZE delivery_attempts").await?;
    Ok(())
}

/// Publishes `rate` events per second for at least `window`, and until `until` (when given)
/// has finished; returns the latency of their deliveries.
async fn steady_load<T>(
    herald: &HeraldUnderTest,
    receiver: &Receiver,
    clock: &Clock,
    rate: f64,
    window: Duration,
    until: Option<&tokio::task::JoinHandle<T>>,
) -> anyhow::Result<Percentiles> {
    receiver.reset();
    let started = Instant::now();
    let mut published = 0;
    while started.elapsed() < window || until.is_some_and(|task| !task.is_finished()) {
        published += publishing::paced(
            &herald.publisher,
            &herald.exchange,
            clock,
            rate,
            Duration::from_secs(1),
        )
        .await?;
    }
    anyhow::ensure!(
        receiver
            .wait_for_count(published as u64, Duration::from_secs(120))
            .await,
        "only {} of {published} steady deliveries arrived",
        receiver.received()
    );
    Ok(Percentiles::of(&receiver.seen().latencies))
}
