//! Configuration shared by several commands. Every field reads an environment variable and
//! accepts the matching `--flag`; defaults serve a single local machine.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use herald_broker::{BrokerConfig, SealKey};
use herald_contract::{QueueType, RetryLadder, Topology};
use herald_store::{DatabaseConfig, Keyring, SecretsKey};

use crate::secret::{Secret, value_or_file};

/// The broker and the names Herald uses on it.
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArgs {
    /// AMQP URL of the broker; several, comma-separated, for a cluster (tried in order).
    #[arg(
        long,
        env = "AMQP_URL",
        value_delimiter = ',',
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true
    )]
    pub amqp_url: Vec<Secret>,
    /// The topic exchange platform services publish domain events to.
    #[arg(long, env = "EVENTS_EXCHANGE", default_value = Topology::DEFAULT_EXCHANGE)]
    pub events_exchange: String,
    /// The topic exchange Herald publishes operational events to (webhook failing,
    /// recovered, disabled; a delivery parked as failed), with their type as routing key.
    #[arg(long, env = "OPERATIONAL_EXCHANGE", default_value = Topology::DEFAULT_OPERATIONAL_EXCHANGE)]
    pub operational_exchange: String,
    /// The prefix of every Herald queue.
    #[arg(long, env = "QUEUE_PREFIX", default_value = Topology::DEFAULT_PREFIX, value_parser = parse_prefix)]
    pub queue_prefix: String,
    /// `quorum` (replicated, loses nothing) or `classic`.
    #[arg(long, env = "QUEUE_TYPE", default_value_t)]
    pub queue_type: QueueType,
    /// Delays before each retry, comma-separated (the default is the contract's ladder).
    #[arg(long, env = "RETRY_DELAYS", default_value_t)]
    pub retry_delays: RetryLadder,
    /// How long a delivery waits, without spending an attempt, when its webhook already has
    /// `SENDER_MAX_IN_FLIGHT_PER_WEBHOOK` deliveries in flight on the replica.
    #[arg(long, env = "DEFER_DELAY", default_value = "5s", value_parser = stage_delay)]
    pub defer_delay: Duration,
}

fn stage_delay(text: &str) -> Result<Duration, String> {
    let ladder: RetryLadder = text.parse().map_err(|e| format!("{e}"))?;
    match ladder.delays() {
        [delay] => Ok(*delay),
        _ => Err("give exactly one delay, like `5s`".into()),
    }
}

impl BrokerArgs {
    pub fn config(&self) -> BrokerConfig {
        BrokerConfig {
            urls: self
                .amqp_url
                .iter()
                .map(|url| url.expose().to_owned())
                .collect(),
            topology: Topology::new(&self.events_exchange, &self.queue_prefix)
                .with_operational_exchange(&self.operational_exchange),
            queue_type: self.queue_type,
            ladder: self.retry_delays.clone(),
            defer_delay: self.defer_delay,
        }
    }
}

fn parse_prefix(prefix: &str) -> Result<String, String> {
    let valid = !prefix.is_empty()
        && prefix.len() <= 200
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(prefix.to_owned())
    } else {
        Err("a queue prefix is 1-200 characters of letters, digits, `.`, `_` and `-`".into())
    }
}

/// The PostgreSQL database.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL; the database is created at start when missing and the role may.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/herald",
        hide_env_values = true
    )]
    pub database_url: Secret,
    /// The most database connections this process opens.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: usize,
}

impl DatabaseArgs {
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            url: self.database_url.expose().to_owned(),
            pool_size: self.database_pool_size,
        }
    }
}

/// The key that encrypts secrets at rest.
#[derive(Debug, Clone, clap::Args)]
pub struct SecretsArgs {
    /// Base64 of 32 random bytes; encrypts auth header values and signing secrets at rest.
    #[arg(long, env = "SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<Secret>,
    /// A file holding `SECRETS_KEY` (instead of the variable).
    #[arg(long, env = "SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,
    /// The key being rotated away from: still opens what it sealed, never seals.
    #[arg(long, env = "SECRETS_KEY_PREVIOUS", hide_env_values = true)]
    pub secrets_key_previous: Option<Secret>,
    /// A file holding `SECRETS_KEY_PREVIOUS` (instead of the variable).
    #[arg(long, env = "SECRETS_KEY_PREVIOUS_FILE")]
    pub secrets_key_previous_file: Option<PathBuf>,
}

