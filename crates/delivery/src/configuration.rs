//! How deliveries are made, as command-line options and environment variables: one set for
//! every process that delivers (the sender, and the API for its test route and URL checks).

use std::time::Duration;

use clap::builder::BoolishValueParser;
use herald_runtime::args::humantime_duration;

use crate::client::ClientSettings;
use crate::policy::{NetworkPolicy, TargetRanges};
use crate::targets::TargetRules;

/// How deliveries are made; shared by the sender and the API's test route.
#[derive(Debug, Clone, clap::Args)]
pub struct DeliveryArgs {
    /// How long an endpoint has to answer.
    #[arg(long, env = "DELIVERY_TIMEOUT", default_value = "10s", value_parser = humantime_duration)]
    pub delivery_timeout: Duration,
    /// Allow loopback, private and link-local targets (local development and tests).
    #[arg(long, env = "ALLOW_PRIVATE_TARGETS", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub allow_private_targets: bool,
    /// Allow plain `http://` URLs (local development and tests).
    #[arg(long, env = "ALLOW_HTTP", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub allow_http: bool,
    /// Addresses and CIDR ranges never delivered to, even with `ALLOW_PRIVATE_TARGETS`
    /// (comma-separated, e.g. a cloud's metadata address `169.254.169.254`).
    #[arg(long, env = "DENY_TARGETS", default_value = "")]
    pub deny_targets: TargetRanges,
}

impl DeliveryArgs {
    /// The client's settings.
    pub fn settings(&self) -> ClientSettings {
        ClientSettings {
            timeout: self.delivery_timeout,
            targets: TargetRules {
                allow_http: self.allow_http,
                network: NetworkPolicy {
                    allow_private_targets: self.allow_private_targets,
                    deny: self.deny_targets.0.clone(),
                },
            },
        }
    }
}
