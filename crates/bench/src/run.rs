//! The benchmark's scenarios, in order, and the report they make.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;

use crate::scale::{Scale, ScaleScenario, ScaleSizes};
use crate::{ceilings, publishing};

use crate::herald::{HeraldUnderTest, Layout, Services};
use crate::report::{BoundRun, Ceilings, EndToEnd, LatencyBound, LatencyRuns, PacedRun, Report};
use crate::stats::{Percentiles, per_second};
use herald_testkit::{Behaviour, Clock, ProcessCost, Receiver};

/// Benchmarks Herald on this machine's RabbitMQ and PostgreSQL (in a vhost and a database of
/// its own) against a local receiver.
#[derive(Debug, Parser)]
#[command(name = "herald-bench", version, about)]
pub struct Args {
    /// A short run (about thirty seconds) with smaller volumes.
    #[arg(long)]
    quick: bool,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// RabbitMQ `host:port` (user guest/guest).
    #[arg(long, default_value = "127.0.0.1:5672")]
    rabbitmq: String,
    /// PostgreSQL base URL, without a database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// Run only the console's queries at scale: a tenant's failed deliveries with 100 000 of
    /// other tenants parked, and a webhook's stats over a million attempts.
    #[arg(long)]
    console: bool,
    /// Run only the scale scenarios: deliveries/s, latency, CPU and memory as the webhooks per
    /// event (1 → 1000) and the registry (0 → 100 000 webhooks of 10 000 tenants) grow.
    #[arg(long)]
    scale: bool,
    /// With `--scale`: also write SVG charts of it into this directory.
    #[arg(long, requires = "scale")]
    plot: Option<PathBuf>,
    /// With `--scale`: run only these scenarios (repeat the flag for more than one). `soak`
    /// (an hour of steady mixed load; three minutes with `--quick`) runs only when named.
    #[arg(long, value_enum, requires = "scale")]
    only: Vec<ScaleScenario>,
}

/// Volumes of a run.
struct Volumes {
    ceiling_messages: usize,
    ceiling_requests: usize,
    events: usize,
    paced: Duration,
    bound_events: usize,
}

const HOPS: u32 = 2;
const WINDOW: usize = 1024;
const BOUND_LATENCY: Duration = Duration::from_millis(200);
const BOUND_PREFETCH: u64 = 1000;

