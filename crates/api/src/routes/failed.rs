//! The failed queue: all of it for operators, a tenant's own share for tenants.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use bytes::Bytes;
use herald_broker::connect;
use herald_broker::parked::{Filter, ParkedError, ParkedQueues};
use herald_contract::{EventId, WebhookId};
use serde::Deserialize;
use serde_json::Value;

use super::PageQuery;
use super::pagination::{PageParams, TenantPath};
use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::input::Fields;
use crate::output::{FailedDeliveryOut, Page, ParkedOut, PurgeOut, RejectedOut, ReplayOut};

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

async fn open(state: &ApiState) -> Result<ParkedQueues, ApiError> {
    let connection = connect(&state.broker, "herald api (failed queue)")
        .await
        .map_err(|error| {
            tracing::warn!(%error, "broker unavailable");
            ApiError::Unavailable
        })?;
    ParkedQueues::open(connection, state.broker.topology.clone())
        .await
        .map_err(broker_error)
}

fn broker_error(error: ParkedError) -> ApiError {
    if let ParkedError::Busy(_) = error {
        return ApiError::Conflict(error.to_string());
    }
    tracing::warn!(%error, "failed-queue operation failed");
    ApiError::Unavailable
}

fn parse_filter(
    tenant: Option<&str>,
    webhook: Option<&str>,
    event_type: Option<&str>,
) -> Result<Filter, ApiError> {
    Ok(Filter {
        event_ids: None,
        failed_since: None,
        failed_until: None,
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

/// The filter, `limit` and (where allowed) `dryRun` of a body acting on the failed queue.
fn selection(body: &[u8], dry_run_allowed: bool) -> Result<(Filter, Option<u64>, bool), ApiError> {
    let allowed: &[&str] = if dry_run_allowed {
        &["tenantId", "webhookId", "eventType", "limit", "dryRun"]
    } else {
        &["tenantId", "webhookId", "eventType", "limit"]
    };
    let mut fields = Fields::parse(body, allowed)?;
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
    let limit = limit_of(&mut fields)?;
    let dry_run = dry_run_of(&mut fields)?;
    let filter = parse_filter(tenant.as_deref(), webhook.as_deref(), event_type.as_deref())?;
    Ok((filter, limit, dry_run))
}

fn limit_of(fields: &mut Fields) -> Result<Option<u64>, ApiError> {
    match fields.take("limit") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => Ok(Some(
            value.as_u64().filter(|limit| *limit >= 1).ok_or_else(|| {
                ApiError::invalid("limit", "`limit` must be a positive whole number")
            })?,
        )),
    }
}

fn dry_run_of(fields: &mut Fields) -> Result<bool, ApiError> {
    match fields.take("dryRun") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(dry_run)) => Ok(dry_run),
        Some(_) => Err(ApiError::invalid(
            "dryRun",
            "`dryRun` must be true or false",
        )),
    }
}

/// The body of `POST /v1/failed/purge`.
#[derive(utoipa::ToSchema)]
#[schema(as = PurgeFailedIn, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct PurgeFailedSchema {
    tenant_id: Option<String>,
    webhook_id: Option<String>,
    event_type: Option<String>,
    /// At most this many.
    limit: Option<u64>,
    /// Only count what would be deleted.
    dry_run: Option<bool>,
}

/// Deletes matching failed deliveries for good (with `dryRun`, only counts them); the others
/// stay in place, in order.
#[utoipa::path(post, path = "/v1/failed/purge", tag = "failed",
    request_body(content = Option<PurgeFailedSchema>),
    responses((status = 200, body = PurgeOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, description = "The broker is unreachable", body = ErrorBody)))]
pub(super) async fn purge(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<PurgeOut>, ApiError> {
    let (filter, limit, dry_run) = selection(&body, true)?;
    let queues = open(&state).await?;
    let purged = queues
        .purge_failed(&filter, limit, dry_run)
        .await
        .map_err(broker_error)?;
    queues.close().await;
    if !dry_run {
        tracing::warn!(purged = purged.matched, "failed deliveries purged");
    }
    Ok(Json(PurgeOut {
        purged: purged.matched,
        dry_run,
    }))
}

/// `?limit=` of the rejected queue.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RejectedQuery {
    /// At most this many (1–1000, default 100).
    limit: Option<String>,
}

