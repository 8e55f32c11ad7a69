//! Waiting before trying again.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Capped exponential backoff with jitter: each delay is drawn from the upper half of a
/// window that doubles from `min` up to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    window: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            window: min,
        }
    }

    /// The next delay to wait.
    pub fn next_delay(&mut self) -> Duration {
        let window = self.window;
        self.window = (self.window * 2).min(self.max);
        let half = window / 2;
        half + half.mul_f64(rand::random::<f64>())
    }

    /// Starts again from the shortest delay.
    pub fn reset(&mut self) {
        self.window = self.min;
    }
}

impl Default for Backoff {
    /// 100 ms doubling up to 10 s.
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(10))
    }
}

/// A session that lasted this long was healthy: the next failure starts the backoff afresh.
const HEALTHY_SESSION: Duration = Duration::from_secs(30);

/// Runs `session` until it returns `Ok` (it stopped because of `shutdown`) or `shutdown` is
/// cancelled, starting it again with backoff each time it fails: a lost broker connection
/// ends a session, and the next one reconnects.
pub async fn keep_running<F, Fut>(what: &str, shutdown: &CancellationToken, mut session: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut backoff = Backoff::default();
    loop {
        let started = Instant::now();
        match session().await {
            Ok(()) => return,
            Err(error) if !shutdown.is_cancelled() => {
                if started.elapsed() > HEALTHY_SESSION {
                    backoff.reset();
                }
                let delay = backoff.next_delay();
                tracing::warn!(error = format!("{error:#}"), retry_in = ?delay, "{what} stopped; starting again");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_start_again_after_a_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let delays: Vec<Duration> = (0..6).map(|_| backoff.next_delay()).collect();
        let windows = [100, 200, 400, 800, 800, 800];
        for (delay, window) in delays.iter().zip(windows) {
            let window = Duration::from_millis(window);
            assert!(
                *delay >= window / 2 && *delay <= window,
                "{delay:?} outside {window:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_session_is_started_again_until_it_stops_cleanly() {
        let shutdown = CancellationToken::new();
        let mut runs = 0;
        keep_running("test session", &shutdown, || {
            runs += 1;
            let run = runs;
            async move {
                if run < 3 {
                    anyhow::bail!("connection lost")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(runs, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_wait_between_sessions() {
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let mut runs = 0;
        keep_running("test session", &shutdown, || {
            runs += 1;
            async { anyhow::bail!("connection lost") }
        })
        .await;
        assert_eq!(runs, 1);
    }
}
