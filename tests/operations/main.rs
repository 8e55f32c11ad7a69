//! What operators rely on: the failed-queue tools, metrics, traces and the deployment files.

#![allow(clippy::unwrap_used)]

mod database_tls;
mod deployment;
mod failed;
mod key_rotation;
mod least_privilege;
mod lifecycle;
mod metrics;
mod publishing;
mod retention;
mod startup;
mod tracing;
