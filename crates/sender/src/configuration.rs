//! The sender command's configuration.

use std::net::SocketAddr;
use std::time::Duration;

use herald_runtime::args::{
    BrokerArgs, DatabaseArgs, LifecycleArgs, SecretsArgs, WebhookHealthArgs, humantime_duration,
};
use herald_runtime::http::HttpLimits;
use herald_runtime::telemetry::TelemetryArgs;

use herald_broker::SealKey;

use crate::service::SenderSettings;
use herald_delivery::DeliveryArgs;

/// `sender`: POSTs deliveries; run as many replicas as needed.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "sender", version, about)]
pub struct SenderConfig {
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    #[command(flatten)]
    pub sender: SenderArgs,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
    #[command(flatten)]
    pub webhook_health: WebhookHealthArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub http_limits: HttpLimits,
    /// Where `/healthz`, `/readyz` and `/metrics` are served (port 0 picks a free one).
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9102")]
    pub metrics_addr: SocketAddr,
}

/// The sender's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct SenderArgs {
    /// Deliveries one replica works on at once (AMQP prefetch). Size it as the deliveries per
    /// second wanted times the typical endpoint latency in seconds.
    #[arg(long, env = "SENDER_PREFETCH", default_value_t = 1000)]
    pub sender_prefetch: u16,
    /// Deliveries one replica works on at once for a single webhook; the excess waits
    /// `DEFER_DELAY` in a retry queue without spending an attempt, so a slow or hanging endpoint
    /// cannot take every slot.
    #[arg(long, env = "SENDER_MAX_IN_FLIGHT_PER_WEBHOOK", default_value_t = 100)]
    pub sender_max_in_flight_per_webhook: usize,
    /// How long a delivery may wait for one of its webhook's slots before it is deferred.
    #[arg(long, env = "SENDER_WEBHOOK_WAIT", default_value = "1s", value_parser = humantime_duration)]
    pub sender_webhook_wait: Duration,
}

impl SenderArgs {
    /// The sender's settings; it sends only deliveries sealed with one of `seal_keys`.
    pub fn settings(&self, drain_timeout: Duration, seal_keys: Vec<SealKey>) -> SenderSettings {
        SenderSettings {
            prefetch: self.sender_prefetch.max(1),
            max_in_flight_per_webhook: self.sender_max_in_flight_per_webhook.max(1),
            webhook_wait: self.sender_webhook_wait,
            drain_timeout,
            seal_keys,
        }
    }
}
