//! Thread priorities: answering DNS comes before writing reports.
//!
//! Measured on one shared core (benches/run.sh, "UDP while ingesting"):
//! the store writer thread (SQLite transactions, WAL writes and fsync at
//! 200 reports/s) took about 14 % of the core and pulled UDP throughput
//! down to 0.75-0.9× of idle. At a lower priority it runs in the gaps the
//! DNS workers leave: nice 10 gave 0.89-0.96× of idle over repeated runs,
//! nice 19 (the default) 0.97-1.02×, with every report still accepted
//! (round trip p99 ~70 ms instead of ~17 ms under that load). Under a
//! true DNS overload the writer slows down instead of DNS; once
//! `ingest.max_pending_reports` reports are waiting, new ones get 503
//! `busy` with `Retry-After`, and reporters retry.

/// Lowers the calling thread's scheduling priority to `nice` (0-19; 0
/// leaves it alone). Linux keeps the nice value per thread, so this
/// touches no other thread; elsewhere it does nothing. Failure (say, a
/// sandbox forbidding it) is logged and otherwise ignored: the priority is
/// an optimisation, never a requirement.
pub fn lower_current_thread_priority(nice: u8) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    {
        // SAFETY: gettid and setpriority take plain integers and act on the
        // calling thread only; no memory is shared with the kernel.
        let rc = unsafe {
            let tid = libc::gettid();
            libc::setpriority(
                libc::PRIO_PROCESS,
                tid as libc::id_t,
                i32::from(nice.min(19)),
            )
        };
        if rc != 0 {
            tracing::warn!(
                nice,
                error = %std::io::Error::last_os_error(),
                "cannot lower the thread's priority"
            );
        }
    }
}
