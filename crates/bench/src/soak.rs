//! Time: a steady mixed load for a long while — healthy webhooks and one whose endpoint
//! always fails, its deliveries climbing a scaled-down ladder into the failed queue — while
//! `herald up`'s resident memory is sampled, to tell a plateau from a leak.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::herald::{HeraldUnderTest, Layout, Services};
use crate::progress::Progress;
use crate::publishing;
use herald_testkit::{Behaviour, Clock, Receiver};

/// Webhooks whose endpoint answers 200.
pub const HEALTHY_WEBHOOKS: usize = 5;
/// The retry ladder of the run: the failing webhook's deliveries are parked within a minute.
const RETRY_DELAYS: &str = "1s,2s,4s,8s,16s";

/// How a soak runs.
#[derive(Debug, Clone, Copy)]
pub struct SoakPlan {
    /// Events per second, each to every webhook.
    pub rate: f64,
    pub duration: Duration,
    /// How often memory is sampled.
    pub sample_every: Duration,
}

/// One memory sample.
#[derive(Debug, Clone, Serialize)]
pub struct SoakSample {
    /// Seconds into the run.
    pub at_s: f64,
    /// `herald up`'s resident memory.
    pub rss_mib: f64,
    /// Requests the receiver got per second since the previous sample (failing ones included).
    pub requests_per_s: f64,
}

/// The `scale.soak` object of the report.
#[derive(Debug, Serialize)]
pub struct Soak {
    pub events_per_s: f64,
    pub healthy_webhooks: usize,
    pub failing_webhooks: usize,
    pub samples: Vec<SoakSample>,
    /// Memory growth over the second half of the run, by a least-squares line, in MiB per
    /// 10 minutes: about 0 when memory has levelled off.
    pub second_half_growth_mib_per_10min: f64,
}

/// Runs `herald up` under `plan`'s load, sampling its memory.
pub async fn measure(
    services: &Services,
    receiver: &Receiver,
    clock: &Clock,
    plan: SoakPlan,
    progress: &Progress,
) -> anyhow::Result<Soak> {
    let webhooks = HEALTHY_WEBHOOKS + 1;
    let failing = format!("/webhook-{HEALTHY_WEBHOOKS}");
    receiver.respond(&failing, Behaviour::Status(500));
    let herald = HeraldUnderTest::start(
        services,
        Layout::Up,
        webhooks,
        receiver,
        &[("RETRY_DELAYS", RETRY_DELAYS)],
    )
    .await;
    let herald = match herald {
        Ok(herald) => herald,
        Err(error) => {
            receiver.respond(&failing, Behaviour::Ok);
            return Err(error);
        }
    };
    let samples = sample(&herald, receiver, clock, plan, progress).await;
    herald.stop().await;
    receiver.respond(&failing, Behaviour::Ok);
    let samples = samples?;
    let second_half = &samples[samples.len() / 2..];
    Ok(Soak {
        events_per_s: plan.rate,
        healthy_webhooks: HEALTHY_WEBHOOKS,
        failing_webhooks: 1,
        second_half_growth_mib_per_10min: slope_per_s(second_half) * 600.0,
        samples,
    })
}

async fn sample(
    herald: &HeraldUnderTest,
    receiver: &Receiver,
    clock: &Clock,
    plan: SoakPlan,
    progress: &Progress,
) -> anyhow::Result<Vec<SoakSample>> {
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < plan.duration {
        receiver.reset();
        let window = Instant::now();
        publishing::paced(
            &herald.publisher,
            &herald.exchange,
            clock,
            plan.rate,
            plan.sample_every,
        )
        .await?;
        let rss_mib = herald.rss_mib().iter().map(|(_, rss)| rss).sum();
        samples.push(SoakSample {
            at_s: started.elapsed().as_secs_f64(),
            rss_mib,
            requests_per_s: receiver.received() as f64 / window.elapsed().as_secs_f64(),
        });
        progress.step(&format!(
            "soak: {:.0} of {:.0} s, herald up at {rss_mib:.1} MiB",
            started.elapsed().as_secs_f64(),
            plan.duration.as_secs_f64()
        ));
    }
    Ok(samples)
}

/// The least-squares slope of memory over time, in MiB per second (0 for fewer than two).
fn slope_per_s(samples: &[SoakSample]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_t = samples.iter().map(|s| s.at_s).sum::<f64>() / n;
    let mean_m = samples.iter().map(|s| s.rss_mib).sum::<f64>() / n;
    let covariance: f64 = samples
        .iter()
        .map(|s| (s.at_s - mean_t) * (s.rss_mib - mean_m))
        .sum();
    let variance: f64 = samples.iter().map(|s| (s.at_s - mean_t).powi(2)).sum();
    if variance == 0.0 {
        0.0
    } else {
        covariance / variance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at_s: f64, rss_mib: f64) -> SoakSample {
        SoakSample {
            at_s,
            rss_mib,
            requests_per_s: 0.0,
        }
    }

    #[test]
    fn the_growth_is_the_slope_of_memory_over_time() {
        let rising = [at(0.0, 50.0), at(60.0, 51.0), at(120.0, 52.0)];
        assert!((slope_per_s(&rising) * 600.0 - 10.0).abs() < 1e-9);
        let flat = [at(0.0, 50.0), at(60.0, 50.0)];
        assert_eq!(slope_per_s(&flat), 0.0);
        assert_eq!(slope_per_s(&[at(0.0, 50.0)]), 0.0);
    }
}
