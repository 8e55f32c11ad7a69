//! Which queue fanout publishes a delivery to: the deliveries queue, or its overflow.
//!
//! A queue is first in, first out: after an outage of the senders, the deliveries of events
//! that arrive during the drain would wait behind the whole backlog. So fanout keeps the
//! deliveries queue short: it counts the deliveries waiting there every [`COUNT_EVERY`], adds
//! what it has published there since, and once that reaches `OVERFLOW_AFTER` publishes to the
//! overflow queue instead. The senders consume both queues at once: the backlog drains from
//! the overflow queue while fresh deliveries go into the short queue, behind at most about
//! `OVERFLOW_AFTER` others.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use herald_broker::lapin::{Channel, Connection, ErrorKind};
use herald_broker::topology;
use prometheus_client::metrics::gauge::Gauge;
use tokio_util::sync::CancellationToken;

/// How often fanout counts the deliveries waiting. When senders start on a backlog, the
/// deliveries queue is short again as soon as they take their prefetch; what fanout publishes
/// until its next count still goes to the overflow queue, behind the backlog. A count is a
/// cheap passive declaration, so it is taken often to keep that window small.
pub const COUNT_EVERY: Duration = Duration::from_millis(50);

/// The two queues deliveries can go to, and which one is in use.
#[derive(Debug)]
pub struct Lanes {
    deliveries: String,
    overflow: String,
    /// Deliveries waiting from which on fanout publishes to the overflow queue; 0 never does.
    overflow_after: u32,
    /// Deliveries waiting in the deliveries queue at the last count.
    counted: AtomicU32,
    /// Deliveries published to the deliveries queue since the last count.
    added: AtomicU32,
}

impl Lanes {
    pub fn new(deliveries: String, overflow: String, overflow_after: u32) -> Self {
        Self {
            deliveries,
            overflow,
            overflow_after,
            counted: AtomicU32::new(0),
            added: AtomicU32::new(0),
        }
    }

    /// The queue to publish the next delivery to.
    pub fn queue(&self) -> &str {
        let waiting = self
            .counted
            .load(Ordering::Relaxed)
            .saturating_add(self.added.load(Ordering::Relaxed));
        if overflows(waiting, self.overflow_after) {
            &self.overflow
        } else {
            self.added.fetch_add(1, Ordering::Relaxed);
            &self.deliveries
        }
    }

    /// Takes in a count of the deliveries waiting in the deliveries queue; returns whether
    /// it holds a backlog (new deliveries go to the overflow queue).
    pub fn observe(&self, waiting: u32) -> bool {
        let overflowing = overflows(waiting, self.overflow_after);
        let was = overflows(
            self.counted.swap(waiting, Ordering::Relaxed),
            self.overflow_after,
        );
        self.added.store(0, Ordering::Relaxed);
        // Under a steady load near the limit this flips with every count: the gauge
        // `herald_fanout_overflowing` and the queue depths tell operators, not the log.
        if was != overflowing {
            if overflowing {
                tracing::debug!(
                    waiting,
                    queue = %self.overflow,
                    "the deliveries queue holds a backlog: new deliveries go to the overflow queue"
                );
            } else {
                tracing::debug!(waiting, queue = %self.deliveries, "new deliveries go to the deliveries queue again");
            }
        }
        overflowing
    }

    /// Whether there is a limit at all.
    pub fn enabled(&self) -> bool {
        self.overflow_after > 0
    }
}

/// Whether `waiting` deliveries make a backlog, with `overflow_after` the limit (0: none).
pub fn overflows(waiting: u32, overflow_after: u32) -> bool {
    overflow_after > 0 && waiting >= overflow_after
}

/// Counts the deliveries waiting every [`COUNT_EVERY`] (a passive declaration, which needs no
/// permission) on a channel of `connection`, until `stop`; `overflowing` mirrors the choice.
/// Cancels `broken` when the count fails: the deliveries queue is gone or the connection
/// failed, and the session must start again.
pub async fn follow_depth(
    lanes: Arc<Lanes>,
    connection: &Connection,
    overflowing: Gauge,
    stop: CancellationToken,
    broken: CancellationToken,
) {
    if !lanes.enabled() {
        return;
    }
    let channel = match connection.create_channel().await {
        Ok(channel) => channel,
        Err(error) => {
            tracing::warn!(%error, "cannot open a channel to count the deliveries waiting");
            broken.cancel();
            return;
        }
    };
    tokio::spawn(count_until_stopped(
        lanes,
        channel,
        overflowing,
        stop,
        broken,
    ));
}

async fn count_until_stopped(
    lanes: Arc<Lanes>,
    channel: Channel,
    overflowing: Gauge,
    stop: CancellationToken,
    broken: CancellationToken,
) {
    let mut ticks = tokio::time::interval(COUNT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        // A connection that died mid-call may never answer: the stop ends the wait too.
        let counted = tokio::select! {
            _ = stop.cancelled() => break,
            counted = topology::inspect(&channel, &lanes.deliveries) => counted,
        };
        match counted {
            Ok(queue) => {
                let now = lanes.observe(queue.message_count());
                overflowing.set(i64::from(now));
            }
            Err(error) => {
                // A channel or connection that is closing: the session is ending anyway.
                let closing = matches!(
                    error.kind(),
                    ErrorKind::InvalidChannelState(..) | ErrorKind::InvalidConnectionState(_)
                );
                if closing || stop.is_cancelled() {
                    tracing::debug!(%error, "stopped counting the deliveries waiting");
                } else {
                    tracing::warn!(%error, queue = %lanes.deliveries, "cannot count the deliveries waiting");
                }
                lanes.observe(0);
                overflowing.set(0);
                broken.cancel();
                break;
            }
        }
    }
    let closing = channel.close(200, "stopped counting".into());
    let _ = tokio::time::timeout(herald_broker::session::CLOSE_TIMEOUT, closing).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes(overflow_after: u32) -> Lanes {
        Lanes::new(
            "webhooks.deliveries".into(),
            "webhooks.overflow".into(),
            overflow_after,
        )
    }

    #[test]
    fn deliveries_go_to_the_deliveries_queue_until_it_holds_a_backlog() {
        let lanes = lanes(10_000);
        assert_eq!(lanes.queue(), "webhooks.deliveries");
        assert!(!lanes.observe(9_999));
        assert_eq!(lanes.queue(), "webhooks.deliveries");
        assert!(lanes.observe(10_000));
        assert_eq!(lanes.queue(), "webhooks.overflow");
    }

    #[test]
    fn deliveries_published_since_the_last_count_count_as_waiting() {
        let lanes = lanes(3);
        lanes.observe(1);
        assert_eq!(lanes.queue(), "webhooks.deliveries");
        assert_eq!(lanes.queue(), "webhooks.deliveries");
        assert_eq!(lanes.queue(), "webhooks.overflow");
        assert_eq!(lanes.queue(), "webhooks.overflow");
        lanes.observe(0);
        assert_eq!(lanes.queue(), "webhooks.deliveries");
    }

    #[test]
    fn once_the_deliveries_queue_is_short_again_deliveries_go_back_to_it() {
        let lanes = lanes(10);
        lanes.observe(50);
        assert!(!lanes.observe(3));
        assert_eq!(lanes.queue(), "webhooks.deliveries");
    }

    #[test]
    fn a_limit_of_zero_never_overflows() {
        let lanes = lanes(0);
        assert!(!lanes.enabled());
        assert!(!lanes.observe(u32::MAX));
        assert_eq!(lanes.queue(), "webhooks.deliveries");
    }
}
