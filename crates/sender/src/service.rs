//! The sender consumer: one attempt per delivery message.
//!
//! For each message: read the webhook's current definition (cached), POST, record the
//! attempt, then either acknowledge (2xx), or publish the delivery to its next retry stage or
//! to the failed queue and acknowledge once the broker confirmed it. Nothing is acknowledged
//! before what it led to is durable, so a crash anywhere means a redelivery, never a loss.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use herald_broker::acks::{Acks, Settle};
use herald_broker::delivery::enqueued_at;
use herald_broker::headers::put_str;
use herald_broker::lapin::BasicProperties;
use herald_broker::lapin::message::Delivery;
use herald_broker::seal::verify_delivery;
use herald_broker::session::ConsumingSession;
use herald_broker::{BrokerConfig, DeliveryHeaders, PublishError, Publisher, SealKey};
use herald_contract::ladder::stage_label;
use herald_contract::topology::headers;
use herald_contract::{RetryLadder, Topology};
use herald_runtime::ReadyFlag;
use herald_runtime::retry::{Backoff, keep_running};
use herald_runtime::trace::{self, TraceHeaders, continue_trace};
use herald_store::attempts::RecordError;
use herald_store::health::{ParkedDelivery, QueueProgress};
use herald_store::{AttemptRecorder, AttemptResult, DeliveryTarget, HealthStore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::decision::{self, Decision, Route, Unattempted};
use crate::limiter::InFlightLimiter;
use crate::metrics::{
    AttemptLabels, DropLabels, DropReason, SenderMetrics, StageLabels, status_class,
};
use crate::targets::TargetCache;
use herald_delivery::{AttemptOutcome, AttemptRequest, DeliveryClient};

/// Tuning of the sender consumer.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// Deliveries held unacknowledged, and so worked on, at once (AMQP prefetch).
    pub prefetch: u16,
    /// Deliveries worked on at once for one webhook.
    pub max_in_flight_per_webhook: usize,
    /// How long a delivery may wait for one of its webhook's slots before it is deferred.
    pub webhook_wait: Duration,
    /// How long a stop may wait for deliveries in flight.
    pub drain_timeout: Duration,
    /// Only deliveries sealed with one of these keys are sent (see `herald_broker::seal`).
    pub seal_keys: Vec<SealKey>,
}

/// What the sender reads and writes in the database.
pub struct SenderStores {
    /// The webhooks' current definitions.
    pub targets: Arc<TargetCache>,
    /// The attempt log (and, with it, each webhook's health).
    pub recorder: AttemptRecorder,
    /// Announcements of deliveries parked without an attempt, and progress reports.
    pub health: HealthStore,
}

/// The sender service.
pub struct Sender {
    broker: BrokerConfig,
    settings: SenderSettings,
    targets: Arc<TargetCache>,
    client: DeliveryClient,
    recorder: AttemptRecorder,
    health: HealthStore,
    metrics: SenderMetrics,
    ready: ReadyFlag,
    limiter: Arc<InFlightLimiter>,
    progress: Arc<ProgressMarks>,
}

/// What every delivery handler shares within one broker session.
struct Session {
    publisher: Publisher,
    topology: Topology,
    ladder: RetryLadder,
    targets: Arc<TargetCache>,
    client: DeliveryClient,
    recorder: AttemptRecorder,
    health: HealthStore,
    metrics: SenderMetrics,
    limiter: Arc<InFlightLimiter>,
    progress: Arc<ProgressMarks>,
    /// Deliveries taken from this queue mark progress through it, the others through the
    /// deliveries queue.
    overflow_queue: String,
    /// Deliveries worked on at once: `SENDER_PREFETCH`, from either queue. Each queue's
    /// consumer may hold that many, so while a backlog drains the surplus waits here, in
    /// arrival order — not for its webhook's slots, where waiting too long defers a delivery.
    working: Arc<tokio::sync::Semaphore>,
    seal_keys: Arc<[SealKey]>,
    defer_delay: Duration,
    /// Cancelled by a handler whose publish failed: the session restarts on fresh connections.
    broken: CancellationToken,
    shutdown: CancellationToken,
}

