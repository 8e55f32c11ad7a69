//! The sender's cache of delivery targets.
//!
//! A webhook's definition is read when each attempt is made, but not from the database each
//! time: targets are cached, and a change notification evicts the webhook's entry, so the next
//! attempt reads the new definition. A deleted webhook is cached as absent.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use herald_contract::WebhookId;
use herald_store::changes::{self, WebhookChange};
use herald_store::{DeliveryTarget, StoreError, WebhookStore};
use parking_lot::Mutex;
use prometheus_client::metrics::gauge::Gauge;
use tokio_util::sync::CancellationToken;

/// Beyond this many entries the cache starts afresh rather than grow without bound.
const MAX_ENTRIES: usize = 100_000;

/// Cached targets by webhook id.
pub struct TargetCache {
    store: WebhookStore,
    entries: Mutex<HashMap<WebhookId, Option<Arc<DeliveryTarget>>>>,
    /// Bumped by every eviction, so that a load that raced with one is not cached.
    generation: AtomicU64,
}

impl TargetCache {
    pub fn new(store: WebhookStore) -> Arc<Self> {
        Arc::new(Self {
            store,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        })
    }

    /// The target of webhook `id`, or `None` when the webhook no longer exists.
    pub async fn get(&self, id: &WebhookId) -> Result<Option<Arc<DeliveryTarget>>, StoreError> {
        if let Some(entry) = self.entries.lock().get(id).cloned() {
            return Ok(entry);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = self.store.target(id).await?.map(Arc::new);
        let unchanged = self.generation.load(Ordering::Acquire) == generation;
        if unchanged {
            let mut entries = self.entries.lock();
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(id.clone(), loaded.clone());
        }
        Ok(loaded)
    }

    /// Forgets webhook `id`.
    pub fn evict(&self, id: &WebhookId) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.lock().remove(id);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.lock().clear();
    }

    /// Evicts changed webhooks as their notifications arrive, until `shutdown`; `version`
    /// follows the registry version whose every change has been taken in.
    pub async fn follow_changes(self: Arc<Self>, version: Gauge, shutdown: CancellationToken) {
        let mut changes = changes::listen(self.store.database(), shutdown);
        while let Some(change) = changes.recv().await {
            match change {
                WebhookChange::Changed(id) => self.evict(&id),
                WebhookChange::Reached(reached) => {
                    if reached > version.get() {
                        version.set(reached);
                    }
                }
                WebhookChange::Resync(at) => {
                    self.clear();
                    version.set(at);
                }
            }
        }
    }
}
