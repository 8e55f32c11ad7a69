//! Publishing to RabbitMQ (feature `amqp`).
//!
//! - [`Publisher`]: persistent publishes that resolve only once the broker confirmed them.
//! - [`EventPublisher`] and [`OutgoingEvent`]: how a platform service publishes a domain event
//!   correctly — validated with the same rules fanout applies, persistent, confirmed, with the
//!   event type as routing key and the caller's W3C trace context.

mod events;
mod publisher;

pub use events::{EventPublisher, OutgoingEvent, PublishEventError};
pub use publisher::{CONFIRM_TIMEOUT, PublishError, Publisher};
