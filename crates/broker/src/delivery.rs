//! The delivery message: one per (event, webhook).
//!
//! Its body is the exact HTTP request body, built once by fanout; its headers carry what the
//! sender needs to route, count and trace the delivery. The same message moves through the
//! retry stages (with `x-attempts` advanced) and ends, if every attempt fails, in the failed
//! queue with the outcome of its last attempt.

use chrono::{DateTime, Utc};
use herald_contract::topology::headers;
use herald_contract::trace_context::{valid_traceparent, valid_tracestate};
use herald_contract::{DomainEvent, EventId, EventType, TenantId, WebhookId, format_timestamp};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, ShortString};

use crate::headers::{get_int, get_str, put_int, put_opt_str, put_str};

/// The headers of a delivery message.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryHeaders {
    pub webhook_id: WebhookId,
    pub tenant_id: TenantId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub event_timestamp: Option<DateTime<Utc>>,
    /// Attempts made so far: 0 for a fresh delivery.
    pub attempts: u32,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    /// Fanout's seal over the body and the routing headers (see [`crate::seal`]).
    pub seal: Option<String>,
}

/// How the last attempt of a delivery went, for the retry and failed queues' headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureFacts {
    /// The HTTP status, when a response came.
    pub last_status: Option<u16>,
    /// A short sentence: `HTTP 500`, `timed out after 10s`, `connection refused`.
    pub last_error: String,
}

/// A message on the deliveries queue that is not a delivery Herald can make.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the delivery message has no valid `{header}` header")]
pub struct MalformedDelivery {
    pub header: &'static str,
}

impl DeliveryHeaders {
    /// The headers of a fresh delivery of `event` to one webhook.
    pub fn fresh(
        webhook_id: WebhookId,
        event: &DomainEvent,
        traceparent: Option<String>,
        tracestate: Option<String>,
    ) -> Self {
        Self {
            webhook_id,
            tenant_id: event.tenant_id.clone(),
            event_id: event.event_id.clone(),
            event_type: event.event_type,
            event_timestamp: Some(event.event_timestamp),
            attempts: 0,
            first_attempt_at: None,
            traceparent,
            tracestate,
            seal: None,
        }
    }

    /// Reads the headers of a delivery message.
    pub fn parse(properties: &BasicProperties) -> Result<Self, MalformedDelivery> {
        let empty = FieldTable::default();
        let table = properties.headers().as_ref().unwrap_or(&empty);
        let required =
            |header: &'static str| get_str(table, header).ok_or(MalformedDelivery { header });
        let timestamp = |header: &'static str| -> Result<Option<DateTime<Utc>>, MalformedDelivery> {
            get_str(table, header)
                .map(|value| {
                    DateTime::parse_from_rfc3339(value)
                        .map(|at| at.with_timezone(&Utc))
                        .map_err(|_| MalformedDelivery { header })
                })
                .transpose()
        };
        fn parsed<T: std::str::FromStr>(
            value: &str,
            header: &'static str,
        ) -> Result<T, MalformedDelivery> {
            value.parse().map_err(|_| MalformedDelivery { header })
        }

