//! The fanout consumer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use futures::StreamExt;
use herald_broker::acks::Acks;
use herald_broker::headers::{get_str, put_str};
use herald_broker::lapin::BasicProperties;
use herald_broker::lapin::message::Delivery;
use herald_broker::session::ConsumingSession;
use herald_broker::{BrokerConfig, DeliveryHeaders, PublishError, Publisher, SealKey};
use herald_contract::payload::build_payload;
use herald_contract::topology::headers;
use herald_contract::{DomainEvent, EventEnvelope, RejectReason, WebhookId};
use herald_runtime::ReadyFlag;
use herald_runtime::retry::keep_running;
use herald_runtime::trace::{self, TraceHeaders, continue_trace};
use herald_store::Database;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::lanes::{self, Lanes};
use crate::metrics::{EventOutcome, FanoutMetrics, OutcomeLabels, ReasonLabels};
use crate::registry::{self, SharedIndex};

/// Tuning of the fanout consumer.
#[derive(Debug, Clone)]
pub struct FanoutSettings {
    /// Events larger than this are rejected.
    pub max_event_bytes: usize,
    /// Events held unacknowledged at once (AMQP prefetch).
    pub prefetch: u16,
    /// How long a stop may wait for in-flight events.
    pub drain_timeout: Duration,
    /// What every delivery message is sealed with, for the senders to check.
    pub seal: SealKey,
    /// Deliveries waiting in the deliveries queue from which on new ones go to the overflow
    /// queue (0: never); see [`crate::lanes`].
    pub overflow_after: u32,
}

/// The fanout service: consumes events, publishes deliveries.
pub struct Fanout {
    broker: BrokerConfig,
    settings: FanoutSettings,
    database: Database,
    index: SharedIndex,
    metrics: FanoutMetrics,
    ready: ReadyFlag,
}

/// What every event handler shares within one broker session.
struct Session {
    publisher: Publisher,
    lanes: Arc<Lanes>,
    rejected_queue: String,
    max_event_bytes: usize,
    seal: SealKey,
    index: SharedIndex,
    metrics: FanoutMetrics,
    /// Delivery messages built and awaiting their confirms, across every event in flight.
    unconfirmed: Arc<tokio::sync::Semaphore>,
    /// Cancelled by a handler whose publish failed: the session ends and a new one starts
    /// on fresh connections, with the topology declared again.
    broken: CancellationToken,
}

impl Fanout {
    /// `ready` reports whether fanout is connected and consuming.
    pub fn new(
        broker: BrokerConfig,
        settings: FanoutSettings,
        database: Database,
        metrics: FanoutMetrics,
        ready: ReadyFlag,
    ) -> Self {
        Self {
            broker,
            settings,
            database,
            index: SharedIndex::default(),
            metrics,
            ready,
        }
    }

    /// Follows the registry and consumes events until `shutdown`, reconnecting whenever the
    /// broker connection fails.
    pub async fn run(self, shutdown: CancellationToken) {
        let (loaded_tx, loaded) = watch::channel(false);
        let follower = tokio::spawn(registry::follow(
            self.database.clone(),
            self.index.clone(),
            loaded_tx,
            self.metrics.clone(),
            shutdown.clone(),
        ));
        keep_running("fanout broker session", &shutdown, || {
            self.session(loaded.clone(), &shutdown)
        })
        .await;
        let _ = follower.await;
    }

    async fn session(
        &self,
        mut loaded: watch::Receiver<bool>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        // Matching against an index that has not been loaded would silently drop deliveries.
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            result = loaded.wait_for(|loaded| *loaded) => { result.context("the registry follower stopped")?; }
        }

