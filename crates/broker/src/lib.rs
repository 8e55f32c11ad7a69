//! Herald's RabbitMQ layer.
//!
//! - [`connection`]: opening a connection to the first reachable of several brokers.
//! - [`topology`]: declaring the exchange and queues of [`herald_contract::Topology`], with the
//!   arguments that make retry stages dead-letter at least once.
//! - [`publisher`]: persistent publishes that resolve only once the broker confirms.
//! - [`events`]: publishing domain events as a platform service does ([`EventPublisher`]).
//! - [`acks`]: settling deliveries in batches.
//! - [`headers`]: reading and writing AMQP header tables.
//! - [`session`]: a consuming session (two connections, topology, consumer, drain) for the
//!   services.
//! - [`seal`]: the MAC that fanout puts on every delivery message and senders check.
//! - [`parked`]: listing, replaying and purging the failed and rejected queues.
//! - [`delivery`]: the delivery message that travels from fanout to the senders, through the
//!   retry stages, to the failed queue.
//!
//! Connections are not recovered here: a service treats a broken connection as the end of a
//! session and opens a new one. Whatever was not acknowledged is redelivered by the broker, so
//! nothing is lost when a session ends.

pub mod acks;
pub mod connection;
pub mod delivery;
pub mod events;
pub mod headers;
pub mod parked;
pub mod publisher;
pub mod seal;
pub mod session;
pub mod topology;

pub use connection::{BrokerConfig, connect};
pub use delivery::{DeliveryHeaders, FailureFacts, MalformedDelivery};
pub use events::{EventPublisher, PublishEventError};
pub use publisher::{CONFIRM_TIMEOUT, PublishError, Publisher};
pub use seal::{SealError, SealKey};

/// Re-exported so that services use the same lapin as this crate.
pub use lapin;
