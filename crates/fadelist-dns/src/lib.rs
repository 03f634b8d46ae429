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
//! - [`fast`] also has the TCP front: one task per connection, every
//!   complete pipelined message of a read answered in one write.
//! - [`records`] builds each zone's SOA/NS records once per publication,
//!   as hickory records and as the fast path's wire templates.
//! - [`server`] binds UDP and TCP on the same addresses and serves them
//!   until cancelled: both through the fast fronts by default, or through
//!   hickory-server ([`server::UdpMode`], [`server::TcpMode`]).
//! - [`xfr`] serves zone transfers (AXFR; IXFR as a full zone) on the
//!   fast TCP front, streamed in messages of at most 16 KiB.
//! - [`ixfr`] keeps each zone's serial-to-serial differences for IXFR.
//! - [`notify`] sends NOTIFY to secondaries on every new serial.
//! - [`metrics`] counts what the fast fronts answer (per-worker counters
//!   summed at scrape time) and writes the Prometheus text format.
#![warn(missing_docs)]

pub mod any;
pub mod fast;
pub mod follow;
pub mod handler;
pub mod ixfr;
pub mod metrics;
pub mod notify;
pub mod publisher;
pub mod records;
pub mod server;
pub mod tsig;
pub mod xfr;

pub use fadelist_core::snapshot::{Resolution, Snapshot};
pub use publisher::Publisher;
