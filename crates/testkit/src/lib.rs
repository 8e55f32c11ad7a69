//! What Herald's integration tests (`tests/`) and its benchmark (`herald-bench`) share, so
//! that each exists once:
//!
//! - [`isolation`]: a RabbitMQ vhost and a PostgreSQL database of one's own on the machine's
//!   shared services, removed when dropped.
//! - [`processes`]: Herald's binaries, built once, spawned, stopped, and measured (CPU, RSS).
//! - [`receiver`]: a real HTTP endpoint that answers as scripted and records what arrives
//!   (every request, or only counts and latencies when measuring).
//! - [`wait`]: waiting for a condition with a deadline instead of sleeping.

pub mod isolation;
pub mod processes;
pub mod receiver;
pub mod wait;

pub use isolation::{Isolation, POSTGRES_BASE, RABBITMQ_ADDR, TestDatabase, Vhost, unique_id};
pub use processes::{Output, Process, ProcessCost, binary, free_port};
pub use receiver::{Behaviour, Clock, Received, Receiver};
