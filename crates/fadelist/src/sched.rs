//! Thread priorities: answering DNS comes before writing reports, reading
//! the store and parsing reported mail. Background work runs on threads of
//! its own at `ingest.writer_nice` ([`spawn_background`], [`Pool`]).
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

/// A job of a [`Pool`]: runs with the thread's own state.
type PoolJob<S> = Box<dyn FnOnce(&mut S) + Send>;

/// Background threads at a low priority taking jobs from one bounded
/// queue, each thread with its own state `S` (a database connection, or
/// nothing). For the work that must not compete with the DNS workers:
/// reads of the store, and parsing reported mail.
#[derive(Debug)]
pub struct Pool<S> {
    tx: tokio::sync::mpsc::Sender<PoolJob<S>>,
}

impl<S> Clone for Pool<S> {
    fn clone(&self) -> Self {
        Pool {
            tx: self.tx.clone(),
        }
    }
}

impl<S: 'static> Pool<S> {
    /// Starts `threads` threads named `name-N` at priority `nice`, each
    /// with the state `state()` makes; at most `queue` jobs wait.
    pub fn start(
        name: &str,
        threads: usize,
        nice: u8,
        queue: usize,
        state: impl Fn() -> S + Send + Sync + 'static,
    ) -> Pool<S> {
        let (tx, rx) = tokio::sync::mpsc::channel::<PoolJob<S>>(queue.max(1));
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let state = std::sync::Arc::new(state);
        for i in 0..threads.max(1) {
            let (rx, state) = (rx.clone(), state.clone());
            let spawned = spawn_background(&format!("{name}-{i}"), nice, move || {
                let mut s = state();
                loop {
                    // One thread waits on the queue at a time; the others
                    // wait for the lock, which comes to the same.
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).blocking_recv();
                    let Some(job) = job else { return };
                    // A job that panics fails alone (its caller hears
                    // nothing back); the thread starts over with a fresh
                    // state and carries on.
                    let ran =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut s)));
                    if ran.is_err() {
                        tracing::error!(
                            thread = std::thread::current().name().unwrap_or("?"),
                            "a background job panicked"
                        );
                        s = state();
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!("cannot start thread {name}-{i}: {e}");
            }
        }
        Pool { tx }
    }

    /// Runs `f` on one of the threads; `None` when it panicked or the
    /// pool is gone. Waits for room in the queue when it is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: PoolJob<S> = Box::new(move |s: &mut S| {
            let _ = tx.send(f(s));
        });
        self.tx.send(job).await.ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pool_runs_jobs_with_thread_state_and_survives_a_panic() {
        let pool = Pool::start("test-pool", 1, 0, 4, || 0u32);
        assert_eq!(
            pool.run(|n| {
                *n += 1;
                *n
            })
            .await,
            Some(1)
        );
        assert_eq!(
            pool.run(|n| {
                *n += 1;
                *n
            })
            .await,
            Some(2),
            "the state stays"
        );
        assert_eq!(pool.run(|_| -> u32 { panic!("boom") }).await, None);
        assert_eq!(
            pool.run(|n| {
                *n += 1;
                *n
            })
            .await,
            Some(1),
            "a fresh state after the panic, and the thread goes on"
        );
    }
}
