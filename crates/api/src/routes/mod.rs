//! The `/v1` routes, registered together with their OpenAPI description so the two cannot
//! drift apart: the document served at `/v1/openapi.json` is generated from these handlers.

mod access;
mod attempts;
mod document;
mod event_types;
mod failed;
mod pagination;
mod stats;
mod status;
mod webhooks;

use axum::Json;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;

pub(crate) use pagination::PageQuery;

#[derive(OpenApi)]
#[openapi(
    info(title = "Herald management API", description = "Webhooks per tenant, their attempt logs, test deliveries and secret rotation."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags((name = "webhooks"), (name = "catalog"), (name = "failed"), (name = "access"), (name = "operations"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("ADMIN_TOKEN, a portal session or a tenant API key"))
                    .build(),
            ),
        );
    }
}

/// The routes and the OpenAPI document describing them.
pub fn router() -> axum::Router<ApiState> {
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(event_types::list))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(attempts::test))
        .routes(routes!(attempts::list))
        .routes(routes!(stats::get))
        .routes(routes!(failed::list))
        .routes(routes!(failed::replay))
        .routes(routes!(failed::purge))
        .routes(routes!(failed::rejected))
        .routes(routes!(failed::purge_rejected))
        .routes(routes!(failed::tenant_list))
        .routes(routes!(failed::tenant_replay))
        .routes(routes!(status::get))
        .routes(routes!(access::create_session))
        .routes(routes!(access::create_key, access::list_keys))
        .routes(routes!(access::delete_key))
        .split_for_parts();
    let mut document = serde_json::to_value(document).unwrap_or_default();
    document::complete(&mut document);
    router.route(
        "/v1/openapi.json",
        get(move || async move { Json(document) }),
    )
}
