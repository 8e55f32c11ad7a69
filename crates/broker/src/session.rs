//! A consuming session: what fanout and the sender share between connecting and stopping.
//!
//! One connection consumes and another publishes (so that a publisher blocked by a broker
//! alarm cannot stall acknowledgements); the topology is declared on every new session; each
//! delivery is handled in a task of its own; and a session ends when the service stops, when
//! a handler reports the publishing side broken, or when the consumer fails. On the way out it
//! stops the flow, gives handlers up to the drain time, and closes both connections: whatever
//! was not acknowledged goes back to the queue.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::acks::Acks;
use crate::connection::{BrokerConfig, ConnectError, connect};
use crate::topology;

/// Why a session ended other than by a stop.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("the broker failed: {0}")]
    Broker(#[from] lapin::Error),
    #[error("a handler could not publish; starting a new session")]
    PublishFailed,
    #[error("the broker ended the consumer (was the queue deleted?)")]
    ConsumerEnded,
    #[error("opening the session took longer than {0:?} (is the broker still starting?)")]
    OpenTimedOut(Duration),
}

/// How long connecting, declaring the topology and starting to consume may take together:
/// a broker that accepts connections while it starts can leave a handshake or a declaration
/// unanswered, and a session that waits for it forever never reconnects.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a session that ends waits for the broker to acknowledge closing each connection
/// (or channel) it opened.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A session consuming one queue or more on one channel.
pub struct ConsumingSession {
    consuming: Connection,
    publishing: Connection,
    channel: Channel,
    consumers: Vec<Consumer>,
    /// Cancelled by a handler whose publish failed.
    broken: CancellationToken,
}

impl ConsumingSession {
    /// Connects twice (as `name`), declares the topology and consumes each of `queues` with
    /// `prefetch` deliveries unacknowledged at most from each, all within [`OPEN_TIMEOUT`].
    pub async fn open(
        config: &BrokerConfig,
        name: &str,
        queues: &[String],
        prefetch: u16,
    ) -> Result<Self, SessionError> {
        tokio::time::timeout(
            OPEN_TIMEOUT,
            Self::open_unbounded(config, name, queues, prefetch),
        )
        .await
        .map_err(|_| SessionError::OpenTimedOut(OPEN_TIMEOUT))?
    }

    async fn open_unbounded(
        config: &BrokerConfig,
        name: &str,
        queues: &[String],
        prefetch: u16,
    ) -> Result<Self, SessionError> {
        let consuming = connect(config, &format!("{name} (consume)")).await?;
        let publishing = connect(config, &format!("{name} (publish)")).await?;
        topology::declare_or_verify(&consuming, config).await?;
        let channel = consuming.create_channel().await?;
        // Not global: the limit applies to each consumer of the channel.
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let mut consumers = Vec::with_capacity(queues.len());
        for queue in queues {
            let consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            consumers.push(consumer);
            tracing::info!(queue, prefetch, "{name} consuming");
        }
        Ok(Self {
            consuming,
            publishing,
            channel,
            consumers,
            broken: CancellationToken::new(),
        })
    }

    /// The connection to publish on.
    pub fn publishing(&self) -> &Connection {
        &self.publishing
    }

    /// Cancel it to end the session (a handler whose publish failed does).
    pub fn broken(&self) -> CancellationToken {
        self.broken.clone()
    }

    /// Hands every delivery to `handle`, with the [`Acks`] that settle it, until `shutdown`
    /// (then `Ok`) or a failure; then drains for at most `drain` and closes the connections.
    /// `connected` hears `true` when consuming starts and `false` when it stops (readiness,
    /// metrics).
    pub async fn run<H, F>(
        self,
        shutdown: &CancellationToken,
        drain: Duration,
        connected: impl Fn(bool),
        handle: H,
    ) -> Result<(), SessionError>
    where
        H: Fn(Delivery, Acks) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        connected(true);
        let (acks, settling) = Acks::start(self.channel.clone());
        let in_flight = TaskTracker::new();
        let tags: Vec<_> = self.consumers.iter().map(Consumer::tag).collect();
        // One stream of every consumer's deliveries; the end of any consumer ends the session.
        let mut deliveries =
            futures::stream::select_all(self.consumers.into_iter().map(|consumer| {
                consumer
                    .map(Some)
                    .chain(futures::stream::once(async { None }))
                    .boxed()
            }));
        let ended = loop {
            tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                _ = self.broken.cancelled() => break Err(SessionError::PublishFailed),
                next = deliveries.next() => match next.flatten() {
                    Some(Ok(delivery)) => {
                        acks.delivered(delivery.delivery_tag);
                        in_flight.spawn(handle(delivery, acks.clone()));
                    }
                    Some(Err(error)) => break Err(error.into()),
                    None => break Err(SessionError::ConsumerEnded),
                },
            }
        };
        if ended.is_ok() {
            // Stop the flow first; what was delivered but not yet handled goes back on close.
            for tag in tags {
                let _ = self
                    .channel
                    .basic_cancel(tag, BasicCancelOptions::default())
                    .await;
            }
        }
        connected(false);
        in_flight.close();
        if tokio::time::timeout(drain, in_flight.wait()).await.is_err() {
            tracing::warn!("drain timeout: messages still in flight are returned to the queue");
        }
        // The last settlements go out once no handler holds the acks any more.
        drop(acks);
        let _ = tokio::time::timeout(Duration::from_secs(5), settling).await;
        // A connection the broker dropped may never answer a close (the fault suite saw fanout
        // wait on one forever after a broker restart, never reconnecting): bounded.
        for connection in [&self.publishing, &self.consuming] {
            let closing = connection.close(200, "stopping".into());
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
        }
        ended
    }
}
