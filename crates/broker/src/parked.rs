//! Operations on the queues where Herald parks what it could not deliver or accept:
//! listing, replaying and purging, with filters.
//!
//! Every operation sweeps the queue on channels of its own: it takes each message without
//! acknowledging it, decides, and stops when it has what it needs (a listing stops at its
//! limit) or has seen every message. Closing the channels, in the order they took their
//! messages, then returns the messages it kept to the head of the queue in their former
//! order, and it waits until the broker shows them back. A message is removed only by an
//! acknowledgement sent after what replaced it (the replayed delivery) was confirmed. So an
//! operation that is killed half-way loses nothing: the broker returns whatever was not
//! acknowledged (then not necessarily in order).
//!
//! A message an operation holds is invisible to any other, so operations take turns: each
//! holds the exclusive consumer of the (always empty) parked lock queue while it sweeps. The
//! broker gives it to one connection at a time, and takes it back when that connection dies.

use chrono::{DateTime, Utc};
use herald_contract::topology::headers;
use herald_contract::{EventId, EventType, TenantId, Topology, WebhookId};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ErrorKind};

use crate::delivery::DeliveryHeaders;
use crate::headers::{get_int, get_str};
use crate::{PublishError, Publisher};

/// Which failed deliveries an operation applies to; an empty filter matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub tenant: Option<TenantId>,
    pub webhook: Option<WebhookId>,
    pub event_type: Option<EventType>,
    /// Only these events' deliveries.
    pub event_ids: Option<Vec<EventId>>,
    /// Only deliveries parked at or after this time (`x-failed-at`).
    pub failed_since: Option<DateTime<Utc>>,
    /// Only deliveries parked before this time.
    pub failed_until: Option<DateTime<Utc>>,
}

impl Filter {
    pub fn matches(&self, delivery: &DeliveryHeaders) -> bool {
        self.event_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&delivery.event_id))
            && self
                .tenant
                .as_ref()
                .is_none_or(|t| *t == delivery.tenant_id)
            && self
                .webhook
                .as_ref()
                .is_none_or(|w| *w == delivery.webhook_id)
            && self.event_type.is_none_or(|e| e == delivery.event_type)
    }
}

impl Filter {
    /// Whether a parked delivery matches, its parking time included: a delivery without a
    /// readable `x-failed-at` matches no time-bounded filter.
    pub fn matches_failed(&self, failed: &FailedDelivery) -> bool {
        if !self.matches(&failed.delivery) {
            return false;
        }
        if self.failed_since.is_none() && self.failed_until.is_none() {
            return true;
        }
        let Some(at) = failed
            .failed_at
            .as_deref()
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|at| at.with_timezone(&Utc))
        else {
            return false;
        };
        self.failed_since.is_none_or(|since| at >= since)
            && self.failed_until.is_none_or(|until| at < until)
    }
}

/// A delivery parked in the failed queue, as an operator reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedDelivery {
    pub delivery: DeliveryHeaders,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub failed_at: Option<String>,
    /// The exact request body.
    pub body: Vec<u8>,
}

impl FailedDelivery {
    /// Reads a failed-queue message; `None` when it is not a Herald delivery.
    pub fn read(properties: &BasicProperties, body: &[u8]) -> Option<Self> {
        let delivery = DeliveryHeaders::parse(properties).ok()?;
        let table = properties.headers().clone().unwrap_or_default();
        Some(Self {
            delivery,
            last_status: get_int(&table, headers::LAST_STATUS).and_then(|s| u16::try_from(s).ok()),
            last_error: get_str(&table, headers::LAST_ERROR).map(str::to_owned),
            failed_at: get_str(&table, headers::FAILED_AT).map(str::to_owned),
            body: body.to_vec(),
        })
    }
}

/// A message of the rejected queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedMessage {
    pub reason: Option<String>,
    pub message_id: Option<String>,
    pub body: Vec<u8>,
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    /// Messages that matched (and, unless a dry run, were replayed or purged).
    pub matched: u64,
    /// Messages left in place.
    pub kept: u64,
}

