//! The body Herald POSTs: `{"meta":{...},"data":{...}}`, fields in a fixed order.
//!
//! The bytes are built once, by fanout, and travel unchanged through every attempt, so the body
//! of a retry is byte-identical to the first attempt's.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::event::DomainEvent;
use crate::ids::WebhookId;

/// The `meta.version` of the payload format.
pub const PAYLOAD_VERSION: &str = "1.0";

#[derive(Serialize)]
struct Payload<'a> {
    meta: Meta<'a>,
    data: &'a RawValue,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    webhook_id: &'a str,
    event_id: &'a str,
    event_type: &'a str,
    event_timestamp: String,
    entity_id: &'a str,
    version: &'static str,
}

/// Builds the request body of `event` for one webhook.
pub fn build_payload(webhook_id: &WebhookId, event: &DomainEvent) -> Vec<u8> {
    let payload = Payload {
        meta: Meta {
            webhook_id: webhook_id.as_str(),
            event_id: event.event_id.as_str(),
            event_type: event.event_type.as_str(),
            event_timestamp: crate::format_timestamp(event.event_timestamp),
            entity_id: &event.entity_id,
            version: PAYLOAD_VERSION,
        },
        data: &event.data,
    };
    let mut body = Vec::with_capacity(160 + event.data.get().len());
    // Serialising borrowed strings and an already-valid raw value into a Vec cannot fail.
    serde_json::to_writer(&mut body, &payload)
        .unwrap_or_else(|_| unreachable!("a payload of strings and valid JSON serialises"));
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::EventType;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_payload_has_meta_then_data_with_fields_in_the_documented_order() {
        let event = DomainEvent {
            event_id: "3f0c9a4e".parse().expect("valid id"),
            event_type: EventType::ContactCreated,
            event_timestamp: Utc
                .with_ymd_and_hms(2024, 3, 21, 13, 46, 46)
                .single()
                .expect("date"),
            tenant_id: "acme".parse().expect("valid tenant"),
            entity_id: "CONT-123".into(),
            data: RawValue::from_string(r#"{"any":"json","n":[1,2]}"#.into()).expect("raw json"),
        };
        let webhook_id: WebhookId = "WEBH-0193A1B2C3D4E5F60718293A4B5C6D7E"
            .parse()
            .expect("valid id");

        let body = build_payload(&webhook_id, &event);

        assert_eq!(
            String::from_utf8(body).expect("utf-8"),
            r#"{"meta":{"webhookId":"WEBH-0193A1B2C3D4E5F60718293A4B5C6D7E","eventId":"3f0c9a4e","eventType":"contact-created","eventTimestamp":"2024-03-21T13:46:46Z","entityId":"CONT-123","version":"1.0"},"data":{"any":"json","n":[1,2]}}"#
        );
    }
}
