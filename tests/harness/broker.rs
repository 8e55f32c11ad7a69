//! RabbitMQ for tests: a vhost per test, publishing events, reading queues.

use std::time::Duration;

use herald_broker::Publisher;
use herald_broker::headers::{get_int, get_str};
use herald_broker::lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use herald_broker::lapin::types::FieldTable;
use herald_broker::lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde_json::Value;

use crate::wait;

pub use herald_testkit::Vhost;

/// A vhost of the test's own (`herald-test-<id>`) on the shared RabbitMQ, deleted when dropped.
pub fn vhost(id: &str) -> Vhost {
    Vhost::create(&format!("herald-test-{id}"), herald_testkit::RABBITMQ_ADDR)
        .expect("a vhost of the test's own")
}

/// Runs `rabbitmqctl` with `args`, asserting success.
pub fn rabbitmqctl(args: &[&str]) {
    herald_testkit::isolation::rabbitmqctl(args).expect("rabbitmqctl succeeds");
}

/// A domain event as platform services publish it, with a fresh id.
pub fn event(tenant: &str, event_type: &str, data: Value) -> Value {
    let message = herald_contract::EventMessage {
        event_id: uuid::Uuid::new_v4().to_string(),
        event_type: event_type.to_owned(),
        event_timestamp: "2024-03-21T13:46:46Z".to_owned(),
        tenant_id: tenant.to_owned(),
        entity_id: "CONT-123".to_owned(),
        data,
    };
    serde_json::to_value(message).expect("an event message is JSON")
}

/// A message read from a queue.
#[derive(Debug, Clone)]
pub struct Message {
    pub properties: BasicProperties,
    pub body: Vec<u8>,
}

impl Message {
    pub fn header_str(&self, name: &str) -> Option<String> {
        self.properties
            .headers()
            .as_ref()
            .and_then(|h| get_str(h, name))
            .map(str::to_owned)
    }

    pub fn header_int(&self, name: &str) -> Option<i64> {
        self.properties
            .headers()
            .as_ref()
            .and_then(|h| get_int(h, name))
    }
}

/// A test's own connection to its vhost.
pub struct BrokerClient {
    _connection: Connection,
    channel: Channel,
    publisher: Publisher,
}

impl BrokerClient {
    pub async fn connect(amqp_url: &str) -> Self {
        let connection = Connection::connect(amqp_url, ConnectionProperties::default())
            .await
            .expect("connect to the test vhost");
        let channel = connection.create_channel().await.expect("channel");
        let publisher = Publisher::open(&connection).await.expect("confirm channel");
        Self {
            _connection: connection,
            channel,
            publisher,
        }
    }

    /// Publishes `body` to the events exchange with routing key `routing_key`, waiting for
    /// the confirm.
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) {
        self.publisher
            .publish(exchange, routing_key, true, body, properties)
            .await
            .expect("event published and confirmed");
    }

    /// Publishes a domain event the way a platform service does.
    pub async fn publish_event(&self, exchange: &str, event: &Value) {
        let routing_key = event["eventType"].as_str().unwrap_or("unknown").to_owned();
        let body = serde_json::to_vec(event).expect("serialise the event");
        let properties = BasicProperties::default().with_content_type("application/json".into());
        self.publish_raw(exchange, &routing_key, &body, properties)
            .await;
    }

    /// Puts a message straight into a queue.
    pub async fn put(&self, queue: &str, body: &[u8], properties: BasicProperties) {
        self.publisher
            .publish_to_queue(queue, body, properties)
            .await
            .expect("message queued");
    }

    /// Takes one message off `queue`, if any.
    pub async fn take(&self, queue: &str) -> Option<Message> {
        let message = self
            .channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")?;
        Some(Message {
            properties: message.delivery.properties.clone(),
            body: message.delivery.data.clone(),
        })
    }

    /// Waits until `count` messages could be taken off `queue`, and returns them.
    pub async fn take_n(&self, queue: &str, count: usize, limit: Duration) -> Vec<Message> {
        let taken = std::sync::Mutex::new(Vec::new());
        wait::until(&format!("{count} message(s) in {queue}"), limit, || async {
            while let Some(message) = self.take(queue).await {
                taken.lock().unwrap().push(message);
            }
            (taken.lock().unwrap().len() >= count).then_some(())
        })
        .await;
        taken.into_inner().unwrap()
    }

    /// Declares a queue of the test's own, bound to `exchange` with `binding_key`, and
    /// returns its name: what the exchange routes from now on waits there to be taken.
    pub async fn listen(&self, exchange: &str, binding_key: &str) -> String {
        let queue = self
            .channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("queue declared");
        let name = queue.name().to_string();
        self.channel
            .queue_bind(
                name.as_str().into(),
                exchange.into(),
                binding_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("queue bound");
        name
    }

    /// How many messages are ready in `queue`.
    pub async fn count(&self, queue: &str) -> u32 {
        self.declared(queue).await.message_count()
    }

    /// How many consumers `queue` has.
    pub async fn consumers(&self, queue: &str) -> u32 {
        self.declared(queue).await.consumer_count()
    }

    async fn declared(&self, queue: &str) -> herald_broker::lapin::Queue {
        herald_broker::topology::inspect(&self.channel, queue)
            .await
            .expect("queue exists")
    }
}
