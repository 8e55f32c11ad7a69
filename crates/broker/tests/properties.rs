//! Properties of delivery headers, over generated input: reading any header table never
//! panics, and valid headers survive the round trip through message properties.

use chrono::{TimeZone, Utc};
use herald_broker::DeliveryHeaders;
use herald_broker::lapin::BasicProperties;
use herald_broker::lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use herald_contract::{EventType, WebhookId};
use proptest::prelude::*;

const NAMES: [&str; 10] = [
    "x-webhook-id",
    "x-tenant-id",
    "x-event-id",
    "x-event-type",
    "x-event-timestamp",
    "x-attempts",
    "x-first-attempt-at",
    "traceparent",
    "tracestate",
    "x-herald-seal",
];

fn any_value() -> impl Strategy<Value = AMQPValue> {
    prop_oneof![
        any::<i64>().prop_map(AMQPValue::LongLongInt),
        any::<i32>().prop_map(AMQPValue::LongInt),
        any::<bool>().prop_map(AMQPValue::Boolean),
        prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|bytes| AMQPValue::LongString(LongString::from(bytes))),
        "\\PC{0,40}".prop_map(|text| AMQPValue::LongString(LongString::from(text))),
    ]
}

proptest! {
    #[test]
    fn any_header_table_reads_without_panicking(values in prop::collection::vec(any_value(), NAMES.len())) {
        let mut table = FieldTable::default();
        for (name, value) in NAMES.iter().zip(values) {
            table.insert(ShortString::from(*name), value);
        }
        let _ = DeliveryHeaders::parse(&BasicProperties::default().with_headers(table));
    }

    #[test]
    fn valid_headers_survive_the_round_trip(
        tenant in "[A-Za-z0-9._:@-]{1,64}",
        event_id in "[!-~]{1,64}",
        type_index in 0..EventType::ALL.len(),
        attempts in 0u32..1000,
        seconds in 0i64..4_000_000_000,
    ) {
        let headers = DeliveryHeaders {
            webhook_id: WebhookId::generate(),
            tenant_id: tenant.parse().map_err(|e| TestCaseError::fail(format!("{e}")))?,
            event_id: event_id.parse().map_err(|e| TestCaseError::fail(format!("{e}")))?,
            event_type: EventType::ALL[type_index],
            event_timestamp: Utc.timestamp_opt(seconds, 0).single(),
            attempts,
            first_attempt_at: None,
            traceparent: None,
            tracestate: None,
            seal: Some("v1,k,AAAA".into()),
        };
        prop_assert_eq!(DeliveryHeaders::parse(&headers.to_properties(None)), Ok(headers));
    }
}
