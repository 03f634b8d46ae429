//! The one place that reads the wall clock.
//!
//! Everything else takes time as a parameter, so tests can pass any time
//! they like and policies stay pure functions.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A monotonic instant, for rate limits and intervals.
pub fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
}
