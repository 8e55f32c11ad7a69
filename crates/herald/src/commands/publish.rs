//! `herald publish`: publish a domain event, for trying Herald out.

use std::io::Read;

use anyhow::Context;
use chrono::Utc;
use herald_broker::EventPublisher;
use herald_broker::connect;
use herald_contract::event::DEFAULT_MAX_EVENT_BYTES;
use herald_contract::{DomainEvent, EventEnvelope, EventMessage};
use herald_runtime::args::BrokerArgs;
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// The tenant; with `--type`, builds the event from flags instead of reading stdin.
    #[arg(long)]
    tenant: Option<String>,
    /// The event type, e.g. `contact-created`.
    #[arg(long = "type")]
    event_type: Option<String>,
    /// The entity the event is about.
    #[arg(long, default_value = "ENTITY-1")]
    entity: String,
    /// The event's `data`, as JSON.
    #[arg(long, default_value = "{}")]
    data: String,
    /// The event id (default: a new UUID).
    #[arg(long)]
    event_id: Option<String>,
    /// Publish even an event fanout would reject (to try the rejected queue).
    #[arg(long)]
    no_validate: bool,
}

pub async fn run(args: PublishArgs) -> anyhow::Result<()> {
    let body = match (&args.tenant, &args.event_type) {
        (Some(tenant), Some(event_type)) => {
            let data: Value =
                serde_json::from_str(&args.data).context("--data is not valid JSON")?;
            EventMessage {
                event_id: args
                    .event_id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                event_type: event_type.clone(),
                event_timestamp: herald_contract::format_timestamp(Utc::now()),
                tenant_id: tenant.clone(),
                entity_id: args.entity.clone(),
                data,
            }
            .to_bytes()
        }
        (None, None) => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .context("reading the event from stdin")?;
            body
        }
        _ => {
            anyhow::bail!("give both --tenant and --type, or neither (and the event JSON on stdin)")
        }
    };
    let envelope = EventEnvelope {
        message_id: None,
        timestamp: None,
        received_at: Utc::now(),
    };
    let (routing_key, event_id) =
        match DomainEvent::parse(&body, &envelope, DEFAULT_MAX_EVENT_BYTES) {
            Ok(event) => (
                event.event_type.as_str().to_owned(),
                event.event_id.to_string(),
            ),
            Err(reason) if args.no_validate => {
                eprintln!("warning: fanout will reject this event: {reason}");
                ("unknown".to_owned(), String::new())
            }
            Err(reason) => anyhow::bail!(
                "fanout would reject this event: {reason} (use --no-validate to publish it anyway)"
            ),
        };

    let broker = args.broker.config();
    let exchange = broker.topology.events_exchange();
    let connection = connect(&broker, "herald publish").await?;
    let publisher = EventPublisher::new(&connection, exchange).await?;
    let event_id = (!event_id.is_empty()).then_some(event_id.as_str());
    publisher
        .publish_body(&routing_key, &body, event_id, Utc::now(), None)
        .await
        .with_context(|| {
            format!("publishing to {exchange} (is fanout running, so that its queue is bound?)")
        })?;
    let _ = connection.close(200, "published".into()).await;
    eprintln!(
        "published event {} ({routing_key}) to {exchange}",
        event_id.unwrap_or("without an id")
    );
    Ok(())
}
