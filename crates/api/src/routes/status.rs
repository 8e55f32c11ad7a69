//! `GET /v1/status`: is anything stuck?

use axum::Json;
use axum::extract::State;
use herald_broker::connect;
use herald_lifecycle::StatusReport;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};

/// Every Herald queue's ready and unacknowledged counts and consumers, the age of the oldest
/// delivery waiting, the failed and rejected counts, and the webhooks failing now. No queue
/// is swept: it answers as fast whatever the queues hold.
#[utoipa::path(get, path = "/v1/status", tag = "operations",
    responses((status = 200, body = StatusReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, description = "The broker or the database is unreachable", body = ErrorBody)))]
pub(super) async fn get(State(state): State<ApiState>) -> Result<Json<StatusReport>, ApiError> {
    let connection = connect(&state.broker, "herald api (status)")
        .await
        .map_err(|error| {
            tracing::warn!(%error, "broker unavailable");
            ApiError::Unavailable
        })?;
    let report = herald_lifecycle::gather(
        &connection,
        &state.broker,
        &state.health,
        state.failing_after,
    )
    .await;
    let _ = connection.close(200, "done".into()).await;
    let report = report.map_err(|error| {
        tracing::warn!(error = format!("{error:#}"), "status not gathered");
        ApiError::Unavailable
    })?;
    Ok(Json(report))
}