/// Peeks at the head of the rejected queue, without removing anything.
#[utoipa::path(get, path = "/v1/rejected", tag = "failed",
    params(RejectedQuery),
    responses((status = 200, body = Page<RejectedOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, description = "The broker is unreachable", body = ErrorBody)))]
pub(super) async fn rejected(
    State(state): State<ApiState>,
    Query(query): Query<RejectedQuery>,
) -> Result<Json<Page<RejectedOut>>, ApiError> {
    let limit = list_limit(query.limit.as_deref())?;
    let queues = open(&state).await?;
    let rejected = queues.list_rejected(limit).await.map_err(broker_error)?;
    queues.close().await;
    Ok(Json(Page {
        items: rejected.into_iter().map(RejectedOut::from).collect(),
        next_cursor: None,
    }))
}

/// The body of `POST /v1/rejected/purge`.
#[derive(utoipa::ToSchema)]
#[schema(as = PurgeRejectedIn, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct PurgeRejectedSchema {
    /// At most this many.
    limit: Option<u64>,
    /// Only count what would be deleted.
    dry_run: Option<bool>,
}

/// Deletes rejected messages for good (with `dryRun`, only counts them).
#[utoipa::path(post, path = "/v1/rejected/purge", tag = "failed",
    request_body(content = Option<PurgeRejectedSchema>),
    responses((status = 200, body = PurgeOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, description = "The broker is unreachable", body = ErrorBody)))]
pub(super) async fn purge_rejected(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<PurgeOut>, ApiError> {
    let mut fields = Fields::parse(&body, &["limit", "dryRun"])?;
    let limit = limit_of(&mut fields)?;
    let dry_run = dry_run_of(&mut fields)?;
    let queues = open(&state).await?;
    let purged = queues
        .purge_rejected(limit, dry_run)
        .await
        .map_err(broker_error)?;
    queues.close().await;
    if !dry_run {
        tracing::warn!(purged = purged.matched, "rejected messages purged");
    }
    Ok(Json(PurgeOut {
        purged: purged.matched,
        dry_run,
    }))
}

fn list_limit(text: Option<&str>) -> Result<usize, ApiError> {
    match text {
        None => Ok(100),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIST).contains(limit))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("`limit` must be a whole number from 1 to {MAX_LIST}"),
                )
            }),
    }
}

/// Peeks at the head of the failed queue, without removing anything.
#[utoipa::path(get, path = "/v1/failed", tag = "failed",
    params(FailedQuery),
    responses((status = 200, body = Page<FailedDeliveryOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, description = "The broker is unreachable", body = ErrorBody)))]
pub(super) async fn list(
    State(state): State<ApiState>,
    Query(query): Query<FailedQuery>,
) -> Result<Json<Page<FailedDeliveryOut>>, ApiError> {
    let limit = list_limit(query.limit.as_deref())?;
    let filter = parse_filter(
        query.tenant_id.as_deref(),
        query.webhook_id.as_deref(),
        query.event_type.as_deref(),
    )?;
    let queues = open(&state).await?;
    let failed = queues
        .list_failed(&filter, limit)
        .await
        .map_err(broker_error)?;
    queues.close().await;
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
    let (filter, limit, _) = selection(&body, false)?;
    let queues = open(&state).await?;
    let moved = queues
        .replay_failed(&filter, limit, false, |_| {})
        .await
        .map_err(broker_error)?;
    queues.close().await;
    tracing::info!(
        replayed = moved.matched,
        kept = moved.kept,
        "failed deliveries replayed"
    );
    Ok(Json(ReplayOut {
        replayed: moved.matched,
    }))
}

/// `?webhookId=` of a tenant's failed deliveries.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TenantFailedQuery {
    /// Only this webhook's.
    webhook_id: Option<String>,
}

