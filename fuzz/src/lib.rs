//! Fuzz targets of the fadelist DNS fast path: the shared [`harness`]
//! (fixture snapshot, seed queries, invariant checks).
//!
//! `harness.rs` is also compiled into
//! `crates/fadelist-dns/tests/fuzz_corpus.rs`, which replays the corpus on
//! stable Rust in CI.

pub mod harness;
