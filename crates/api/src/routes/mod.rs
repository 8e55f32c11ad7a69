//! The `/v1` routes.

mod attempts;
mod event_types;
mod pagination;
mod webhooks;

use axum::Router;
use axum::routing::{get, post};

use crate::ApiState;

pub(crate) use pagination::PageQuery;

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/v1/event-types", get(event_types::list))
        .route(
            "/v1/tenants/{tenant_id}/webhooks",
            post(webhooks::create).get(webhooks::list),
        )
        .route(
            "/v1/tenants/{tenant_id}/webhooks/{webhook_id}",
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route(
            "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/test",
            post(attempts::test),
        )
        .route(
            "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/attempts",
            get(attempts::list),
        )
}
