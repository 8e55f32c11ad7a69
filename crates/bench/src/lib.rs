//! `herald-bench`: Herald's throughput, latency and cost, against ceilings measured in the
//! same run (see `docs/benchmarks.md`).
//!
//! - [`backlog`]: a burst queued with no sender running, then drained while fresh events
//!   arrive (memory, drain rate, fresh events' latency).
//! - [`console`]: the console's heavy reads at scale (a tenant's failed deliveries, stats).
//! - [`ceilings`]: the raw AMQP and HTTP capacity of the machine.
//! - [`herald`]: Herald under test, isolated in a vhost and database of its own, its
//!   binaries spawned and measured (with `herald-testkit`, which also provides the receiver
//!   timing each delivery from its publish).
//! - [`history`]: the attempt log at scale (reads, and retention under load).
//! - [`progress`]: the progress line of long runs.
//! - [`publishing`]: events published in bursts or at a steady rate.
//! - [`report`]: the table and the JSON document.
//! - [`run`]: the scenarios in order.
//! - [`scale`]: how the costs grow with webhooks per event and with the registry; [`plot`]
//!   draws them as SVG charts.
//! - [`soak`]: memory over a long steady mixed load (a leak or a plateau).

pub mod backlog;
pub mod ceilings;
pub mod console;
pub mod herald;
pub mod history;
pub mod plot;
pub mod progress;
pub mod publishing;
pub mod report;
pub mod run;
pub mod scale;
pub mod soak;
pub mod stats;
