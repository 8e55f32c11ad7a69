//! A real HTTP endpoint for Herald to deliver to: it answers each path as scripted and
//! records what arrives — every request in full ([`Receiver::start`], for tests), or only
//! counts and latencies ([`Receiver::counting`], for measuring, where keeping every body
//! would cost more than the delivery).
//!
//! Latency is measured without a shared map with the publisher: a measured event's id carries
//! its publish time on the run's [`Clock`] (`bench-<nanos>-<n>`), and it arrives as the
//! `webhook-id` header.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// How the receiver answers requests to a path.
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
    /// 200, but only after this long (longer than the delivery timeout: a hang).
    Delay(Duration),
    /// This status with these bytes as a `content-encoding: gzip` body: a binary answer
    /// (NUL bytes, invalid UTF-8) that Herald must store safely.
    Binary(u16, Vec<u8>),
    /// 200 with this HTML page (a browser test's page on another origin).
    Page(String),
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

    /// The body as JSON (panics when it is not: for tests).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Verifies the Standard Webhooks signature with the reference verifier.
    pub fn verify(&self, secret: &str) -> Result<(), standardwebhooks::WebhookError> {
        standardwebhooks::Webhook::new(secret)?.verify(&self.body, &self.headers)
    }
}

/// The clock every measurement of a run uses.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Self {
        Self(Instant::now())
    }

    pub fn nanos(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// An event id carrying the current time.
    pub fn event_id(&self, n: usize) -> String {
        format!("bench-{}-{n}", self.nanos())
    }
}