impl SecretsArgs {
    /// The configured key in its base64 form, if any.
    pub fn configured(&self) -> anyhow::Result<Option<Secret>> {
        value_or_file(
            "SECRETS_KEY",
            self.secrets_key.as_ref(),
            self.secrets_key_file.as_deref(),
        )
    }

    /// The key, which this command requires.
    pub fn key(&self) -> anyhow::Result<SecretsKey> {
        let encoded = self.configured()?.context(
            "SECRETS_KEY is not set: generate one with `openssl rand -base64 32` and keep it safe",
        )?;
        Ok(SecretsKey::from_base64(encoded.expose())?)
    }

    /// The previous key, during a rotation.
    pub fn previous(&self) -> anyhow::Result<Option<SecretsKey>> {
        value_or_file(
            "SECRETS_KEY_PREVIOUS",
            self.secrets_key_previous.as_ref(),
            self.secrets_key_previous_file.as_deref(),
        )?
        .map(|encoded| {
            SecretsKey::from_base64(encoded.expose()).context("SECRETS_KEY_PREVIOUS is not valid")
        })
        .transpose()
    }

    /// The key and, during a rotation, the previous one.
    pub fn keyring(&self) -> anyhow::Result<Keyring> {
        Ok(Keyring::new(self.key()?, self.previous()?))
    }
}

/// The key fanout seals delivery messages with and senders check them with, derived from
/// `SECRETS_KEY` and named after it.
pub fn seal_key(key: &SecretsKey) -> SealKey {
    SealKey::new(key.id(), key.derive("herald delivery seal v1"))
}

/// The seal keys of every key held: a sender accepts deliveries sealed before a rotation.
pub fn seal_keys(keys: &Keyring) -> Vec<SealKey> {
    keys.keys().map(seal_key).collect()
}

/// How long the attempt log keeps attempts.
#[derive(Debug, Clone, clap::Args)]
pub struct RetentionArgs {
    /// Attempts older than this are deleted from the attempt log.
    #[arg(long, env = "ATTEMPT_RETENTION", default_value = "30days", value_parser = humantime_duration)]
    pub attempt_retention: Duration,
}

/// How a service stops.
#[derive(Debug, Clone, clap::Args)]
pub struct LifecycleArgs {
    /// How long a stopping service may take to finish or return what it holds.
    #[arg(long, env = "DRAIN_TIMEOUT", default_value = "15s", value_parser = humantime_duration)]
    pub drain_timeout: Duration,
}

/// When a webhook counts as failing, and when Herald disables it.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookHealthArgs {
    /// A webhook with only failed attempts for this long is failing: `webhook.failing` is
    /// announced and `herald status` lists it.
    #[arg(long, env = "FAILING_AFTER", default_value = "1h", value_parser = humantime_duration)]
    pub failing_after: Duration,
    /// A webhook with only failed attempts for this long is disabled (`webhook.disabled`,
    /// reason `failing`); what it was owed is parked in the failed queue. `off`: never.
    #[arg(long, env = "AUTO_DISABLE_AFTER", default_value = "5days", value_parser = duration_or_off)]
    pub auto_disable_after: DurationOrOff,
}

/// A duration, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationOrOff(pub Option<Duration>);

/// Parses a duration like [`humantime_duration`], or `off`.
pub fn duration_or_off(text: &str) -> Result<DurationOrOff, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(DurationOrOff(None));
    }
    humantime_duration(text)
        .map(|duration| DurationOrOff(Some(duration)))
        .map_err(|error| format!("{error}, or `off`"))
}

/// Parses `10s`, `500ms`, `1m`.
pub fn humantime_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| format!("`{text}` is not a duration (write it like `10s` or `500ms`)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_documentation_writes_them() {
        assert_eq!(humantime_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(humantime_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(humantime_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(
            duration_or_off("5days"),
            Ok(DurationOrOff(Some(Duration::from_secs(5 * 86_400))))
        );
        assert_eq!(duration_or_off("off"), Ok(DurationOrOff(None)));
        assert!(duration_or_off("soon").is_err());
        assert!(humantime_duration("10x").is_err());
        assert!(humantime_duration("ten seconds").is_err());
    }

    #[test]
    fn queue_prefixes_are_safe_names() {
        assert!(parse_prefix("webhooks").is_ok());
        assert!(parse_prefix("t-1.herald_x").is_ok());
        assert!(parse_prefix("").is_err());
        assert!(parse_prefix("a b").is_err());
        assert!(parse_prefix(&"x".repeat(201)).is_err());
    }
}
