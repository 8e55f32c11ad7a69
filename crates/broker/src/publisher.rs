//! Publishing with publisher confirms.

use std::time::Duration;

use herald_contract::operational::OperationalEvent;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection};

/// The AMQP delivery mode of a message written to disk.
const PERSISTENT: u8 = 2;

/// A publish the broker did not take responsibility for.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the broker channel failed while publishing: {0}")]
    Channel(#[from] lapin::Error),
    #[error("the broker refused the message (negative confirm)")]
    Nacked,
    #[error("no queue took the message published with routing key `{routing_key}`: {reply}")]
    Unroutable { routing_key: String, reply: String },
    #[error("the channel is not in confirm mode")]
    Unconfirmed,
    #[error("the broker did not confirm the message within {0:?}")]
    ConfirmTimeout(Duration),
}

/// A confirm that has not come by then is treated as a failed publish: the source message
/// is not acknowledged and will be redelivered.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// A channel in confirm mode. Cheap to clone; publishes from many tasks proceed concurrently,
/// each resolving when the broker confirms its own message.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
}

impl Publisher {
    /// Opens a channel on `connection` and puts it in confirm mode.
    pub async fn open(connection: &Connection) -> Result<Self, lapin::Error> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Self { channel })
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Publishes a persistent message and waits for the broker's confirm.
    ///
    /// With `mandatory`, a message no queue takes is an error rather than silently dropped.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        mandatory: bool,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let publish = async {
            self.channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    BasicPublishOptions {
                        mandatory,
                        immediate: false,
                    },
                    body,
                    properties.with_delivery_mode(PERSISTENT),
                )
                .await?
                .await
        };
        let confirm = tokio::time::timeout(CONFIRM_TIMEOUT, publish)
            .await
            .map_err(|_| PublishError::ConfirmTimeout(CONFIRM_TIMEOUT))??;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) => Err(PublishError::Unroutable {
                routing_key: routing_key.to_owned(),
                reply: returned.reply_text.to_string(),
            }),
            Confirmation::Nack(_) => Err(PublishError::Nacked),
            Confirmation::NotRequested => Err(PublishError::Unconfirmed),
        }
    }

    /// Publishes a persistent message straight into `queue` (through the default exchange)
    /// and waits for the confirm; an absent queue is an error.
    pub async fn publish_to_queue(
        &self,
        queue: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        self.publish("", queue, true, body, properties).await
    }

    /// Publishes an operational event to the topic exchange `exchange`, with its type as
    /// routing key, and waits for the confirm. With no queue bound for it, the broker drops it:
    /// nobody is listening.
    pub async fn announce(
        &self,
        exchange: &str,
        event: &OperationalEvent,
    ) -> Result<(), PublishError> {
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_type(event.routing_key().into())
            .with_app_id("herald".into())
            .with_timestamp(u64::try_from(event.occurred_at.timestamp()).unwrap_or_default());
        self.publish(
            exchange,
            event.routing_key(),
            false,
            &event.to_json(),
            properties,
        )
        .await
    }
}
