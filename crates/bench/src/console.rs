//! The console's queries at scale: a tenant's failed deliveries while the failed queue holds
//! 100 000 messages of other tenants, and a webhook's stats over a million attempts; and the
//! operators' `GET /v1/status` with that failed queue.

use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use herald_broker::lapin::{Connection, ConnectionProperties};
use herald_broker::parked::{Filter, ParkedQueues};
use herald_broker::{DeliveryHeaders, FailureFacts};
use herald_contract::{EventType, TenantId, Topology, WebhookId};
use herald_store::attempts::AttemptLog;
use herald_store::{AttemptResult, Database, DatabaseConfig, NewAttempt};
use serde::Serialize;

use crate::herald::{ADMIN_TOKEN, HeraldUnderTest};
use crate::stats::Percentiles;

/// What the console scenario measured.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleQueries {
    /// Messages of other tenants parked in the failed queue (and their failed attempts).
    pub parked_elsewhere: usize,
    /// `GET /v1/tenants/{t}/failed?limit=50`.
    pub tenant_failed_page: Percentiles,
    /// Attempts of the one webhook whose stats are read.
    pub webhook_attempts: usize,
    /// `GET …/stats?window=24h`.
    pub stats_24h: Percentiles,
    /// `GET …/stats?window=7d`.
    pub stats_7d: Percentiles,
    /// `GET /v1/status` (every queue, the oldest waiting delivery, failing webhooks).
    pub status: Percentiles,
    /// The failed queue's operations with it holding the parked messages above plus
    /// [`REPLAYED`] of each of two webhooks.
    pub failed_queue: FailedQueueOperations,
}

/// Operators' operations on a large failed queue, as `herald failed` runs them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedQueueOperations {
    /// Messages in the failed queue.
    pub parked: usize,
    /// `herald failed list` (the first 50), slowest of three.
    pub list_page_ms: f64,
    /// `herald failed replay --webhook A`: its [`REPLAYED`] among all the others.
    pub replay_one_webhook_s: f64,
    pub replayed: u64,
    /// `replay --webhook B` and `list` at the same time: how long both took, what the replay
    /// moved and how many the list showed.
    pub concurrent_s: f64,
    pub concurrent_replayed: u64,
    pub concurrent_listed: usize,
    /// Messages left in the failed queue at the end (parked, without the two replayed sets).
    pub left: u32,
}

/// Failed deliveries of each of the two replayed webhooks.
pub const REPLAYED: usize = 1000;

const TENANT: &str = crate::publishing::TENANT;
const REQUESTS: usize = 200;
const BATCH: usize = 5000;

