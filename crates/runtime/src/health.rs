//! Liveness, readiness and metrics endpoints.
//!
//! `/healthz` answers 200 while the process runs. `/readyz` answers 200 only while every
//! registered component (broker session, database) is up, else 503 with the ones that are
//! down. `/metrics` renders the process's registry in the Prometheus text format.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// One component's readiness.
#[derive(Debug, Clone, Default)]
pub struct ReadyFlag(Arc<AtomicBool>);

impl ReadyFlag {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The readiness of a process: ready when every component is.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    components: Arc<Mutex<Vec<(String, ReadyFlag)>>>,
}

impl Readiness {
    /// Registers a component, initially not ready.
    pub fn component(&self, name: &str) -> ReadyFlag {
        let flag = ReadyFlag::default();
        self.components.lock().push((name.to_owned(), flag.clone()));
        flag
    }

    /// Whether every component is ready, and the names of those that are not.
    pub fn check(&self) -> (bool, Vec<String>) {
        let down: Vec<String> = self
            .components
            .lock()
            .iter()
            .filter(|(_, flag)| !flag.get())
            .map(|(name, _)| name.clone())
            .collect();
        (down.is_empty(), down)
    }
}

/// Keeps `flag` equal to the outcome of `probe`, checked every `interval` until `shutdown`.
pub fn spawn_probe<P, Fut>(
    flag: ReadyFlag,
    interval: Duration,
    shutdown: CancellationToken,
    probe: P,
) where
    P: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        loop {
            let ready = tokio::time::timeout(interval, probe())
                .await
                .unwrap_or(false);
            flag.set(ready);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    });
}

#[derive(Clone)]
struct HealthState {
    readiness: Readiness,
    registry: Arc<Registry>,
}

/// The `/healthz`, `/readyz` and `/metrics` routes.
pub fn router(readiness: Readiness, registry: Arc<Registry>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({"status": "alive"})) }),
        )
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(HealthState {
            readiness,
            registry,
        })
}

async fn ready(State(state): State<HealthState>) -> Response {
    let (ready, down) = state.readiness.check();
    if ready {
        (StatusCode::OK, axum::Json(json!({"status": "ready"}))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "not ready", "down": down})),
        )
            .into_response()
    }
}

async fn metrics(State(state): State<HealthState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::prometheus_text::encode(&mut body, &state.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