/// The publish time an event id made by [`Clock::event_id`] carries.
fn sent_at(event_id: &str) -> Option<u64> {
    event_id
        .strip_prefix("bench-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Counts since the last [`Receiver::reset`].
#[derive(Default)]
struct Tally {
    /// Publish → receipt, in nanoseconds, of requests whose id carries a publish time.
    latencies: Mutex<Vec<u64>>,
    received: AtomicU64,
    /// When the last request arrived, on the run's clock.
    last: AtomicU64,
}

/// What a counting receiver saw since its last reset.
#[derive(Debug, Clone)]
pub struct Seen {
    pub received: u64,
    /// When the last request arrived, in nanoseconds on the run's clock.
    pub last: u64,
    pub latencies: Vec<u64>,
}

struct Shared {
    clock: Clock,
    /// Keeps every request (tests); otherwise only the tally.
    keep_requests: bool,
    received: Mutex<Vec<Received>>,
    script: Mutex<HashMap<String, Behaviour>>,
    /// How paths without a script of their own are answered.
    default_behaviour: Mutex<Behaviour>,
    served: Mutex<HashMap<String, u32>>,
    tally: Mutex<Arc<Tally>>,
    arrived: Notify,
}

/// The receiver, on a local address and a free port.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Receiver {
    /// A receiver on 127.0.0.1 that keeps every request. Panics when it cannot listen (tests).
    pub async fn start() -> Self {
        Self::listen("127.0.0.1:0", Clock::start(), true)
            .await
            .expect("a receiver on 127.0.0.1")
    }

    /// A receiver on 127.0.0.1 that only counts and times requests on `clock`.
    pub async fn counting(clock: Clock) -> anyhow::Result<Self> {
        Self::listen("127.0.0.1:0", clock, false).await
    }

    /// A receiver on `addr` (e.g. `[::1]:0`) that keeps every request.
    pub async fn start_on(addr: &str) -> anyhow::Result<Self> {
        Self::listen(addr, Clock::start(), true).await
    }

    async fn listen(addr: &str, clock: Clock, keep_requests: bool) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let receiver = Self {
            addr: listener.local_addr()?,
            shared: Arc::new(Shared {
                clock,
                keep_requests,
                received: Mutex::default(),
                script: Mutex::default(),
                default_behaviour: Mutex::new(Behaviour::Ok),
                served: Mutex::default(),
                tally: Mutex::default(),
                arrived: Notify::new(),
            }),
        };
        let shared = receiver.shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(answer(&shared, request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(receiver)
    }

    /// The URL of `path` (e.g. `/crm`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Scripts the answers to `path` (default: 200).
    pub fn respond(&self, path: &str, behaviour: Behaviour) {
        self.shared.script.lock().insert(path.to_owned(), behaviour);
    }

    /// Scripts the answers to every path without a script of its own.
    pub fn respond_to_all(&self, behaviour: Behaviour) {
        *self.shared.default_behaviour.lock() = behaviour;
    }

    /// Every request kept so far, in arrival order.
    pub fn all(&self) -> Vec<Received> {
        self.shared.received.lock().clone()
    }

    /// Requests to `path` kept so far.
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

    /// Waits until `check` over every request so far returns `Some` (panics after `limit`).
    pub async fn wait_until<T>(
        &self,
        what: &str,
        limit: Duration,
        check: impl Fn(&[Received]) -> Option<T>,
    ) -> T {
        match self.try_wait_until(limit, check).await {
            Some(value) => value,
            None => {
                let got = self.shared.received.lock().len();
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
            if let Some(value) = check(&self.shared.received.lock()) {
                return Some(value);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Requests counted since the last reset.
    pub fn received(&self) -> u64 {
        self.tally().received.load(Ordering::Relaxed)
    }

    /// Waits until `count` requests were counted since the last reset; `false` after `limit`.
    pub async fn wait_for_count(&self, count: u64, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.shared.arrived.notified();
            if self.received() >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.received() >= count;
            }
        }
    }

    /// Counts, the last arrival and latencies since the last reset.
    pub fn seen(&self) -> Seen {
        let tally = self.tally();
        let latencies = tally.latencies.lock().clone();
        Seen {
            received: tally.received.load(Ordering::Relaxed),
            last: tally.last.load(Ordering::Relaxed),
            latencies,
        }
    }

    /// Forgets what was counted and kept.
    pub fn reset(&self) {
        *self.shared.tally.lock() = Arc::default();
        self.shared.received.lock().clear();
    }

    fn tally(&self) -> Arc<Tally> {
        self.shared.tally.lock().clone()
    }
}

async fn answer(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let now = shared.clock.nanos();
    let tally = shared.tally.lock().clone();
    if let Some(sent) = parts
        .headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .and_then(sent_at)
    {
        tally.latencies.lock().push(now.saturating_sub(sent));
    }
    tally.received.fetch_add(1, Ordering::Relaxed);
    tally.last.fetch_max(now, Ordering::Relaxed);
    let behaviour = shared
        .script
        .lock()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| shared.default_behaviour.lock().clone());
    let served = {
        let mut served = shared.served.lock();
        let count = served.entry(path.clone()).or_default();
        *count += 1;
        *count
    };
    if shared.keep_requests {
        shared.received.lock().push(Received {
            path,
            headers: parts.headers,
            body,
            at: Instant::now(),
        });
    }
    shared.arrived.notify_waiters();
    match behaviour {
        Behaviour::Ok => respond(StatusCode::OK, &[], "ok"),
        Behaviour::Status(status) => scripted_failure(status),
        Behaviour::FailTimes(times, status) if served <= times => scripted_failure(status),
        Behaviour::FailTimes(..) => respond(StatusCode::OK, &[], "ok"),
        Behaviour::Redirect => respond(
            StatusCode::FOUND,
            &[(header::LOCATION, "/elsewhere")],
            "moved",
        ),
        Behaviour::Page(html) => {
            let mut response = Response::new(Full::new(Bytes::from(html)));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                "text/html; charset=utf-8".parse().expect("a header"),
            );
            response
        }
        Behaviour::Binary(status, bytes) => {
            let mut response = Response::new(Full::new(Bytes::from(bytes)));
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_ENCODING, "gzip".parse().expect("a header"));
            headers.insert(
                header::CONTENT_TYPE,
                "application/octet-stream".parse().expect("a header"),
            );
            response
        }
        Behaviour::Delay(delay) => {
            // The scripted slowness is the behaviour under test, not a wait for a condition.
            tokio::time::sleep(delay).await;
            respond(StatusCode::OK, &[], "late")
        }
    }
}

fn respond(
    status: StatusCode,
    headers: &[(header::HeaderName, &'static str)],
    body: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(name.clone(), http::HeaderValue::from_static(value));
    }
    response
}

fn scripted_failure(status: u16) -> Response<Full<Bytes>> {
    respond(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &[],
        "scripted failure",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_carry_their_publish_time() {
        let clock = Clock::start();
        let id = clock.event_id(7);
        let sent = sent_at(&id).expect("a time");
        assert!(sent <= clock.nanos());
        assert!(id.ends_with("-7"));
        assert_eq!(sent_at("other-1"), None);
    }
}
