//! Sweeping a parked queue: every operation reads the queue through consumers, judging each
//! message, and hands back what it keeps in order (see the parent module).

use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};

use super::{Moved, ParkedError, ParkedQueues};

/// How long an operation waits for the broker to show the messages it returned.
const RETURN_WAIT: Duration = Duration::from_secs(30);
/// How many times a sweep that has seen what the queue held at its start counts again for
/// messages that arrived meanwhile.
const SWEEP_RECOUNTS: u32 = 3;
/// How long a sweep waits for the next message before it takes the queue as seen.
const SWEEP_IDLE: Duration = Duration::from_secs(5);
/// How many messages one consumer of a sweep holds unacknowledged at most (a consumer's
/// prefetch is at most 65 535, and buffered messages take memory); a sweep of more uses one
/// consumer after another.
const SWEEP_WINDOW: u16 = 10_000;
/// The first consumer's window: small, so that a listing that stops early has little to
/// return; each next one is four times larger.
const FIRST_SWEEP_WINDOW: u16 = 500;
/// How many taken messages a sweep replaces at once (each awaits its publish confirm, then
/// is acknowledged).
const TAKES_IN_FLIGHT: usize = 256;

/// What a sweep does with a message.
pub(super) enum Verdict {
    Keep,
    Take,
    /// Keep this one and end the sweep: the operation has what it needs.
    Stop,
}

/// Picks the first `limit` messages that `matches` accepts; counts them, and takes them
/// unless it is a dry run.
pub(super) struct Selection<M> {
    matches: M,
    limit: Option<u64>,
    dry_run: bool,
    /// How many matched so far.
    pub(super) matched: u64,
}

impl<M: FnMut(&BasicProperties, &[u8]) -> bool> Selection<M> {
    pub(super) fn new(matches: M, limit: Option<u64>, dry_run: bool) -> Self {
        Self {
            matches,
            limit,
            dry_run,
            matched: 0,
        }
    }

    pub(super) fn judge(&mut self, properties: &BasicProperties, body: &[u8]) -> Verdict {
        if self.limit.is_some_and(|limit| self.matched >= limit) {
            return Verdict::Stop;
        }
        if !(self.matches)(properties, body) {
            return Verdict::Keep;
        }
        self.matched += 1;
        if self.dry_run {
            Verdict::Keep
        } else {
            Verdict::Take
        }
    }
}