/// A failed operation on a parked queue.
#[derive(Debug, thiserror::Error)]
pub enum ParkedError {
    #[error("the broker failed: {0}")]
    Broker(#[from] lapin::Error),
    #[error("replaying a delivery failed: {0}")]
    Publish(#[from] PublishError),
    #[error("another operation on the parked queues has been running for {0:?}; try again later")]
    Busy(Duration),
}

/// How long an operation waits for another to finish before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(60);
/// How long an operation waits for the broker to show the messages it returned.
const RETURN_WAIT: Duration = Duration::from_secs(30);
/// How many times a sweep that has seen what the queue held at its start counts again for
/// messages that arrived meanwhile.
const SWEEP_RECOUNTS: u32 = 3;
/// How long a sweep waits for the next message before it takes the queue as seen.
const SWEEP_IDLE: Duration = Duration::from_secs(5);
/// How many messages one consumer of a sweep holds unacknowledged at most (a consumer's
/// prefetch is at most 65 535, and buffered messages take memory); a sweep of more uses one
/// consumer after another.
const SWEEP_WINDOW: u16 = 10_000;
/// The first consumer's window: small, so that a listing that stops early has little to
/// return; each next one is four times larger.
const FIRST_SWEEP_WINDOW: u16 = 500;
/// How many taken messages a sweep replaces at once (each awaits its publish confirm, then
/// is acknowledged).
const TAKES_IN_FLIGHT: usize = 256;

/// Operations on the failed and rejected queues of one installation.
pub struct ParkedQueues {
    connection: Connection,
    channel: Channel,
    publisher: Publisher,
    topology: Topology,
}

/// The parked lock, held while this lives: dropping the consumer would cancel it and so
/// release the lock early.
struct ParkedLock {
    channel: Channel,
    _consumer: lapin::Consumer,
}

impl ParkedLock {
    async fn release(self) -> Result<(), ParkedError> {
        self.channel.close(200, "done".into()).await?;
        Ok(())
    }
}

enum Verdict {
    Keep,
    Take,
    /// Keep this one and end the sweep: the operation has what it needs.
    Stop,
}

/// Picks the first `limit` messages that `matches` accepts; counts them, and takes them
/// unless it is a dry run.
struct Selection<M> {
    matches: M,
    limit: Option<u64>,
    dry_run: bool,
    matched: u64,
}

impl<M: FnMut(&BasicProperties, &[u8]) -> bool> Selection<M> {
    fn new(matches: M, limit: Option<u64>, dry_run: bool) -> Self {
        Self {
            matches,
            limit,
            dry_run,
            matched: 0,
        }
    }

    fn judge(&mut self, properties: &BasicProperties, body: &[u8]) -> Verdict {
        if self.limit.is_some_and(|limit| self.matched >= limit) {
            return Verdict::Stop;
        }
        if !(self.matches)(properties, body) {
            return Verdict::Keep;
        }
        self.matched += 1;
        if self.dry_run {
            Verdict::Keep
        } else {
            Verdict::Take
        }
    }
}

/// Whether a failed-queue message is a delivery `filter` matches.
fn failed_matching(filter: &Filter) -> impl FnMut(&BasicProperties, &[u8]) -> bool + '_ {
    |properties, body| {
        FailedDelivery::read(properties, body).is_some_and(|f| filter.matches_failed(&f))
    }
}

impl ParkedQueues {
    /// Operations over `connection`, which they own (the parked lock is held per connection).
    pub async fn open(connection: Connection, topology: Topology) -> Result<Self, ParkedError> {
        Ok(Self {
            channel: connection.create_channel().await?,
            publisher: Publisher::open(&connection).await?,
            connection,
            topology,
        })
    }

    /// Closes the connection (a failure to say goodbye is not one of the operation's).
    pub async fn close(self) {
        let _ = self.connection.close(200, "done".into()).await;
    }