impl Sender {
    /// `ready` reports whether the sender is connected and consuming.
    pub fn new(
        broker: BrokerConfig,
        settings: SenderSettings,
        stores: SenderStores,
        client: DeliveryClient,
        metrics: SenderMetrics,
        ready: ReadyFlag,
    ) -> Self {
        let SenderStores {
            targets,
            recorder,
            health,
        } = stores;
        let limiter =
            InFlightLimiter::new(settings.max_in_flight_per_webhook, settings.webhook_wait);
        for delay in broker.ladder.distinct_delays() {
            let _ = metrics.retries_scheduled.get_or_create(&StageLabels {
                stage: stage_label(delay),
            });
        }
        Self {
            broker,
            settings,
            targets,
            client,
            recorder,
            health,
            metrics,
            ready,
            limiter,
            progress: Arc::default(),
        }
    }

    /// Delivers until `shutdown`, reconnecting whenever the broker connection fails.
    pub async fn run(self, shutdown: CancellationToken) {
        let follower = tokio::spawn(
            self.targets
                .clone()
                .follow_changes(self.metrics.registry_version.clone(), shutdown.clone()),
        );
        let reporter = tokio::spawn(report_progress(
            self.health.clone(),
            self.broker.topology.clone(),
            self.progress.clone(),
            self.metrics.in_flight.clone(),
            shutdown.clone(),
        ));
        keep_running("sender broker session", &shutdown, || {
            self.session(&shutdown)
        })
        .await;
        let _ = follower.await;
        let _ = reporter.await;
    }

    async fn session(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let consuming = ConsumingSession::open(
            &self.broker,
            "herald-sender",
            // The overflow queue holds a backlog while the deliveries queue takes fresh
            // deliveries and retries: consuming both at once drains the one without making
            // the other wait behind it.
            &[
                self.broker.topology.deliveries_queue(),
                self.broker.topology.overflow_queue(),
            ],
            self.settings.prefetch,
        )
        .await?;
        let session = Arc::new(Session {
            publisher: Publisher::open(consuming.publishing()).await?,
            topology: self.broker.topology.clone(),
            ladder: self.broker.ladder.clone(),
            targets: self.targets.clone(),
            client: self.client.clone(),
            recorder: self.recorder.clone(),
            health: self.health.clone(),
            metrics: self.metrics.clone(),
            limiter: self.limiter.clone(),
            progress: self.progress.clone(),
            overflow_queue: self.broker.topology.overflow_queue(),
            working: Arc::new(tokio::sync::Semaphore::new(usize::from(
                self.settings.prefetch,
            ))),
            seal_keys: self.settings.seal_keys.clone().into(),
            defer_delay: self.broker.defer_delay,
            broken: consuming.broken(),
            shutdown: shutdown.clone(),
        });
        let connected = |up: bool| {
            self.ready.set(up);
            self.metrics.broker_connected.set(i64::from(up));
        };
        consuming
            .run(
                shutdown,
                self.settings.drain_timeout,
                connected,
                |delivery, acks| handle(session.clone(), delivery, acks),
            )
            .await?;
        Ok(())
    }
}

/// Counts a delivery as in flight while it lives.
struct InFlight(prometheus_client::metrics::gauge::Gauge);