impl ParkedQueues {
    /// A consumer of `queue` holding up to `window` messages, for a sweep `seen` messages in.
    async fn consume(
        &self,
        channel: &Channel,
        queue: &str,
        window: u16,
        seen: u32,
    ) -> Result<lapin::Consumer, ParkedError> {
        channel
            .basic_qos(window, BasicQosOptions::default())
            .await?;
        Ok(channel
            .basic_consume(
                queue.into(),
                format!("herald-parked-sweep-{seen}").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?)
    }

    /// Waits until `queue` holds at least `left` ready messages again (returning messages is
    /// not confirmed), so that what comes next sees them all; gives up after [`RETURN_WAIT`]
    /// with a warning.
    async fn wait_until_returned(&self, queue: &str, left: u64) -> Result<(), ParkedError> {
        let started = tokio::time::Instant::now();
        while u64::from(self.ready(queue).await?) < left {
            if started.elapsed() >= RETURN_WAIT {
                tracing::warn!(
                    queue,
                    left,
                    "the broker has not shown every returned message yet"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// Takes every message present when the sweep starts (or until `judge` says stop);
    /// `judge` decides, `take` runs for each taken message before it is acknowledged (up to
    /// [`TAKES_IN_FLIGHT`] at once: replays are confirmed in parallel).
    ///
    /// The messages come from consumers, which the broker streams, rather than one
    /// `basic.get` round trip each: one window after another, each a consumer on a channel
    /// of its own holding up to its prefetch. At the end the windows' channels are closed
    /// in order, each once the previous one's messages are back: a quorum queue serves
    /// returned messages first, in the order they were returned, so the kept messages end
    /// up at the head in their former order (a `nack` with requeue would send them to the
    /// back, and count towards a delivery limit on RabbitMQ 4).
    pub(super) async fn sweep<J, T, F>(
        &self,
        queue: &str,
        mut judge: J,
        take: T,
    ) -> Result<Moved, ParkedError>
    where
        J: FnMut(&BasicProperties, &[u8]) -> Verdict,
        T: Fn(BasicProperties, Vec<u8>) -> F,
        F: std::future::Future<Output = Result<(), ParkedError>>,
    {
        let lock = self.lock().await?;
        let mut present = self.ready(queue).await?;
        let mut recounts = 0;
        let mut moved = Moved::default();
        let mut windows: Vec<Window> = Vec::new();
        let swept = async {
            let mut taking = FuturesUnordered::new();
            let mut size = FIRST_SWEEP_WINDOW;
            let mut seen = 0;
            let mut done = present == 0;
            while !done {
                let channel = self.connection.create_channel().await?;
                let mut consumer = self.consume(&channel, queue, size, seen).await?;
                windows.push(Window { channel, held: 0 });
                let window = windows.len() - 1;
                let mut delivered = 0;
                let mut cancelled = false;
                loop {
                    if !cancelled && (done || delivered == u32::from(size)) {
                        // This window is full, or the sweep has what it needs. The stream
                        // still yields what the broker sent before the cancel, then ends.
                        windows[window]
                            .channel
                            .basic_cancel(consumer.tag(), BasicCancelOptions::default())
                            .await?;
                        cancelled = true;
                    }
                    let delivery = match tokio::time::timeout(SWEEP_IDLE, consumer.next()).await {
                        Ok(Some(delivery)) => delivery?,
                        Ok(None) => break,
                        // Fewer messages than counted (expired, or removed by hand): all seen.
                        Err(_) if !done => {
                            done = true;
                            continue;
                        }
                        Err(_) => break,
                    };
                    delivered += 1;
                    if done {
                        // Sent before the cancel: held, returned at the end, not judged.
                        windows[window].held += 1;
                        continue;
                    }
                    seen += 1;
                    if seen >= present {
                        // Messages that entered the queue while the sweep ran (returned by an
                        // operation that was killed, or just parked) are not left behind: they
                        // are counted in, a few times at most, so a queue that keeps filling
                        // cannot hold the sweep forever.
                        let arrived = if recounts < SWEEP_RECOUNTS {
                            self.ready(queue).await?
                        } else {
                            0
                        };
                        recounts += 1;
                        present = present.saturating_add(arrived);
                        done = arrived == 0;
                    }
                    match judge(&delivery.properties, &delivery.data) {
                        Verdict::Keep => {
                            moved.kept += 1;
                            windows[window].held += 1;
                        }
                        Verdict::Stop => {
                            moved.kept += 1;
                            windows[window].held += 1;
                            done = true;
                        }
                        Verdict::Take => {
                            if taking.len() >= TAKES_IN_FLIGHT
                                && let Some(taken) = taking.next().await
                            {
                                taken?;
                                moved.matched += 1;
                            }
                            let replaced = take(delivery.properties, delivery.data);
                            let acker = delivery.acker;
                            taking.push(async move {
                                replaced.await?;
                                acker.ack(BasicAckOptions::default()).await?;
                                Ok::<_, ParkedError>(())
                            });
                        }
                    }
                }
                size = size.saturating_mul(4).min(SWEEP_WINDOW);
            }
            while let Some(taken) = taking.next().await {
                taken?;
                moved.matched += 1;
            }
            Ok::<_, ParkedError>(())
        }
        .await;
        // Closing returns every message still held, also after a failure.
        let returned = self.give_back(queue, windows).await;
        swept?;
        returned?;
        tracing::debug!(
            queue,
            present,
            taken = moved.matched,
            kept = moved.kept,
            "swept a parked queue"
        );
        lock.release().await?;
        Ok(moved)
    }

    /// Closes a sweep's windows in order, each once the previous one's messages are back.
    async fn give_back(&self, queue: &str, windows: Vec<Window>) -> Result<(), ParkedError> {
        for window in windows {
            if window.held == 0 {
                window.channel.close(200, "swept".into()).await?;
                continue;
            }
            let before = self.ready(queue).await?;
            window.channel.close(200, "swept".into()).await?;
            self.wait_until_returned(queue, u64::from(before) + window.held)
                .await?;
        }
        Ok(())
    }
}

/// One consumer's share of a sweep: its channel, and how many messages it holds.
struct Window {
    channel: Channel,
    held: u64,
}
