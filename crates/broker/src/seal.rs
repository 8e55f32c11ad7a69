//! Sealing delivery messages, so that the broker is not a way to get anything signed.
//!
//! A sender signs whatever body a delivery message carries with the webhook's secret and posts
//! it to the webhook's endpoint. Without a seal, anyone who may publish to the deliveries
//! queue (or to the failed queue before a replay) could have any body signed for any
//! webhook. So fanout, which builds every delivery, seals its body and routing headers with an
//! HMAC under a key only Herald's processes hold (derived from `SECRETS_KEY`); a sender sends
//! nothing whose seal does not verify. Retries and replays carry the seal unchanged: the
//! attempt count and the outcome headers they change are not sealed.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::delivery::DeliveryHeaders;

/// The version tag of a seal.
const VERSION: &str = "v1";

/// A key delivery messages are sealed with. `Debug` never prints it.
#[derive(Clone)]
pub struct SealKey {
    id: String,
    key: [u8; 32],
}

/// Why a delivery message's seal was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the delivery message carries no seal")]
    Missing,
    #[error("the delivery message's seal is malformed")]
    Malformed,
    #[error("the delivery message is sealed with key {0}, which this process does not hold")]
    UnknownKey(String),
    #[error("the delivery message's seal does not match its body and headers")]
    Mismatch,
    #[error("the delivery message's body does not name the webhook and event its headers do")]
    BodyDisagrees,
}

impl SealKey {
    /// A key named `id` (shown in seals; not secret) made of `key`.
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        Self { id: id.into(), key }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The seal of a delivery with `headers` and `body`: `v1,<key id>,<base64 HMAC-SHA256>`.
    pub fn seal(&self, headers: &DeliveryHeaders, body: &[u8]) -> String {
        let mac = self.mac(headers, body).finalize().into_bytes();
        format!("{VERSION},{},{}", self.id, BASE64.encode(mac))
    }

    /// The MAC over what a seal covers, before it is finalised.
    fn mac(&self, headers: &DeliveryHeaders, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        for part in sealed_parts(headers) {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac.update(body);
        mac
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealKey({}, ****)", self.id)
    }
}

/// What a seal covers besides the body: everything that routes the delivery.
fn sealed_parts(headers: &DeliveryHeaders) -> [String; 6] {
    [
        format!("herald-delivery-{VERSION}"),
        headers.webhook_id.to_string(),
        headers.tenant_id.to_string(),
        headers.event_id.to_string(),
        headers.event_type.as_str().to_owned(),
        headers
            .event_timestamp
            .map(herald_contract::format_timestamp)
            .unwrap_or_default(),
    ]
}

/// Verifies `headers.seal` against `body` with whichever of `keys` it names.
pub fn verify(keys: &[SealKey], headers: &DeliveryHeaders, body: &[u8]) -> Result<(), SealError> {
    let seal = headers.seal.as_deref().ok_or(SealError::Missing)?;
    let mut parts = seal.splitn(3, ',');
    let (Some(VERSION), Some(id), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SealError::Malformed);
    };
    let presented = BASE64.decode(mac).map_err(|_| SealError::Malformed)?;
    let key = keys
        .iter()
        .find(|key| key.id == id)
        .ok_or_else(|| SealError::UnknownKey(id.chars().take(32).collect()))?;
    key.mac(headers, body)
        .verify_slice(&presented)
        .map_err(|_| SealError::Mismatch)
}

/// The ids a delivery body's `meta` names.
#[derive(serde::Deserialize)]
struct BodyIds<'a> {
    #[serde(borrow)]
    meta: MetaIds<'a>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaIds<'a> {
    #[serde(borrow)]
    webhook_id: Cow<'a, str>,
    #[serde(borrow)]
    event_id: Cow<'a, str>,
}

