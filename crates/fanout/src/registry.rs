//! Keeping the routing index equal to the registry.

use std::sync::Arc;
use std::time::Duration;

use herald_runtime::retry::Backoff;
use herald_store::changes::{self, WebhookChange};
use herald_store::webhooks::{load_route, load_routes};
use herald_store::{Database, StoreError};
use parking_lot::RwLock;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::index::RoutingIndex;
use crate::metrics::FanoutMetrics;

/// The index shared by the registry follower (writer) and the event handlers (readers).
pub type SharedIndex = Arc<RwLock<RoutingIndex>>;

/// A full reload every so often repairs anything a lost notification left behind.
const FULL_RELOAD_EVERY: Duration = Duration::from_secs(60);

/// Follows the registry into `index` until `shutdown`. `loaded` turns true after the first
/// full load: until then the index is empty, and matching against it would drop deliveries.
pub async fn follow(
    database: Database,
    index: SharedIndex,
    loaded: watch::Sender<bool>,
    metrics: FanoutMetrics,
    shutdown: CancellationToken,
) {
    let mut changes = changes::listen(&database, shutdown.clone());
    let mut reload_due = true;
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    // The first tick after a period: an interval's first tick is immediate, which reloaded the
    // whole index a second time right after the initial load.
    let mut periodic = tokio::time::interval_at(
        tokio::time::Instant::now() + FULL_RELOAD_EVERY,
        FULL_RELOAD_EVERY,
    );
    loop {
        if reload_due {
            match load_routes(&database).await {
                Ok((routes, version)) => {
                    let fresh = RoutingIndex::from_routes(routes);
                    metrics
                        .registry_webhooks
                        .set(i64::try_from(fresh.len()).unwrap_or(i64::MAX));
                    *index.write() = fresh;
                    metrics.registry_version.set(version);
                    loaded.send_replace(true);
                    reload_due = false;
                    backoff.reset();
                }
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, retry_in = ?delay, "cannot load the webhook registry; matching with the index held");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(delay) => continue,
                    }
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = periodic.tick() => reload_due = true,
            change = changes.recv() => match change {
                None => return,
                // The reload made next reads a version at least this one.
                Some(WebhookChange::Resync(_)) => reload_due = true,
                // Every change this version covers was applied before it arrived; a failed
                // one makes a reload due, which the version is left for.
                Some(WebhookChange::Reached(version)) => {
                    if !reload_due && version > metrics.registry_version.get() {
                        metrics.registry_version.set(version);
                    }
                }
                Some(WebhookChange::Changed(id)) => {
                    if let Err(error) = apply_change(&database, &index, &metrics, &id).await {
                        tracing::warn!(%error, webhook_id = %id, "cannot load a changed webhook; reloading all");
                        reload_due = true;
                    }
                }
            },
        }
    }
}

async fn apply_change(
    database: &Database,
    index: &SharedIndex,
    metrics: &FanoutMetrics,
    id: &herald_contract::WebhookId,
) -> Result<(), StoreError> {
    let route = load_route(database, id).await?;
    let mut index = index.write();
    match route {
        Some(route) => index.upsert(route),
        None => index.remove(id),
    }
    metrics
        .registry_webhooks
        .set(i64::try_from(index.len()).unwrap_or(i64::MAX));
    drop(index);
    tracing::debug!(webhook_id = %id, "routing index updated");
    Ok(())
}
