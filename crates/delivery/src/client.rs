//! The HTTP client that makes delivery attempts, shared by the sender and the management
//! API's test route so that a test delivery is exactly a real one.
//!
//! One `reqwest` client per process: connections are kept alive and reused across
//! deliveries; redirects are never followed; the whole attempt (connect, request, response
//! body) is bounded by the delivery timeout; proxies from the environment are ignored; and
//! the [network policy](crate::policy) is enforced on every address connected to.

use std::error::Error as StdError;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use herald_contract::SigningSecret;
use herald_store::AuthHeader;
use hickory_resolver::TokioResolver;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;

use crate::headers::attempt_headers;
use crate::policy::{NetworkPolicy, Refusal};
use crate::targets::TargetRules;

/// The `user-agent` of every delivery.
pub const USER_AGENT: &str = concat!("Herald-Webhooks/", env!("CARGO_PKG_VERSION"));

/// The most bytes of a response body Herald reads; the rest is never read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The most bytes of a response body kept in the attempt log.
pub const EXCERPT_BYTES: usize = 1024;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The limit of a whole attempt; 10 s by contract.
    pub timeout: Duration,
    /// Which URLs and addresses may be delivered to.
    pub targets: TargetRules,
}

/// One attempt to make.
#[derive(Debug, Clone)]
pub struct AttemptRequest<'a> {
    pub url: &'a reqwest::Url,
    pub auth_header: Option<&'a AuthHeader>,
    /// The event id, sent as `webhook-id`.
    pub message_id: &'a str,
    /// The exact payload bytes.
    pub body: Bytes,
    /// Secrets to sign with: one signature each.
    pub secrets: &'a [&'a SigningSecret],
    pub traceparent: Option<&'a str>,
    pub tracestate: Option<&'a str>,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The response status, when a response came.
    pub status: Option<u16>,
    /// Why the attempt failed (`HTTP 500`, `timed out after 10s`, ...); `None` when delivered.
    pub error: Option<String>,
    pub duration: Duration,
    /// The start of the response body, for the attempt log.
    pub response_excerpt: Option<String>,
}

impl AttemptOutcome {
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// Judges a response status: 2xx is delivered, anything else (3xx included) failed.
pub fn judge_status(status: u16) -> Option<String> {
    if (200..300).contains(&status) {
        None
    } else {
        Some(format!("HTTP {status}"))
    }
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct DeliveryClient {
    http: reqwest::Client,
    settings: Arc<ClientSettings>,
}

impl DeliveryClient {
    pub fn new(settings: ClientSettings) -> Result<Self, reqwest::Error> {
        let resolver = PolicyResolver {
            policy: Arc::new(settings.targets.network.clone()),
            dns: dns_resolver(),
            timeout: settings.timeout,
        };
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(redirect::Policy::none())
            .timeout(settings.timeout)
            .no_proxy()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .dns_resolver(resolver)
            .build()?;
        Ok(Self {
            http,
            settings: Arc::new(settings),
        })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// Makes one attempt. Never fails: every problem is a failed [`AttemptOutcome`].
    pub async fn send(&self, request: AttemptRequest<'_>) -> AttemptOutcome {
        let started = Instant::now();
        let failed = |error: String| AttemptOutcome {
            status: None,
            error: Some(error),
            duration: started.elapsed(),
            response_excerpt: None,
        };
        if let Err(refusal) = self.check_url(request.url) {
            return failed(refusal);
        }
        let headers = match attempt_headers(&request, Utc::now().timestamp()) {
            Ok(headers) => headers,
            Err(problem) => return failed(problem),
        };
        let response = self
            .http
            .post(request.url.clone())
            .headers(headers)
            .body(request.body)
            .send()
            .await;
        match response {
            Ok(response) => {
                let status = response.status().as_u16();
                let response_excerpt = read_excerpt(response).await;
                AttemptOutcome {
                    status: Some(status),
                    error: judge_status(status),
                    duration: started.elapsed(),
                    response_excerpt,
                }
            }
            Err(error) => failed(describe(&error, self.settings.timeout)),
        }
    }

    /// Whether the target rules allow `url`; otherwise the attempt's error.
    fn check_url(&self, url: &reqwest::Url) -> Result<(), String> {
        self.settings.targets.check(url).map_err(|refusal| {
            if refusal.is_policy() {
                format!("refused by network policy: {refusal}")
            } else {
                format!("invalid URL: {refusal}")
            }
        })
    }
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of the body and keeps the first [`EXCERPT_BYTES`].
async fn read_excerpt(mut response: reqwest::Response) -> Option<String> {
    let mut kept = Vec::new();
    let mut read = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        read += chunk.len();
        let room = EXCERPT_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if read >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    (!kept.is_empty()).then(|| String::from_utf8_lossy(&kept).into_owned())
}

/// A short sentence for a failed request.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {}", humantime::format_duration(timeout));
    }
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    let mut root = error.to_string();
    while let Some(current) = source {
        if let Some(refusal) = current.downcast_ref::<PolicyRefusal>() {
            return refusal.to_string();
        }
        if let Some(failure) = current.downcast_ref::<LookupFailure>() {
            return failure.to_string();
        }
        if let Some(io) = current.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                io::ErrorKind::ConnectionReset => return "connection reset".into(),
                io::ErrorKind::ConnectionAborted => return "connection aborted".into(),
                io::ErrorKind::TimedOut => {
                    return format!("timed out after {}", humantime::format_duration(timeout));
                }
                _ => {}
            }
        }
        root = current.to_string();
        source = current.source();
    }
    if error.is_connect() {
        format!("connection failed: {root}")
    } else {
        format!("request failed: {root}")
    }
}

