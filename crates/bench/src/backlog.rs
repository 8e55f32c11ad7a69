//! Backlog: a burst of events while no sender runs, then a sender started to drain it, with
//! fresh events published during the drain. Samples every Herald process's memory, the drain
//! rate, and the fresh events' publish → receipt latency (the backlog's ids carry no time, so
//! only fresh events are timed).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::herald::{HeraldUnderTest, Layout, Services};
use crate::progress::Progress;
use crate::publishing;
use crate::stats::Percentiles;
use herald_testkit::{Clock, Receiver};

/// How a backlog run goes.
#[derive(Debug, Clone, Copy)]
pub struct BacklogPlan {
    /// Events of the burst (one delivery each).
    pub events: usize,
    /// `OVERFLOW_AFTER` of the run (none: the default).
    pub overflow_after: Option<u32>,
    /// Fresh events per second during the drain.
    pub fresh_rate: f64,
    /// How often memory, the queues and the receiver are sampled.
    pub sample_every: Duration,
}

/// Unconfirmed events at once while publishing the burst.
const WINDOW: usize = 512;

/// One sample of a backlog run.
#[derive(Debug, Clone, Serialize)]
pub struct BacklogSample {
    /// Seconds from the start of the burst.
    pub at_s: f64,
    /// `building` (the burst is published and fanned out, no sender) or `draining`.
    pub phase: &'static str,
    pub fanout_rss_mib: f64,
    /// 0 while no sender runs.
    pub sender_rss_mib: f64,
    /// In the deliveries and the overflow queue.
    pub deliveries_waiting: u64,
    /// Requests the receiver got per second since the previous sample.
    pub deliveries_per_s: f64,
}

/// The `scale.backlog` object of the report.
#[derive(Debug, Serialize)]
pub struct Backlog {
    pub events: usize,
    /// The `OVERFLOW_AFTER` the run used.
    pub overflow_after: u32,
    /// From the first event published to every delivery queued.
    pub build_s: f64,
    /// From starting the sender to the backlog delivered.
    pub drain_s: f64,
    /// Backlog and fresh deliveries over the drain.
    pub drain_deliveries_per_s: f64,
    /// The slowest and fastest whole sample of the drain, deliveries/s.
    pub drain_rate_min: f64,
    pub drain_rate_max: f64,
    /// Memory at the start and the end of the drain, and its peak, per process.
    pub fanout_rss_mib: RssRange,
    pub sender_rss_mib: RssRange,
    pub fresh_events: usize,
    pub fresh_events_per_s: f64,
    /// Publish → receipt of the events published during the drain.
    pub fresh_latency: Percentiles,
    pub samples: Vec<BacklogSample>,
}

/// A process's memory over the drain.
#[derive(Debug, Default, Serialize)]
pub struct RssRange {
    pub drain_start: f64,
    pub drain_end: f64,
    pub peak: f64,
}

/// The default `OVERFLOW_AFTER`, as fanout has it.
const DEFAULT_OVERFLOW_AFTER: u32 = 2_000;

/// Runs the backlog scenario.
pub async fn measure(
    services: &Services,
    receiver: &Receiver,
    clock: &Clock,
    plan: BacklogPlan,
    progress: &Progress,
) -> anyhow::Result<Backlog> {
    let overflow_after = plan.overflow_after.unwrap_or(DEFAULT_OVERFLOW_AFTER);
    let limit = overflow_after.to_string();
    let env: Vec<(&str, &str)> = plan
        .overflow_after
        .map(|_| ("OVERFLOW_AFTER", limit.as_str()))
        .into_iter()
        .collect();
    let mut herald =
        HeraldUnderTest::start(services, Layout::Separate { senders: 0 }, 1, receiver, &env)
            .await?;
    let backlog = run(&mut herald, receiver, clock, plan, progress).await;
    herald.stop().await;
    let (samples, build, drain, fresh_events) = backlog?;
    Ok(summarise(
        plan,
        overflow_after,
        samples,
        build,
        drain,
        fresh_events,
        receiver,
    ))
}

/// What a run gives: its samples, how long building and draining took, the fresh events.
type Run = (Vec<BacklogSample>, Duration, Duration, usize);

