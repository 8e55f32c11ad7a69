//! Webhooks of a tenant.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bytes::Bytes;
use herald_contract::WebhookId;
use herald_delivery::TargetRules;

use super::PageQuery;
use super::pagination::{PageParams, TenantPath, WebhookPath};
use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::input::{self, WebhookInSchema as WebhookIn, WebhookPatchSchema as WebhookPatchIn};
use crate::output::{Page, WebhookOut};

/// How long a rotated-out secret keeps signing.
const ROTATION_GRACE_HOURS: i64 = 24;

fn policy(state: &ApiState) -> &TargetRules {
    &state.client.settings().targets
}

/// Creates a webhook with a fresh signing secret.
#[utoipa::path(post, path = "/v1/tenants/{tenantId}/webhooks", tag = "webhooks",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)")),
    request_body = WebhookIn,
    responses((status = 201, body = WebhookOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "The name is taken in this tenant", body = ErrorBody)))]
pub(super) async fn create(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    body: Bytes,
) -> Result<(StatusCode, Json<WebhookOut>), ApiError> {
    let new = input::new_webhook(tenant, &body, policy(&state))?;
    let webhook = state.webhooks.create(new).await?;
    tracing::info!(webhook_id = %webhook.id, tenant_id = %webhook.tenant_id, "webhook created");
    Ok((StatusCode::CREATED, Json(webhook.into())))
}

/// Lists the tenant's webhooks in creation order, each with its last attempt.
#[utoipa::path(get, path = "/v1/tenants/{tenantId}/webhooks", tag = "webhooks",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)"), PageParams),
    responses((status = 200, body = Page<WebhookOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(super) async fn list(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    page: PageQuery,
) -> Result<Json<Page<WebhookOut>>, ApiError> {
    let after = page
        .cursor
        .as_deref()
        .map(|cursor| {
            cursor.parse::<WebhookId>().map_err(|_| {
                ApiError::invalid("cursor", "`cursor` is not a cursor this API returned")
            })
        })
        .transpose()?;
    let mut webhooks = state
        .webhooks
        .list(&tenant, page.limit + 1, after.as_ref())
        .await?;
    let more = webhooks.len() as i64 > page.limit;
    webhooks.truncate(usize::try_from(page.limit).unwrap_or(0));
    let next_cursor = more
        .then(|| webhooks.last().map(|w| w.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: webhooks.into_iter().map(WebhookOut::from).collect(),
        next_cursor,
    }))
}

/// One webhook, with its last attempt.
#[utoipa::path(get, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}", tag = "webhooks",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)"), ("webhookId" = String, Path, description = "The webhook id (WEBH-…)")),
    responses((status = 200, body = WebhookOut), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn get(
    State(state): State<ApiState>,
    WebhookPath(tenant, id): WebhookPath,
) -> Result<Json<WebhookOut>, ApiError> {
    let webhook = state
        .webhooks
        .get(&tenant, &id)
        .await?
        .ok_or_else(ApiError::webhook_not_found)?;
    Ok(Json(webhook.into()))
}

/// Changes any of the create fields.
#[utoipa::path(patch, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}", tag = "webhooks",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)"), ("webhookId" = String, Path, description = "The webhook id (WEBH-…)")),
    request_body = WebhookPatchIn,
    responses((status = 200, body = WebhookOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn update(
    State(state): State<ApiState>,
    WebhookPath(tenant, id): WebhookPath,
    body: Bytes,
) -> Result<Json<WebhookOut>, ApiError> {
    let patch = input::webhook_patch(&body, policy(&state))?;
    let webhook = state
        .webhooks
        .update(&tenant, &id, patch)
        .await?
        .ok_or_else(ApiError::webhook_not_found)?;
    tracing::info!(webhook_id = %webhook.id, tenant_id = %webhook.tenant_id, "webhook updated");
    Ok(Json(webhook.into()))
}

/// Deletes a webhook and its attempt log; deliveries still queued for it are dropped.
#[utoipa::path(delete, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}", tag = "webhooks",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)"), ("webhookId" = String, Path, description = "The webhook id (WEBH-…)")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn delete(
    State(state): State<ApiState>,
    WebhookPath(tenant, id): WebhookPath,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    input::no_body(&body)?;
    if state.webhooks.delete(&tenant, &id).await? {
        tracing::info!(webhook_id = %id, tenant_id = %tenant, "webhook deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::webhook_not_found())
    }
}

/// Gives the webhook a new signing secret; the previous one keeps signing for 24 hours.
#[utoipa::path(post, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}/rotate-secret", tag = "webhooks",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)"), ("webhookId" = String, Path, description = "The webhook id (WEBH-…)")),
    responses((status = 200, body = WebhookOut), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn rotate_secret(
    State(state): State<ApiState>,
    WebhookPath(tenant, id): WebhookPath,
    body: Bytes,
) -> Result<Json<WebhookOut>, ApiError> {
    input::no_body(&body)?;
    let webhook = state
        .webhooks
        .rotate_secret(&tenant, &id, chrono::Duration::hours(ROTATION_GRACE_HOURS))
        .await?
        .ok_or_else(ApiError::webhook_not_found)?;
    tracing::info!(webhook_id = %id, tenant_id = %tenant, "signing secret rotated");
    Ok(Json(webhook.into()))
}