        Ok(Self {
            webhook_id: parsed(required(headers::WEBHOOK_ID)?, headers::WEBHOOK_ID)?,
            tenant_id: parsed(required(headers::TENANT_ID)?, headers::TENANT_ID)?,
            event_id: parsed(required(headers::EVENT_ID)?, headers::EVENT_ID)?,
            event_type: parsed(required(headers::EVENT_TYPE)?, headers::EVENT_TYPE)?,
            event_timestamp: timestamp(headers::EVENT_TIMESTAMP)?,
            attempts: match get_int(table, headers::ATTEMPTS) {
                None => 0,
                Some(n) => u32::try_from(n).map_err(|_| MalformedDelivery {
                    header: headers::ATTEMPTS,
                })?,
            },
            first_attempt_at: timestamp(headers::FIRST_ATTEMPT_AT)?,
            // Trace context is never a reason to refuse a delivery: what is not W3C is dropped.
            traceparent: get_str(table, headers::TRACEPARENT)
                .and_then(valid_traceparent)
                .map(str::to_owned),
            tracestate: get_str(table, headers::TRACESTATE)
                .and_then(valid_tracestate)
                .map(str::to_owned),
            seal: get_str(table, headers::SEAL).map(str::to_owned),
        })
    }

    /// The properties of a delivery message on its way to a sender or a retry stage.
    pub fn to_properties(&self, last_failure: Option<&FailureFacts>) -> BasicProperties {
        let mut table = self.header_table();
        if let Some(failure) = last_failure {
            put_failure(&mut table, failure);
        }
        self.properties(table)
    }

    /// The properties of a delivery parked in the failed queue, with every header an operator
    /// reads there.
    pub fn to_failed_properties(
        &self,
        failure: &FailureFacts,
        failed_at: DateTime<Utc>,
    ) -> BasicProperties {
        let mut table = self.header_table();
        put_failure(&mut table, failure);
        put_str(&mut table, headers::FAILED_AT, &format_timestamp(failed_at));
        self.properties(table)
    }

    /// The same delivery, ready for a fresh ladder (used when replaying failed deliveries).
    pub fn restarted(&self) -> Self {
        Self {
            attempts: 0,
            first_attempt_at: None,
            ..self.clone()
        }
    }

    fn header_table(&self) -> FieldTable {
        let mut table = FieldTable::default();
        put_str(&mut table, headers::WEBHOOK_ID, self.webhook_id.as_str());
        put_str(&mut table, headers::TENANT_ID, self.tenant_id.as_str());
        put_str(&mut table, headers::EVENT_ID, self.event_id.as_str());
        put_str(&mut table, headers::EVENT_TYPE, self.event_type.as_str());
        put_opt_str(
            &mut table,
            headers::EVENT_TIMESTAMP,
            self.event_timestamp.map(format_timestamp).as_deref(),
        );
        put_int(&mut table, headers::ATTEMPTS, i64::from(self.attempts));
        put_opt_str(
            &mut table,
            headers::FIRST_ATTEMPT_AT,
            self.first_attempt_at.map(format_timestamp).as_deref(),
        );
        put_opt_str(
            &mut table,
            headers::TRACEPARENT,
            self.traceparent.as_deref(),
        );
        put_opt_str(&mut table, headers::TRACESTATE, self.tracestate.as_deref());
        put_opt_str(&mut table, headers::SEAL, self.seal.as_deref());
        table
    }

    fn properties(&self, table: FieldTable) -> BasicProperties {
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_timestamp(u64::try_from(Utc::now().timestamp()).unwrap_or_default())
            .with_headers(table);
        // Event ids are at most 255 visible ASCII characters, so they always fit.
        match ShortString::try_new(self.event_id.as_str()) {
            Ok(message_id) => properties.with_message_id(message_id),
            Err(_) => properties,
        }
    }
}

/// When a delivery message entered the queue it was taken from, to the second: the later of
/// its publish time (the `timestamp` property every Herald publish sets) and its latest
/// dead-lettering (`x-death`, when it came back from a retry stage). `None` for a message
/// that carries neither.
pub fn enqueued_at(properties: &BasicProperties) -> Option<DateTime<Utc>> {
    let published = properties
        .timestamp()
        .and_then(|seconds| i64::try_from(seconds).ok());
    let dead_lettered = properties.headers().as_ref().and_then(|table| {
        let Some(AMQPValue::FieldArray(deaths)) = table.inner().get("x-death") else {
            return None;
        };
        deaths
            .as_slice()
            .iter()
            .filter_map(|death| match death {
                AMQPValue::FieldTable(death) => match death.inner().get("time") {
                    Some(AMQPValue::Timestamp(seconds)) => i64::try_from(*seconds).ok(),
                    _ => None,
                },
                _ => None,
            })
            .max()
    });
    let seconds = published.into_iter().chain(dead_lettered).max()?;
    DateTime::from_timestamp(seconds, 0)
}

