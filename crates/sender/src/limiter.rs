//! Bounding the deliveries in flight per webhook, so that one slow or hanging endpoint
//! cannot take every delivery slot of a replica.
//!
//! A delivery whose webhook is at its limit waits for a slot, first come first served, but
//! only briefly: a fast endpoint frees slots within milliseconds, so bursts to it flow at
//! full speed; a slow or hanging one does not, and its excess deliveries give up their wait
//! (and their prefetch slots) to be deferred instead.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use herald_contract::WebhookId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Delivery slots per webhook.
#[derive(Debug)]
pub struct InFlightLimiter {
    limit: usize,
    max_wait: Duration,
    slots: Mutex<HashMap<WebhookId, Arc<Semaphore>>>,
}

/// One delivery slot of a webhook; released when dropped.
#[derive(Debug)]
pub struct Permit {
    permit: Option<OwnedSemaphorePermit>,
    limiter: Arc<InFlightLimiter>,
    webhook: WebhookId,
}

impl InFlightLimiter {
    /// At most `limit` deliveries per webhook at once; a delivery waits at most `max_wait`
    /// for a slot.
    pub fn new(limit: usize, max_wait: Duration) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            max_wait,
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `webhook`, or `None` when none freed up within the wait.
    pub async fn acquire(self: &Arc<Self>, webhook: &WebhookId) -> Option<Permit> {
        let semaphore = {
            let mut slots = self.slots.lock();
            slots
                .entry(webhook.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
                .clone()
        };
        let permit = match semaphore.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => tokio::time::timeout(self.max_wait, semaphore.acquire_owned())
                .await
                .ok()
                .and_then(Result::ok),
        };
        let Some(permit) = permit else {
            self.forget_if_idle(webhook);
            return None;
        };
        Some(Permit {
            permit: Some(permit),
            limiter: self.clone(),
            webhook: webhook.clone(),
        })
    }

    /// Deliveries in flight for `webhook`.
    pub fn in_flight(&self, webhook: &WebhookId) -> usize {
        self.slots
            .lock()
            .get(webhook)
            .map_or(0, |s| self.limit - s.available_permits())
    }

    /// Drops the webhook's semaphore when nobody holds or awaits it, so that the map only
    /// holds busy webhooks.
    fn forget_if_idle(&self, webhook: &WebhookId) {
        let mut slots = self.slots.lock();
        let idle = slots
            .get(webhook)
            .is_some_and(|s| Arc::strong_count(s) == 1 && s.available_permits() == self.limit);
        if idle {
            slots.remove(webhook);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        drop(self.permit.take());
        self.limiter.forget_if_idle(&self.webhook);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_webhook_gets_at_most_the_limit_and_others_are_unaffected() {
        let limiter = InFlightLimiter::new(2, Duration::from_millis(100));
        let busy = WebhookId::generate();
        let other = WebhookId::generate();

        let first = limiter.acquire(&busy).await.expect("first slot");
        let _second = limiter.acquire(&busy).await.expect("second slot");
        assert!(
            limiter.acquire(&busy).await.is_none(),
            "a third slot after the wait"
        );
        assert!(limiter.acquire(&other).await.is_some());

        drop(first);
        assert_eq!(limiter.in_flight(&busy), 1);
        assert!(limiter.acquire(&busy).await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_freed_during_the_wait_goes_to_the_waiting_delivery() {
        let limiter = InFlightLimiter::new(1, Duration::from_millis(100));
        let webhook = WebhookId::generate();
        let held = limiter.acquire(&webhook).await.expect("the slot");
        let waiting = tokio::spawn({
            let limiter = limiter.clone();
            let webhook = webhook.clone();
            async move { limiter.acquire(&webhook).await.is_some() }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        assert!(
            waiting.await.expect("the waiter"),
            "the freed slot was not handed over"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_webhooks_are_forgotten() {
        let limiter = InFlightLimiter::new(1, Duration::from_millis(10));
        let webhook = WebhookId::generate();
        drop(limiter.acquire(&webhook).await);
        assert_eq!(limiter.in_flight(&webhook), 0);
        assert!(limiter.slots.lock().is_empty());
    }
}
