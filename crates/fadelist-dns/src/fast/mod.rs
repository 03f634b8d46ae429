//! The UDP fast path: plain threads, batched system calls, a strict
//! zero-allocation parser and a direct encoder.
//!
//! hickory-server spends more than half of its per-query CPU on
//! allocation, a task per query and a reply channel (see the DNS front
//! benchmark), which makes it ~40% slower than rbldnsd on UDP. Here each
//! worker thread owns one `SO_REUSEPORT` socket (the kernel spreads
//! clients over them), receives and sends up to [`BATCH`] datagrams per
//! system call, and answers ordinary queries without allocating:
//!
//! 1. [`parse_query`] accepts only the common shape (one IN question, an
//!    uncompressed name, at most a plain EDNS OPT) and borrows the labels
//!    from the packet;
//! 2. [`Snapshot::resolve`](fadelist_core::snapshot::Snapshot::resolve)
//!    decides, exactly as for the hickory path;
//! 3. [`Responder::respond_fast`] writes the reply into the worker's
//!    reusable buffer, with name compression and precomputed SOA/NS data.
//!
//! Everything the parser refuses (other opcodes, EDNS options or versions,
//! other classes, several questions, pointers in the question, trailing
//! bytes, garbage) goes to [`respond_bytes`](crate::handler::respond_bytes),
//! the hickory-proto path, so odd packets get exactly hickory's answer.
//! `tests/differential.rs` checks that both paths answer the same.
//!
//! TCP ([`serve_tcp`]) uses the same [`Responder`] on tokio tasks, one per
//! connection, answering every complete pipelined message of a read in one
//! batch and writing the replies together.

mod encode;
pub mod limits;
mod parse;
mod sys;
mod tcp;
mod worker;

pub use encode::{Answered, Responder};
pub use limits::{Networks, QuotaOptions, Rrl, RrlAction, RrlOptions, slip_reply};
pub use parse::{EdnsQuery, Labels, MAX_LABELS, ParsedQuery, no_labels, parse_query};
pub use sys::RECV_BUF;
pub use tcp::{DEFAULT_TCP_MAX_PER_CLIENT, TcpOptions, serve_tcp};
pub use worker::{BATCH, DEFAULT_BATCH_WAIT, RECV_TIMEOUT, SMALL_BATCH, UdpOptions, UdpWorkers};
