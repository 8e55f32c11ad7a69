//! The fault suite: at-least-once delivery under crashes, restarts, outages, slow endpoints
//! and load. Every scenario streams at least 1000 events to a 200 endpoint and counts every
//! event id at the receiver: nothing may be lost; duplicates are reported.
//!
//! Scenarios that stop a broker or a database use one of their own. Run with
//! `cargo test --features fault-suite --test faults -- --test-threads 1 --nocapture`.

#![allow(clippy::unwrap_used)]

mod broker;
mod crashes;
mod database;
mod neighbours;
mod support;