async fn run(
    herald: &mut HeraldUnderTest,
    receiver: &Receiver,
    clock: &Clock,
    plan: BacklogPlan,
    progress: &Progress,
) -> anyhow::Result<Run> {
    receiver.reset();
    let started = Instant::now();
    let mut sampler = Sampler {
        started,
        last: Instant::now(),
        last_received: 0,
        samples: Vec::new(),
    };
    let deadline = started + Duration::from_secs(1800);
    build(herald, receiver, plan, progress, &mut sampler, deadline).await?;
    let build = started.elapsed();
    let events = plan.events;

    // Draining: a sender starts; fresh events go out at a steady rate until the backlog is gone.
    receiver.reset();
    sampler.last_received = 0;
    let drain_started = Instant::now();
    herald.add_sender().await?;
    let mut fresh_events = 0;
    loop {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the backlog was not drained in time"
        );
        fresh_events += publishing::paced(
            &herald.publisher,
            &herald.exchange,
            clock,
            plan.fresh_rate,
            plan.sample_every,
        )
        .await?;
        let sample = sampler.take(herald, receiver, "draining").await?;
        progress.step(&format!(
            "backlog: draining, {} deliveries waiting",
            sample.deliveries_waiting
        ));
        if sample.deliveries_waiting == 0 && receiver.received() >= events as u64 {
            break;
        }
    }
    let expected = (events + fresh_events) as u64;
    anyhow::ensure!(
        receiver
            .wait_for_count(expected, Duration::from_secs(120))
            .await,
        "backlog: {} of {expected} deliveries arrived",
        receiver.received()
    );
    let drain = drain_started.elapsed();
    sampler.take(herald, receiver, "draining").await?;
    Ok((sampler.samples, build, drain, fresh_events))
}

/// Publishes the burst while sampling, until fanout has queued a delivery for every event.
async fn build(
    herald: &HeraldUnderTest,
    receiver: &Receiver,
    plan: BacklogPlan,
    progress: &Progress,
    sampler: &mut Sampler,
    deadline: Instant,
) -> anyhow::Result<()> {
    let events = plan.events;
    let mut burst = std::pin::pin!(publishing::burst_of(
        &herald.publisher,
        &herald.exchange,
        events,
        WINDOW,
        |n| publishing::event_with_id(format!("backlog-{n}"), n),
    ));
    let mut published = false;
    loop {
        if published && herald.deliveries_waiting().await? >= events as u64 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the backlog was not queued in time"
        );
        if published {
            tokio::time::sleep(plan.sample_every).await;
        } else {
            tokio::select! {
                result = &mut burst => { result?; published = true; }
                _ = tokio::time::sleep(plan.sample_every) => {}
            }
        }
        let sample = sampler.take(herald, receiver, "building").await?;
        progress.step(&format!(
            "backlog: {} of {events} deliveries queued",
            sample.deliveries_waiting
        ));
    }
}

struct Sampler {
    started: Instant,
    last: Instant,
    last_received: u64,
    samples: Vec<BacklogSample>,
}

impl Sampler {
    async fn take(
        &mut self,
        herald: &HeraldUnderTest,
        receiver: &Receiver,
        phase: &'static str,
    ) -> anyhow::Result<BacklogSample> {
        let rss = herald.rss_mib();
        let of = |prefix: &str| -> f64 {
            rss.iter()
                .filter(|(name, _)| name.starts_with(prefix))
                .map(|(_, rss)| rss)
                .sum()
        };
        let received = receiver.received();
        let now = Instant::now();
        let sample = BacklogSample {
            at_s: self.started.elapsed().as_secs_f64(),
            phase,
            fanout_rss_mib: of("fanout"),
            sender_rss_mib: of("sender"),
            deliveries_waiting: herald.deliveries_waiting().await?,
            deliveries_per_s: received.saturating_sub(self.last_received) as f64
                / now.duration_since(self.last).as_secs_f64().max(1e-3),
        };
        self.last = now;
        self.last_received = received;
        self.samples.push(sample.clone());
        Ok(sample)
    }
}

fn summarise(
    plan: BacklogPlan,
    overflow_after: u32,
    samples: Vec<BacklogSample>,
    build: Duration,
    drain: Duration,
    fresh_events: usize,
    receiver: &Receiver,
) -> Backlog {
    let draining: Vec<&BacklogSample> = samples.iter().filter(|s| s.phase == "draining").collect();
    // The whole samples: not the first (the sender starting) nor the last two (the tail).
    let whole = if draining.len() > 3 {
        &draining[1..draining.len() - 2]
    } else {
        &draining[..]
    };
    let rates: Vec<f64> = whole.iter().map(|s| s.deliveries_per_s).collect();
    let range = |value: fn(&BacklogSample) -> f64| RssRange {
        drain_start: draining.first().map_or(0.0, |s| value(s)),
        drain_end: draining.last().map_or(0.0, |s| value(s)),
        peak: draining.iter().map(|s| value(s)).fold(0.0, f64::max),
    };
    let seen = receiver.seen();
    Backlog {
        events: plan.events,
        overflow_after,
        build_s: build.as_secs_f64(),
        drain_s: drain.as_secs_f64(),
        drain_deliveries_per_s: seen.received as f64 / drain.as_secs_f64().max(1e-3),
        drain_rate_min: rates.iter().copied().reduce(f64::min).unwrap_or(0.0),
        drain_rate_max: rates.iter().copied().fold(0.0, f64::max),
        fanout_rss_mib: range(|s| s.fanout_rss_mib),
        sender_rss_mib: range(|s| s.sender_rss_mib),
        fresh_events,
        fresh_events_per_s: plan.fresh_rate,
        fresh_latency: Percentiles::of(&seen.latencies),
        samples,
    }
}
