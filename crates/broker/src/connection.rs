//! Opening connections.

use herald_contract::{QueueType, RetryLadder, Topology};
use lapin::{Connection, ConnectionProperties};

/// Where the brokers are and what Herald declares on them.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// AMQP URLs of the cluster's nodes, tried in order.
    pub urls: Vec<String>,
    pub topology: Topology,
    pub queue_type: QueueType,
    /// The ladder whose stages get a retry queue each.
    pub ladder: RetryLadder,
    /// How long a delivery waits when its webhook is busy: it gets a retry queue too.
    pub defer_delay: std::time::Duration,
}

impl BrokerConfig {
    /// The delay of every retry-stage queue: the ladder's, and the deferral's.
    pub fn stage_delays(&self) -> Vec<std::time::Duration> {
        let mut delays = self.ladder.distinct_delays();
        if !delays.contains(&self.defer_delay) {
            delays.push(self.defer_delay);
            delays.sort();
        }
        delays
    }
}

/// No broker could be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("no broker address is configured")]
    NoAddress,
    #[error(
        "could not connect to any of {count} broker address(es); the last, {address}, said: {source}"
    )]
    Unreachable {
        count: usize,
        address: String,
        #[source]
        source: lapin::Error,
    },
}

/// Connects to the first reachable broker of `config.urls`, naming the connection
/// `name` in the broker's management tools.
pub async fn connect(config: &BrokerConfig, name: &str) -> Result<Connection, ConnectError> {
    let mut last = None;
    for url in &config.urls {
        let properties = ConnectionProperties::default().with_connection_name(name.into());
        match Connection::connect(url, properties).await {
            Ok(connection) => {
                tracing::debug!(broker = %redact(url), connection = name, "connected to broker");
                return Ok(connection);
            }
            Err(error) => {
                tracing::debug!(broker = %redact(url), %error, "broker unreachable");
                last = Some((redact(url), error));
            }
        }
    }
    let (address, source) = last.ok_or(ConnectError::NoAddress)?;
    Err(ConnectError::Unreachable {
        count: config.urls.len(),
        address,
        source,
    })
}

/// An AMQP URL with its password replaced, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:****{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            redact("amqp://guest:secret@10.0.0.1:5672/%2f"),
            "amqp://guest:****@10.0.0.1:5672/%2f"
        );
        assert_eq!(redact("amqp://10.0.0.1:5672"), "amqp://10.0.0.1:5672");
        assert_eq!(redact("amqp://user@host/vh"), "amqp://user@host/vh");
    }
}
