//! Response bodies.

use herald_broker::parked::FailedDelivery;
use herald_contract::{EventType, format_timestamp};
use herald_store::{AttemptRecord, Webhook};
use serde::Serialize;
use utoipa::ToSchema;

/// What a write-only value reads as.
pub const MASK: &str = "****";

/// A list page.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeOut {
    pub name: &'static str,
    pub description: &'static str,
}

impl From<EventType> for EventTypeOut {
    fn from(event_type: EventType) -> Self {
        Self {
            name: event_type.as_str(),
            description: event_type.description(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthHeaderOut {
    pub name: String,
    /// Always masked: the value is write-only.
    pub value: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookOut {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub url: String,
    #[schema(value_type = Vec<String>, example = json!(["contact-created"]))]
    pub event_types: Vec<EventType>,
    pub auth_header: Option<AuthHeaderOut>,
    pub enabled: bool,
    /// Why the webhook is disabled: `manual` (through the API) or `failing` (by Herald, after
    /// `AUTO_DISABLE_AFTER` of failures); `null` while it is enabled.
    #[schema(example = json!(null))]
    pub disabled_reason: Option<&'static str>,
    /// When it was disabled (RFC 3339); `null` while it is enabled.
    pub disabled_at: Option<String>,
    pub description: Option<String>,
    pub signing_secret: String,
    pub created_at: String,
    pub updated_at: String,
    pub last_attempt: Option<AttemptOut>,
}

impl From<Webhook> for WebhookOut {
    fn from(webhook: Webhook) -> Self {
        Self {
            id: webhook.id.to_string(),
            tenant_id: webhook.tenant_id.to_string(),
            name: webhook.name,
            url: webhook.url,
            event_types: webhook.event_types,
            auth_header: webhook.auth_header.map(|header| AuthHeaderOut {
                name: header.name,
                value: MASK,
            }),
            enabled: webhook.enabled,
            disabled_reason: webhook.disabled.map(|disabled| disabled.reason.as_str()),
            disabled_at: webhook
                .disabled
                .map(|disabled| format_timestamp(disabled.at)),
            description: webhook.description,
            signing_secret: webhook.signing_secret.expose(),
            created_at: format_timestamp(webhook.created_at),
            updated_at: format_timestamp(webhook.updated_at),
            last_attempt: webhook.last_attempt.map(AttemptOut::from),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptOut {
    pub event_id: String,
    pub event_type: String,
    pub attempt: u32,
    pub attempted_at: String,
    pub duration_ms: u32,
    pub response_status: Option<u16>,
    pub error: Option<String>,
    /// `delivered`, `will-retry` or `failed`.
    pub result: &'static str,
    pub test: bool,
    /// The start of the response body (at most 1 KiB).
    pub response_excerpt: Option<String>,
}

impl From<AttemptRecord> for AttemptOut {
    fn from(record: AttemptRecord) -> Self {
        Self {
            event_id: record.event_id,
            event_type: record.event_type,
            attempt: record.attempt,
            attempted_at: format_timestamp(record.attempted_at),
            duration_ms: record.duration_ms,
            response_status: record.response_status,
            error: record.error,
            result: record.result.as_str(),
            test: record.test,
            response_excerpt: record.response_excerpt,
        }
    }
}

/// A delivery parked in the failed queue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedDeliveryOut {
    pub webhook_id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub event_type: String,
    pub attempts: u32,
    /// The last HTTP status; `null` when no response came.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub first_attempt_at: Option<String>,
    pub failed_at: Option<String>,
}

impl From<&FailedDelivery> for FailedDeliveryOut {
    fn from(failed: &FailedDelivery) -> Self {
        let delivery = &failed.delivery;
        Self {
            webhook_id: delivery.webhook_id.to_string(),
            tenant_id: delivery.tenant_id.to_string(),
            event_id: delivery.event_id.to_string(),
            event_type: delivery.event_type.as_str().to_owned(),
            attempts: delivery.attempts,
            last_status: failed.last_status,
            last_error: failed.last_error.clone(),
            first_attempt_at: delivery.first_attempt_at.map(format_timestamp),
            failed_at: failed.failed_at.clone(),
        }
    }
}

/// The outcome of a replay.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayOut {
    /// Failed deliveries moved back to the deliveries queue.
    pub replayed: u64,
}

/// A portal session, as minted.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortalSessionOut {
    /// The bearer token (a signed JWT): keep it in memory only.
    pub token: String,
    /// The console, with the token in the URL's fragment (never sent to a server).
    pub url: String,
    pub tenant_id: String,
    pub scope: crate::credentials::Scope,
    pub expires_at: String,
}

/// A tenant API key (the key itself only in the answer that created it).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyOut {
    #[schema(example = "KEY-0193A1B2C3D4E5F60718293A4B5C6D7E")]
    pub id: String,
    pub name: String,
    pub scope: crate::credentials::Scope,
    pub created_at: String,
    /// The key, shown once: Herald keeps only its digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<herald_store::api_keys::ApiKey> for ApiKeyOut {
    fn from(key: herald_store::api_keys::ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name,
            scope: key.scope.parse().unwrap_or(crate::credentials::Scope::Read),
            created_at: format_timestamp(key.created_at),
            key: None,
        }
    }
}

/// A webhook's delivery statistics.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsOut {
    /// `24h` or `7d`.
    pub window: &'static str,
    pub bucket_seconds: i64,
    /// Oldest first; the last one holds now.
    pub buckets: Vec<BucketOut>,
}

/// One bucket of statistics.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketOut {
    pub start: String,
    pub delivered: i64,
    pub will_retry: i64,
    pub failed: i64,
    /// Median attempt duration; `null` without attempts.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// One of a tenant's deliveries parked as failed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParkedOut {
    pub event_id: String,
    pub event_type: String,
    pub webhook_id: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last response's status; `null` when none came.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub failed_at: String,
}

impl From<herald_store::attempts::ParkedRecord> for ParkedOut {
    fn from(parked: herald_store::attempts::ParkedRecord) -> Self {
        Self {
            event_id: parked.event_id,
            event_type: parked.event_type,
            webhook_id: parked.webhook_id,
            attempts: parked.attempts,
            last_status: parked.last_status,
            last_error: parked.last_error,
            failed_at: format_timestamp(parked.failed_at),
        }
    }
}

/// The outcome of a purge.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PurgeOut {
    /// Messages deleted (with `dryRun`, that would be).
    pub purged: u64,
    pub dry_run: bool,
}

/// A message in the rejected queue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectedOut {
    /// Why Herald rejected it.
    pub reason: Option<String>,
    pub message_id: Option<String>,
    /// The body as text (bytes that are not UTF-8 shown as U+FFFD), at most 4 KiB.
    pub body: String,
}

impl From<herald_broker::parked::RejectedMessage> for RejectedOut {
    fn from(message: herald_broker::parked::RejectedMessage) -> Self {
        let shown = &message.body[..message.body.len().min(4096)];
        Self {
            reason: message.reason,
            message_id: message.message_id,
            body: String::from_utf8_lossy(shown).into_owned(),
        }
    }
}
