//! Herald in-process, on its own vhost and database, talking to a real receiver.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use herald::commands::up::UpArgs;
use herald_contract::Topology;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::broker::{BrokerClient, Vhost, vhost};
use crate::receiver::Receiver;
use crate::{POSTGRES_BASE, drop_database, unique_id, wait};

/// The admin token of test installations.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// The metric in which fanout reports the registry version its routing index holds.
pub const FANOUT_REGISTRY_VERSION: &str = "herald_fanout_registry_version";

/// The metric in which the sender reports the registry version its target cache holds.
pub const SENDER_REGISTRY_VERSION: &str = "herald_sender_registry_version";

/// A secrets key for test installations.
pub const SECRETS_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The key test installations seal delivery messages with (derived from [`SECRETS_KEY`]), for
/// tests that put deliveries on the queues themselves.
pub fn seal_key() -> herald_broker::SealKey {
    let key = herald_store::SecretsKey::from_base64(SECRETS_KEY).expect("a valid secrets key");
    herald_runtime::args::seal_key(&key)
}

/// How a test wants Herald configured.
#[derive(Debug, Clone)]
pub struct Options {
    /// `RETRY_DELAYS`, scaled down from the production ladder.
    pub retry_delays: String,
    /// `DELIVERY_TIMEOUT`.
    pub delivery_timeout: String,
    /// `MAX_EVENT_BYTES`.
    pub max_event_bytes: usize,
    /// `ALLOW_PRIVATE_TARGETS`: on by default, since the receiver is on loopback.
    pub allow_private_targets: bool,
    /// `ALLOW_HTTP`: on by default, since the receiver speaks plain HTTP.
    pub allow_http: bool,
    /// `HTTP_HEADER_TIMEOUT` of the API.
    pub http_header_timeout: String,
    /// `CONSOLE_FRAME_ANCESTORS`.
    pub console_frame_ancestors: String,
    /// `FAILING_AFTER`.
    pub failing_after: String,
    /// `AUTO_DISABLE_AFTER`.
    pub auto_disable_after: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            retry_delays: "300ms,300ms,300ms,300ms,300ms".into(),
            delivery_timeout: "2s".into(),
            max_event_bytes: 262_144,
            allow_private_targets: true,
            allow_http: true,
            http_header_timeout: "10s".into(),
            console_frame_ancestors: String::new(),
            failing_after: "1h".into(),
            auto_disable_after: "5days".into(),
        }
    }
}

/// Herald running in this process (`herald up`'s code), with everything a test needs.
pub struct TestApp {
    pub id: String,
    pub vhost: Vhost,
    pub database_name: String,
    pub database_url: String,
    pub address: SocketAddr,
    pub api: ApiClient,
    pub receiver: Receiver,
    pub broker: BrokerClient,
    pub topology: Topology,
    shutdown: CancellationToken,
    running: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Starts Herald and waits until it is ready.
    pub async fn spawn(options: Options) -> Self {
        let id = unique_id();
        let vhost = vhost(&id);
        let database_name = format!("herald_test_{id}");
        let database_url = format!("{POSTGRES_BASE}/{database_name}");
        let state_dir = std::env::temp_dir().join(format!("herald-test-{id}"));
        let receiver = Receiver::start().await;
        let max_event_bytes = options.max_event_bytes.to_string();
        let args = UpArgs::try_parse_from([
            "herald up",
            "--amqp-url",
            &vhost.amqp_url(),
            "--database-url",
            &database_url,
            "--database-pool-size",
            "4",
            "--retry-delays",
            &options.retry_delays,
            "--delivery-timeout",
            &options.delivery_timeout,
            "--max-event-bytes",
            &max_event_bytes,
            &format!("--allow-http={}", options.allow_http),
            &format!("--allow-private-targets={}", options.allow_private_targets),
            "--admin-token",
            ADMIN_TOKEN,
            "--secrets-key",
            SECRETS_KEY,
            "--drain-timeout",
            "5s",
            "--http-header-timeout",
            &options.http_header_timeout,
            "--console-frame-ancestors",
            &options.console_frame_ancestors,
            "--state-dir",
            &state_dir.to_string_lossy(),
            "--failing-after",
            &options.failing_after,
            "--auto-disable-after",
            &options.auto_disable_after,
        ])
        .expect("valid herald up arguments");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the API");
        let address = listener.local_addr().expect("API address");
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(herald::commands::up::start(
            args,
            listener,
            shutdown.clone(),
        ));
        let api = ApiClient::new(format!("http://{address}"), ADMIN_TOKEN);
        api.wait_ready(Duration::from_secs(30)).await;
        let broker = BrokerClient::connect(&vhost.amqp_url()).await;
        Self {
            id,
            vhost,
            database_name,
            database_url,
            address,
            api,
            receiver,
            broker,
            topology: Topology::default(),
            shutdown,
            running: Some(running),
        }
    }

    /// Publishes a domain event to the events exchange.
    pub async fn publish(&self, event: &Value) {
        self.broker
            .publish_event(self.topology.events_exchange(), event)
            .await;
    }

    /// Waits until fanout and the sender have taken in every registry change made so far
    /// (instead of waiting out the propagation bound).
    pub async fn wait_for_registry(&self) {
        crate::wait_for_registry(
            &self.database_url,
            &[
                (&self.api, FANOUT_REGISTRY_VERSION),
                (&self.api, SENDER_REGISTRY_VERSION),
            ],
        )
        .await;
    }

    /// Stops Herald (as SIGTERM would) and returns how its run ended.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let running = self.running.take().expect("Herald is running");
        tokio::time::timeout(Duration::from_secs(30), running).await??
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            running.abort();
        }
        drop_database(&self.database_name);
    }
}

/// A client of the management API.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: String, token: &str) -> Self {
        Self {
            base,
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request with the admin token; returns the status and the JSON body (`null`
    /// when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("API reachable");
        let status = response.status();
        let bytes = response.bytes().await.expect("API body");
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        (status, value)
    }

    /// Creates a webhook and returns it (asserting 201).
    pub async fn create_webhook(&self, tenant: &str, body: Value) -> Value {
        let (status, webhook) = self
            .call(
                Method::POST,
                &format!("/v1/tenants/{tenant}/webhooks"),
                Some(&body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create failed: {webhook}");
        webhook
    }

    /// A URL on the API's own address (health and metrics routes).
    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("API reachable");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// The value of one sample of `/metrics` (`name{labels}` as printed), 0 when absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let (_, text) = self.get_text("/metrics").await;
        text.lines()
            .find_map(|line| {
                line.strip_prefix(sample)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self, limit: Duration) {
        wait::until("the API to be ready", limit, || async {
            match self.http.get(format!("{}/readyz", self.base)).send().await {
                Ok(response) if response.status() == StatusCode::OK => Some(()),
                _ => None,
            }
        })
        .await;
    }
}

/// Every operation of an OpenAPI document, as `(METHOD, path template)`.
pub fn documented_operations(document: &Value) -> Vec<(String, String)> {
    document["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .map(move |(method, _)| (method.to_uppercase(), path.clone()))
        })
        .collect()
}
