//! How Herald delivers, in one place for every caller: the sender's attempts and the
//! management API's test sends use the same client, and the API validates URLs and auth
//! headers with the same rules the client applies when it sends.
//!
//! - [`client`]: the HTTP client (signing, timeouts, no redirects, kept-alive connections,
//!   the network policy on every address connected to) and how an attempt went.
//! - [`headers`]: the request headers of an attempt, and the names an auth header may not take.
//! - [`targets`]: which URLs may be delivered to ([`TargetRules`]).
//! - [`policy`]: which addresses may be connected to ([`NetworkPolicy`]).
//! - [`configuration`]: the settings above as command-line options and environment variables.

pub mod client;
pub mod configuration;
pub mod headers;
pub mod policy;
pub mod targets;

pub use client::{AttemptOutcome, AttemptRequest, ClientSettings, DeliveryClient};
pub use configuration::DeliveryArgs;
pub use policy::NetworkPolicy;
pub use targets::{TargetRules, UrlRefusal};
