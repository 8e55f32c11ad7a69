//! The receiving end: a plain hyper HTTP/1 server answering 200 (optionally after a fixed
//! latency) that records, for each request, how long after its event was published it arrived.
//!
//! Event ids carry their publish time (`bench-<nanos since the bench started>-<n>`), so the
//! receiver needs no shared map with the publisher.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

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

fn sent_at(event_id: &str) -> Option<u64> {
    event_id
        .strip_prefix("bench-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

#[derive(Default)]
struct Record {
    /// Publish → receipt, in nanoseconds.
    latencies: Mutex<Vec<u64>>,
    received: AtomicU64,
    last: AtomicU64,
}

/// The receiver, on 127.0.0.1 and a free port.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    clock: Clock,
    delay: Arc<Mutex<Duration>>,
    record: Arc<Mutex<Arc<Record>>>,
}

/// What a receiver saw since its last reset.
#[derive(Debug, Clone)]
pub struct Seen {
    pub received: u64,
    /// When the last request arrived, in nanoseconds on the run's clock.
    pub last: u64,
    pub latencies: Vec<u64>,
}

impl Receiver {
    pub async fn start(clock: Clock) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let receiver = Self {
            addr: listener.local_addr()?,
            clock,
            delay: Arc::new(Mutex::new(Duration::ZERO)),
            record: Arc::new(Mutex::new(Arc::new(Record::default()))),
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let receiver = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let receiver = receiver.clone();
                        async move { Ok::<_, Infallible>(receiver.answer(request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(receiver)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers only after `delay` from now on.
    pub fn set_delay(&self, delay: Duration) {
        if let Ok(mut current) = self.delay.lock() {
            *current = delay;
        }
    }

    /// Forgets what was seen.
    pub fn reset(&self) {
        if let Ok(mut record) = self.record.lock() {
            *record = Arc::new(Record::default());
        }
    }

    pub fn received(&self) -> u64 {
        self.current().received.load(Ordering::Relaxed)
    }

    pub fn seen(&self) -> Seen {
        let record = self.current();
        let latencies = record
            .latencies
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        Seen {
            received: record.received.load(Ordering::Relaxed),
            last: record.last.load(Ordering::Relaxed),
            latencies,
        }
    }

    /// Waits until `count` requests arrived, or `limit` passed.
    pub async fn wait_for(&self, count: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.received() < count {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    fn current(&self) -> Arc<Record> {
        self.record.lock().map(|r| r.clone()).unwrap_or_default()
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let sent = request
            .headers()
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .and_then(sent_at);
        let _ = request.into_body().collect().await;
        let now = self.clock.nanos();
        let record = self.current();
        if let Some(sent) = sent
            && let Ok(mut latencies) = record.latencies.lock()
        {
            latencies.push(now.saturating_sub(sent));
        }
        record.received.fetch_add(1, Ordering::Relaxed);
        record.last.fetch_max(now, Ordering::Relaxed);
        let delay = self.delay.lock().map(|d| *d).unwrap_or_default();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Response::new(Full::new(Bytes::from_static(b"ok")))
    }
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
