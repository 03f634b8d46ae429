//! The DNS front of fadelist: the only crate that names hickory types.
//!
//! - [`Publisher`] holds the served data (a [`Snapshot`] plus the
//!   pre-encoded SOA/NS records of each zone) behind an `ArcSwap`; writers
//!   publish a whole new value, readers never lock.
//! - [`handler::DnsblHandler`] turns one request into one response by
//!   calling [`Snapshot::resolve`] and encoding the [`Resolution`].
//! - [`fast`] is the UDP fast path: plain threads with `recvmmsg`/
//!   `sendmmsg`, a strict parser and a direct encoder, falling back to
//!   [`handler::respond_bytes`] (hickory-proto) for anything unusual.
//! - [`server`] binds UDP and TCP on the same addresses and serves them
//!   until cancelled: TCP through hickory-server, UDP through the fast
//!   path (or hickory-server, see [`server::UdpMode`]).
#![warn(missing_docs)]

pub mod fast;
pub mod handler;
pub mod publisher;
pub mod server;

pub use fadelist_core::snapshot::{Resolution, Snapshot};
pub use publisher::Publisher;
