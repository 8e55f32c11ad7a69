//! Publishing domain events.

use chrono::{DateTime, Utc};
use lapin::options::ExchangeDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Connection, ExchangeKind};
use serde_json::{Value, json};

use super::publisher::{PublishError, Publisher};
use crate::catalog::EventType;
use crate::event::{DEFAULT_MAX_EVENT_BYTES, DomainEvent, EventEnvelope, RejectReason};
use crate::ids::TenantId;
use crate::topology::{Topology, headers};

/// A domain event to publish.
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    /// Receivers dedupe on it: keep it stable when publishing the same event again.
    pub event_id: String,
    pub event_type: EventType,
    pub tenant_id: TenantId,
    pub entity_id: String,
    pub event_timestamp: DateTime<Utc>,
    pub data: Value,
}

impl OutgoingEvent {
    /// An event with a fresh id, timestamped now.
    pub fn new(
        tenant_id: TenantId,
        event_type: EventType,
        entity_id: impl Into<String>,
        data: Value,
    ) -> Self {
        Self {
            event_id: uuid::Uuid::new_v4().to_string(),
            event_type,
            tenant_id,
            entity_id: entity_id.into(),
            event_timestamp: Utc::now(),
            data,
        }
    }

    /// The JSON body, checked with the rules fanout applies.
    pub fn to_body(&self) -> Result<Vec<u8>, RejectReason> {
        let body = serde_json::to_vec(&json!({
            "eventId": self.event_id,
            "eventType": self.event_type,
            "eventTimestamp": crate::format_timestamp(self.event_timestamp),
            "tenantId": self.tenant_id,
            "entityId": self.entity_id,
            "data": self.data,
        }))
        .map_err(|e| RejectReason::NotJson {
            detail: e.to_string(),
        })?;
        let envelope = EventEnvelope {
            message_id: None,
            timestamp: None,
            received_at: Utc::now(),
        };
        DomainEvent::parse(&body, &envelope, DEFAULT_MAX_EVENT_BYTES)?;
        Ok(body)
    }
}

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
        publisher
            .channel()
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    passive: true,
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_event_serialises_with_every_required_field() {
        let event = OutgoingEvent::new(
            "acme".parse().expect("tenant"),
            EventType::BasketSubmitted,
            "BASK-1",
            json!({"total": 3}),
        );
        let body: Value = serde_json::from_slice(&event.to_body().expect("valid")).expect("JSON");
        assert_eq!(body["eventType"], "basket-submitted");
        assert_eq!(body["tenantId"], "acme");
        assert_eq!(body["entityId"], "BASK-1");
        assert_eq!(body["data"]["total"], 3);
        assert!(
            body["eventTimestamp"]
                .as_str()
                .expect("timestamp")
                .ends_with('Z')
        );
    }

    #[test]
    fn an_event_fanout_would_reject_never_leaves() {
        let mut event = OutgoingEvent::new(
            "acme".parse().expect("tenant"),
            EventType::ContactCreated,
            "",
            json!({}),
        );
        assert!(matches!(
            event.to_body(),
            Err(RejectReason::InvalidField {
                field: "entityId",
                ..
            })
        ));
        event.entity_id = "C-1".into();
        event.event_id = "has space".into();
        assert!(event.to_body().is_err());
        event.event_id = "ok".into();
        event.data = Value::Null;
        assert!(event.to_body().is_err());
    }
}