/// The tenant's deliveries parked as failed, newest first — read from the attempt log, so it
/// is fast whatever the size of the failed queue.
#[utoipa::path(get, path = "/v1/tenants/{tenantId}/failed", tag = "failed",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)"), TenantFailedQuery, PageParams),
    responses((status = 200, body = Page<ParkedOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(super) async fn tenant_list(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    page: PageQuery,
    query: Result<Query<TenantFailedQuery>, QueryRejection>,
) -> Result<Json<Page<ParkedOut>>, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::malformed(format!("invalid query string: {e}")))?;
    let webhook = query
        .webhook_id
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse::<WebhookId>()
                .map_err(|_| ApiError::invalid("webhookId", "`webhookId` is not a webhook id"))
        })
        .transpose()?;
    let before = page.row_cursor()?;
    let mut parked = state
        .attempts
        .parked(&tenant, webhook.as_ref(), page.limit + 1, before)
        .await?;
    let more = parked.len() as i64 > page.limit;
    parked.truncate(usize::try_from(page.limit).unwrap_or(0));
    let next_cursor = more
        .then(|| parked.last().map(|p| p.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: parked.into_iter().map(ParkedOut::from).collect(),
        next_cursor,
    }))
}

/// The body of `POST /v1/tenants/{tenantId}/failed/replay`.
#[derive(utoipa::ToSchema)]
#[schema(as = TenantReplayIn, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct TenantReplaySchema {
    /// Only this webhook's failed deliveries.
    webhook_id: Option<String>,
    /// Only these events' (at most 1000).
    event_ids: Option<Vec<String>>,
}

/// The most event ids one replay names.
const MAX_REPLAY_IDS: usize = 1000;

/// Moves the tenant's failed deliveries (of one webhook, or of the given events) back for a
/// fresh ladder; every other delivery stays in the failed queue, in order.
#[utoipa::path(post, path = "/v1/tenants/{tenantId}/failed/replay", tag = "failed",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)")),
    request_body(content = Option<TenantReplaySchema>),
    responses((status = 202, body = ReplayOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, description = "The broker is unreachable", body = ErrorBody)))]
pub(super) async fn tenant_replay(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    body: Bytes,
) -> Result<(StatusCode, Json<ReplayOut>), ApiError> {
    let mut fields = Fields::parse(&body, &["webhookId", "eventIds"])?;
    let webhook = match fields.take("webhookId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(
            id.parse::<WebhookId>()
                .map_err(|_| ApiError::invalid("webhookId", "`webhookId` is not a webhook id"))?,
        ),
        Some(_) => {
            return Err(ApiError::invalid(
                "webhookId",
                "`webhookId` must be a string",
            ));
        }
    };
    let event_ids = match fields.take("eventIds") {
        None | Some(Value::Null) => None,
        Some(Value::Array(ids)) if ids.len() <= MAX_REPLAY_IDS => Some(
            ids.into_iter()
                .map(|id| {
                    id.as_str()
                        .and_then(|id| id.parse::<EventId>().ok())
                        .ok_or_else(|| {
                            ApiError::invalid("eventIds", "`eventIds` must hold event ids")
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => {
            return Err(ApiError::invalid(
                "eventIds",
                format!("`eventIds` must be a list of at most {MAX_REPLAY_IDS} event ids"),
            ));
        }
    };
    let filter = Filter {
        tenant: Some(tenant.clone()),
        webhook,
        event_type: None,
        event_ids,
        failed_since: None,
        failed_until: None,
    };
    let queues = open(&state).await?;
    let moved = queues
        .replay_failed(&filter, None, false, |_| {})
        .await
        .map_err(broker_error)?;
    queues.close().await;
    tracing::info!(tenant_id = %tenant, replayed = moved.matched, "tenant's failed deliveries replayed");
    Ok((
        StatusCode::ACCEPTED,
        Json(ReplayOut {
            replayed: moved.matched,
        }),
    ))
}
