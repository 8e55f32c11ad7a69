//! Publishes one domain event the way a platform service should.
//!
//! ```sh
//! cargo run -p herald-broker --example publish_event -- acme contact-created
//! ```
//! (`AMQP_URL` defaults to the local broker.)

use herald_broker::EventPublisher;
use herald_contract::OutgoingEvent;
use lapin::{Connection, ConnectionProperties};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let tenant = args.next().unwrap_or_else(|| "acme".into()).parse()?;
    let event_type = args
        .next()
        .unwrap_or_else(|| "contact-created".into())
        .parse()?;
    let url = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());

    let connection = Connection::connect(&url, ConnectionProperties::default()).await?;
    let publisher = EventPublisher::default_exchange(&connection).await?;
    let event = OutgoingEvent::new(
        tenant,
        event_type,
        "CONT-123",
        json!({"firstName": "Ada", "lastName": "Lovelace"}),
    );
    // Pass the W3C traceparent of the request that caused the event, when there is one.
    publisher.publish(&event, None).await?;
    eprintln!("published {} ({})", event.event_id, event.event_type);
    connection.close(200, "done".into()).await?;
    Ok(())
}
