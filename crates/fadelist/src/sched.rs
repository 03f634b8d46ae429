//! Thread priorities: answering DNS comes before writing reports.
//!
//! Measured on one shared core (benches/run.sh, "UDP while ingesting"):
//! the store writer thread (SQLite transactions, WAL writes and fsync at
//! 200 reports/s) took about 14 % of the core and pulled UDP throughput
//! down to 0.75-0.9× of idle. At a lower priority it runs in the gaps the
//! DNS workers leave: nice 10 gave 0.89-0.96× of idle over repeated runs,
//! nice 19 (the default) 0.97-1.02×. The price is report latency under
//! that load: round trips of 30-180 ms at the median and up to 0.7 s at
//! p99 in the full benchmark, where 194-200 of the 200 reports/s offered
//! were accepted (nice 10: all 200, p50 75-140 ms). Under a
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

/// Starts a named background thread that lowers its own priority to
/// `nice` first and then runs `body`. Returns once the priority is set, so
/// that no work of the thread ever runs at the DNS workers' priority.
pub fn spawn_background(
    name: &str,
    nice: u8,
    body: impl FnOnce() + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            lower_current_thread_priority(nice);
            let _ = ready_tx.send(());
            body();
        })?;
    let _ = ready_rx.recv();
    Ok(handle)
}