    /// Takes the parked lock: the exclusive consumer of the lock queue, on a channel of its
    /// own. Waits up to [`LOCK_WAIT`] for another holder.
    async fn lock(&self) -> Result<ParkedLock, ParkedError> {
        let queue = self.topology.parked_lock_queue();
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            // Trying only when the lock looks free spares the broker (and the log) a refused
            // consumer, which closes its channel; two that try at once still get one refusal.
            let taken = if self.declare_passive(&queue).await?.consumer_count() == 0 {
                self.try_lock(&queue).await?
            } else {
                None
            };
            if let Some(lock) = taken {
                return Ok(lock);
            }
            if started.elapsed() >= LOCK_WAIT {
                return Err(ParkedError::Busy(started.elapsed()));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// The parked lock if it is free now.
    async fn try_lock(&self, queue: &str) -> Result<Option<ParkedLock>, ParkedError> {
        let channel = self.connection.create_channel().await?;
        let taken = channel
            .basic_consume(
                queue.into(),
                "herald-parked-operation".into(),
                BasicConsumeOptions {
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await;
        match taken {
            Ok(consumer) => Ok(Some(ParkedLock {
                channel,
                _consumer: consumer,
            })),
            Err(error) if is_access_refused(&error) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// What the broker says of `queue` (which must exist).
    async fn declare_passive(&self, queue: &str) -> Result<lapin::Queue, ParkedError> {
        Ok(crate::topology::inspect(&self.channel, queue).await?)
    }

    /// Messages ready in `queue`.
    async fn ready(&self, queue: &str) -> Result<u32, ParkedError> {
        Ok(self.declare_passive(queue).await?.message_count())
    }

    /// Up to `limit` failed deliveries matching `filter`, from the head of the queue, leaving it as
    /// it was.
    pub async fn list_failed(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<FailedDelivery>, ParkedError> {
        let mut listed = Vec::new();
        self.sweep(
            &self.topology.failed_queue(),
            |properties, body| {
                let wanted = FailedDelivery::read(properties, body)
                    .filter(|f| listed.len() < limit && filter.matches_failed(f));
                listed.extend(wanted);
                if listed.len() >= limit {
                    Verdict::Stop
                } else {
                    Verdict::Keep
                }
            },
            |_, _| async { Ok(()) },
        )
        .await?;
        Ok(listed)
    }

    /// Moves up to `limit` failed deliveries matching `filter` back to the deliveries queue
    /// for a fresh ladder (with `dry_run`, only counts them). `progress` is called after each.
    pub async fn replay_failed(
        &self,
        filter: &Filter,
        limit: Option<u64>,
        dry_run: bool,
        mut progress: impl FnMut(u64),
    ) -> Result<Moved, ParkedError> {
        let deliveries = self.topology.deliveries_queue();
        let mut selection = Selection::new(failed_matching(filter), limit, dry_run);
        let publisher = &self.publisher;
        let moved = self
            .sweep(
                &self.topology.failed_queue(),
                |properties, body| {
                    let verdict = selection.judge(properties, body);
                    if matches!(verdict, Verdict::Take) {
                        progress(selection.matched);
                    }
                    verdict
                },
                |properties, body| {
                    let deliveries = deliveries.clone();
                    async move {
                        let restarted = DeliveryHeaders::parse(&properties)
                            .map(|headers| headers.restarted().to_properties(None))
                            .unwrap_or(properties);
                        publisher
                            .publish_to_queue(&deliveries, &body, restarted)
                            .await?;
                        Ok(())
                    }
                },
            )
            .await?;
        Ok(Moved {
            matched: selection.matched,
            kept: moved.kept,
        })
    }

    /// Deletes up to `limit` failed deliveries matching `filter` (with `dry_run`, counts them).
    pub async fn purge_failed(
        &self,
        filter: &Filter,
        limit: Option<u64>,
        dry_run: bool,
    ) -> Result<Moved, ParkedError> {
        let mut selection = Selection::new(failed_matching(filter), limit, dry_run);
        let moved = self
            .sweep(
                &self.topology.failed_queue(),
                |properties, body| selection.judge(properties, body),
                |_, _| async { Ok(()) },
            )
            .await?;
        Ok(Moved {
            matched: selection.matched,
            kept: moved.kept,
        })
    }

    /// Up to `limit` rejected messages from the head of the queue, leaving it as it was.
    pub async fn list_rejected(&self, limit: usize) -> Result<Vec<RejectedMessage>, ParkedError> {
        let mut listed = Vec::new();
        self.sweep(
            &self.topology.rejected_queue(),
            |properties, body| {
                if listed.len() < limit {
                    let table = properties.headers().clone().unwrap_or_default();
                    listed.push(RejectedMessage {
                        reason: get_str(&table, headers::REJECT_REASON).map(str::to_owned),
                        message_id: properties.message_id().as_ref().map(|id| id.to_string()),
                        body: body.to_vec(),
                    });
                }
                if listed.len() >= limit {
                    Verdict::Stop
                } else {
                    Verdict::Keep
                }
            },
            |_, _| async { Ok(()) },
        )
        .await?;
        Ok(listed)
    }

    /// Deletes up to `limit` rejected messages (with `dry_run`, counts them).
    pub async fn purge_rejected(
        &self,
        limit: Option<u64>,
        dry_run: bool,
    ) -> Result<Moved, ParkedError> {
        let mut selection = Selection::new(|_: &BasicProperties, _: &[u8]| true, limit, dry_run);
        let moved = self
            .sweep(
                &self.topology.rejected_queue(),
                |properties, body| selection.judge(properties, body),
                |_, _| async { Ok(()) },
            )
            .await?;
        Ok(Moved {
            matched: selection.matched,
            kept: moved.kept,
        })
    }

    /// A consumer of `queue` holding up to `window` messages, for a sweep `seen` messages in.
    async fn consume(
        &self,
        channel: &Channel,
        queue: &str,
        window: u16,
        seen: u32,
    ) -> Result<lapin::Consumer, ParkedError> {
        channel
            .basic_qos(window, BasicQosOptions::default())
            .await?;
        Ok(channel
            .basic_consume(
                queue.into(),
                format!("herald-parked-sweep-{seen}").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?)
    }

    /// Waits until `queue` holds at least `left` ready messages again (returning messages is
    /// not confirmed), so that what comes next sees them all; gives up after [`RETURN_WAIT`]
    /// with a warning.
    async fn wait_until_returned(&self, queue: &str, left: u64) -> Result<(), ParkedError> {
        let started = tokio::time::Instant::now();
        while u64::from(self.ready(queue).await?) < left {
            if started.elapsed() >= RETURN_WAIT {
                tracing::warn!(
                    queue,
                    left,
                    "the broker has not shown every returned message yet"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// Takes every message present when the sweep starts (or until `judge` says stop);
    /// `judge` decides, `take` runs for each taken message before it is acknowledged (up to
    /// [`TAKES_IN_FLIGHT`] at once: replays are confirmed in parallel).
    ///
    /// The messages come from consumers, which the broker streams, rather than one
    /// `basic.get` round trip each: one window after another, each a consumer on a channel
    /// of its own holding up to its prefetch. At the end the windows' channels are closed
    /// in order, each once the previous one's messages are back: a quorum queue serves
    /// returned messages first, in the order they were returned, so the kept messages end
    /// up at the head in their former order (a `nack` with requeue would send them to the
    /// back, and count towards a delivery limit on RabbitMQ 4).
    async fn sweep<J, T, F>(&self, queue: &str, mut judge: J, take: T) -> Result<Moved, ParkedError>
    where
        J: FnMut(&BasicProperties, &[u8]) -> Verdict,
        T: Fn(BasicProperties, Vec<u8>) -> F,
        F: std::future::Future<Output = Result<(), ParkedError>>,
    {
        let lock = self.lock().await?;
        let mut present = self.ready(queue).await?;
        let mut recounts = 0;
        let mut moved = Moved::default();
        let mut windows: Vec<Window> = Vec::new();
        let swept = async {
            let mut taking = FuturesUnordered::new();
            let mut size = FIRST_SWEEP_WINDOW;
            let mut seen = 0;
            let mut done = present == 0;
            while !done {
                let channel = self.connection.create_channel().await?;
                let mut consumer = self.consume(&channel, queue, size, seen).await?;
                windows.push(Window { channel, held: 0 });
                let window = windows.len() - 1;
                let mut delivered = 0;
                let mut cancelled = false;
                loop {
                    if !cancelled && (done || delivered == u32::from(size)) {
                        // This window is full, or the sweep has what it needs. The stream
                        // still yields what the broker sent before the cancel, then ends.
                        windows[window]
                            .channel
                            .basic_cancel(consumer.tag(), BasicCancelOptions::default())
                            .await?;
                        cancelled = true;
                    }
                    let delivery = match tokio::time::timeout(SWEEP_IDLE, consumer.next()).await {
                        Ok(Some(delivery)) => delivery?,
                        Ok(None) => break,
                        // Fewer messages than counted (expired, or removed by hand): all seen.
                        Err(_) if !done => {
                            done = true;
                            continue;
                        }
                        Err(_) => break,
                    };
                    delivered += 1;
                    if done {
                        // Sent before the cancel: held, returned at the end, not judged.
                        windows[window].held += 1;
                        continue;
                    }
                    seen += 1;
                    if seen >= present {
                        // Messages that entered the queue while the sweep ran (returned by an
                        // operation that was killed, or just parked) are not left behind: they
                        // are counted in, a few times at most, so a queue that keeps filling
                        // cannot hold the sweep forever.
                        let arrived = if recounts < SWEEP_RECOUNTS {
                            self.ready(queue).await?
                        } else {
                            0
                        };
                        recounts += 1;
                        present = present.saturating_add(arrived);
                        done = arrived == 0;
                    }
                    match judge(&delivery.properties, &delivery.data) {
                        Verdict::Keep => {
                            moved.kept += 1;
                            windows[window].held += 1;
                        }
                        Verdict::Stop => {
                            moved.kept += 1;
                            windows[window].held += 1;
                            done = true;
                        }
                        Verdict::Take => {
                            if taking.len() >= TAKES_IN_FLIGHT
                                && let Some(taken) = taking.next().await
                            {
                                taken?;
                                moved.matched += 1;
                            }
                            let replaced = take(delivery.properties, delivery.data);
                            let acker = delivery.acker;
                            taking.push(async move {
                                replaced.await?;
                                acker.ack(BasicAckOptions::default()).await?;
                                Ok::<_, ParkedError>(())
                            });
                        }
                    }
                }
                size = size.saturating_mul(4).min(SWEEP_WINDOW);
            }
            while let Some(taken) = taking.next().await {
                taken?;
                moved.matched += 1;
            }
            Ok::<_, ParkedError>(())
        }
        .await;
        // Closing returns every message still held, also after a failure.
        let returned = self.give_back(queue, windows).await;
        swept?;
        returned?;
        tracing::debug!(
            queue,
            present,
            taken = moved.matched,
            kept = moved.kept,
            "swept a parked queue"
        );
        lock.release().await?;
        Ok(moved)
    }

    /// Closes a sweep's windows in order, each once the previous one's messages are back.
    async fn give_back(&self, queue: &str, windows: Vec<Window>) -> Result<(), ParkedError> {
        for window in windows {
            if window.held == 0 {
                window.channel.close(200, "swept".into()).await?;
                continue;
            }
            let before = self.ready(queue).await?;
            window.channel.close(200, "swept".into()).await?;
            self.wait_until_returned(queue, u64::from(before) + window.held)
                .await?;
        }
        Ok(())
    }
}

/// One consumer's share of a sweep: its channel, and how many messages it holds.
struct Window {
    channel: Channel,
    held: u64,
}

/// Whether the broker refused an operation (here: the lock queue's consumer is taken).
fn is_access_refused(error: &lapin::Error) -> bool {
    matches!(error.kind(), ErrorKind::ProtocolError(refusal) if refusal.get_id() == 403)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn delivery(tenant: &str, webhook: &WebhookId, event_type: EventType) -> DeliveryHeaders {
        DeliveryHeaders {
            webhook_id: webhook.clone(),
            tenant_id: tenant.parse().expect("tenant"),
            event_id: "evt".parse().expect("event id"),
            event_type,
            event_timestamp: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single(),
            attempts: 6,
            first_attempt_at: None,
            traceparent: None,
            tracestate: None,
            seal: None,
        }
    }

    #[test]
    fn a_filter_matches_on_every_criterion_it_names() {
        let webhook = WebhookId::generate();
        let parked = delivery("acme", &webhook, EventType::ContactCreated);
        assert!(Filter::default().matches(&parked));
        assert!(
            Filter {
                tenant: "acme".parse().ok(),
                ..Filter::default()
            }
            .matches(&parked)
        );
        assert!(
            !Filter {
                tenant: "globex".parse().ok(),
                ..Filter::default()
            }
            .matches(&parked)
        );
        assert!(
            Filter {
                webhook: Some(webhook.clone()),
                event_type: Some(EventType::ContactCreated),
                ..Filter::default()
            }
            .matches(&parked)
        );
        assert!(
            !Filter {
                webhook: Some(WebhookId::generate()),
                ..Filter::default()
            }
            .matches(&parked)
        );
        assert!(
            !Filter {
                event_type: Some(EventType::BasketSubmitted),
                ..Filter::default()
            }
            .matches(&parked)
        );
        assert!(
            Filter {
                event_ids: Some(vec![parked.event_id.clone()]),
                ..Filter::default()
            }
            .matches(&parked)
        );
        assert!(
            !Filter {
                event_ids: Some(vec!["another".parse().expect("an event id")]),
                ..Filter::default()
            }
            .matches(&parked)
        );
    }

    #[test]
    fn a_time_bounded_filter_matches_by_when_the_delivery_was_parked() {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .expect("a time")
                .with_timezone(&Utc)
        };
        let parked = |failed_at: Option<&str>| FailedDelivery {
            delivery: delivery("acme", &WebhookId::generate(), EventType::ContactCreated),
            last_status: Some(500),
            last_error: Some("HTTP 500".into()),
            failed_at: failed_at.map(str::to_owned),
            body: Vec::new(),
        };
        let noon = parked(Some("2026-12-02T12:00:00Z"));
        let window = Filter {
            failed_since: Some(at("2026-12-02T11:00:00Z")),
            failed_until: Some(at("2026-12-02T12:00:00Z")),
            ..Filter::default()
        };
        assert!(
            !window.matches_failed(&noon),
            "the end of the window is excluded"
        );
        assert!(window.matches_failed(&parked(Some("2026-12-02T11:00:00Z"))));
        assert!(!window.matches_failed(&parked(Some("2026-12-02T10:59:59Z"))));
        assert!(!window.matches_failed(&parked(None)), "no time, no match");
        assert!(!window.matches_failed(&parked(Some("yesterday"))));
        assert!(Filter::default().matches_failed(&parked(None)));
        let since = Filter {
            failed_since: Some(at("2026-12-02T12:00:00Z")),
            ..Filter::default()
        };
        assert!(since.matches_failed(&noon));
    }

    #[test]
    fn a_selection_takes_the_first_matching_messages_up_to_the_limit() {
        let even = |properties: &BasicProperties, _: &[u8]| {
            properties.priority().is_some_and(|p| p % 2 == 0)
        };
        let message = |n: u8| BasicProperties::default().with_priority(n);
        let mut selection = Selection::new(even, Some(2), false);
        let verdicts: Vec<bool> = (0..8)
            .map(|n| matches!(selection.judge(&message(n), b""), Verdict::Take))
            .collect();
        assert_eq!(
            verdicts,
            [true, false, true, false, false, false, false, false]
        );
        assert_eq!(selection.matched, 2);

        let mut dry = Selection::new(even, None, true);
        assert!((0..8).all(|n| matches!(dry.judge(&message(n), b""), Verdict::Keep)));
        assert_eq!(dry.matched, 4);
    }

    #[test]
    fn a_failed_message_reads_back_with_its_outcome() {
        let webhook = WebhookId::generate();
        let failure = crate::FailureFacts {
            last_status: Some(503),
            last_error: "HTTP 503".into(),
        };
        let properties = delivery("acme", &webhook, EventType::CompanyCreated)
            .to_failed_properties(&failure, Utc::now());
        let failed = FailedDelivery::read(&properties, b"{}").expect("a delivery");
        assert_eq!(failed.last_status, Some(503));
        assert_eq!(failed.last_error.as_deref(), Some("HTTP 503"));
        assert!(failed.failed_at.is_some());
        assert_eq!(
            FailedDelivery::read(&BasicProperties::default(), b"x"),
            None
        );
    }
}
