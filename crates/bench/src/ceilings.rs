//! The ceilings Herald is compared with, measured in the same run on the same machine.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use herald_broker::Publisher;
use herald_broker::lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions,
};
use herald_broker::lapin::types::{AMQPValue, FieldTable, LongString};
use herald_broker::lapin::{BasicProperties, Connection, ConnectionProperties};
use herald_contract::SigningSecret;
use herald_delivery::{AttemptRequest, ClientSettings, DeliveryClient, NetworkPolicy, TargetRules};

use herald_testkit::Receiver;

/// Ceiling A: persistent messages of `body_bytes`, published with confirms (1024 in flight)
/// and consumed with acks (prefetch 200) through one quorum queue, in messages per second.
pub async fn amqp(amqp_url: &str, messages: usize, body_bytes: usize) -> anyhow::Result<f64> {
    let queue = "bench.ceiling";
    let publishing = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let consuming = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let channel = consuming.create_channel().await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await
        .context("declaring the ceiling queue")?;
    channel.basic_qos(200, BasicQosOptions::default()).await?;
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let publisher = Publisher::open(&publishing).await?;
    let body = vec![b'x'; body_bytes];

    let started = Instant::now();
    let consume = async {
        let mut consumed = 0;
        while consumed < messages {
            let delivery = consumer.next().await.context("the consumer ended")??;
            delivery.acker.ack(BasicAckOptions::default()).await?;
            consumed += 1;
        }
        anyhow::Ok(())
    };
    let publish = async {
        let mut in_flight = FuturesUnordered::new();
        for _ in 0..messages {
            if in_flight.len() >= 1024
                && let Some(result) = in_flight.next().await
            {
                result?;
            }
            in_flight.push(publisher.publish_to_queue(queue, &body, BasicProperties::default()));
        }
        while let Some(result) = in_flight.next().await {
            result?;
        }
        anyhow::Ok(())
    };
    let (published, consumed) = tokio::join!(publish, consume);
    published?;
    consumed?;
    let rate = messages as f64 / started.elapsed().as_secs_f64();
    let _ = channel.queue_delete(queue.into(), Default::default()).await;
    let _ = publishing.close(200, "done".into()).await;
    let _ = consuming.close(200, "done".into()).await;
    Ok(rate)
}

/// Ceiling B: signed POSTs of a Herald-sized body to the receiver, through the same client
/// the sender uses, `concurrency` at a time, in requests per second.
pub async fn http(
    receiver: &Receiver,
    requests: usize,
    concurrency: usize,
    body: Bytes,
) -> anyhow::Result<f64> {
    let client = DeliveryClient::new(ClientSettings {
        timeout: Duration::from_secs(10),
        targets: TargetRules {
            allow_http: true,
            network: NetworkPolicy {
                allow_private_targets: true,
                deny: vec![],
            },
        },
    })?;
    let secret = SigningSecret::generate();
    let url = reqwest::Url::parse(&receiver.url("/ceiling")).context("the receiver's URL")?;
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut failures = 0;
    for n in 0..requests {
        if in_flight.len() >= concurrency
            && let Some(delivered) = in_flight.next().await
        {
            let delivered: bool = delivered;
            failures += usize::from(!delivered);
        }
        let (client, url, body, secret) = (&client, &url, body.clone(), &secret);
        in_flight.push(async move {
            let id = format!("ceiling-{n}");
            client
                .send(AttemptRequest {
                    url,
                    auth_header: None,
                    message_id: &id,
                    body,
                    secrets: &[secret],
                    traceparent: None,
                    tracestate: None,
                })
                .await
                .delivered()
        });
    }
    while let Some(delivered) = in_flight.next().await {
        failures += usize::from(!delivered);
    }
    anyhow::ensure!(failures == 0, "{failures} ceiling requests failed");
    Ok(requests as f64 / started.elapsed().as_secs_f64())
}