        let topology = &self.broker.topology;
        let consuming = ConsumingSession::open(
            &self.broker,
            "herald-fanout",
            &[topology.fanout_queue()],
            self.settings.prefetch,
        )
        .await?;
        let lanes = Arc::new(Lanes::new(
            topology.deliveries_queue(),
            topology.overflow_queue(),
            self.settings.overflow_after,
        ));
        let counting = CancellationToken::new();
        let _stop_counting = counting.clone().drop_guard();
        lanes::follow_depth(
            lanes.clone(),
            consuming.publishing(),
            self.metrics.overflowing.clone(),
            counting,
            consuming.broken(),
        )
        .await;
        let session = Arc::new(Session {
            publisher: Publisher::open(consuming.publishing()).await?,
            lanes,
            rejected_queue: topology.rejected_queue(),
            max_event_bytes: self.settings.max_event_bytes,
            seal: self.settings.seal.clone(),
            index: self.index.clone(),
            metrics: self.metrics.clone(),
            unconfirmed: Arc::new(tokio::sync::Semaphore::new(UNCONFIRMED_DELIVERIES)),
            broken: consuming.broken(),
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

async fn handle(session: Arc<Session>, delivery: Delivery, acks: Acks) {
    let table = delivery.properties.headers().as_ref();
    let header = |name| {
        table
            .and_then(|table| get_str(table, name))
            .map(str::to_owned)
    };
    let incoming = TraceHeaders::new(header(headers::TRACEPARENT), header(headers::TRACESTATE));
    let span = tracing::info_span!(
        "fanout event",
        otel.kind = "consumer",
        event_id = tracing::field::Empty,
        tenant_id = tracing::field::Empty,
        event_type = tracing::field::Empty,
        deliveries = tracing::field::Empty,
    );
    continue_trace(&span, &incoming);
    process(session, delivery, acks, incoming)
        .instrument(span)
        .await;
}

async fn process(session: Arc<Session>, delivery: Delivery, acks: Acks, incoming: TraceHeaders) {
    let started = Instant::now();
    let properties = &delivery.properties;
    let envelope = EventEnvelope {
        message_id: properties.message_id().as_ref().map(|id| id.as_str()),
        timestamp: *properties.timestamp(),
        received_at: Utc::now(),
    };
    let outcome = match DomainEvent::parse(&delivery.data, &envelope, session.max_event_bytes) {
        Ok(event) => fan_out(&session, &event, &incoming).await,
        Err(reason) => reject(&session, &delivery, &reason).await,
    };
    let outcome = match outcome {
        Ok(outcome) => {
            acks.ack(delivery.delivery_tag);
            outcome
        }
        Err(error) => {
            tracing::warn!(error = %error, "event returned to the queue");
            acks.requeue(delivery.delivery_tag);
            session.broken.cancel();
            EventOutcome::Returned
        }
    };
    session
        .metrics
        .events
        .get_or_create(&OutcomeLabels { outcome })
        .inc();
    session
        .metrics
        .fanout_seconds
        .observe(started.elapsed().as_secs_f64());
}

/// Why an event could not be handled: it returns to the queue, and the session restarts.
#[derive(Debug, thiserror::Error)]
enum HandlingError {
    #[error(
        "publishing the deliveries of event {event_id} ({confirmed} of {total} confirmed): {source}"
    )]
    Deliveries {
        event_id: String,
        confirmed: usize,
        total: usize,
        source: PublishError,
    },
    #[error("moving a rejected event to the rejected queue: {0}")]
    Rejecting(PublishError),
}

/// The most deliveries of one event awaiting their confirms at once.
const CONFIRMS_IN_FLIGHT_PER_EVENT: usize = 128;

/// The most delivery messages built and awaiting their confirms at once, across the events in
/// flight (`FANOUT_PREFETCH` of them): what bounds fanout's memory when events match many
/// webhooks.
const UNCONFIRMED_DELIVERIES: usize = 4096;

/// Publishes one delivery per matching webhook and waits for every confirm.
async fn fan_out(
    session: &Session,
    event: &DomainEvent,
    incoming: &TraceHeaders,
) -> Result<EventOutcome, HandlingError> {
    let span = tracing::Span::current();
    span.record("event_id", event.event_id.as_str());
    span.record("tenant_id", event.tenant_id.as_str());
    span.record("event_type", event.event_type.as_str());
    let webhooks = session
        .index
        .read()
        .matching(&event.tenant_id, event.event_type);
    if webhooks.is_empty() {
        tracing::debug!(event_id = %event.event_id, tenant_id = %event.tenant_id, "no webhook subscribed");
        return Ok(EventOutcome::Unmatched);
    }
    span.record("deliveries", webhooks.len());
    let TraceHeaders {
        traceparent,
        tracestate,
    } = trace::outgoing(&span, incoming);
    let publishes = webhooks.iter().cloned().map(|webhook_id: WebhookId| {
        let (traceparent, tracestate) = (traceparent.clone(), tracestate.clone());
        async move {
            // The body is built once a slot is free: memory stays bounded by the slots, not
            // by the events in flight times their matches.
            let _slot = session
                .unconfirmed
                .acquire()
                .await
                .map_err(|_| PublishError::Unconfirmed)?;
            let body = build_payload(&webhook_id, event);
            let mut headers = DeliveryHeaders::fresh(webhook_id, event, traceparent, tracestate);
            headers.seal = Some(session.seal.seal(&headers, &body));
            let properties = headers.to_properties(None);
            session
                .publisher
                .publish_to_queue(session.lanes.queue(), &body, properties)
                .await
        }
    });
    // Built and published as confirms come back, at most a window at a time: an event that
    // matches thousands of webhooks holds a window of bodies, not all of them.
    let results: Vec<Result<(), PublishError>> = futures::stream::iter(publishes)
        .buffer_unordered(CONFIRMS_IN_FLIGHT_PER_EVENT)
        .collect()
        .await;
    let published = results.iter().filter(|result| result.is_ok()).count();
    session
        .metrics
        .deliveries_published
        .inc_by(published as u64);
    if let Some(Err(source)) = results.into_iter().find(Result::is_err) {
        return Err(HandlingError::Deliveries {
            event_id: event.event_id.to_string(),
            confirmed: published,
            total: webhooks.len(),
            source,
        });
    }
    tracing::debug!(event_id = %event.event_id, tenant_id = %event.tenant_id, deliveries = webhooks.len(), "event fanned out");
    Ok(EventOutcome::FannedOut)
}

/// Moves an event that cannot be accepted to the rejected queue, with its reason.
async fn reject(
    session: &Session,
    delivery: &Delivery,
    reason: &RejectReason,
) -> Result<EventOutcome, HandlingError> {
    tracing::warn!(reason = %reason, "event rejected");
    let original = &delivery.properties;
    let mut table = original.headers().clone().unwrap_or_default();
    put_str(&mut table, headers::REJECT_REASON, &reason.to_string());
    // A fresh set of properties: an `expiration` copied from the event would let the broker
    // discard the rejected copy.
    let mut properties = BasicProperties::default().with_headers(table);
    if let Some(content_type) = original.content_type() {
        properties = properties.with_content_type(content_type.clone());
    }
    if let Some(message_id) = original.message_id() {
        properties = properties.with_message_id(message_id.clone());
    }
    if let Some(timestamp) = original.timestamp() {
        properties = properties.with_timestamp(*timestamp);
    }
    session
        .publisher
        .publish_to_queue(&session.rejected_queue, &delivery.data, properties)
        .await
        .map_err(HandlingError::Rejecting)?;
    session
        .metrics
        .rejected
        .get_or_create(&ReasonLabels {
            reason: reason.label(),
        })
        .inc();
    Ok(EventOutcome::Rejected)
}