/// A name none of whose addresses the policy allows.
#[derive(Debug, thiserror::Error)]
#[error("refused by network policy: {host} resolves to {address}, which is {refusal}")]
struct PolicyRefusal {
    host: String,
    address: String,
    refusal: Refusal,
}

/// A name that does not resolve.
#[derive(Debug, thiserror::Error)]
#[error("DNS lookup failed for {host}: {reason}")]
struct LookupFailure {
    host: String,
    reason: String,
}

/// The system's DNS configuration as an asynchronous resolver; `None` when it cannot be read
/// (the blocking system resolver is used then, still bounded by the attempt's timeout).
fn dns_resolver() -> Option<TokioResolver> {
    match TokioResolver::builder_tokio().and_then(|builder| builder.build()) {
        Ok(resolver) => Some(resolver),
        Err(error) => {
            tracing::warn!(%error, "cannot read the system DNS configuration; using the system resolver");
            None
        }
    }
}

/// Resolves names asynchronously, within the attempt's timeout (a tenant's slow nameserver
/// holds no thread), and keeps only the addresses the policy allows.
struct PolicyResolver {
    policy: Arc<NetworkPolicy>,
    dns: Option<TokioResolver>,
    timeout: Duration,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let policy = self.policy.clone();
        let dns = self.dns.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let failure = |reason: String| LookupFailure {
                host: host.clone(),
                reason,
            };
            let lookup = async {
                match &dns {
                    Some(dns) => dns
                        .lookup_ip(host.as_str())
                        .await
                        .map(|found| found.iter().collect::<Vec<IpAddr>>())
                        .map_err(|error| failure(error.to_string())),
                    None => tokio::net::lookup_host((host.as_str(), 0))
                        .await
                        .map(|found| found.map(|addr| addr.ip()).collect())
                        .map_err(|error| failure(error.to_string())),
                }
            };
            let resolved = tokio::time::timeout(timeout, lookup)
                .await
                .map_err(|_| failure("no answer in time".into()))??;
            let mut first_refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .filter(|ip| match policy.check(**ip) {
                    Ok(()) => true,
                    Err(refusal) => {
                        first_refusal.get_or_insert((**ip, refusal));
                        false
                    }
                })
                .map(|ip| SocketAddr::new(*ip, 0))
                .collect();
            if allowed.is_empty() {
                let error: Box<dyn StdError + Send + Sync> = match first_refusal {
                    Some((address, refusal)) => Box::new(PolicyRefusal {
                        host,
                        address: address.to_string(),
                        refusal,
                    }),
                    None => Box::new(failure("no address".into())),
                };
                return Err(error);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_2xx_is_delivered() {
        assert_eq!(judge_status(200), None);
        assert_eq!(judge_status(204), None);
        assert_eq!(judge_status(299), None);
        assert_eq!(judge_status(302).as_deref(), Some("HTTP 302"));
        assert_eq!(judge_status(404).as_deref(), Some("HTTP 404"));
        assert_eq!(judge_status(500).as_deref(), Some("HTTP 500"));
    }
}
