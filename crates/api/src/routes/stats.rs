//! A webhook's delivery statistics.

use axum::Json;
use axum::extract::{Query, State};
use chrono::Utc;
use herald_contract::format_timestamp;
use herald_store::stats::{StatsWindow, webhook_stats};
use serde::Deserialize;

use super::pagination::WebhookPath;
use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::output::{BucketOut, StatsOut};

/// `?window=`, as documented.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(super) struct WindowParams {
    /// `24h` (hourly buckets, the default) or `7d` (6-hourly buckets).
    window: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawWindow {
    window: Option<String>,
}

/// Delivered, will-retry and failed attempts and attempt durations of the webhook, in buckets
/// over the last 24 hours or 7 days, oldest first; test sends are not counted.
#[utoipa::path(get, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}/stats", tag = "webhooks",
    params(("tenantId" = String, Path, description = "The tenant (1-128 of A-Z a-z 0-9 . _ - : @)"), ("webhookId" = String, Path, description = "The webhook id (WEBH-…)"), WindowParams),
    responses((status = 200, body = StatsOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(super) async fn get(
    State(state): State<ApiState>,
    WebhookPath(tenant, id): WebhookPath,
    query: Result<Query<RawWindow>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<StatsOut>, ApiError> {
    let Query(raw) =
        query.map_err(|e| ApiError::malformed(format!("invalid query string: {e}")))?;
    let window = match raw.window.as_deref() {
        None | Some("") => StatsWindow::Day,
        Some(text) => StatsWindow::parse(text)
            .ok_or_else(|| ApiError::invalid("window", "`window` must be `24h` or `7d`"))?,
    };
    state
        .webhooks
        .get(&tenant, &id)
        .await?
        .ok_or_else(ApiError::webhook_not_found)?;
    let buckets = webhook_stats(state.webhooks.database(), &id, window, Utc::now()).await?;
    Ok(Json(StatsOut {
        window: window.as_str(),
        bucket_seconds: window.bucket_seconds(),
        buckets: buckets
            .into_iter()
            .map(|bucket| BucketOut {
                start: format_timestamp(bucket.start),
                delivered: bucket.delivered,
                will_retry: bucket.will_retry,
                failed: bucket.failed,
                p50_ms: bucket.p50_ms,
                p95_ms: bucket.p95_ms,
            })
            .collect(),
    }))
}
