//! Watching the broker from a process that does not consume (the management API): its
//! connection. (The queues' depths are sampled by `herald_lifecycle::status`.)

use std::time::Duration;

use herald_broker::{BrokerConfig, connect};
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
