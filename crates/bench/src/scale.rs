//! How Herald's cost grows with the work: webhooks per event (fan-out), the size of the
//! registry (webhooks of other tenants that fanout indexes but never matches) and the size of
//! the attempt log ([`crate::history`]).
//!
//! Each point runs on a vhost and database of its own, with fanout and one sender as separate
//! processes, events published as fast as confirms allow and counted at the receiver.

use std::time::{Duration, Instant};

use herald_contract::{EventMessage, EventType};
use serde::Serialize;

use crate::backlog::{Backlog, BacklogPlan};
use crate::herald::{HeraldUnderTest, Layout, OTHER_TENANTS, Services};
use crate::history::AttemptLogPoint;
use crate::progress::Progress;
use crate::report::{Ceilings, EndToEnd};
use crate::run::end_to_end_run;
use crate::soak::{Soak, SoakPlan};
use crate::stats::Percentiles;
use herald_testkit::{Clock, Receiver};

/// The points of a scale run.
#[derive(Debug, Clone)]
pub struct ScaleSizes {
    /// Webhooks per event.
    pub fan_out: Vec<usize>,
    /// Deliveries per fan-out point (events = deliveries / webhooks per event).
    pub fan_out_deliveries: usize,
    /// Webhooks of other tenants in the registry.
    pub registry: Vec<usize>,
    /// Events (one delivery each) per registry point.
    pub registry_events: usize,
    /// Attempts in the log.
    pub attempt_log: Vec<usize>,
    /// Events per second of the attempt-log points' steady load (one delivery each).
    pub attempt_log_rate: f64,
    /// The least time each steady load runs.
    pub attempt_log_window: Duration,
    /// The backlog run (none: left out).
    pub backlog: Option<BacklogPlan>,
    /// The soak (none: no soak).
    pub soak: Option<SoakPlan>,
}

/// A scenario of the scale run, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScaleScenario {
    FanOut,
    Registry,
    AttemptLog,
    Backlog,
    /// Not run unless named: it takes an hour (`--quick`: three minutes).
    Soak,
}

impl ScaleSizes {
    /// These sizes without the points of the scenarios not in `scenarios` (all when empty).
    pub fn only(mut self, scenarios: &[ScaleScenario]) -> Self {
        let kept = |scenario| scenarios.is_empty() || scenarios.contains(&scenario);
        if !kept(ScaleScenario::FanOut) {
            self.fan_out.clear();
        }
        if !kept(ScaleScenario::Registry) {
            self.registry.clear();
        }
        if !kept(ScaleScenario::AttemptLog) {
            self.attempt_log.clear();
        }
        if !kept(ScaleScenario::Backlog) {
            self.backlog = None;
        }
        if !scenarios.contains(&ScaleScenario::Soak) {
            self.soak = None;
        }
        self
    }

    /// The full run, by hand.
    pub fn full() -> Self {
        Self {
            fan_out: vec![1, 10, 100, 1000],
            fan_out_deliveries: 30_000,
            registry: vec![0, 1_000, 10_000, 100_000],
            registry_events: 20_000,
            attempt_log: vec![0, 1_000_000, 10_000_000],
            attempt_log_rate: 500.0,
            attempt_log_window: Duration::from_secs(20),
            backlog: Some(BacklogPlan {
                events: 1_000_000,
                overflow_after: None,
                fresh_rate: 50.0,
                sample_every: Duration::from_secs(2),
            }),
            soak: Some(SoakPlan {
                rate: 200.0,
                duration: Duration::from_secs(3600),
                sample_every: Duration::from_secs(30),
            }),
        }
    }

    /// `--quick`.
    pub fn quick() -> Self {
        Self {
            fan_out: vec![1, 10, 100],
            fan_out_deliveries: 5_000,
            registry: vec![0, 1_000, 10_000],
            registry_events: 5_000,
            attempt_log: vec![0, 1_000_000],
            attempt_log_rate: 500.0,
            attempt_log_window: Duration::from_secs(10),
            backlog: Some(BacklogPlan {
                events: 100_000,
                overflow_after: None,
                fresh_rate: 50.0,
                sample_every: Duration::from_secs(1),
            }),
            soak: Some(SoakPlan {
                rate: 200.0,
                duration: Duration::from_secs(180),
                sample_every: Duration::from_secs(10),
            }),
        }
    }

