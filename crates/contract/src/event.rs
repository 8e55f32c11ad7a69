//! Domain events as platform services publish them, parsed at the edge.
//!
//! - [`EventMessage`]: the body of an event message, as it travels (the one wire form every
//!   publisher in this workspace writes).
//! - [`OutgoingEvent`]: a typed event to publish, checked with fanout's rules before it leaves.
//! - [`DomainEvent::parse`] turns the bytes and AMQP properties of a message from the events
//!   exchange into a validated event, or into a [`RejectReason`]: a sentence an operator reads
//!   in the `x-reject-reason` header of the rejected queue.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::catalog::EventType;
use crate::ids::{EventId, InvalidId, TenantId};

/// The body of an event message as platform services publish it. Fields are plain text here
/// (a tool may send what fanout will reject, to show the rejected queue); [`OutgoingEvent`]
/// is the checked way to build one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMessage {
    pub event_id: String,
    pub event_type: String,
    /// RFC 3339.
    pub event_timestamp: String,
    pub tenant_id: String,
    pub entity_id: String,
    pub data: Value,
}

impl EventMessage {
    /// The JSON bytes published.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising strings and a `Value` into a vector cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| unreachable!("an EventMessage serialises"))
    }
}

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

    /// The message as it travels.
    pub fn message(&self) -> EventMessage {
        EventMessage {
            event_id: self.event_id.clone(),
            event_type: self.event_type.as_str().to_owned(),
            event_timestamp: crate::format_timestamp(self.event_timestamp),
            tenant_id: self.tenant_id.as_str().to_owned(),
            entity_id: self.entity_id.clone(),
            data: self.data.clone(),
        }
    }

    /// The JSON body, checked with the rules fanout applies.
    pub fn to_body(&self) -> Result<Vec<u8>, RejectReason> {
        let body = self.message().to_bytes();
        let envelope = EventEnvelope {
            message_id: None,
            timestamp: None,
            received_at: Utc::now(),
        };
        DomainEvent::parse(&body, &envelope, DEFAULT_MAX_EVENT_BYTES)?;
        Ok(body)
    }
}

/// What the broker says about an event besides its body.
#[derive(Debug, Clone, Copy)]
pub struct EventEnvelope<'a> {
    /// The AMQP `message_id` property: the event id when the body has none.
    pub message_id: Option<&'a str>,
    /// The AMQP `timestamp` property, in Unix seconds: the event time when the body has none.
    pub timestamp: Option<u64>,
    /// When fanout received the message: the event time when nothing else says.
    pub received_at: DateTime<Utc>,
}

/// A validated domain event.
#[derive(Debug, Clone)]
pub struct DomainEvent {
    pub event_id: EventId,
    pub event_type: EventType,
    /// Normalised to UTC.
    pub event_timestamp: DateTime<Utc>,
    pub tenant_id: TenantId,
    pub entity_id: String,
    /// The event's `data`, byte for byte as published.
    pub data: Box<RawValue>,
}

/// Why an event was not accepted. Its `Display` is the `x-reject-reason` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error("The event is {size} bytes, more than the limit of {max} bytes.")]
    TooLarge { size: usize, max: usize },
    #[error("The body is not valid JSON: {detail}.")]
    NotJson { detail: String },
    #[error("The body is JSON but not an object.")]
    NotAnObject,
    #[error("The required field `{field}` is missing or null.")]
    MissingField { field: &'static str },
    #[error("The field `{field}` must be {expected}.")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("The field `{field}` is invalid: it {problem}.")]
    InvalidField {
        field: &'static str,
        problem: String,
    },
    #[error("The event type `{name}` is not in the catalog.")]
    UnknownEventType { name: String },
    #[error("The field `eventTimestamp` is not an RFC 3339 timestamp: `{value}`.")]
    InvalidTimestamp { value: String },
}

impl RejectReason {
    /// Every label [`RejectReason::label`] gives.
    pub const LABELS: [&'static str; 8] = [
        "too_large",
        "not_json",
        "not_an_object",
        "missing_field",
        "wrong_type",
        "invalid_field",
        "unknown_event_type",
        "invalid_timestamp",
    ];

    /// A short, stable label for metrics (`not_json`, `missing_field`, ...).
    pub fn label(&self) -> &'static str {
        match self {
            RejectReason::TooLarge { .. } => "too_large",
            RejectReason::NotJson { .. } => "not_json",
            RejectReason::NotAnObject => "not_an_object",
            RejectReason::MissingField { .. } => "missing_field",
            RejectReason::WrongType { .. } => "wrong_type",
            RejectReason::InvalidField { .. } => "invalid_field",
            RejectReason::UnknownEventType { .. } => "unknown_event_type",
            RejectReason::InvalidTimestamp { .. } => "invalid_timestamp",
        }
    }
}

/// The largest event fanout accepts unless `MAX_EVENT_BYTES` says otherwise.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 262_144;

/// The longest `entityId` accepted.
pub const MAX_ENTITY_ID_LEN: usize = 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent<'a> {
    #[serde(borrow, default)]
    event_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    event_type: Option<&'a RawValue>,
    #[serde(borrow, default)]
    event_timestamp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tenant_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    entity_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

