//! The fanout command's configuration.

use std::net::SocketAddr;
use std::time::Duration;

use herald_broker::SealKey;
use herald_contract::event::DEFAULT_MAX_EVENT_BYTES;
use herald_runtime::args::{BrokerArgs, DatabaseArgs, LifecycleArgs, SecretsArgs};
use herald_runtime::http::HttpLimits;
use herald_runtime::telemetry::TelemetryArgs;

use crate::service::FanoutSettings;

/// `fanout`: consumes domain events and publishes one delivery per matching webhook.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "fanout", version, about)]
pub struct FanoutConfig {
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// `SECRETS_KEY`: fanout seals delivery messages with a key derived from it.
    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub fanout: FanoutArgs,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub http_limits: HttpLimits,
    /// Where `/healthz`, `/readyz` and `/metrics` are served (port 0 picks a free one).
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9101")]
    pub metrics_addr: SocketAddr,
}

/// Fanout's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    /// Events larger than this many bytes are rejected.
    #[arg(long, env = "MAX_EVENT_BYTES", default_value_t = DEFAULT_MAX_EVENT_BYTES)]
    pub max_event_bytes: usize,
    /// Events fanout holds unacknowledged at once.
    #[arg(long, env = "FANOUT_PREFETCH", default_value_t = 256)]
    pub fanout_prefetch: u16,
    /// Deliveries waiting in the deliveries queue from which on new ones go to the overflow
    /// queue, so that fresh events do not wait behind a backlog (0: never).
    #[arg(long, env = "OVERFLOW_AFTER", default_value_t = 2_000)]
    pub overflow_after: u32,
}

impl FanoutArgs {
    /// Fanout's settings; it seals every delivery message with `seal`.
    pub fn settings(&self, drain_timeout: Duration, seal: SealKey) -> FanoutSettings {
        FanoutSettings {
            max_event_bytes: self.max_event_bytes,
            prefetch: self.fanout_prefetch.max(1),
            drain_timeout,
            seal,
            overflow_after: self.overflow_after,
        }
    }
}