    /// Small enough for a test that the scenarios run.
    pub fn tiny() -> Self {
        Self {
            fan_out: vec![1, 4],
            fan_out_deliveries: 200,
            registry: vec![0, 50],
            registry_events: 200,
            attempt_log: vec![0, 2_000],
            attempt_log_rate: 100.0,
            attempt_log_window: Duration::from_secs(2),
            backlog: Some(BacklogPlan {
                events: 2_000,
                overflow_after: Some(200),
                fresh_rate: 20.0,
                sample_every: Duration::from_millis(250),
            }),
            soak: Some(SoakPlan {
                rate: 50.0,
                duration: Duration::from_secs(3),
                sample_every: Duration::from_secs(1),
            }),
        }
    }
}

/// The `scale` object of the report.
#[derive(Debug, Serialize)]
pub struct Scale {
    /// The machine's ceilings, measured at the start of the run (small volumes).
    pub ceilings: Ceilings,
    pub fan_out: Vec<FanOutPoint>,
    pub registry: Vec<RegistryPoint>,
    pub attempt_log: Vec<AttemptLogPoint>,
    pub backlog: Option<Backlog>,
    pub soak: Option<Soak>,
}

/// One fan-out point.
#[derive(Debug, Serialize)]
pub struct FanOutPoint {
    pub webhooks_per_event: usize,
    pub events: usize,
    pub deliveries: u64,
    pub deliveries_per_s: f64,
    /// Publish → receipt.
    pub latency: Percentiles,
    pub cpu_per_delivery_us: f64,
    pub fanout_peak_rss_mib: f64,
    pub sender_peak_rss_mib: f64,
}

/// One registry point.
#[derive(Debug, Serialize)]
pub struct RegistryPoint {
    /// Webhooks of other tenants (besides the one the events match).
    pub other_webhooks: usize,
    pub other_tenants: usize,
    /// From spawning fanout and the sender to both ready: fanout loads its index first.
    pub startup_s: f64,
    pub fanout_peak_rss_mib: f64,
    /// One webhook per event.
    pub deliveries_per_s: f64,
    pub latency: Percentiles,
    pub cpu_per_delivery_us: f64,
    /// From a new webhook's creation to the first delivery to it, publishing an event of its
    /// type every [`PROBE_EVERY`]: how long fanout takes to match a registry change.
    pub change_matched_ms: f64,
}

/// How often the registry-change probe publishes.
pub const PROBE_EVERY: Duration = Duration::from_millis(10);

