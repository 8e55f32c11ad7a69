//! Herald's management API.
//!
//! - [`routes`]: the handlers, one module per resource.
//! - [`input`]: request bodies parsed and validated into domain values at the edge; every
//!   problem is a 400 naming the field.
//! - [`output`]: the JSON shapes returned (camelCase), with write-only values masked.
//! - [`error`]: the `{"error":{"code","message","field"}}` body and its status codes. No
//!   input can produce a 500: only an unreachable database gives a 503.
//! - [`auth`]: the bearer `ADMIN_TOKEN`, compared in constant time.
//! - [`console`]: the tenant's Webhooks page at `/console/`, static files compiled in.
//! - [`credentials`]: who is calling (admin, portal session, tenant API key) and what each
//!   may do, decided in one place for every route.
//! - [`envelope`]: the same error body for what the handlers do not answer themselves
//!   (unknown routes, wrong methods, oversize bodies, wrong content types, bad query strings).

pub mod auth;
pub mod console;
pub mod credentials;
pub mod envelope;
pub mod error;
pub mod input;
pub mod output;
pub mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use herald_broker::BrokerConfig;
use herald_delivery::DeliveryClient;
use herald_store::WebhookStore;
use herald_store::api_keys::ApiKeyStore;
use herald_store::attempts::AttemptLog;

pub use auth::AdminToken;
pub use credentials::{Authenticator, SessionKeys};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub webhooks: WebhookStore,
    pub attempts: AttemptLog,
    /// Makes test deliveries exactly as the sender would.
    pub client: DeliveryClient,
    /// Resolves bearer credentials.
    pub auth: Arc<Authenticator>,
    pub api_keys: ApiKeyStore,
    /// The base of console URLs (`PUBLIC_URL`).
    pub public_url: String,
    /// Who may embed the console in a frame.
    pub frame_ancestors: console::FrameAncestors,
    /// The broker, for the failed-queue and status routes.
    pub broker: BrokerConfig,
    /// Webhook health, for the status route.
    pub health: herald_store::HealthStore,
    /// How long a webhook fails before it counts as failing (`FAILING_AFTER`).
    pub failing_after: std::time::Duration,
}

/// The `/v1` routes, behind a bearer credential ([`credentials`]).
///
/// Every answer carries `Cache-Control: no-store`: they hold tenants' data and signing
/// secrets, which no cache on the way may keep.
pub fn router(state: ApiState) -> Router {
    let authenticator = state.auth.clone();
    let console = console::router(&state.frame_ancestors);
    routes::router()
        .route_layer(axum::middleware::from_fn(credentials::authorize))
        .layer(axum::middleware::from_fn(envelope::require_json_body))
        .layer(axum::middleware::from_fn_with_state(
            authenticator,
            credentials::authenticate,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .fallback(envelope::unknown_route)
        .method_not_allowed_fallback(envelope::wrong_method)
        .layer(axum::middleware::map_response(envelope::every_error))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
        .merge(console)
}

async fn no_store(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}
