//! Bounding the deliveries in flight per webhook, so that one slow or hanging endpoint
//! cannot take every delivery slot of a replica.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use herald_contract::WebhookId;

/// Counts deliveries in flight per webhook, up to a limit.
#[derive(Debug)]
pub struct InFlightLimiter {
    limit: usize,
    counts: Mutex<HashMap<WebhookId, usize>>,
}

/// One delivery slot of a webhook; released when dropped.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<InFlightLimiter>,
    webhook: WebhookId,
}

impl InFlightLimiter {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `webhook`, or `None` when it already has `limit` deliveries in flight.
    pub fn try_acquire(self: &Arc<Self>, webhook: &WebhookId) -> Option<Permit> {
        let mut counts = self.counts.lock().ok()?;
        let count = counts.entry(webhook.clone()).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Permit {
            limiter: self.clone(),
            webhook: webhook.clone(),
        })
    }

    /// Deliveries in flight for `webhook`.
    pub fn in_flight(&self, webhook: &WebhookId) -> usize {
        self.counts
            .lock()
            .ok()
            .and_then(|counts| counts.get(webhook).copied())
            .unwrap_or(0)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Ok(mut counts) = self.limiter.counts.lock() else {
            return;
        };
        if let Some(count) = counts.get_mut(&self.webhook) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.webhook);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_gets_at_most_the_limit_and_others_are_unaffected() {
        let limiter = InFlightLimiter::new(2);
        let busy = WebhookId::generate();
        let other = WebhookId::generate();

        let first = limiter.try_acquire(&busy).expect("first slot");
        let _second = limiter.try_acquire(&busy).expect("second slot");
        assert!(limiter.try_acquire(&busy).is_none());
        assert!(limiter.try_acquire(&other).is_some());

        drop(first);
        assert_eq!(limiter.in_flight(&busy), 1);
        assert!(limiter.try_acquire(&busy).is_some());
    }

    #[test]
    fn released_webhooks_are_forgotten() {
        let limiter = InFlightLimiter::new(1);
        let webhook = WebhookId::generate();
        drop(limiter.try_acquire(&webhook));
        assert_eq!(limiter.in_flight(&webhook), 0);
        assert!(limiter.counts.lock().expect("lock").is_empty());
    }
}