impl DomainEvent {
    /// Parses and validates an event body of at most `max_bytes` bytes.
    pub fn parse(
        body: &[u8],
        envelope: &EventEnvelope<'_>,
        max_bytes: usize,
    ) -> Result<Self, RejectReason> {
        if body.len() > max_bytes {
            return Err(RejectReason::TooLarge {
                size: body.len(),
                max: max_bytes,
            });
        }
        let raw = parse_object(body)?;

        let event_id = match optional_string(raw.event_id, "eventId")? {
            Some(id) => id,
            None => envelope
                .message_id
                .map(str::to_owned)
                .ok_or(RejectReason::MissingField { field: "eventId" })?,
        };
        let event_id = EventId::parse(event_id).map_err(|e| invalid("eventId", e))?;

        let event_type_name = required_string(raw.event_type, "eventType")?;
        let event_type =
            event_type_name
                .parse::<EventType>()
                .map_err(|_| RejectReason::UnknownEventType {
                    name: event_type_name,
                })?;

        let tenant_id = TenantId::parse(required_string(raw.tenant_id, "tenantId")?)
            .map_err(|e| invalid("tenantId", e))?;

        let entity_id = required_string(raw.entity_id, "entityId")?;
        if entity_id.is_empty() {
            return Err(invalid("entityId", InvalidId::Empty));
        }
        if entity_id.chars().count() > MAX_ENTITY_ID_LEN {
            return Err(invalid(
                "entityId",
                InvalidId::TooLong {
                    max: MAX_ENTITY_ID_LEN,
                },
            ));
        }

        let event_timestamp = match optional_string(raw.event_timestamp, "eventTimestamp")? {
            Some(value) => DateTime::parse_from_rfc3339(&value)
                .map_err(|_| RejectReason::InvalidTimestamp { value })?
                .with_timezone(&Utc),
            None => envelope
                .timestamp
                .and_then(|secs| i64::try_from(secs).ok())
                .and_then(|secs| DateTime::from_timestamp(secs, 0))
                .unwrap_or(envelope.received_at),
        };

        let data = raw
            .data
            .ok_or(RejectReason::MissingField { field: "data" })?
            .to_owned();

        Ok(DomainEvent {
            event_id,
            event_type,
            event_timestamp,
            tenant_id,
            entity_id,
            data,
        })
    }
}

fn parse_object(body: &[u8]) -> Result<RawEvent<'_>, RejectReason> {
    // Check the outer shape first so that "not an object" is not reported as a type error.
    let value: &RawValue = serde_json::from_slice(body).map_err(|e| RejectReason::NotJson {
        detail: e.to_string(),
    })?;
    if !value.get().starts_with('{') {
        return Err(RejectReason::NotAnObject);
    }
    serde_json::from_str(value.get()).map_err(|e| RejectReason::NotJson {
        detail: e.to_string(),
    })
}

fn optional_string(
    raw: Option<&RawValue>,
    field: &'static str,
) -> Result<Option<String>, RejectReason> {
    raw.map(|raw| {
        serde_json::from_str::<String>(raw.get()).map_err(|_| RejectReason::WrongType {
            field,
            expected: "a string",
        })
    })
    .transpose()
}

fn required_string(raw: Option<&RawValue>, field: &'static str) -> Result<String, RejectReason> {
    optional_string(raw, field)?.ok_or(RejectReason::MissingField { field })
}

