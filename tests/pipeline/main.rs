//! The delivery pipeline end to end: events published to the real broker, delivered to a
//! real HTTP receiver, retried, parked and rejected.

#![allow(clippy::unwrap_used)]

mod backlog;
mod delivery;
mod hostile_input;
mod processes;
mod rejections;
mod retries;
