//! Operational events: what Herald tells the platform its tenants should hear about, published
//! to the operational exchange with the event's type as routing key.
//!
//! The body is `{"type","tenantId","webhookId","occurredAt","data":{…}}`; `data` depends on
//! the type (see [`Occurrence`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::format_timestamp;

/// Why a webhook was disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisabledReason {
    /// Someone disabled it through the API.
    Manual,
    /// Herald disabled it after `AUTO_DISABLE_AFTER` of failures.
    Failing,
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Manual => "manual",
            DisabledReason::Failing => "failing",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "manual" => Some(DisabledReason::Manual),
            "failing" => Some(DisabledReason::Failing),
            _ => None,
        }
    }
}

/// What happened, with the facts its `data` carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Occurrence {
    /// A delivery was parked in the failed queue.
    DeliveryFailed {
        event_id: String,
        event_type: String,
        attempts: u32,
        last_status: Option<u16>,
        last_error: String,
    },
    /// A webhook has had only failures since `since`, for at least `FAILING_AFTER`.
    WebhookFailing {
        since: DateTime<Utc>,
        failed_deliveries: u64,
        last_error: Option<String>,
    },
    /// A webhook was disabled.
    WebhookDisabled {
        reason: DisabledReason,
        since: DateTime<Utc>,
    },
    /// A failing webhook delivered again, after failing for this long.
    WebhookRecovered { failing_for: Duration },
}

impl Occurrence {
    /// The event's `type`, also its routing key.
    pub fn kind(&self) -> &'static str {
        match self {
            Occurrence::DeliveryFailed { .. } => "delivery.failed",
            Occurrence::WebhookFailing { .. } => "webhook.failing",
            Occurrence::WebhookDisabled { .. } => "webhook.disabled",
            Occurrence::WebhookRecovered { .. } => "webhook.recovered",
        }
    }

    fn data(&self) -> Value {
        match self {
            Occurrence::DeliveryFailed {
                event_id,
                event_type,
                attempts,
                last_status,
                last_error,
            } => json!({
                "eventId": event_id,
                "eventType": event_type,
                "attempts": attempts,
                "lastStatus": last_status,
                "lastError": last_error,
            }),
            Occurrence::WebhookFailing {
                since,
                failed_deliveries,
                last_error,
            } => json!({
                "since": format_timestamp(*since),
                "failedDeliveries": failed_deliveries,
                "lastError": last_error,
            }),
            Occurrence::WebhookDisabled { reason, since } => json!({
                "reason": reason.as_str(),
                "since": format_timestamp(*since),
            }),
            Occurrence::WebhookRecovered { failing_for } => json!({
                "failingFor": failing_for.as_secs(),
            }),
        }
    }
}

/// One operational event about one webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationalEvent {
    pub tenant_id: String,
    pub webhook_id: String,
    pub occurred_at: DateTime<Utc>,
    pub occurrence: Occurrence,
}

impl OperationalEvent {
    /// The routing key: the event's type.
    pub fn routing_key(&self) -> &'static str {
        self.occurrence.kind()
    }

    /// The message body.
    pub fn to_json(&self) -> Vec<u8> {
        json!({
            "type": self.occurrence.kind(),
            "tenantId": self.tenant_id,
            "webhookId": self.webhook_id,
            "occurredAt": format_timestamp(self.occurred_at),
            "data": self.occurrence.data(),
        })
        .to_string()
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 9, 30, 0)
            .single()
            .expect("a time")
    }

    fn body(occurrence: Occurrence) -> Value {
        let event = OperationalEvent {
            tenant_id: "acme".into(),
            webhook_id: "WEBH-1".into(),
            occurred_at: at(),
            occurrence,
        };
        serde_json::from_slice(&event.to_json()).expect("JSON")
    }

    #[test]
    fn every_event_has_the_envelope_and_its_type_as_routing_key() {
        let value = body(Occurrence::WebhookRecovered {
            failing_for: Duration::from_secs(5400),
        });
        assert_eq!(
            value,
            json!({"type": "webhook.recovered", "tenantId": "acme", "webhookId": "WEBH-1",
                   "occurredAt": "2026-12-07T09:30:00Z", "data": {"failingFor": 5400}})
        );
    }

    #[test]
    fn each_type_carries_the_data_of_the_contract() {
        let failed = body(Occurrence::DeliveryFailed {
            event_id: "e-1".into(),
            event_type: "contact-created".into(),
            attempts: 6,
            last_status: None,
            last_error: "connection refused".into(),
        });
        assert_eq!(
            failed["data"],
            json!({"eventId": "e-1", "eventType": "contact-created", "attempts": 6,
                   "lastStatus": null, "lastError": "connection refused"})
        );
        assert_eq!(failed["type"], "delivery.failed");
        let failing = body(Occurrence::WebhookFailing {
            since: at(),
            failed_deliveries: 12,
            last_error: Some("HTTP 500".into()),
        });
        assert_eq!(
            failing["data"],
            json!({"since": "2026-12-07T09:30:00Z", "failedDeliveries": 12, "lastError": "HTTP 500"})
        );
        let disabled = body(Occurrence::WebhookDisabled {
            reason: DisabledReason::Failing,
            since: at(),
        });
        assert_eq!(
            disabled["data"],
            json!({"reason": "failing", "since": "2026-12-07T09:30:00Z"})
        );
    }

    #[test]
    fn disabled_reasons_round_trip() {
        for reason in [DisabledReason::Manual, DisabledReason::Failing] {
            assert_eq!(DisabledReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(DisabledReason::parse("bored"), None);
    }
}