/// Runs every scenario and prints (and optionally writes) the report.
pub async fn run(args: Args) -> anyhow::Result<()> {
    herald_testkit::binary("herald")?;
    if args.console {
        return console_queries(&args).await;
    }
    if args.scale {
        let sizes = if args.quick {
            ScaleSizes::quick()
        } else {
            ScaleSizes::full()
        };
        return scale_run(&args, &sizes.only(&args.only)).await;
    }
    let volumes = if args.quick {
        Volumes {
            ceiling_messages: 10_000,
            ceiling_requests: 10_000,
            events: 5_000,
            paced: Duration::from_secs(2),
            bound_events: 4_000,
        }
    } else {
        Volumes {
            ceiling_messages: 50_000,
            ceiling_requests: 40_000,
            events: 30_000,
            paced: Duration::from_secs(6),
            bound_events: 20_000,
        }
    };
    let services = Services {
        rabbitmq: args.rabbitmq.clone(),
        postgres: args.postgres.clone(),
    };
    let clock = Clock::start();
    let receiver = Receiver::counting(clock).await?;

    progress("ceiling A: AMQP through one quorum queue");
    let sample_body = Bytes::from(crate::publishing::event_body(&clock, 0));
    let amqp = {
        let isolated = services.isolate()?;
        ceilings::amqp(
            &isolated.vhost.amqp_url(),
            volumes.ceiling_messages,
            sample_body.len() + 150,
        )
        .await?
    };
    progress("ceiling B: HTTP POSTs with the sender's client");
    let http = ceilings::http(
        &receiver,
        volumes.ceiling_requests,
        256,
        sample_body.clone(),
    )
    .await?;
    let ceilings = Ceilings {
        amqp_messages_per_s: amqp,
        http_posts_per_s: http,
        broker_hops_per_delivery: HOPS,
    };

    let mut end_to_end = Vec::new();
    progress("end to end: 1 webhook per event, separate processes");
    let herald = HeraldUnderTest::start(
        &services,
        Layout::Separate { senders: 1 },
        1,
        &receiver,
        &[],
    )
    .await?;
    let one = end_to_end_run(
        &herald,
        &receiver,
        &clock,
        &ceilings,
        "1 webhook, separate",
        "separate",
        1,
        volumes.events,
    )
    .await?;
    progress("latency: unloaded and at half load");
    let unloaded = paced_run(&herald, &receiver, &clock, 100.0, volumes.paced).await?;
    let half_load = paced_run(
        &herald,
        &receiver,
        &clock,
        one.deliveries_per_s / 2.0,
        volumes.paced,
    )
    .await?;
    end_to_end.push(one);
    herald.stop().await;

    progress("end to end: 10 webhooks per event, separate processes");
    let herald = HeraldUnderTest::start(
        &services,
        Layout::Separate { senders: 1 },
        10,
        &receiver,
        &[],
    )
    .await?;
    end_to_end.push(
        end_to_end_run(
            &herald,
            &receiver,
            &clock,
            &ceilings,
            "10 webhooks, separate",
            "separate",
            10,
            volumes.events / 10,
        )
        .await?,
    );
    herald.stop().await;

    progress("end to end: 1 webhook per event, herald up");
    let herald = HeraldUnderTest::start(&services, Layout::Up, 1, &receiver, &[]).await?;
    end_to_end.push(
        end_to_end_run(
            &herald,
            &receiver,
            &clock,
            &ceilings,
            "1 webhook, herald up",
            "up",
            1,
            volumes.events,
        )
        .await?,
    );
    herald.stop().await;

    progress("latency-bound: endpoint answering after 200 ms");
    let one_replica = bound_run(&services, &receiver, &clock, 1, volumes.bound_events).await?;
    let two_replicas = bound_run(&services, &receiver, &clock, 2, volumes.bound_events).await?;
    let scaling = two_replicas.deliveries_per_s / one_replica.deliveries_per_s.max(1.0);

    let report = Report {
        commit: git_commit(),
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        quick: args.quick,
        ceilings,
        end_to_end,
        latency: LatencyRuns {
            unloaded,
            half_load,
        },
        latency_bound: LatencyBound {
            endpoint_latency_ms: BOUND_LATENCY.as_millis() as u64,
            prefetch_per_replica: BOUND_PREFETCH,
            one_replica,
            two_replicas,
            scaling,
        },
    };
    print(report.table().trim_end());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
fn print(text: &str) {
    println!("{text}");
}

fn progress(what: &str) {
    eprintln!("… {what}");
}

/// A warm-up, then `events` published as fast as confirms allow, counted at the receiver.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn end_to_end_run(
    herald: &HeraldUnderTest,
    receiver: &Receiver,
    clock: &Clock,
    ceilings: &Ceilings,
    name: &str,
    layout: &str,
    webhooks: usize,
    events: usize,
) -> anyhow::Result<EndToEnd> {
    warm_up(herald, receiver, clock, webhooks).await?;
    receiver.reset();
    let before = herald.costs();
    let started = clock.nanos();
    let publishing =
        publishing::burst(&herald.publisher, &herald.exchange, clock, events, WINDOW).await?;
    let expected = (events * webhooks) as u64;
    anyhow::ensure!(
        receiver
            .wait_for_count(expected, Duration::from_secs(300))
            .await,
        "{name}: only {} of {expected} deliveries arrived",
        receiver.received()
    );
    let seen = receiver.seen();
    let deliveries_per_s = per_second(seen.received, seen.last.saturating_sub(started));
    let processes = herald.costs();
    Ok(EndToEnd {
        name: name.to_owned(),
        layout: layout.to_owned(),
        webhooks_per_event: webhooks,
        events,
        deliveries: seen.received,
        events_published_per_s: events as f64 / publishing.as_secs_f64(),
        deliveries_per_s,
        latency: Percentiles::of(&seen.latencies),
        ratio_to_amqp_ceiling_per_hop: deliveries_per_s
            / (ceilings.amqp_messages_per_s / f64::from(HOPS)),
        ratio_to_http_ceiling: deliveries_per_s / ceilings.http_posts_per_s,
        cpu_per_delivery_us: cpu_per_delivery_us(&before, &processes, seen.received),
        processes,
    })
}

/// Herald's own CPU time (every process's, between the two samples) per delivery, in µs.
pub(crate) fn cpu_per_delivery_us(
    before: &[ProcessCost],
    after: &[ProcessCost],
    deliveries: u64,
) -> f64 {
    let spent: f64 = after
        .iter()
        .zip(before)
        .map(|(after, before)| after.cpu_seconds - before.cpu_seconds)
        .sum();
    spent * 1e6 / deliveries.max(1) as f64
}

/// About 500 deliveries' worth of events (at least one), delivered before measuring.
async fn warm_up(
    herald: &HeraldUnderTest,
    receiver: &Receiver,
    clock: &Clock,
    webhooks: usize,
) -> anyhow::Result<()> {
    receiver.reset();
    let events = (500 / webhooks.max(1)).max(1);
    publishing::burst(&herald.publisher, &herald.exchange, clock, events, WINDOW).await?;
    anyhow::ensure!(
        receiver
            .wait_for_count((events * webhooks) as u64, Duration::from_secs(60))
            .await,
        "the warm-up did not arrive"
    );
    Ok(())
}

