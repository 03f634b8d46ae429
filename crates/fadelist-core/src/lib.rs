//! Pure domain logic of fadelist: no I/O, no async, no DNS library types.
//!
//! - [`qname`]: query-name labels → typed keys;
//! - [`data`]: the build-time description of a dataset;
//! - [`dataset`]: the frozen, compact lookup structures;
//! - [`snapshot`]: zones and the one decision function the DNS path calls;
//! - [`rbldnsd`]: reading and writing rbldnsd data files;
//! - [`zone_records`]: a zone as standard DNS records, for zone transfers.
#![warn(missing_docs)]

pub mod cidr;
pub mod data;
pub mod dataset;
pub mod keys;
pub mod names;
pub mod policy;
pub mod qname;
pub mod rbldnsd;
pub mod snapshot;
pub mod testrng;
pub mod zone_import;
pub mod zone_records;
