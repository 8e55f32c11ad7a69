//! Herald's webhook lifecycle, and the answer to "is anything stuck?".
//!
//! - [`announcer`]: announces webhooks failing for `FAILING_AFTER`, disables those failing for
//!   `AUTO_DISABLE_AFTER`, and publishes every operational event (failing, recovered,
//!   disabled, delivery failed) to the operational exchange. The state behind it lives in
//!   PostgreSQL (`herald_store::health`), so any number of replicas announce each change once.
//! - [`status`]: the status report of `herald status` and `GET /v1/status` (queues,
//!   consumers, the oldest waiting delivery, parked counts, failing webhooks), and the gauges
//!   sampled from it.

pub mod announcer;
pub mod status;

pub use announcer::HealthPolicy;
pub use status::{StatusReport, gather, render};
