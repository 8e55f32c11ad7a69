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

mod lock;
mod sweep;

use chrono::{DateTime, Utc};
use herald_contract::topology::headers;
use herald_contract::{EventId, EventType, TenantId, Topology, WebhookId};
use std::time::Duration;

use lapin::{BasicProperties, Channel, Connection};

use crate::delivery::DeliveryHeaders;
use crate::headers::{get_int, get_str};
use crate::{PublishError, Publisher};

pub use lock::LOCK_WAIT;
use sweep::{Selection, Verdict};

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

/// Operations on the failed and rejected queues of one installation.
pub struct ParkedQueues {
    connection: Connection,
    channel: Channel,
    publisher: Publisher,
    topology: Topology,
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

    /// Messages ready in `queue`.
    async fn ready(&self, queue: &str) -> Result<u32, ParkedError> {
        Ok(crate::topology::inspect(&self.channel, queue)
            .await?
            .message_count())
    }

    /// Up to `limit` failed deliveries matching `filter`, from the head of the queue, leaving it as
    /// it was.
    pub async fn list_failed(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<FailedDelivery>, ParkedError> {
        self.list(&self.topology.failed_queue(), limit, |properties, body| {
            FailedDelivery::read(properties, body).filter(|f| filter.matches_failed(f))
        })
        .await
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
        let selection = Selection::new(failed_matching(filter), limit, dry_run);
        self.purge(&self.topology.failed_queue(), selection).await
    }

    /// Up to `limit` rejected messages from the head of the queue, leaving it as it was.
    pub async fn list_rejected(&self, limit: usize) -> Result<Vec<RejectedMessage>, ParkedError> {
        self.list(
            &self.topology.rejected_queue(),
            limit,
            |properties, body| {
                let table = properties.headers().clone().unwrap_or_default();
                Some(RejectedMessage {
                    reason: get_str(&table, headers::REJECT_REASON).map(str::to_owned),
                    message_id: properties.message_id().as_ref().map(|id| id.to_string()),
                    body: body.to_vec(),
                })
            },
        )
        .await
    }

    /// Up to `limit` messages of `queue` that `read` makes something of, from the head of the
    /// queue, leaving it as it was.
    async fn list<T>(
        &self,
        queue: &str,
        limit: usize,
        mut read: impl FnMut(&BasicProperties, &[u8]) -> Option<T>,
    ) -> Result<Vec<T>, ParkedError> {
        let mut listed = Vec::new();
        self.sweep(
            queue,
            |properties, body| {
                if listed.len() < limit {
                    listed.extend(read(properties, body));
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
        let selection = Selection::new(|_: &BasicProperties, _: &[u8]| true, limit, dry_run);
        self.purge(&self.topology.rejected_queue(), selection).await
    }

    /// Deletes from `queue` what `selection` takes.
    async fn purge<M: FnMut(&BasicProperties, &[u8]) -> bool>(
        &self,
        queue: &str,
        mut selection: Selection<M>,
    ) -> Result<Moved, ParkedError> {
        let moved = self
            .sweep(
                queue,
                |properties, body| selection.judge(properties, body),
                |_, _| async { Ok(()) },
            )
            .await?;
        Ok(Moved {
            matched: selection.matched,
            kept: moved.kept,
        })
    }
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
