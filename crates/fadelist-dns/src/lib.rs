//! The DNS front of fadelist: the only crate that names hickory types.
//!
//! - [`Publisher`] holds the served data (a [`Snapshot`] plus the
//!   pre-encoded SOA/NS records of each zone) behind an `ArcSwap`; writers
//!   publish a whole new value, readers never lock.
//! - [`handler::DnsblHandler`] turns one request into one response by
//!   calling [`Snapshot::resolve`] and encoding the [`Resolution`].
//! - [`server`] binds UDP and TCP on the same addresses and runs
//!   hickory-server on them until cancelled.
#![warn(missing_docs)]

pub mod handler;
pub mod publisher;
pub mod server;

pub use fadelist_core::snapshot::{Resolution, Snapshot};
pub use publisher::Publisher;