impl InFlight {
    fn start(gauge: &prometheus_client::metrics::gauge::Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn handle(session: Arc<Session>, delivery: Delivery, acks: Acks) {
    let settle = acks.of(delivery.delivery_tag);
    let _working = tokio::select! {
        permit = session.working.clone().acquire_owned() => match permit {
            Ok(permit) => permit,
            Err(_) => return settle.requeue(),
        },
        _ = session.shutdown.cancelled() => return settle.requeue(),
    };
    let _in_flight = InFlight::start(&session.metrics.in_flight);
    let Delivery {
        data,
        properties,
        routing_key,
        ..
    } = delivery;
    if let Some(entered) = enqueued_at(&properties) {
        // Fanout and the retry stages put deliveries in a queue by its name as routing key.
        let mark = if routing_key.as_str() == session.overflow_queue {
            &session.progress.overflow
        } else {
            &session.progress.deliveries
        };
        mark.taken(entered);
        let waited = (Utc::now() - entered).to_std().unwrap_or_default();
        session
            .metrics
            .queue_wait_seconds
            .observe(waited.as_secs_f64());
    }
    // Only what fanout built is sent: anything else on the queue goes to the rejected queue.
    let authentic = DeliveryHeaders::parse(&properties)
        .map_err(|malformed| malformed.to_string())
        .and_then(|headers| {
            verify_delivery(&session.seal_keys, &headers, &data)
                .map(|()| headers)
                .map_err(|refused| refused.to_string())
        });
    let delivery = match authentic {
        Ok(headers) => headers,
        Err(reason) => {
            let moved = reject_malformed(&session, &data, &properties, &reason).await;
            return finish(&session, settle, moved);
        }
    };
    let span = tracing::info_span!(
        "sender attempt",
        otel.kind = "client",
        webhook_id = %delivery.webhook_id,
        tenant_id = %delivery.tenant_id,
        event_id = %delivery.event_id,
        attempt = delivery.attempts.saturating_add(1),
    );
    let incoming = TraceHeaders::new(delivery.traceparent.clone(), delivery.tracestate.clone());
    continue_trace(&span, &incoming);
    // Boxed, so that the task spawned for each delivery stays small: the attempt's state (the
    // HTTP request, the publish, the attempt row) is large, and tokio copies a task's future
    // whole when it is spawned and again when it finishes.
    Box::pin(
        attempt_delivery(session, delivery, data, properties, settle, incoming).instrument(span),
    )
    .await;
}

/// One attempt of a parsed delivery, within its span.
async fn attempt_delivery(
    session: Arc<Session>,
    delivery: DeliveryHeaders,
    data: Vec<u8>,
    properties: BasicProperties,
    settle: Settle,
    incoming: TraceHeaders,
) {
    // A webhook whose deliveries do not free a slot within the wait is slow or hanging: this
    // delivery waits in a retry queue instead, unspent, and its prefetch slot goes to other
    // webhooks meanwhile.
    let Some(_permit) = session.limiter.acquire(&delivery.webhook_id).await else {
        let deferred = session
            .publisher
            .publish_to_queue(
                &session.topology.retry_queue(session.defer_delay),
                &data,
                properties,
            )
            .await;
        if deferred.is_ok() {
            session.metrics.deferred.inc();
        }
        return finish(&session, settle, deferred);
    };
    let Some(target) = current_target(&session, &delivery).await else {
        // Stopping while the database is away: the delivery goes back to the queue unspent.
        return settle.requeue();
    };
    let target = match target {
        Ok(target) => target,
        Err(Unattempted::ParkDisabled) => {
            return park_disabled(&session, &delivery, &data, settle).await;
        }
        Err(Unattempted::Drop(dropped)) => {
            tracing::info!(webhook_id = %delivery.webhook_id, event_id = %delivery.event_id, reason = dropped.as_str(), "delivery dropped");
            session
                .metrics
                .dropped
                .get_or_create(&DropLabels { reason: dropped })
                .inc();
            return finish(&session, settle, Ok(()));
        }
    };
    let body = Bytes::from(data);
    let attempted_at = Utc::now();
    let outcome = match &target {
        Target::Usable(target) => {
            let secrets = target.signing_secrets(attempted_at);
            let trace = trace::outgoing(&tracing::Span::current(), &incoming);
            session
                .client
                .send(AttemptRequest {
                    url: &target.url,
                    auth_header: target.auth_header.as_ref(),
                    message_id: delivery.event_id.as_str(),
                    body: body.clone(),
                    secrets: &secrets,
                    traceparent: trace.traceparent.as_deref(),
                    tracestate: trace.tracestate.as_deref(),
                })
                .await
        }
        Target::Unusable(problem) => decision::unusable(problem.clone()),
    };
    let Decision { record, route } =
        decision::after_attempt(&delivery, &outcome, &session.ladder, attempted_at);
    observe(&session, &delivery, &outcome, record.result);
    match session.recorder.record(record).await {
        Ok(()) => {}
        Err(RecordError::Stopped) => return settle.requeue(),
        Err(error @ RecordError::Rejected(_)) => {
            tracing::error!(%error, event_id = %delivery.event_id, "attempt not recorded; carrying on with the delivery");
        }
    }
    let moved = move_delivery(&session, route, &body).await;
    finish(&session, settle, moved);
}

/// Moves a delivery where its attempt's [`Route`] says.
async fn move_delivery(session: &Session, route: Route, body: &[u8]) -> Result<(), PublishError> {
    match route {
        Route::Done => Ok(()),
        Route::Retry {
            delay,
            headers,
            failure,
        } => {
            let queue = session.topology.retry_queue(delay);
            let properties = headers.to_properties(Some(&failure));
            session
                .publisher
                .publish_to_queue(&queue, body, properties)
                .await?;
            session
                .metrics
                .retries_scheduled
                .get_or_create(&StageLabels {
                    stage: stage_label(delay),
                })
                .inc();
            Ok(())
        }
        Route::Park {
            headers,
            failure,
            failed_at,
        } => {
            let properties = headers.to_failed_properties(&failure, failed_at);
            session
                .publisher
                .publish_to_queue(&session.topology.failed_queue(), body, properties)
                .await?;
            session.metrics.failed.inc();
            tracing::warn!(
                webhook_id = %headers.webhook_id,
                event_id = %headers.event_id,
                attempts = headers.attempts,
                last_error = %failure.last_error,
                "delivery parked in the failed queue"
            );
            Ok(())
        }
    }
}

/// The webhook's definition, resolved for this attempt.
enum Target {
    Usable(Arc<DeliveryTarget>),
    /// The webhook exists but cannot be delivered to (its secrets do not decrypt, ...): the
    /// attempt fails with this reason and the delivery follows the ladder.
    Unusable(String),
}

/// Parks a delivery owed to a disabled webhook in the failed queue, announcing it as
/// `delivery.failed`, so that it can be replayed once the webhook is fixed and enabled.
async fn park_disabled(session: &Session, delivery: &DeliveryHeaders, body: &[u8], settle: Settle) {
    let failed_at = Utc::now();
    let moved = move_delivery(
        session,
        decision::parked_while_disabled(delivery, failed_at),
        body,
    )
    .await;
    if moved.is_ok() {
        let parked = ParkedDelivery {
            tenant_id: delivery.tenant_id.as_str(),
            webhook_id: delivery.webhook_id.as_str(),
            event_id: delivery.event_id.as_str(),
            event_type: delivery.event_type.as_str(),
            attempts: delivery.attempts,
            last_status: None,
            last_error: decision::DISABLED_ERROR,
            failed_at,
        };
        // The delivery itself is safe in the failed queue; only its announcement is lost.
        if let Err(error) = session.health.announce_parked(&parked).await {
            tracing::warn!(%error, event_id = %delivery.event_id, "delivery.failed not announced");
        }
    }
    finish(session, settle, moved);
}

/// The newest enqueue time (whole seconds since the epoch) of a delivery this sender took.
#[derive(Default)]
struct ProgressMark(std::sync::atomic::AtomicI64);

/// How far this sender has come through each queue it consumes.
#[derive(Default)]
struct ProgressMarks {
    deliveries: ProgressMark,
    overflow: ProgressMark,
}

impl ProgressMark {
    fn taken(&self, entered: chrono::DateTime<Utc>) {
        self.0
            .fetch_max(entered.timestamp(), std::sync::atomic::Ordering::Relaxed);
    }

    fn newest(&self) -> Option<chrono::DateTime<Utc>> {
        match self.0.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            seconds => chrono::DateTime::from_timestamp(seconds, 0),
        }
    }
}

/// How often a sender reports how far it has come and what it holds.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Reports this sender's progress through the deliveries and the overflow queue until
/// `shutdown`, for `herald status`: one row per queue; what it holds counts with the
/// deliveries queue.
async fn report_progress(
    health: HealthStore,
    topology: Topology,
    marks: Arc<ProgressMarks>,
    in_flight: prometheus_client::metrics::gauge::Gauge,
    shutdown: CancellationToken,
) {
    let consumer = format!("sender-{}", uuid::Uuid::new_v4());
    loop {
        let reports = [
            QueueProgress {
                consumer: consumer.clone(),
                queue: topology.deliveries_queue(),
                last_enqueued_at: marks.deliveries.newest(),
                in_flight: u64::try_from(in_flight.get()).unwrap_or(0),
            },
            QueueProgress {
                consumer: format!("{consumer}/overflow"),
                queue: topology.overflow_queue(),
                last_enqueued_at: marks.overflow.newest(),
                in_flight: 0,
            },
        ];
        for progress in &reports {
            if let Err(error) = health.report_progress(progress).await {
                tracing::debug!(%error, "progress not reported");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PROGRESS_EVERY) => {}
        }
    }
}

/// The target of a delivery; `Err` when it is not attempted; `None` when stopping while the
/// database is unreachable.
async fn current_target(
    session: &Session,
    delivery: &DeliveryHeaders,
) -> Option<Result<Target, Unattempted>> {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        match session.targets.get(&delivery.webhook_id).await {
            Ok(target) => return Some(decision::screen(target, delivery).map(Target::Usable)),
            Err(error) if error.is_transient() => {
                let delay = backoff.next_delay();
                tracing::warn!(%error, retry_in = ?delay, "cannot read the webhook; holding the delivery");
                tokio::select! {
                    _ = session.shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            Err(error) => return Some(Ok(Target::Unusable(error.to_string()))),
        }
    }
}

fn observe(
    session: &Session,
    delivery: &DeliveryHeaders,
    outcome: &AttemptOutcome,
    result: AttemptResult,
) {
    let metrics = &session.metrics;
    metrics
        .attempts
        .get_or_create(&AttemptLabels {
            result: result.as_str(),
            status_class: status_class(outcome.status),
        })
        .inc();
    metrics
        .request_seconds
        .observe(outcome.duration.as_secs_f64());
    if let (AttemptResult::Delivered, Some(event_time)) = (result, delivery.event_timestamp) {
        let latency = (Utc::now() - event_time).to_std().unwrap_or_default();
        metrics
            .delivery_latency_seconds
            .observe(latency.as_secs_f64());
    }
    tracing::debug!(
        webhook_id = %delivery.webhook_id,
        tenant_id = %delivery.tenant_id,
        event_id = %delivery.event_id,
        attempt = delivery.attempts.saturating_add(1),
        status = outcome.status,
        error = outcome.error.as_deref(),
        result = result.as_str(),
        "attempt made"
    );
}

/// Acknowledges a handled delivery, or returns it to the queue (and restarts the session)
/// when what it led to could not be published.
fn finish(session: &Session, settle: Settle, moved: Result<(), PublishError>) {
    match moved {
        Ok(()) => settle.ack(),
        Err(error) => {
            tracing::warn!(%error, "delivery returned to the queue");
            settle.requeue();
            session.broken.cancel();
        }
    }
}

/// Moves a message that is not a delivery fanout made to the rejected queue, with the reason.
async fn reject_malformed(
    session: &Session,
    data: &[u8],
    properties: &BasicProperties,
    malformed: &str,
) -> Result<(), PublishError> {
    tracing::warn!(reason = %malformed, "delivery message rejected");
    session
        .metrics
        .dropped
        .get_or_create(&DropLabels {
            reason: DropReason::Malformed,
        })
        .inc();
    let mut table = properties.headers().clone().unwrap_or_default();
    put_str(
        &mut table,
        headers::REJECT_REASON,
        &format!("Not a Herald delivery: {malformed}."),
    );
    let properties = BasicProperties::default()
        .with_content_type("application/octet-stream".into())
        .with_headers(table);
    session
        .publisher
        .publish_to_queue(&session.topology.rejected_queue(), data, properties)
        .await
}