fn invalid(field: &'static str, problem: InvalidId) -> RejectReason {
    let problem = match problem {
        InvalidId::Empty => "is empty".to_owned(),
        InvalidId::TooLong { max } => format!("is longer than {max} characters"),
        InvalidId::BadCharacter { allowed } => format!("has characters other than {allowed}"),
        InvalidId::Malformed { example } => format!("does not look like `{example}`"),
    };
    RejectReason::InvalidField { field, problem }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const MAX: usize = DEFAULT_MAX_EVENT_BYTES;

    fn received_at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
            .single()
            .expect("valid date")
    }

    fn envelope() -> EventEnvelope<'static> {
        EventEnvelope {
            message_id: None,
            timestamp: None,
            received_at: received_at(),
        }
    }

    fn parse(body: &str) -> Result<DomainEvent, RejectReason> {
        DomainEvent::parse(body.as_bytes(), &envelope(), MAX)
    }

    const VALID: &str = r#"{"eventId":"evt-1","eventType":"contact-created","eventTimestamp":"2024-03-21T14:46:46+01:00","tenantId":"acme","entityId":"CONT-123","data":{"name": "Ada"}}"#;

    #[test]
    fn a_valid_event_parses_with_its_timestamp_normalised_to_utc() {
        let event = parse(VALID).expect("valid event");
        assert_eq!(event.event_id.as_str(), "evt-1");
        assert_eq!(event.event_type, EventType::ContactCreated);
        assert_eq!(
            crate::format_timestamp(event.event_timestamp),
            "2024-03-21T13:46:46Z"
        );
        assert_eq!(event.tenant_id.as_str(), "acme");
        assert_eq!(event.entity_id, "CONT-123");
        assert_eq!(event.data.get(), r#"{"name": "Ada"}"#);
    }

    #[test]
    fn the_event_id_falls_back_to_the_message_id_and_the_body_wins_when_both_are_set() {
        let without_id =
            r#"{"eventType":"contact-created","tenantId":"acme","entityId":"C","data":{}}"#;
        let envelope = EventEnvelope {
            message_id: Some("from-amqp"),
            ..envelope()
        };
        let event = DomainEvent::parse(without_id.as_bytes(), &envelope, MAX).expect("valid");
        assert_eq!(event.event_id.as_str(), "from-amqp");
        let event = DomainEvent::parse(VALID.as_bytes(), &envelope, MAX).expect("valid");
        assert_eq!(event.event_id.as_str(), "evt-1");
        assert_eq!(
            parse(without_id).err(),
            Some(RejectReason::MissingField { field: "eventId" })
        );
    }

    #[test]
    fn the_timestamp_falls_back_to_the_amqp_timestamp_then_to_the_receive_time() {
        let body = r#"{"eventId":"e","eventType":"basket-submitted","tenantId":"acme","entityId":"B","data":{}}"#;
        let with_amqp_time = EventEnvelope {
            timestamp: Some(1_700_000_000),
            ..envelope()
        };
        let event = DomainEvent::parse(body.as_bytes(), &with_amqp_time, MAX).expect("valid");
        assert_eq!(
            crate::format_timestamp(event.event_timestamp),
            "2023-11-14T22:13:20Z"
        );
        let event = parse(body).expect("valid");
        assert_eq!(event.event_timestamp, received_at());
    }

    #[test]
    fn bad_events_are_rejected_with_a_reason_that_names_the_problem() {
        let cases: &[(&str, &str)] = &[
            ("not json", "not_json"),
            ("[1,2]", "not_an_object"),
            ("\"text\"", "not_an_object"),
            (
                r#"{"eventId":"e","tenantId":"acme","entityId":"C","data":{}}"#,
                "missing_field",
            ),
            (
                r#"{"eventId":"e","eventType":"contact-created","entityId":"C","data":{}}"#,
                "missing_field",
            ),
            (
                r#"{"eventId":"e","eventType":"contact-created","tenantId":"acme","data":{}}"#,
                "missing_field",
            ),
            (
                r#"{"eventId":"e","eventType":"contact-created","tenantId":"acme","entityId":"C"}"#,
                "missing_field",
            ),
            (
                r#"{"eventId":"e","eventType":"contact-created","tenantId":"acme","entityId":"C","data":null}"#,
                "missing_field",
            ),
            (
                r#"{"eventId":"e","eventType":"contact-merged","tenantId":"acme","entityId":"C","data":{}}"#,
                "unknown_event_type",
            ),
            (
                r#"{"eventId":"e","eventType":7,"tenantId":"acme","entityId":"C","data":{}}"#,
                "wrong_type",
            ),
            (
                r#"{"eventId":"e","eventType":"contact-created","tenantId":["acme"],"entityId":"C","data":{}}"#,
                "wrong_type",
            ),
            (
                r#"{"eventId":"e","eventType":"contact-created","tenantId":"a/b","entityId":"C","data":{}}"#,
                "invalid_field",
            ),
            (
                r#"{"eventId":"has space","eventType":"contact-created","tenantId":"acme","entityId":"C","data":{}}"#,
                "invalid_field",
            ),
            (
                r#"{"eventId":"e","eventType":"contact-created","tenantId":"acme","entityId":"","data":{}}"#,
                "invalid_field",
            ),
            (
                r#"{"eventId":"e","eventType":"contact-created","eventTimestamp":"yesterday","tenantId":"acme","entityId":"C","data":{}}"#,
                "invalid_timestamp",
            ),
            (
                r#"{"eventId":"e","eventId":"f","eventType":"contact-created","tenantId":"acme","entityId":"C","data":{}}"#,
                "not_json",
            ),
        ];
        for (body, label) in cases {
            let reason = parse(body).expect_err(body);
            assert_eq!(reason.label(), *label, "{body}: {reason}");
            assert!(RejectReason::LABELS.contains(label));
            assert!(reason.to_string().ends_with('.'), "{reason}");
        }
    }

    #[test]
    fn oversize_events_are_rejected_before_parsing() {
        let reason = DomainEvent::parse(VALID.as_bytes(), &envelope(), 10).expect_err("too large");
        assert_eq!(
            reason.to_string(),
            format!(
                "The event is {} bytes, more than the limit of 10 bytes.",
                VALID.len()
            )
        );
    }

    #[test]
    fn invalid_utf8_is_not_json() {
        let reason =
            DomainEvent::parse(b"{\"eventId\":\"\xff\"}", &envelope(), MAX).expect_err("bad utf8");
        assert_eq!(reason.label(), "not_json");
    }
}

#[cfg(test)]
mod outgoing_tests {
    use super::*;
    use serde_json::json;

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
