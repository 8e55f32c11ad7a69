//! Bringing the database up at start and watching it afterwards.

use std::time::Duration;

use herald_store::keys::verify_key;
use herald_store::{Database, Keyring};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::health::{ReadyFlag, spawn_probe};
use crate::retry::Backoff;

/// Creates the database if missing, migrates it and, given the process's `key`, checks that
/// it opens the stored secrets — waiting for the database to become reachable. Returns early
/// (with `Ok`) when `shutdown` comes first; any failure waiting cannot cure (an unusable
/// configuration, a failed migration, the wrong key) is an error, so that the process stops
/// at start with it.
pub async fn prepare(
    database: &Database,
    key: Option<&Keyring>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        let prepared = match database.prepare().await {
            Ok(()) => match key {
                Some(key) => verify_key(database, key).await,
                None => Ok(()),
            },
            Err(error) => Err(error),
        };
        match prepared {
            Ok(()) => return Ok(()),
            Err(error) if error.is_transient() => {
                let delay = backoff.next_delay();
                tracing::warn!(%error, retry_in = ?delay, "database not reachable yet");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            Err(error) => return Err(anyhow::Error::new(error).context("preparing the database")),
        }
    }
}

/// Keeps `flag`, and the gauge `herald_database_up` registered in `registry`, telling whether
/// the database answers.
pub fn watch(
    database: &Database,
    flag: ReadyFlag,
    registry: &mut Registry,
    shutdown: &CancellationToken,
) {
    let up = Gauge::<i64>::default();
    registry.register(
        "herald_database_up",
        "1 while the database answers",
        up.clone(),
    );
    let database = database.clone();
    spawn_probe(flag, Duration::from_secs(2), shutdown.clone(), move || {
        let (database, up) = (database.clone(), up.clone());
        async move {
            let ok = database.ping().await.is_ok();
            up.set(i64::from(ok));
            ok
        }
    });
}
