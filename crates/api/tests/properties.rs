//! Properties of webhook input, over generated bodies: nothing panics, and every refusal is a
//! 400 with a message.

use herald_api::error::ApiError;
use herald_api::input::{new_webhook, webhook_patch};
use herald_delivery::TargetRules;
use proptest::prelude::*;
use serde_json::{Value, json};

fn policy() -> TargetRules {
    TargetRules::default()
}

fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop::collection::vec("[a-z-]{0,24}", 0..4).prop_map(|v| json!(v)),
        ("\\PC{0,20}", "\\PC{0,40}")
            .prop_map(|(name, value)| json!({"name": name, "value": value})),
    ]
}

fn is_bad_request(error: &ApiError) -> bool {
    matches!(error, ApiError::Invalid { message, .. } if !message.is_empty())
}

proptest! {
    #[test]
    fn arbitrary_bytes_are_refused_with_a_message_never_a_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(error) = new_webhook("acme".parse().unwrap_or_else(|_| unreachable!()), &body, &policy()) {
            prop_assert!(is_bad_request(&error), "{error:?}");
        }
        if let Err(error) = webhook_patch(&body, &policy()) {
            prop_assert!(is_bad_request(&error), "{error:?}");
        }
    }

    #[test]
    fn arbitrary_field_values_are_refused_with_a_message_never_a_panic(
        name in field_value(),
        url in field_value(),
        event_types in field_value(),
        auth_header in field_value(),
        description in field_value(),
    ) {
        let body = json!({"name": name, "url": url, "eventTypes": event_types,
                          "authHeader": auth_header, "description": description});
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        match new_webhook("acme".parse().unwrap_or_else(|_| unreachable!()), &bytes, &policy()) {
            Ok(webhook) => {
                prop_assert!(!webhook.name.is_empty() && webhook.name.chars().count() <= 200);
                prop_assert!(webhook.url.starts_with("https://"));
                prop_assert!(!webhook.event_types.is_empty());
            }
            Err(error) => prop_assert!(is_bad_request(&error), "{error:?}"),
        }
    }
}
