//! Properties of event parsing, over generated input: it never panics, every refusal is a
//! sentence, and a valid event reads back as it was written.

use chrono::Utc;
use herald_contract::event::DEFAULT_MAX_EVENT_BYTES;
use herald_contract::{DomainEvent, EventEnvelope, EventType};
use proptest::prelude::*;
use serde_json::{Value, json};

fn envelope() -> EventEnvelope<'static> {
    EventEnvelope {
        message_id: None,
        timestamp: None,
        received_at: Utc::now(),
    }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::hash_map(".{0,8}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_every_refusal_is_a_sentence(body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(reason) = DomainEvent::parse(&body, &envelope(), DEFAULT_MAX_EVENT_BYTES) {
            prop_assert!(reason.to_string().ends_with('.'));
        }
    }

    #[test]
    fn objects_with_arbitrary_fields_never_panic(
        event_id in any_json(),
        event_type in any_json(),
        tenant_id in any_json(),
        entity_id in any_json(),
        data in any_json(),
    ) {
        let body = serde_json::to_vec(&json!({
            "eventId": event_id, "eventType": event_type, "tenantId": tenant_id,
            "entityId": entity_id, "data": data,
        })).unwrap_or_default();
        if let Err(reason) = DomainEvent::parse(&body, &envelope(), DEFAULT_MAX_EVENT_BYTES) {
            prop_assert!(!reason.label().is_empty());
        }
    }

    #[test]
    fn a_valid_event_reads_back_as_it_was_written(
        event_id in "[!-~]{1,64}",
        type_index in 0..EventType::ALL.len(),
        tenant in "[A-Za-z0-9._:@-]{1,64}",
        entity in "\\PC{1,64}",
        data in any_json(),
    ) {
        let event_type = EventType::ALL[type_index];
        let body = serde_json::to_vec(&json!({
            "eventId": event_id, "eventType": event_type, "tenantId": tenant,
            "entityId": entity, "data": data,
        })).unwrap_or_default();
        let parsed = DomainEvent::parse(&body, &envelope(), DEFAULT_MAX_EVENT_BYTES);
        match (&data, parsed) {
            (Value::Null, Err(_)) => {}
            (_, Ok(parsed)) => {
                prop_assert_eq!(parsed.event_id.as_str(), event_id.as_str());
                prop_assert_eq!(parsed.event_type, event_type);
                prop_assert_eq!(parsed.tenant_id.as_str(), tenant.as_str());
                prop_assert_eq!(&parsed.entity_id, &entity);
                let reparsed: Value = serde_json::from_str(parsed.data.get()).unwrap_or_default();
                prop_assert_eq!(reparsed, data);
            }
            (_, Err(reason)) => prop_assert!(false, "a valid event was refused: {}", reason),
        }
    }
}
