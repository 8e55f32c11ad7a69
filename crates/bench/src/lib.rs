//! `herald-bench`: Herald's throughput, latency and cost, against ceilings measured in the
//! same run (see `docs/benchmarks.md`).
//!
//! - [`receiver`]: a plain hyper endpoint timing each delivery from its publish.
//! - [`ceilings`]: the raw AMQP and HTTP capacity of the machine.
//! - [`herald`]: Herald under test, isolated in a vhost and database of its own.
//! - [`publishing`]: events published in bursts or at a steady rate.
//! - [`processes`]: spawning the binaries and reading their CPU time and peak RSS.
//! - [`report`]: the table and the JSON document.
//! - [`run`]: the scenarios in order.

pub mod ceilings;
pub mod herald;
pub mod isolation;
pub mod processes;
pub mod publishing;
pub mod receiver;
pub mod report;
pub mod run;
pub mod stats;
