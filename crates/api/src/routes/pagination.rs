//! `?limit=&cursor=` and path parameters, validated.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use herald_contract::{TenantId, WebhookId};
use serde::Deserialize;

use crate::error::ApiError;

pub(crate) const DEFAULT_LIMIT: i64 = 20;
pub(crate) const MAX_LIMIT: i64 = 100;

/// A page request.
#[derive(Debug, Clone)]
pub(crate) struct PageQuery {
    pub limit: i64,
    pub cursor: Option<String>,
}

/// `?limit=&cursor=`, as documented.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct PageParams {
    /// Items per page, 1–100 (default 20).
    limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct RawPage {
    limit: Option<String>,
    cursor: Option<String>,
}

impl PageQuery {
    /// The cursor of a list paged by row id (the attempt log and what it derives).
    pub(crate) fn row_cursor(&self) -> Result<Option<i64>, ApiError> {
        self.cursor
            .as_deref()
            .map(|cursor| {
                cursor.parse::<i64>().map_err(|_| {
                    ApiError::invalid("cursor", "`cursor` is not a cursor this API returned")
                })
            })
            .transpose()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(raw) = Query::<RawPage>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::malformed(format!("invalid query string: {e}")))?;
        let limit = match raw.limit {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<i64>() {
                Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
                _ => {
                    return Err(ApiError::invalid(
                        "limit",
                        format!("`limit` must be a whole number from 1 to {MAX_LIMIT}"),
                    ));
                }
            },
        };
        Ok(Self {
            limit,
            cursor: raw.cursor.filter(|cursor| !cursor.is_empty()),
        })
    }
}

/// `{tenant_id}` of the path.
pub(crate) struct TenantPath(pub TenantId);

impl<S: Send + Sync> FromRequestParts<S> for TenantPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::malformed(format!("invalid path: {e}")))?;
        tenant_of(&params).map(TenantPath)
    }
}

/// `{tenant_id}` and `{webhook_id}` of the path. A webhook id that cannot exist is a 404,
/// like one of another tenant.
pub(crate) struct WebhookPath(pub TenantId, pub WebhookId);

impl<S: Send + Sync> FromRequestParts<S> for WebhookPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::malformed(format!("invalid path: {e}")))?;
        let tenant = tenant_of(&params)?;
        let webhook = params
            .iter()
            .find(|(name, _)| name == "webhookId")
            .and_then(|(_, value)| value.parse::<WebhookId>().ok())
            .ok_or_else(ApiError::webhook_not_found)?;
        Ok(WebhookPath(tenant, webhook))
    }
}

fn tenant_of(params: &[(String, String)]) -> Result<TenantId, ApiError> {
    let value = params
        .iter()
        .find(|(name, _)| name == "tenantId")
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    value
        .parse()
        .map_err(|e| ApiError::invalid("tenantId", format!("the tenant id in the path {e}")))
}
