//! Tenant credentials, minted by the admin: portal sessions for the console, and API keys for a
//! tenant's own automation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use chrono::Utc;
use herald_contract::format_timestamp;

use super::pagination::TenantPath;
use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::input::{self, ApiKeySchema as ApiKeyIn, PortalSessionSchema as PortalSessionIn};
use crate::output::{ApiKeyOut, PortalSessionOut};

/// Mints a portal session for one signed-in user of the tenant: a signed token that reaches
/// the tenant's own routes (within its scope) until it expires. It cannot be extended.
#[utoipa::path(post, path = "/v1/tenants/{tenantId}/portal-sessions", tag = "access",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)")),
    request_body = PortalSessionIn,
    responses((status = 201, body = PortalSessionOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(super) async fn create_session(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    body: Bytes,
) -> Result<(StatusCode, Json<PortalSessionOut>), ApiError> {
    let (scope, ttl) = input::portal_session(&body)?;
    let (token, expires_at) = state.auth.sessions.mint(&tenant, scope, ttl, Utc::now())?;
    tracing::info!(tenant_id = %tenant, %scope, "portal session minted");
    Ok((
        StatusCode::CREATED,
        Json(PortalSessionOut {
            url: format!(
                "{}/console/#session={token}",
                state.public_url.trim_end_matches('/')
            ),
            token,
            tenant_id: tenant.to_string(),
            scope,
            expires_at: format_timestamp(expires_at),
        }),
    ))
}

/// Creates an API key for the tenant. The answer holds the key; it is never shown again.
#[utoipa::path(post, path = "/v1/tenants/{tenantId}/api-keys", tag = "access",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)")),
    request_body = ApiKeyIn,
    responses((status = 201, body = ApiKeyOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "The name is taken in this tenant", body = ErrorBody)))]
pub(super) async fn create_key(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    body: Bytes,
) -> Result<(StatusCode, Json<ApiKeyOut>), ApiError> {
    let (name, scope) = input::new_api_key(&body)?;
    let (stored, key) = state
        .api_keys
        .create(&tenant, &name, scope.as_str())
        .await
        .map_err(|error| match error {
            herald_store::StoreError::NameTaken(name) => ApiError::Conflict(format!(
                "an API key named `{name}` already exists in this tenant"
            )),
            other => other.into(),
        })?;
    tracing::info!(tenant_id = %tenant, key_id = %stored.id, %scope, "API key created");
    let mut out = ApiKeyOut::from(stored);
    out.key = Some(key);
    Ok((StatusCode::CREATED, Json(out)))
}

/// The tenant's API keys, oldest first, without the keys.
#[utoipa::path(get, path = "/v1/tenants/{tenantId}/api-keys", tag = "access",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)")),
    responses((status = 200, body = Vec<ApiKeyOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(super) async fn list_keys(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
) -> Result<Json<Vec<ApiKeyOut>>, ApiError> {
    let keys = state.api_keys.list(&tenant).await?;
    Ok(Json(keys.into_iter().map(ApiKeyOut::from).collect()))
}

/// Revokes an API key: it stops working at once, on every API process.
#[utoipa::path(delete, path = "/v1/tenants/{tenantId}/api-keys/{keyId}", tag = "access",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)"),
        ("keyId" = String, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such key in this tenant", body = ErrorBody)))]
pub(super) async fn delete_key(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    Path((_, key_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if state.api_keys.delete(&tenant, &key_id).await? {
        tracing::info!(tenant_id = %tenant, %key_id, "API key revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such API key in this tenant".into()))
    }
}