async fn paced_run(
    herald: &HeraldUnderTest,
    receiver: &Receiver,
    clock: &Clock,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<PacedRun> {
    receiver.reset();
    let published =
        publishing::paced(&herald.publisher, &herald.exchange, clock, rate, duration).await?;
    anyhow::ensure!(
        receiver
            .wait_for_count(published as u64, Duration::from_secs(120))
            .await,
        "paced events did not arrive"
    );
    let seen = receiver.seen();
    Ok(PacedRun {
        rate_per_s: rate,
        deliveries: seen.received,
        latency: Percentiles::of(&seen.latencies),
    })
}

async fn bound_run(
    services: &Services,
    receiver: &Receiver,
    clock: &Clock,
    senders: usize,
    events: usize,
) -> anyhow::Result<BoundRun> {
    let prefetch = BOUND_PREFETCH.to_string();
    let env = [
        ("SENDER_PREFETCH", prefetch.as_str()),
        ("SENDER_MAX_IN_FLIGHT_PER_WEBHOOK", prefetch.as_str()),
    ];
    let herald =
        HeraldUnderTest::start(services, Layout::Separate { senders }, 1, receiver, &env).await?;
    receiver.respond_to_all(Behaviour::Delay(BOUND_LATENCY));
    warm_up(&herald, receiver, clock, 1).await?;
    receiver.reset();
    let started = clock.nanos();
    publishing::burst(&herald.publisher, &herald.exchange, clock, events, WINDOW).await?;
    let arrived = receiver
        .wait_for_count(events as u64, Duration::from_secs(300))
        .await;
    receiver.respond_to_all(Behaviour::Ok);
    anyhow::ensure!(
        arrived,
        "latency-bound: only {} of {events} deliveries arrived",
        receiver.received()
    );
    let seen = receiver.seen();
    let deliveries_per_s = per_second(seen.received, seen.last.saturating_sub(started));
    let bound_per_s = senders as f64 * BOUND_PREFETCH as f64 / BOUND_LATENCY.as_secs_f64();
    let processes = herald.costs();
    herald.stop().await;
    Ok(BoundRun {
        deliveries: seen.received,
        deliveries_per_s,
        bound_per_s,
        ratio_to_bound: deliveries_per_s / bound_per_s,
        processes,
    })
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// The scale scenarios alone, after this run's ceilings.
async fn scale_run(args: &Args, sizes: &ScaleSizes) -> anyhow::Result<()> {
    let services = Services {
        rabbitmq: args.rabbitmq.clone(),
        postgres: args.postgres.clone(),
    };
    let clock = Clock::start();
    let receiver = Receiver::counting(clock).await?;
    let measured = measure_scale(&services, &receiver, &clock, sizes).await?;
    print(&measured.table());
    if let Some(dir) = &args.plot {
        crate::plot::scale_charts(&measured, dir)?;
        progress(&format!("charts written to {}", dir.display()));
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&serde_json::json!({ "scale": measured }))?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Measures the ceilings (small volumes), then every point of `sizes`.
pub async fn measure_scale(
    services: &Services,
    receiver: &Receiver,
    clock: &Clock,
    sizes: &ScaleSizes,
) -> anyhow::Result<Scale> {
    progress("scale: ceilings");
    let sample_body = Bytes::from(crate::publishing::event_body(clock, 0));
    let amqp = {
        let isolated = services.isolate()?;
        ceilings::amqp(&isolated.vhost.amqp_url(), 5_000, sample_body.len() + 150).await?
    };
    let http = ceilings::http(receiver, 5_000, 256, sample_body).await?;
    let ceilings = Ceilings {
        amqp_messages_per_s: amqp,
        http_posts_per_s: http,
        broker_hops_per_delivery: HOPS,
    };
    crate::scale::run(services, receiver, clock, ceilings, sizes).await
}

/// The console scenario alone.
#[allow(clippy::print_stdout)]
async fn console_queries(args: &Args) -> anyhow::Result<()> {
    let (parked, attempts) = if args.quick {
        (10_000, 100_000)
    } else {
        (100_000, 1_000_000)
    };
    let services = Services {
        rabbitmq: args.rabbitmq.clone(),
        postgres: args.postgres.clone(),
    };
    let receiver = Receiver::counting(Clock::start()).await?;
    progress(&format!(
        "console queries: {parked} parked elsewhere, {attempts} attempts of one webhook"
    ));
    let herald = HeraldUnderTest::start(&services, Layout::Up, 2, &receiver, &[]).await?;
    let measured = crate::console::run(&herald, parked, attempts).await;
    herald.stop().await;
    let measured = measured?;
    let line = |name: &str, p: &Percentiles| {
        println!(
            "{name:<40} p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
            p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
        );
    };
    println!("console queries ({parked} parked elsewhere, {attempts} attempts of one webhook)");
    line(
        "tenant's failed deliveries, page of 50",
        &measured.tenant_failed_page,
    );
    line("stats, 24h", &measured.stats_24h);
    line("stats, 7d", &measured.stats_7d);
    line("status (GET /v1/status)", &measured.status);
    let failed = &measured.failed_queue;
    println!(
        "failed queue of {}: list a page {:.0} ms; replay one webhook's {} in {:.1} s; \
         a replay ({} moved) and a list ({} shown) at once {:.1} s; {} left",
        failed.parked,
        failed.list_page_ms,
        failed.replayed,
        failed.replay_one_webhook_s,
        failed.concurrent_replayed,
        failed.concurrent_listed,
        failed.concurrent_s,
        failed.left
    );
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&serde_json::json!({ "console": measured }))?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
