//! How Herald's cost grows with the work: webhooks per event (fan-out) and the size of the
//! registry (webhooks of other tenants that fanout indexes but never matches).
//!
//! Each point runs on a vhost and database of its own, with fanout and one sender as separate
//! processes, events published as fast as confirms allow and counted at the receiver.

use serde::Serialize;

use crate::herald::{HeraldUnderTest, Layout, OTHER_TENANTS, Services};
use crate::report::{Ceilings, EndToEnd};
use crate::run::end_to_end_run;
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
}

impl ScaleSizes {
    /// The full run, by hand.
    pub fn full() -> Self {
        Self {
            fan_out: vec![1, 10, 100, 1000],
            fan_out_deliveries: 30_000,
            registry: vec![0, 1_000, 10_000, 100_000],
            registry_events: 20_000,
        }
    }

    /// `--quick`.
    pub fn quick() -> Self {
        Self {
            fan_out: vec![1, 10, 100],
            fan_out_deliveries: 5_000,
            registry: vec![0, 1_000, 10_000],
            registry_events: 5_000,
        }
    }

    /// Small enough for a test that the scenarios run.
    pub fn tiny() -> Self {
        Self {
            fan_out: vec![1, 4],
            fan_out_deliveries: 200,
            registry: vec![0, 50],
            registry_events: 200,
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
}

/// Runs every point of `sizes`.
pub async fn run(
    services: &Services,
    receiver: &Receiver,
    clock: &Clock,
    ceilings: Ceilings,
    sizes: &ScaleSizes,
) -> anyhow::Result<Scale> {
    let mut fan_out = Vec::new();
    for &webhooks in &sizes.fan_out {
        progress(&format!("scale: {webhooks} webhook(s) per event"));
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
        progress(&format!("scale: {others} other webhooks in the registry"));
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
        registry.push(RegistryPoint {
            other_webhooks: others,
            other_tenants: others.min(OTHER_TENANTS),
            startup_s: startup.as_secs_f64(),
            fanout_peak_rss_mib: peak_rss(&run, "fanout"),
            deliveries_per_s: run.deliveries_per_s,
            latency: run.latency,
            cpu_per_delivery_us: run.cpu_per_delivery_us,
        });
    }
    Ok(Scale {
        ceilings,
        fan_out,
        registry,
    })
}

fn peak_rss(run: &EndToEnd, process: &str) -> f64 {
    run.processes
        .iter()
        .find(|cost| cost.process == process)
        .map_or(0.0, |cost| cost.peak_rss_mib)
}

fn progress(what: &str) {
    eprintln!("… {what}");
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
        line(String::new());
        line(format!(
            "{:<22} {:>10} {:>12} {:>12} {:>8} {:>8} {:>10}",
            "other webhooks",
            "startup s",
            "fanout MiB",
            "deliveries/s",
            "p50 ms",
            "p99 ms",
            "cpu µs/d"
        ));
        for point in &self.registry {
            line(format!(
                "{:<22} {:>10.2} {:>12.1} {:>12.0} {:>8.1} {:>8.1} {:>10.1}",
                point.other_webhooks,
                point.startup_s,
                point.fanout_peak_rss_mib,
                point.deliveries_per_s,
                point.latency.p50_ms,
                point.latency.p99_ms,
                point.cpu_per_delivery_us
            ));
        }
        out
    }
}