/// Whether a delivery message is one fanout made: its seal verifies with one of `keys`, and
/// its body's `meta.webhookId` and `meta.eventId` are the ones its headers route by.
pub fn verify_delivery(
    keys: &[SealKey],
    headers: &DeliveryHeaders,
    body: &[u8],
) -> Result<(), SealError> {
    verify(keys, headers, body)?;
    let ids: BodyIds<'_> = serde_json::from_slice(body).map_err(|_| SealError::BodyDisagrees)?;
    if ids.meta.webhook_id != headers.webhook_id.as_str()
        || ids.meta.event_id != headers.event_id.as_str()
    {
        return Err(SealError::BodyDisagrees);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_contract::EventType;

    fn headers() -> DeliveryHeaders {
        DeliveryHeaders {
            webhook_id: "WEBH-0193A1B2C3D4E5F60718293A4B5C6D7E".parse().expect("id"),
            tenant_id: "acme".parse().expect("tenant"),
            event_id: "evt-1".parse().expect("event id"),
            event_type: EventType::ContactCreated,
            event_timestamp: None,
            attempts: 0,
            first_attempt_at: None,
            traceparent: None,
            tracestate: None,
            seal: None,
        }
    }

    #[test]
    fn a_sealed_delivery_verifies_and_any_change_to_what_it_covers_does_not() {
        let key = SealKey::new("k1", [7; 32]);
        let body = br#"{"meta":{},"data":{}}"#;
        let sealed = DeliveryHeaders {
            seal: Some(key.seal(&headers(), body)),
            ..headers()
        };
        let keys = [key.clone()];
        assert_eq!(verify(&keys, &sealed, body), Ok(()));
        let retried = DeliveryHeaders {
            attempts: 3,
            ..sealed.clone()
        };
        assert_eq!(
            verify(&keys, &retried, body),
            Ok(()),
            "retries keep the seal"
        );
        assert_eq!(verify(&keys, &sealed, b"{}"), Err(SealError::Mismatch));
        let other_webhook = DeliveryHeaders {
            webhook_id: "WEBH-0193A1B2C3D4E5F60718293A4B5C6D7F".parse().expect("id"),
            ..sealed.clone()
        };
        assert_eq!(
            verify(&keys, &other_webhook, body),
            Err(SealError::Mismatch)
        );
        let other_tenant = DeliveryHeaders {
            tenant_id: "globex".parse().expect("tenant"),
            ..sealed.clone()
        };
        assert_eq!(verify(&keys, &other_tenant, body), Err(SealError::Mismatch));
    }

    #[test]
    fn missing_malformed_and_foreign_seals_are_refused() {
        let key = SealKey::new("k1", [7; 32]);
        let keys = [key.clone()];
        assert_eq!(verify(&keys, &headers(), b""), Err(SealError::Missing));
        for seal in ["", "v1", "v1,k1", "v1,k1,not base64!", "v2,k1,AAAA"] {
            let headers = DeliveryHeaders {
                seal: Some(seal.into()),
                ..headers()
            };
            assert!(verify(&keys, &headers, b"").is_err(), "{seal:?}");
        }
        let foreign = SealKey::new("k2", [8; 32]);
        let headers = DeliveryHeaders {
            seal: Some(foreign.seal(&headers(), b"x")),
            ..headers()
        };
        assert_eq!(
            verify(&keys, &headers, b"x"),
            Err(SealError::UnknownKey("k2".into()))
        );
        let forged = DeliveryHeaders {
            seal: Some(SealKey::new("k1", [9; 32]).seal(&headers, b"x")),
            ..headers.clone()
        };
        assert_eq!(verify(&keys, &forged, b"x"), Err(SealError::Mismatch));
        assert_eq!(format!("{key:?}"), "SealKey(k1, ****)");
    }

    #[test]
    fn a_delivery_whose_body_names_another_webhook_or_event_is_refused_even_sealed() {
        let key = SealKey::new("k1", [7; 32]);
        let keys = [key.clone()];
        let sealed = |body: &[u8]| DeliveryHeaders {
            seal: Some(key.seal(&headers(), body)),
            ..headers()
        };
        let good = br#"{"meta":{"webhookId":"WEBH-0193A1B2C3D4E5F60718293A4B5C6D7E","eventId":"evt-1","eventType":"contact-created"},"data":{"x":1}}"#;
        assert_eq!(verify_delivery(&keys, &sealed(good), good), Ok(()));
        for body in [
            &br#"{"meta":{"webhookId":"WEBH-0193A1B2C3D4E5F60718293A4B5C6D7F","eventId":"evt-1"},"data":{}}"#[..],
            br#"{"meta":{"webhookId":"WEBH-0193A1B2C3D4E5F60718293A4B5C6D7E","eventId":"evt-2"},"data":{}}"#,
            br#"{"data":{}}"#,
            b"not json",
        ] {
            assert_eq!(
                verify_delivery(&keys, &sealed(body), body),
                Err(SealError::BodyDisagrees)
            );
        }
    }
}