/// Runs every point of `sizes`.
pub async fn run(
    services: &Services,
    receiver: &Receiver,
    clock: &Clock,
    ceilings: Ceilings,
    sizes: &ScaleSizes,
) -> anyhow::Result<Scale> {
    let progress = Progress::new(
        sizes.fan_out.len()
            + sizes.registry.len()
            + sizes.attempt_log.len()
            + usize::from(sizes.backlog.is_some())
            + usize::from(sizes.soak.is_some()),
    );
    let mut fan_out = Vec::new();
    for &webhooks in &sizes.fan_out {
        progress.step(&format!("fan-out: {webhooks} webhook(s) per event"));
        let herald = HeraldUnderTest::start(
            services,
            Layout::Separate { senders: 1 },
            webhooks,
            receiver,
            &[],
        )
        .await?;
        let events = (sizes.fan_out_deliveries / webhooks).max(1);
        let run = end_to_end_run(
            &herald,
            receiver,
            clock,
            &ceilings,
            &format!("{webhooks} webhooks"),
            "separate",
            webhooks,
            events,
        )
        .await;
        herald.stop().await;
        let run = run?;
        progress.point_done();
        fan_out.push(FanOutPoint {
            webhooks_per_event: webhooks,
            events,
            deliveries: run.deliveries,
            deliveries_per_s: run.deliveries_per_s,
            latency: run.latency,
            cpu_per_delivery_us: run.cpu_per_delivery_us,
            fanout_peak_rss_mib: peak_rss(&run, "fanout"),
            sender_peak_rss_mib: peak_rss(&run, "sender-1"),
        });
    }
    let mut registry = Vec::new();
    for &others in &sizes.registry {
        progress.step(&format!("registry: {others} other webhooks"));
        let herald = HeraldUnderTest::start_with_others(
            services,
            Layout::Separate { senders: 1 },
            1,
            others,
            receiver,
            &[],
        )
        .await?;
        let startup = herald.startup;
        let change = change_matched(&herald, receiver, &format!("probe-{others}")).await;
        let run = end_to_end_run(
            &herald,
            receiver,
            clock,
            &ceilings,
            &format!("{others} other webhooks"),
            "separate",
            1,
            sizes.registry_events,
        )
        .await;
        herald.stop().await;
        let run = run?;
        let change_matched = change?;
        progress.point_done();
        registry.push(RegistryPoint {
            other_webhooks: others,
            other_tenants: others.min(OTHER_TENANTS),
            startup_s: startup.as_secs_f64(),
            fanout_peak_rss_mib: peak_rss(&run, "fanout"),
            deliveries_per_s: run.deliveries_per_s,
            latency: run.latency,
            cpu_per_delivery_us: run.cpu_per_delivery_us,
            change_matched_ms: change_matched.as_secs_f64() * 1000.0,
        });
    }
    let mut attempt_log = Vec::new();
    for &rows in &sizes.attempt_log {
        progress.step(&format!("attempt log: {rows} attempts"));
        let herald = HeraldUnderTest::start(services, Layout::Up, 1, receiver, &[]).await?;
        let point = crate::history::measure(
            &herald,
            receiver,
            clock,
            rows,
            &progress,
            sizes.attempt_log_rate,
            sizes.attempt_log_window,
        )
        .await;
        herald.stop().await;
        attempt_log.push(point?);
        progress.point_done();
    }
    let backlog = match sizes.backlog {
        Some(plan) => {
            let backlog =
                crate::backlog::measure(services, receiver, clock, plan, &progress).await?;
            progress.point_done();
            Some(backlog)
        }
        None => None,
    };
    let soak = match sizes.soak {
        Some(plan) => {
            let soak = crate::soak::measure(services, receiver, clock, plan, &progress).await?;
            progress.point_done();
            Some(soak)
        }
        None => None,
    };
    progress.finish();
    Ok(Scale {
        ceilings,
        fan_out,
        registry,
        attempt_log,
        backlog,
        soak,
    })
}

/// Creates a webhook for a type no other webhook of the bench tenant takes, publishes an event
/// of that type every [`PROBE_EVERY`] and returns the time from its creation to the first
/// delivery (any request the receiver counts is to it).
async fn change_matched(
    herald: &HeraldUnderTest,
    receiver: &Receiver,
    name: &str,
) -> anyhow::Result<Duration> {
    receiver.reset();
    let created = Instant::now();
    herald
        .add_webhook(
            receiver,
            name,
            &format!("/{name}"),
            EventType::CompanyCreated,
        )
        .await?;
    let mut probes = tokio::time::interval(PROBE_EVERY);
    let mut n = 0_u64;
    loop {
        n += 1;
        if receiver.received() > 0 {
            return Ok(created.elapsed());
        }
        anyhow::ensure!(
            created.elapsed() < Duration::from_secs(30),
            "a new webhook was not matched within 30 s"
        );
        probes.tick().await;
        let body = EventMessage {
            event_id: format!("{name}-{n}"),
            event_type: EventType::CompanyCreated.as_str().to_owned(),
            event_timestamp: herald_contract::format_timestamp(chrono::Utc::now()),
            tenant_id: crate::publishing::TENANT.to_owned(),
            entity_id: format!("COMP-{n}"),
            data: serde_json::json!({ "companyId": format!("COMP-{n}") }),
        }
        .to_bytes();
        herald
            .publisher
            .publish(
                &herald.exchange,
                EventType::CompanyCreated.as_str(),
                false,
                &body,
                Default::default(),
            )
            .await?;
    }
}

fn peak_rss(run: &EndToEnd, process: &str) -> f64 {
    run.processes
        .iter()
        .find(|cost| cost.process == process)
        .map_or(0.0, |cost| cost.peak_rss_mib)
}

