//! The attempt log and test deliveries.

use axum::Json;
use axum::extract::State;
use bytes::Bytes;
use chrono::Utc;
use herald_contract::payload::build_payload;
use herald_contract::{DomainEvent, EventId, format_timestamp};
use herald_delivery::AttemptRequest;
use herald_store::{AttemptResult, DeliveryTarget, NewAttempt};
use serde_json::value::RawValue;

use super::PageQuery;
use super::pagination::{PageParams, WebhookPath};
use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::input::{self, TestSchema as TestIn};
use crate::output::{AttemptOut, Page};

/// The webhook's attempt log, newest first.
#[utoipa::path(get, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}/attempts", tag = "webhooks",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)"), ("webhookId" = String, Path, description = "The webhook id (WEBH-…)"), PageParams),
    responses((status = 200, body = Page<AttemptOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(super) async fn list(
    State(state): State<ApiState>,
    WebhookPath(tenant, id): WebhookPath,
    page: PageQuery,
) -> Result<Json<Page<AttemptOut>>, ApiError> {
    let before = page.row_cursor()?;
    state
        .webhooks
        .get(&tenant, &id)
        .await?
        .ok_or_else(ApiError::webhook_not_found)?;
    let mut attempts = state
        .attempts
        .list(&tenant, &id, page.limit + 1, before)
        .await?;
    let more = attempts.len() as i64 > page.limit;
    attempts.truncate(usize::try_from(page.limit).unwrap_or(0));
    let next_cursor = more
        .then(|| attempts.last().map(|a| a.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: attempts.into_iter().map(AttemptOut::from).collect(),
        next_cursor,
    }))
}

/// Sends a sample event now, exactly as a real delivery, and returns the attempt (recorded
/// with `test: true`; never the webhook's `lastAttempt`).
#[utoipa::path(post, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}/test", tag = "webhooks",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)"), ("webhookId" = String, Path, description = "The webhook id (WEBH-…)")),
    request_body(content = Option<TestIn>),
    responses((status = 200, description = "The attempt, delivered or failed", body = AttemptOut),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn test(
    State(state): State<ApiState>,
    WebhookPath(tenant, id): WebhookPath,
    body: Bytes,
) -> Result<Json<AttemptOut>, ApiError> {
    let requested = input::test_event_type(&body)?;
    let webhook = state
        .webhooks
        .get(&tenant, &id)
        .await?
        .ok_or_else(ApiError::webhook_not_found)?;
    let Some(event_type) = requested.or_else(|| webhook.event_types.first().copied()) else {
        return Err(ApiError::invalid(
            "eventType",
            "the webhook subscribes to no event type; name one",
        ));
    };
    let data = RawValue::from_string(event_type.sample_data().to_string())
        .map_err(|_| ApiError::Internal)?;
    let event = DomainEvent {
        event_id: EventId::parse(format!("test_{}", uuid::Uuid::new_v4().simple()))
            .map_err(|_| ApiError::Internal)?,
        event_type,
        event_timestamp: Utc::now(),
        tenant_id: tenant.clone(),
        entity_id: event_type.sample_entity_id().to_owned(),
        data,
    };
    let payload = Bytes::from(build_payload(&id, &event));
    let target = DeliveryTarget::try_from(webhook)?;
    let attempted_at = Utc::now();
    let secrets = target.signing_secrets(attempted_at);
    let outcome = state
        .client
        .send(AttemptRequest {
            url: &target.url,
            auth_header: target.auth_header.as_ref(),
            message_id: event.event_id.as_str(),
            body: payload,
            secrets: &secrets,
            traceparent: None,
            tracestate: None,
        })
        .await;
    let attempt = NewAttempt {
        webhook_id: id,
        tenant_id: tenant,
        event_id: event.event_id.to_string(),
        event_type,
        attempt: 1,
        attempted_at,
        duration_ms: u32::try_from(outcome.duration.as_millis()).unwrap_or(u32::MAX),
        response_status: outcome.status,
        error: outcome.error.clone(),
        result: if outcome.delivered() {
            AttemptResult::Delivered
        } else {
            AttemptResult::Failed
        },
        test: true,
        response_excerpt: outcome.response_excerpt.clone(),
    };
    state
        .attempts
        .insert(std::slice::from_ref(&attempt))
        .await?;
    Ok(Json(AttemptOut {
        event_id: attempt.event_id,
        event_type: event_type.as_str().to_owned(),
        attempt: attempt.attempt,
        attempted_at: format_timestamp(attempt.attempted_at),
        duration_ms: attempt.duration_ms,
        response_status: attempt.response_status,
        error: attempt.error,
        result: attempt.result.as_str(),
        test: true,
        response_excerpt: attempt.response_excerpt,
    }))
}
