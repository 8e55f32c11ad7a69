//! Serving HTTP to clients that may be slow, idle or hostile.
//!
//! Every Herald HTTP server (the management API, and each service's health and metrics
//! routes) runs through [`serve`], which bounds what a client can hold:
//!
//! - the **head** of each request must arrive within `header_timeout`, counted from when the
//!   server starts waiting for it — so a kept-alive connection left idle is closed after the
//!   same time (hyper starts the timer whenever it waits for a request head);
//! - a whole **request**, body and handling included, must finish within `request_timeout`,
//!   else it is answered `408` with the API's error envelope;
//! - at most `max_connections` connections are open at once; further clients wait in the
//!   listen backlog until one closes.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::args::humantime_duration;

/// What one client may hold of a server.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpLimits {
    /// How long a client has to send a request's head (also how long a kept-alive connection
    /// may stay idle).
    #[arg(long, env = "HTTP_HEADER_TIMEOUT", default_value = "10s", value_parser = humantime_duration)]
    pub http_header_timeout: Duration,
    /// How long a whole request, body and handling included, may take.
    #[arg(long, env = "HTTP_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime_duration)]
    pub http_request_timeout: Duration,
    /// The most connections open at once.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value_t = 1024)]
    pub http_max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            http_header_timeout: Duration::from_secs(10),
            http_request_timeout: Duration::from_secs(30),
            http_max_connections: 1024,
        }
    }
}

/// How long a stop waits for connections to finish what they are doing.
const GRACEFUL_STOP: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` within `limits` until `shutdown`, then lets open
/// connections finish (bounded).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let request_timeout = limits.http_request_timeout;
    let router = router.layer(axum::middleware::from_fn(move |request, next| {
        within(request_timeout, request, next)
    }));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.http_header_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.http_max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot?,
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        let connection = graceful.watch(
            builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned(),
        );
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(GRACEFUL_STOP, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("connections still open at the end of the graceful stop");
    }
    Ok(())
}

/// Answers `408` with the error envelope when `request` takes longer than `limit`.
async fn within(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error_response(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            &format!(
                "the request took longer than {}",
                humantime::format_duration(limit)
            ),
        ),
    }
}

/// The API's error envelope `{"error":{"code","message"}}` with `status`.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}
