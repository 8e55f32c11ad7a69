//! Publishing domain events, as platform services do: validated with the rules fanout
//! applies, persistent, confirmed, with the event type as routing key and the caller's W3C
//! trace context.

use chrono::{DateTime, Utc};
use herald_contract::topology::headers;
use herald_contract::{OutgoingEvent, RejectReason, Topology};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Connection};

use crate::publisher::{PublishError, Publisher};

/// Why an event was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishEventError {
    #[error("fanout would reject this event: {0}")]
    Invalid(#[from] RejectReason),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("the events exchange is not there (is Herald's topology declared?): {0}")]
    Declare(lapin::Error),
}

/// Publishes domain events to the events exchange.
pub struct EventPublisher {
    publisher: Publisher,
    exchange: String,
}

impl EventPublisher {
    /// Opens a confirm channel on `connection` and checks that the events exchange exists — a
    /// passive declaration, so a publisher needs no permission but to write to it.
    pub async fn new(connection: &Connection, exchange: &str) -> Result<Self, PublishEventError> {
        let publisher = Publisher::open(connection)
            .await
            .map_err(PublishEventError::Declare)?;
        crate::topology::events_exchange(publisher.channel(), exchange, true)
            .await
            .map_err(PublishEventError::Declare)?;
        Ok(Self {
            publisher,
            exchange: exchange.to_owned(),
        })
    }

    /// On the default exchange, `platform.events`.
    pub async fn default_exchange(connection: &Connection) -> Result<Self, PublishEventError> {
        Self::new(connection, Topology::DEFAULT_EXCHANGE).await
    }

    /// Validates `event`, publishes it persistent with the event type as routing key and
    /// `traceparent` (W3C) as a header, and returns once the broker confirmed it. An event no
    /// queue is bound for (fanout never started) is an error, not a silent drop.
    pub async fn publish(
        &self,
        event: &OutgoingEvent,
        traceparent: Option<&str>,
    ) -> Result<(), PublishEventError> {
        let body = event.to_body()?;
        self.publish_body(
            event.event_type.as_str(),
            &body,
            Some(&event.event_id),
            event.event_timestamp,
            traceparent,
        )
        .await
    }

    /// Publishes an event body as it is, unchecked — for tools that want to show what fanout
    /// does with bad input. Same properties and guarantees as [`EventPublisher::publish`].
    pub async fn publish_body(
        &self,
        routing_key: &str,
        body: &[u8],
        event_id: Option<&str>,
        at: DateTime<Utc>,
        traceparent: Option<&str>,
    ) -> Result<(), PublishEventError> {
        let mut table = FieldTable::default();
        if let Some(traceparent) = traceparent {
            table.insert(
                ShortString::from(headers::TRACEPARENT),
                AMQPValue::LongString(LongString::from(traceparent)),
            );
        }
        let mut properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_timestamp(u64::try_from(at.timestamp()).unwrap_or_default())
            .with_headers(table);
        if let Some(message_id) = event_id.and_then(|id| ShortString::try_new(id).ok()) {
            properties = properties.with_message_id(message_id);
        }
        self.publisher
            .publish(&self.exchange, routing_key, true, body, properties)
            .await?;
        Ok(())
    }
}
