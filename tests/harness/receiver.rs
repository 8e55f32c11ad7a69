//! A real HTTP endpoint that records what Herald sends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::sync::Notify;

/// How the receiver answers requests to one path.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// 200 with a short body.
    Ok,
    /// Always this status.
    Status(u16),
    /// This status for the first `n` requests, then 200.
    FailTimes(u32, u16),
    /// A redirect to another path (never followed by Herald).
    Redirect,
    /// Answers only after this long (longer than the delivery timeout: a hang).
    Delay(Duration),
    /// This status with these bytes as a `content-encoding: gzip` body: a binary answer
    /// (NUL bytes, invalid UTF-8) that Herald must store safely.
    Binary(u16, Vec<u8>),
}

/// A request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Verifies the Standard Webhooks signature with the reference verifier.
    pub fn verify(&self, secret: &str) -> Result<(), standardwebhooks::WebhookError> {
        standardwebhooks::Webhook::new(secret)?.verify(&self.body, &self.headers)
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    script: Mutex<HashMap<String, Behaviour>>,
    served: Mutex<HashMap<String, u32>>,
    arrived: Notify,
}

/// The receiver, listening on 127.0.0.1 on a free port.
#[derive(Clone)]
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/{*path}", post(record))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared }
    }

    /// The URL of `path` (e.g. `/crm`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Scripts the answers to `path` (default: 200).
    pub fn respond(&self, path: &str, behaviour: Behaviour) {
        self.shared
            .script
            .lock()
            .unwrap()
            .insert(path.to_owned(), behaviour);
    }

    /// Every request so far, in arrival order.
    pub fn all(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Requests to `path` so far.
    pub fn to(&self, path: &str) -> Vec<Received> {
        self.all().into_iter().filter(|r| r.path == path).collect()
    }

    /// Waits until `path` got at least `count` requests, then returns them all.
    pub async fn wait_for(&self, path: &str, count: usize, limit: Duration) -> Vec<Received> {
        self.wait_until(&format!("{count} request(s) to {path}"), limit, |all| {
            let matching: Vec<Received> = all.iter().filter(|r| r.path == path).cloned().collect();
            (matching.len() >= count).then_some(matching)
        })
        .await
    }

    /// Waits until `check` over every request so far returns `Some`.
    pub async fn wait_until<T>(
        &self,
        what: &str,
        limit: Duration,
        check: impl Fn(&[Received]) -> Option<T>,
    ) -> T {
        match self.try_wait_until(limit, check).await {
            Some(value) => value,
            None => {
                let got = self.shared.received.lock().unwrap().len();
                panic!(
                    "timed out after {limit:?} waiting for {what} (the receiver got {got} request(s))"
                );
            }
        }
    }

    /// Waits until `check` over every request so far returns `Some`; `None` once `limit`
    /// has passed without it.
    pub async fn try_wait_until<T>(
        &self,
        limit: Duration,
        check: impl Fn(&[Received]) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.shared.arrived.notified();
            if let Some(value) = check(&self.shared.received.lock().unwrap()) {
                return Some(value);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/{path}");
    let behaviour = shared
        .script
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or(Behaviour::Ok);
    let served = {
        let mut served = shared.served.lock().unwrap();
        let count = served.entry(path.clone()).or_default();
        *count += 1;
        *count
    };
    shared.received.lock().unwrap().push(Received {
        path,
        headers,
        body,
        at: Instant::now(),
    });
    shared.arrived.notify_waiters();
    match behaviour {
        Behaviour::Ok => (StatusCode::OK, "ok").into_response(),
        Behaviour::Status(status) => status_response(status),
        Behaviour::FailTimes(times, status) if served <= times => status_response(status),
        Behaviour::FailTimes(..) => (StatusCode::OK, "ok").into_response(),
        Behaviour::Redirect => (
            StatusCode::FOUND,
            [(header::LOCATION, "/elsewhere")],
            "moved",
        )
            .into_response(),
        Behaviour::Binary(status, body) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [
                (header::CONTENT_ENCODING, "gzip"),
                (header::CONTENT_TYPE, "application/octet-stream"),
            ],
            body,
        )
            .into_response(),
        Behaviour::Delay(delay) => {
            // Hanging is the behaviour under test here, not a wait for a condition.
            tokio::time::sleep(delay).await; // the scripted hang has no deadline to poll
            (StatusCode::OK, "late").into_response()
        }
    }
}

fn status_response(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, "scripted failure").into_response()
}
