//! The parked lock: operations on the parked queues take turns (see the parent module).

use std::time::Duration;

use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use lapin::{Channel, ErrorKind};

use super::{ParkedError, ParkedQueues};

/// How long an operation waits for another to finish before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(60);

/// The parked lock, held while this lives: dropping the consumer would cancel it and so
/// release the lock early.
pub(super) struct ParkedLock {
    channel: Channel,
    _consumer: lapin::Consumer,
}

impl ParkedLock {
    pub(super) async fn release(self) -> Result<(), ParkedError> {
        self.channel.close(200, "done".into()).await?;
        Ok(())
    }
}

impl ParkedQueues {
    /// Takes the parked lock: the exclusive consumer of the lock queue, on a channel of its
    /// own. Waits up to [`LOCK_WAIT`] for another holder.
    pub(super) async fn lock(&self) -> Result<ParkedLock, ParkedError> {
        let queue = self.topology.parked_lock_queue();
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            // Trying only when the lock looks free spares the broker (and the log) a refused
            // consumer, which closes its channel; two that try at once still get one refusal.
            let taken = if crate::topology::inspect(&self.channel, &queue)
                .await?
                .consumer_count()
                == 0
            {
                self.try_lock(&queue).await?
            } else {
                None
            };
            if let Some(lock) = taken {
                return Ok(lock);
            }
            if started.elapsed() >= LOCK_WAIT {
                return Err(ParkedError::Busy(started.elapsed()));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// The parked lock if it is free now.
    async fn try_lock(&self, queue: &str) -> Result<Option<ParkedLock>, ParkedError> {
        let channel = self.connection.create_channel().await?;
        let taken = channel
            .basic_consume(
                queue.into(),
                "herald-parked-operation".into(),
                BasicConsumeOptions {
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await;
        match taken {
            Ok(consumer) => Ok(Some(ParkedLock {
                channel,
                _consumer: consumer,
            })),
            Err(error) if is_access_refused(&error) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

/// Whether the broker refused an operation (here: the lock queue's consumer is taken).
fn is_access_refused(error: &lapin::Error) -> bool {
    matches!(error.kind(), ErrorKind::ProtocolError(refusal) if refusal.get_id() == 403)
}