fn put_failure(table: &mut FieldTable, failure: &FailureFacts) {
    if let Some(status) = failure.last_status {
        put_int(table, headers::LAST_STATUS, i64::from(status));
    }
    put_str(table, headers::LAST_ERROR, &failure.last_error);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use lapin::types::FieldArray;

    #[test]
    fn a_message_entered_its_queue_when_published_or_when_it_came_back_from_a_stage() {
        let published = BasicProperties::default().with_timestamp(1_700_000_000);
        assert_eq!(
            enqueued_at(&published).map(|at| at.timestamp()),
            Some(1_700_000_000)
        );
        let mut death = FieldTable::default();
        death.insert("time".into(), AMQPValue::Timestamp(1_700_000_060));
        let mut table = FieldTable::default();
        table.insert(
            "x-death".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
        );
        let returned = published.with_headers(table);
        assert_eq!(
            enqueued_at(&returned).map(|at| at.timestamp()),
            Some(1_700_000_060)
        );
        assert_eq!(enqueued_at(&BasicProperties::default()), None);
    }

    fn sample() -> DeliveryHeaders {
        DeliveryHeaders {
            webhook_id: "WEBH-0193A1B2C3D4E5F60718293A4B5C6D7E".parse().expect("id"),
            tenant_id: "acme".parse().expect("tenant"),
            event_id: "evt-1".parse().expect("event id"),
            event_type: EventType::CompanyCreated,
            event_timestamp: Utc.with_ymd_and_hms(2024, 3, 21, 13, 46, 46).single(),
            attempts: 2,
            first_attempt_at: Utc.with_ymd_and_hms(2024, 3, 21, 13, 46, 47).single(),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            tracestate: None,
            seal: Some("v1,k1,AAAA".into()),
        }
    }

    #[test]
    fn headers_round_trip_through_message_properties() {
        let headers = sample();
        let properties = headers.to_properties(None);
        assert_eq!(DeliveryHeaders::parse(&properties), Ok(headers));
        assert_eq!(
            properties.message_id().as_ref().map(|id| id.as_str()),
            Some("evt-1")
        );
    }

    #[test]
    fn failed_messages_carry_every_operator_header() {
        let failure = FailureFacts {
            last_status: Some(500),
            last_error: "HTTP 500".into(),
        };
        let failed_at = Utc
            .with_ymd_and_hms(2024, 3, 21, 15, 0, 0)
            .single()
            .expect("date");
        let properties = sample().to_failed_properties(&failure, failed_at);
        let table = properties.headers().clone().expect("headers");
        assert_eq!(
            get_str(&table, "x-webhook-id"),
            Some("WEBH-0193A1B2C3D4E5F60718293A4B5C6D7E")
        );
        assert_eq!(get_str(&table, "x-tenant-id"), Some("acme"));
        assert_eq!(get_str(&table, "x-event-id"), Some("evt-1"));
        assert_eq!(get_str(&table, "x-event-type"), Some("company-created"));
        assert_eq!(get_int(&table, "x-attempts"), Some(2));
        assert_eq!(get_int(&table, "x-last-status"), Some(500));
        assert_eq!(get_str(&table, "x-last-error"), Some("HTTP 500"));
        assert_eq!(
            get_str(&table, "x-first-attempt-at"),
            Some("2024-03-21T13:46:47Z")
        );
        assert_eq!(get_str(&table, "x-failed-at"), Some("2024-03-21T15:00:00Z"));
    }

    #[test]
    fn no_status_header_when_no_response_came() {
        let failure = FailureFacts {
            last_status: None,
            last_error: "connection refused".into(),
        };
        let properties = sample().to_failed_properties(&failure, Utc::now());
        let table = properties.headers().clone().expect("headers");
        assert_eq!(get_int(&table, "x-last-status"), None);
        assert_eq!(get_str(&table, "x-last-error"), Some("connection refused"));
    }

    #[test]
    fn messages_without_valid_routing_headers_are_malformed() {
        assert_eq!(
            DeliveryHeaders::parse(&BasicProperties::default()),
            Err(MalformedDelivery {
                header: "x-webhook-id"
            })
        );
        let mut table = sample()
            .to_properties(None)
            .headers()
            .clone()
            .expect("headers");
        put_str(&mut table, "x-event-type", "contact-merged");
        let properties = BasicProperties::default().with_headers(table);
        assert_eq!(
            DeliveryHeaders::parse(&properties),
            Err(MalformedDelivery {
                header: "x-event-type"
            })
        );
    }

    #[test]
    fn a_restarted_delivery_begins_a_fresh_ladder() {
        let restarted = sample().restarted();
        assert_eq!(restarted.attempts, 0);
        assert_eq!(restarted.first_attempt_at, None);
        assert_eq!(restarted.event_id, sample().event_id);
    }
}
