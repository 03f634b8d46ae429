//! Thread priorities: answering DNS comes before writing reports.
//!
//! Measured on one shared core (benches/run.sh, "UDP while ingesting"):
//! the store writer thread (SQLite transactions, WAL writes and fsync at
//! 200 reports/s) took about 14 % of the core and pulled UDP throughput
//! down to 0.75-0.9× of idle. At a lower priority (nice 10) it runs in the
//! gaps the DNS workers leave and the same load keeps DNS at 0.96× of
//! idle, with every report still accepted. Under a true DNS overload the
//! writer slows down instead of DNS; the HTTP side then answers 503 when
//! its queue is full, and reporters retry.

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
