//! The retry ladder: how long to wait after each failed attempt.
//!
//! With delays `d1..dn` a delivery gets at most `n + 1` attempts: after failed attempt `k ≤ n`
//! it waits `dk` in retry stage `k`, after failed attempt `n + 1` it is parked as failed.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The delays between attempts, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryLadder {
    delays: Vec<Duration>,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Wait `delay` in the retry stage of that delay, then try again.
    Retry { delay: Duration },
    /// No attempt left: park the delivery as failed.
    GiveUp,
}

/// A `RETRY_DELAYS` value Herald cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidLadder {
    #[error("`{0}` is not a duration (write it like `15s`, `500ms` or `1h`)")]
    NotADuration(String),
    #[error("`{0}` is not a whole number of milliseconds of at least 1ms")]
    NotWholeMilliseconds(String),
    #[error("a delay of `{0}` is longer than the broker's limit of about 49 days")]
    TooLong(String),
}

impl RetryLadder {
    /// The production ladder: 15 s, 60 s, 225 s, 900 s, 3600 s.
    pub fn standard() -> Self {
        Self {
            delays: [15, 60, 225, 900, 3600].map(Duration::from_secs).to_vec(),
        }
    }

    pub fn new(delays: Vec<Duration>) -> Result<Self, InvalidLadder> {
        for delay in &delays {
            check_delay(*delay, &humantime::format_duration(*delay).to_string())?;
        }
        Ok(Self { delays })
    }

    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// Attempts a delivery gets in all: one more than the number of delays.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX - 1) + 1
    }

    /// What follows when attempt number `attempt` (1-based) has failed.
    pub fn after_failed_attempt(&self, attempt: u32) -> NextStep {
        let index = usize::try_from(attempt)
            .unwrap_or(usize::MAX)
            .saturating_sub(1);
        match self.delays.get(index) {
            Some(delay) if attempt >= 1 => NextStep::Retry { delay: *delay },
            _ => NextStep::GiveUp,
        }
    }

    /// The distinct delays, each naming one retry-stage queue.
    pub fn distinct_delays(&self) -> Vec<Duration> {
        let mut delays = self.delays.clone();
        delays.sort();
        delays.dedup();
        delays
    }
}

impl Default for RetryLadder {
    fn default() -> Self {
        Self::standard()
    }
}

/// The name of a delay as it appears in a retry queue's name: whole seconds as `15s`, anything
/// else as milliseconds (`500ms`, `1500ms`).
pub fn stage_label(delay: Duration) -> String {
    let millis = delay.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

fn check_delay(delay: Duration, text: &str) -> Result<(), InvalidLadder> {
    if delay.is_zero() || !delay.subsec_nanos().is_multiple_of(1_000_000) {
        return Err(InvalidLadder::NotWholeMilliseconds(text.to_owned()));
    }
    // x-message-ttl is an unsigned 32-bit number of milliseconds.
    if delay.as_millis() > u128::from(u32::MAX) {
        return Err(InvalidLadder::TooLong(text.to_owned()));
    }
    Ok(())
}

impl FromStr for RetryLadder {
    type Err = InvalidLadder;

    /// Parses a comma-separated list such as `15s,60s,225s,900s,3600s`; an empty string
    /// means no retries.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let delays = text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                let delay = humantime::parse_duration(item)
                    .map_err(|_| InvalidLadder::NotADuration(item.to_owned()))?;
                check_delay(delay, item)?;
                Ok(delay)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { delays })
    }
}

impl fmt::Display for RetryLadder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<String> = self.delays.iter().map(|d| stage_label(*d)).collect();
        f.write_str(&labels.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_ladder_parses_from_its_documented_form() {
        let ladder: RetryLadder = "15s,60s,225s,900s,3600s".parse().expect("valid ladder");
        assert_eq!(ladder, RetryLadder::standard());
        assert_eq!(ladder.max_attempts(), 6);
        assert_eq!(ladder.to_string(), "15s,60s,225s,900s,3600s");
    }

    #[test]
    fn each_failed_attempt_leads_to_the_next_stage_and_the_last_gives_up() {
        let ladder = RetryLadder::standard();
        let steps: Vec<NextStep> = (1..=6).map(|k| ladder.after_failed_attempt(k)).collect();
        assert_eq!(
            steps,
            vec![
                NextStep::Retry {
                    delay: Duration::from_secs(15)
                },
                NextStep::Retry {
                    delay: Duration::from_secs(60)
                },
                NextStep::Retry {
                    delay: Duration::from_secs(225)
                },
                NextStep::Retry {
                    delay: Duration::from_secs(900)
                },
                NextStep::Retry {
                    delay: Duration::from_secs(3600)
                },
                NextStep::GiveUp,
            ]
        );
        assert_eq!(ladder.after_failed_attempt(7), NextStep::GiveUp);
    }

    #[test]
    fn an_empty_ladder_means_a_single_attempt() {
        let ladder: RetryLadder = "".parse().expect("valid ladder");
        assert_eq!(ladder.max_attempts(), 1);
        assert_eq!(ladder.after_failed_attempt(1), NextStep::GiveUp);
    }

    #[test]
    fn stage_labels_use_whole_seconds_or_milliseconds() {
        assert_eq!(stage_label(Duration::from_secs(15)), "15s");
        assert_eq!(stage_label(Duration::from_secs(3600)), "3600s");
        assert_eq!(stage_label(Duration::from_millis(500)), "500ms");
        assert_eq!(stage_label(Duration::from_millis(1500)), "1500ms");
        let ladder: RetryLadder = "1m, 200ms".parse().expect("valid ladder");
        assert_eq!(ladder.to_string(), "60s,200ms");
    }

    #[test]
    fn unusable_delays_are_refused() {
        assert!(matches!(
            "15x".parse::<RetryLadder>(),
            Err(InvalidLadder::NotADuration(_))
        ));
        assert!(matches!(
            "0s".parse::<RetryLadder>(),
            Err(InvalidLadder::NotWholeMilliseconds(_))
        ));
        assert!(matches!(
            "1500us".parse::<RetryLadder>(),
            Err(InvalidLadder::NotWholeMilliseconds(_))
        ));
        assert!(matches!(
            "100days".parse::<RetryLadder>(),
            Err(InvalidLadder::TooLong(_))
        ));
    }

    #[test]
    fn distinct_delays_name_each_stage_queue_once() {
        let ladder: RetryLadder = "1s,1s,2s".parse().expect("valid ladder");
        assert_eq!(
            ladder.distinct_delays(),
            vec![Duration::from_secs(1), Duration::from_secs(2)]
        );
    }
}