/// Seeds `parked` failed deliveries of other tenants and `attempts` attempts of one webhook,
/// then times the console's two heavy reads.
pub async fn run(
    herald: &HeraldUnderTest,
    parked: usize,
    attempts: usize,
) -> anyhow::Result<ConsoleQueries> {
    let api = herald.api("console")?;
    let http = reqwest::Client::new();
    let page: serde_json::Value = http
        .get(format!("{api}/v1/tenants/{TENANT}/webhooks"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await?
        .json()
        .await?;
    let ids: Vec<WebhookId> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["id"].as_str()?.parse().ok())
        .collect();
    let [watched, failing, ..] = ids.as_slice() else {
        anyhow::bail!("the console scenario needs two webhooks");
    };
    let database = Database::new(&DatabaseConfig {
        url: herald.database_url.clone(),
        pool_size: 4,
    })?;
    let log = AttemptLog::new(database.clone());

    let replayed = [WebhookId::generate(), WebhookId::generate()];
    park_elsewhere(herald, parked, &replayed).await?;
    let now = Utc::now();
    let tenants: Vec<TenantId> = (0..1000)
        .map(|n| format!("tenant-{n}").parse())
        .collect::<Result<_, _>>()?;
    let bench: TenantId = TENANT.parse()?;
    let attempt = |webhook: &WebhookId, tenant: &TenantId, n: usize, result, at| NewAttempt {
        webhook_id: webhook.clone(),
        tenant_id: tenant.clone(),
        event_id: format!("seed-{n}"),
        event_type: EventType::ContactCreated,
        attempt: if result == AttemptResult::Failed {
            6
        } else {
            1
        },
        attempted_at: at,
        duration_ms: u32::try_from(5 + n % 200).unwrap_or(5),
        response_status: Some(if result == AttemptResult::Delivered {
            200
        } else {
            500
        }),
        error: (result != AttemptResult::Delivered).then(|| "HTTP 500".to_owned()),
        result,
        test: false,
        response_excerpt: None,
    };
    // The other tenants' final failures, and fifty of ours.
    let other = WebhookId::generate();
    for start in (0..parked).step_by(BATCH) {
        let rows: Vec<NewAttempt> = (start..(start + BATCH).min(parked))
            .map(|n| attempt(&other, &tenants[n % 1000], n, AttemptResult::Failed, now))
            .collect();
        log.insert(&rows).await?;
    }
    let ours: Vec<NewAttempt> = (0..50)
        .map(|n| attempt(failing, &bench, parked + n, AttemptResult::Failed, now))
        .collect();
    log.insert(&ours).await?;
    // A week of one webhook's attempts: mostly delivered, some retried, a few failed.
    let week = chrono::Duration::days(7).num_seconds();
    for start in (0..attempts).step_by(BATCH) {
        let rows: Vec<NewAttempt> = (start..(start + BATCH).min(attempts))
            .map(|n| {
                let result = match n % 50 {
                    0 => AttemptResult::Failed,
                    1..=4 => AttemptResult::WillRetry,
                    _ => AttemptResult::Delivered,
                };
                let offset = (n as i64 * week) / attempts.max(1) as i64;
                attempt(
                    watched,
                    &bench,
                    n,
                    result,
                    now - chrono::Duration::seconds(offset),
                )
            })
            .collect();
        log.insert(&rows).await?;
    }
    database
        .pool()
        .get()
        .await?
        .batch_execute("ANALYZE delivery_attempts")
        .await?;

    let failed_url = format!("{api}/v1/tenants/{TENANT}/failed?limit=50");
    let stats = |window: &str| {
        format!("{api}/v1/tenants/{TENANT}/webhooks/{watched}/stats?window={window}")
    };
    Ok(ConsoleQueries {
        parked_elsewhere: parked,
        tenant_failed_page: time_gets(&http, &failed_url).await?,
        webhook_attempts: attempts,
        stats_24h: time_gets(&http, &stats("24h")).await?,
        stats_7d: time_gets(&http, &stats("7d")).await?,
        status: time_gets(&http, &format!("{api}/v1/status")).await?,
        failed_queue: failed_queue_operations(herald, parked + 2 * REPLAYED, &replayed).await?,
    })
}

/// Times listing the failed queue, replaying one webhook's deliveries out of it, and a replay
/// and a listing running at once.
async fn failed_queue_operations(
    herald: &HeraldUnderTest,
    parked: usize,
    [first, second]: &[WebhookId; 2],
) -> anyhow::Result<FailedQueueOperations> {
    let connect = || Connection::connect(&herald.amqp_url, ConnectionProperties::default());
    let lister = ParkedQueues::open(connect().await?, Topology::default()).await?;
    let replayer = ParkedQueues::open(connect().await?, Topology::default()).await?;
    let connection = connect().await?;
    let mut list_page_ms = 0.0_f64;
    let mut first_page = None;
    for _ in 0..3 {
        let started = Instant::now();
        let page = lister.list_failed(&Filter::default(), 50).await?;
        list_page_ms = list_page_ms.max(started.elapsed().as_secs_f64() * 1000.0);
        let mut ids: Vec<_> = page.iter().map(|f| f.delivery.event_id.clone()).collect();
        ids.sort();
        anyhow::ensure!(ids.len() == 50, "listed {} of 50", ids.len());
        // Listing leaves the queue as it was: the same first fifty every time.
        anyhow::ensure!(
            first_page.get_or_insert_with(|| ids.clone()) == &ids,
            "a second listing showed another first page"
        );
    }
    let of = |webhook: &WebhookId| Filter {
        webhook: Some(webhook.clone()),
        ..Filter::default()
    };
    let started = Instant::now();
    let replayed = replayer
        .replay_failed(&of(first), None, false, |_| {})
        .await?
        .matched;
    let replay_one_webhook_s = started.elapsed().as_secs_f64();

    let (second, everything) = (of(second), Filter::default());
    let started = Instant::now();
    let (concurrent_replayed, listed) = tokio::join!(
        replayer.replay_failed(&second, None, false, |_| {}),
        lister.list_failed(&everything, 50),
    );
    let concurrent_s = started.elapsed().as_secs_f64();
    let left = herald_broker::topology::inspect(
        &connection.create_channel().await?,
        &Topology::default().failed_queue(),
    )
    .await?
    .message_count();
    Ok(FailedQueueOperations {
        parked,
        list_page_ms,
        replay_one_webhook_s,
        replayed,
        concurrent_s,
        concurrent_replayed: concurrent_replayed?.matched,
        concurrent_listed: listed?.len(),
        left,
    })
}

/// Parks `count` deliveries of other tenants in the failed queue, and spread among them
/// [`REPLAYED`] of each of the `replayed` webhooks.
async fn park_elsewhere(
    herald: &HeraldUnderTest,
    count: usize,
    replayed: &[WebhookId; 2],
) -> anyhow::Result<()> {
    let queue = Topology::default().failed_queue();
    let failure = FailureFacts {
        last_status: Some(500),
        last_error: "HTTP 500".into(),
    };
    let mut in_flight = FuturesUnordered::new();
    let every = (count / REPLAYED).max(1);
    let total = count + 2 * REPLAYED;
    for n in 0..total {
        if in_flight.len() >= 1024
            && let Some(result) = in_flight.next().await
        {
            result?;
        }
        // Every `every + 2` messages, one of each replayed webhook.
        let webhook_id = match (n % (every + 2), n / (every + 2) < REPLAYED) {
            (0, true) => replayed[0].clone(),
            (1, true) => replayed[1].clone(),
            _ => WebhookId::generate(),
        };
        let headers = DeliveryHeaders {
            webhook_id,
            tenant_id: format!("tenant-{}", n % 1000).parse()?,
            event_id: format!("parked-{n}").parse()?,
            event_type: EventType::ContactCreated,
            event_timestamp: None,
            attempts: 6,
            first_attempt_at: None,
            traceparent: None,
            tracestate: None,
            seal: None,
        };
        let properties = headers.to_failed_properties(&failure, Utc::now());
        let queue = queue.as_str();
        in_flight.push(async move {
            herald
                .publisher
                .publish_to_queue(queue, br#"{"meta":{},"data":{}}"#, properties)
                .await
        });
    }
    while let Some(result) = in_flight.next().await {
        result?;
    }
    Ok(())
}

/// Times [`REQUESTS`] sequential GETs of `url` (after a warm-up).
pub(crate) async fn time_gets(http: &reqwest::Client, url: &str) -> anyhow::Result<Percentiles> {
    let get = || async {
        let response = http.get(url).bearer_auth(ADMIN_TOKEN).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{url} answered {}",
            response.status()
        );
        response.bytes().await?;
        Ok::<_, anyhow::Error>(())
    };
    for _ in 0..10 {
        get().await?;
    }
    let mut latencies = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let started = Instant::now();
        get().await?;
        latencies.push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
    Ok(Percentiles::of(&latencies))
}
