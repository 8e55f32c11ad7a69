use axum::Json;
use herald_contract::EventType;

use crate::output::EventTypeOut;

/// `GET /v1/event-types`: the catalog.
pub(super) async fn list() -> Json<Vec<EventTypeOut>> {
    Json(EventType::ALL.into_iter().map(EventTypeOut::from).collect())
}
