//! Watching the broker from a process that does not consume (the management API): its
//! connection, and the depth of the queues where work for operators piles up.

use std::time::Duration;

use herald_broker::lapin::options::QueueDeclareOptions;
use herald_broker::lapin::types::FieldTable;
use herald_broker::{BrokerConfig, connect};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::health::ReadyFlag;
use crate::retry::keep_running;

/// Keeps a connection to the broker open, and `flag` and the gauge `herald_broker_up`
/// telling whether it is, until `shutdown`.
pub fn watch(
    config: BrokerConfig,
    flag: ReadyFlag,
    registry: &mut Registry,
    shutdown: &CancellationToken,
) {
    let up = Gauge::<i64>::default();
    registry.register(
        "herald_broker_up",
        "1 while the broker connection is open",
        up.clone(),
    );
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        keep_running("broker watch", &shutdown, || async {
            let connection = connect(&config, "herald (readiness)").await?;
            flag.set(true);
            up.set(1);
            while connection.status().connected() {
                tokio::select! {
                    _ = shutdown.cancelled() => {
                        let _ = connection.close(200, "stopping".into()).await;
                        return Ok(());
                    }
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            flag.set(false);
            up.set(0);
            anyhow::bail!("the broker connection closed")
        })
        .await;
    });
}

/// How often the parked queues' depth is sampled.
const DEPTH_EVERY: Duration = Duration::from_secs(5);

/// Labels of a queue's depth.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: String,
}

/// Keeps the gauge `herald_queue_messages{queue}` equal to the messages waiting in the
/// failed and rejected queues — work for operators, and a queue that only grows — sampled
/// every few seconds until `shutdown`.
pub fn watch_parked_depth(
    config: BrokerConfig,
    registry: &mut Registry,
    shutdown: &CancellationToken,
) {
    let depth = Family::<QueueLabels, Gauge>::default();
    registry.register(
        "herald_queue_messages",
        "Messages waiting in Herald's parked queues (failed, rejected)",
        depth.clone(),
    );
    let queues = [
        config.topology.failed_queue(),
        config.topology.rejected_queue(),
    ];
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        keep_running("queue depth watch", &shutdown, || async {
            let connection = connect(&config, "herald (queue depth)").await?;
            let channel = connection.create_channel().await?;
            loop {
                for queue in &queues {
                    let declared = channel
                        .queue_declare(
                            queue.as_str().into(),
                            QueueDeclareOptions {
                                passive: true,
                                ..Default::default()
                            },
                            FieldTable::default(),
                        )
                        .await?;
                    depth
                        .get_or_create(&QueueLabels {
                            queue: queue.clone(),
                        })
                        .set(i64::from(declared.message_count()));
                }
                tokio::select! {
                    _ = shutdown.cancelled() => {
                        let _ = connection.close(200, "stopping".into()).await;
                        return Ok(());
                    }
                    _ = tokio::time::sleep(DEPTH_EVERY) => {}
                }
            }
        })
        .await;
    });
}
