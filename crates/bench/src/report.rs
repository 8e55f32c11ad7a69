//! The report: a table for people, JSON for scripts. The JSON keys are stable; see
//! `docs/benchmarks.md`.

use serde::Serialize;

use crate::stats::Percentiles;
use herald_testkit::ProcessCost;

#[derive(Debug, Serialize)]
pub struct Report {
    pub commit: String,
    pub date: String,
    pub cpus: usize,
    pub quick: bool,
    pub ceilings: Ceilings,
    pub end_to_end: Vec<EndToEnd>,
    pub latency: LatencyRuns,
    pub latency_bound: LatencyBound,
}

/// Raw capacity of the broker and of HTTP on this machine, measured in the same run.
#[derive(Debug, Serialize)]
pub struct Ceilings {
    /// Ceiling A: messages/s through one quorum queue (publish with confirms + consume with acks).
    pub amqp_messages_per_s: f64,
    /// Ceiling B: signed POSTs/s of a Herald-sized body with the sender's HTTP client.
    pub http_posts_per_s: f64,
    /// Broker queue passes per delivery (the fanout queue, then the deliveries queue).
    pub broker_hops_per_delivery: u32,
}

/// One end-to-end run: events published as fast as confirms allow, deliveries counted at the
/// receiver.
#[derive(Debug, Serialize)]
pub struct EndToEnd {
    pub name: String,
    /// `separate` (fanout and sender processes) or `up` (one `herald up` process).
    pub layout: String,
    pub webhooks_per_event: usize,
    pub events: usize,
    pub deliveries: u64,
    pub events_published_per_s: f64,
    pub deliveries_per_s: f64,
    /// Publish → receipt.
    pub latency: Percentiles,
    /// `deliveries_per_s` / (ceiling A / hops).
    pub ratio_to_amqp_ceiling_per_hop: f64,
    /// `deliveries_per_s` / ceiling B.
    pub ratio_to_http_ceiling: f64,
    /// Herald's own CPU time (fanout and senders, or `herald up`) during the run, per
    /// delivery, in microseconds.
    pub cpu_per_delivery_us: f64,
    pub processes: Vec<ProcessCost>,
}

#[derive(Debug, Serialize)]
pub struct LatencyRuns {
    /// Events at a low steady rate.
    pub unloaded: PacedRun,
    /// Events at half the maximum throughput of the 1-webhook run.
    pub half_load: PacedRun,
}

#[derive(Debug, Serialize)]
pub struct PacedRun {
    pub rate_per_s: f64,
    pub deliveries: u64,
    pub latency: Percentiles,
}

/// The receiver answers after a fixed latency: throughput is bounded by deliveries in flight.
#[derive(Debug, Serialize)]
pub struct LatencyBound {
    pub endpoint_latency_ms: u64,
    pub prefetch_per_replica: u64,
    pub one_replica: BoundRun,
    pub two_replicas: BoundRun,
    /// `two_replicas.deliveries_per_s` / `one_replica.deliveries_per_s`.
    pub scaling: f64,
}

#[derive(Debug, Serialize)]
pub struct BoundRun {
    pub deliveries: u64,
    pub deliveries_per_s: f64,
    /// replicas × prefetch / endpoint latency.
    pub bound_per_s: f64,
    pub ratio_to_bound: f64,
    pub processes: Vec<ProcessCost>,
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line(format!(
            "Herald benchmark — commit {} — {} — {} CPUs{}",
            self.commit,
            self.date,
            self.cpus,
            if self.quick { " — quick" } else { "" }
        ));
        line(String::new());
        line(format!(
            "ceiling A (AMQP, one quorum queue)   {:>10.0} msg/s",
            self.ceilings.amqp_messages_per_s
        ));
        line(format!(
            "ceiling B (HTTP POST, sender client) {:>10.0} req/s",
            self.ceilings.http_posts_per_s
        ));
        line(String::new());
        line(format!(
            "{:<26} {:>8} {:>11} {:>12} {:>8} {:>8} {:>8} {:>9} {:>9}",
            "end to end",
            "events",
            "events/s",
            "deliveries/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "A/hop ×",
            "B ×"
        ));
        for run in &self.end_to_end {
            line(format!(
                "{:<26} {:>8} {:>11.0} {:>12.0} {:>8.1} {:>8.1} {:>8.1} {:>9.2} {:>9.2}",
                run.name,
                run.events,
                run.events_published_per_s,
                run.deliveries_per_s,
                run.latency.p50_ms,
                run.latency.p95_ms,
                run.latency.p99_ms,
                run.ratio_to_amqp_ceiling_per_hop,
                run.ratio_to_http_ceiling
            ));
            for cost in &run.processes {
                line(format!(
                    "    {:<22} cpu {:>6.1} s   peak RSS {:>6.1} MiB",
                    cost.process, cost.cpu_seconds, cost.peak_rss_mib
                ));
            }
            line(format!(
                "    Herald CPU per delivery {:>6.1} µs",
                run.cpu_per_delivery_us
            ));
        }
        line(String::new());
        for (name, run) in [
            ("unloaded", &self.latency.unloaded),
            ("half load", &self.latency.half_load),
        ] {
            line(format!(
                "latency {:<10} at {:>6.0}/s: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                name,
                run.rate_per_s,
                run.latency.p50_ms,
                run.latency.p95_ms,
                run.latency.p99_ms,
                run.latency.max_ms
            ));
        }
        line(String::new());
        let bound = &self.latency_bound;
        line(format!(
            "latency-bound (endpoint answers after {} ms, prefetch {}):",
            bound.endpoint_latency_ms, bound.prefetch_per_replica
        ));
        for (name, run) in [
            ("one replica", &bound.one_replica),
            ("two replicas", &bound.two_replicas),
        ] {
            line(format!(
                "    {:<13} {:>8.0} deliveries/s of a bound of {:>6.0} (×{:.2})",
                name, run.deliveries_per_s, run.bound_per_s, run.ratio_to_bound
            ));
        }
        line(format!("    scaling       ×{:.2}", bound.scaling));
        out
    }
}
