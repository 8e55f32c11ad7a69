use axum::Json;
use herald_contract::EventType;

use crate::error::ErrorBody;
use crate::output::EventTypeOut;

/// The catalog of event types a webhook can subscribe to.
#[utoipa::path(get, path = "/v1/event-types", tag = "catalog",
    responses((status = 200, body = Vec<EventTypeOut>), (status = 401, body = ErrorBody)))]
pub(super) async fn list() -> Json<Vec<EventTypeOut>> {
    Json(
        EventType::ALL
            .iter()
            .copied()
            .map(EventTypeOut::from)
            .collect(),
    )
}