impl Scale {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line(format!(
            "ceilings: AMQP {:.0} msg/s (one quorum queue), HTTP {:.0} req/s",
            self.ceilings.amqp_messages_per_s, self.ceilings.http_posts_per_s
        ));
        if !self.fan_out.is_empty() {
            line(String::new());
            line(format!(
                "{:<22} {:>8} {:>12} {:>8} {:>8} {:>10} {:>12} {:>12}",
                "webhooks per event",
                "events",
                "deliveries/s",
                "p50 ms",
                "p99 ms",
                "cpu µs/d",
                "fanout MiB",
                "sender MiB"
            ));
            for point in &self.fan_out {
                line(format!(
                    "{:<22} {:>8} {:>12.0} {:>8.1} {:>8.1} {:>10.1} {:>12.1} {:>12.1}",
                    point.webhooks_per_event,
                    point.events,
                    point.deliveries_per_s,
                    point.latency.p50_ms,
                    point.latency.p99_ms,
                    point.cpu_per_delivery_us,
                    point.fanout_peak_rss_mib,
                    point.sender_peak_rss_mib
                ));
            }
        }
        if !self.registry.is_empty() {
            line(String::new());
            line(format!(
                "{:<22} {:>10} {:>12} {:>12} {:>8} {:>8} {:>10} {:>10}",
                "other webhooks",
                "startup s",
                "fanout MiB",
                "deliveries/s",
                "p50 ms",
                "p99 ms",
                "cpu µs/d",
                "change ms"
            ));
            for point in &self.registry {
                line(format!(
                    "{:<22} {:>10.2} {:>12.1} {:>12.0} {:>8.1} {:>8.1} {:>10.1} {:>10.1}",
                    point.other_webhooks,
                    point.startup_s,
                    point.fanout_peak_rss_mib,
                    point.deliveries_per_s,
                    point.latency.p50_ms,
                    point.latency.p99_ms,
                    point.cpu_per_delivery_us,
                    point.change_matched_ms
                ));
            }
        }
        if !self.attempt_log.is_empty() {
            line(String::new());
            line(format!(
                "{:<12} {:>14} {:>14} {:>14} {:>16} {:>12} {:>12}",
                "attempts",
                "page p99 ms",
                "list p99 ms",
                "delivery p99",
                "…in retention",
                "removed",
                "retention s"
            ));
            for point in &self.attempt_log {
                line(format!(
                    "{:<12} {:>14.1} {:>14.1} {:>14.1} {:>16.1} {:>12} {:>12.1}",
                    point.attempts,
                    point.attempt_page.p99_ms,
                    point.webhook_list.p99_ms,
                    point.delivery_latency.p99_ms,
                    point.delivery_latency_during_retention.p99_ms,
                    point.retention_removed,
                    point.retention_s
                ));
            }
        }
        if let Some(backlog) = &self.backlog {
            line(String::new());
            line(format!(
                "backlog: {} events queued in {:.1} s with no sender (OVERFLOW_AFTER {}); drained \
                 in {:.1} s at {:.0} deliveries/s (whole samples {:.0}-{:.0}/s)",
                backlog.events,
                backlog.build_s,
                backlog.overflow_after,
                backlog.drain_s,
                backlog.drain_deliveries_per_s,
                backlog.drain_rate_min,
                backlog.drain_rate_max
            ));
            line(format!(
                "  during the drain: fanout {:.1} → {:.1} MiB (peak {:.1}), sender {:.1} → {:.1} MiB \
                 (peak {:.1}); {} fresh events at {:.0}/s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                backlog.fanout_rss_mib.drain_start,
                backlog.fanout_rss_mib.drain_end,
                backlog.fanout_rss_mib.peak,
                backlog.sender_rss_mib.drain_start,
                backlog.sender_rss_mib.drain_end,
                backlog.sender_rss_mib.peak,
                backlog.fresh_events,
                backlog.fresh_events_per_s,
                backlog.fresh_latency.p50_ms,
                backlog.fresh_latency.p99_ms,
                backlog.fresh_latency.max_ms
            ));
        }
        if let Some(soak) = &self.soak {
            let rss = |sample: Option<&crate::soak::SoakSample>| sample.map_or(0.0, |s| s.rss_mib);
            let peak = soak.samples.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
            line(String::new());
            line(format!(
                "soak: {:.0} events/s to {} healthy and {} failing webhooks for {:.0} s: herald up \
                 {:.1} MiB at the first sample, {:.1} at the last, {:.1} at most; second half \
                 {:+.2} MiB per 10 min",
                soak.events_per_s,
                soak.healthy_webhooks,
                soak.failing_webhooks,
                soak.samples.last().map_or(0.0, |s| s.at_s),
                rss(soak.samples.first()),
                rss(soak.samples.last()),
                peak,
                soak.second_half_growth_mib_per_10min
            ));
        }
        out
    }
}
