//! The failed queue, for operators.

use axum::Json;
use axum::extract::{Query, State};
use bytes::Bytes;
use herald_broker::connect;
use herald_broker::parked::{Filter, ParkedError, ParkedQueues};
use serde::Deserialize;
use serde_json::Value;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::input::Fields;
use crate::output::{FailedDeliveryOut, Page, ReplayOut};

/// The most failed deliveries one call lists.
const MAX_LIST: usize = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FailedQuery {
    /// At most this many (1–1000, default 100).
    limit: Option<String>,
    tenant_id: Option<String>,
    webhook_id: Option<String>,
    event_type: Option<String>,
}

/// The body of `POST /v1/failed/replay`.
#[derive(utoipa::ToSchema)]
#[schema(as = ReplayIn, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct ReplaySchema {
    tenant_id: Option<String>,
    webhook_id: Option<String>,
    event_type: Option<String>,
    /// At most this many.
    limit: Option<u64>,
}

async fn open(
    state: &ApiState,
) -> Result<(herald_broker::lapin::Connection, ParkedQueues), ApiError> {
    let connection = connect(&state.broker, "herald api (failed queue)")
        .await
        .map_err(|error| {
            tracing::warn!(%error, "broker unavailable");
            ApiError::Unavailable
        })?;
    let queues = ParkedQueues::open(&connection, state.broker.topology.clone())
        .await
        .map_err(broker_error)?;
    Ok((connection, queues))
}

fn broker_error(error: ParkedError) -> ApiError {
    tracing::warn!(%error, "failed-queue operation failed");
    ApiError::Unavailable
}

fn parse_filter(
    tenant: Option<&str>,
    webhook: Option<&str>,
    event_type: Option<&str>,
) -> Result<Filter, ApiError> {
    Ok(Filter {
        tenant: tenant
            .map(|t| {
                t.parse()
                    .map_err(|e| ApiError::invalid("tenantId", format!("`tenantId` {e}")))
            })
            .transpose()?,
        webhook: webhook
            .map(|w| {
                w.parse()
                    .map_err(|_| ApiError::invalid("webhookId", "`webhookId` is not a webhook id"))
            })
            .transpose()?,
        event_type: event_type
            .map(|t| {
                t.parse().map_err(|_| {
                    ApiError::invalid("eventType", format!("`{t}` is not an event type"))
                })
            })
            .transpose()?,
    })
}

/// Peeks at the failed queue, oldest first, without removing anything.
#[utoipa::path(get, path = "/v1/failed", tag = "failed",
    params(FailedQuery),
    responses((status = 200, body = Page<FailedDeliveryOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, description = "The broker is unreachable", body = ErrorBody)))]
pub(super) async fn list(
    State(state): State<ApiState>,
    Query(query): Query<FailedQuery>,
) -> Result<Json<Page<FailedDeliveryOut>>, ApiError> {
    let limit = match query.limit.as_deref() {
        None => 100,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIST).contains(limit))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("`limit` must be a whole number from 1 to {MAX_LIST}"),
                )
            })?,
    };
    let filter = parse_filter(
        query.tenant_id.as_deref(),
        query.webhook_id.as_deref(),
        query.event_type.as_deref(),
    )?;
    let (connection, queues) = open(&state).await?;
    let failed = queues
        .list_failed(&filter, limit)
        .await
        .map_err(broker_error)?;
    let _ = connection.close(200, "done".into()).await;
    Ok(Json(Page {
        items: failed.iter().map(FailedDeliveryOut::from).collect(),
        next_cursor: None,
    }))
}

/// Moves matching failed deliveries back to the deliveries queue for a fresh ladder; the
/// others stay in place, in order.
#[utoipa::path(post, path = "/v1/failed/replay", tag = "failed",
    request_body(content = Option<ReplaySchema>),
    responses((status = 200, body = ReplayOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, description = "The broker is unreachable", body = ErrorBody)))]
pub(super) async fn replay(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<ReplayOut>, ApiError> {
    let mut fields = Fields::parse(&body, &["tenantId", "webhookId", "eventType", "limit"])?;
    let text = |fields: &mut Fields, name: &str| -> Result<Option<String>, ApiError> {
        match fields.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(ApiError::invalid(
                name,
                format!("`{name}` must be a string"),
            )),
        }
    };
    let tenant = text(&mut fields, "tenantId")?;
    let webhook = text(&mut fields, "webhookId")?;
    let event_type = text(&mut fields, "eventType")?;
    let limit = match fields.take("limit") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_u64().filter(|limit| *limit >= 1).ok_or_else(|| {
            ApiError::invalid("limit", "`limit` must be a positive whole number")
        })?),
    };
    let filter = parse_filter(tenant.as_deref(), webhook.as_deref(), event_type.as_deref())?;
    let (connection, queues) = open(&state).await?;
    let moved = queues
        .replay_failed(&filter, limit, false, |_| {})
        .await
        .map_err(broker_error)?;
    let _ = connection.close(200, "done".into()).await;
    tracing::info!(
        replayed = moved.matched,
        kept = moved.kept,
        "failed deliveries replayed"
    );
    Ok(Json(ReplayOut {
        replayed: moved.matched,
    }))
}
