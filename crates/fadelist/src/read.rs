//! The read side: read-only SQLite connections for lookups and listings.
//!
//! Reads never go through the store thread's queue, so a burst of lookups
//! cannot delay a report behind it, and a burst of reports cannot delay a
//! lookup (WAL readers see the last commit without waiting for the
//! writer). [`READERS`] threads each own one read-only connection and take
//! reads from one bounded queue; a caller waits for room when it is full.
//!
//! The reader threads run at the writer's priority (`ingest.writer_nice`):
//! DNS first, then reads and writes share what is left. At the normal
//! priority a lookup flood would take the core from the writer, which
//! runs at nice 19, and stall reports instead of merely sharing with them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use fadelist_store::Reader;
use tokio::sync::{mpsc, oneshot};
use tracing::error;

use crate::listings::ServiceError;

/// Reader threads (each with its own connection).
pub const READERS: usize = 2;

/// Reads waiting for a reader thread, at most.
pub const QUEUE: usize = 256;

type Job = Box<dyn FnOnce(&mut Option<Reader>, &PathBuf) + Send>;

/// The reader threads and their queue.
#[derive(Debug, Clone)]
pub struct ReadPool {
    tx: mpsc::Sender<Job>,
}

impl ReadPool {
    /// Starts [`READERS`] threads at priority `nice` over the database at
    /// `path` (created by the writer first). Connections open on first
    /// use, and again after a failed read.
    pub fn start(path: PathBuf, nice: u8) -> ReadPool {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..READERS {
            let (rx, path) = (rx.clone(), path.clone());
            let spawned =
                crate::sched::spawn_background(&format!("fadelist-read-{i}"), nice, move || {
                    let mut reader: Option<Reader> = None;
                    loop {
                        // One thread waits on the queue at a time; the others
                        // wait for the lock, which comes to the same.
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).blocking_recv();
                        let Some(job) = job else { return };
                        // A read that panics fails alone (its caller gets 503);
                        // the thread and the other reads carry on.
                        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            job(&mut reader, &path)
                        }));
                        if ran.is_err() {
                            error!("a read panicked; its connection is reopened");
                            reader = None;
                        }
                    }
                });
            if let Err(e) = spawned {
                error!("cannot start reader thread {i}: {e}");
            }
        }
        ReadPool { tx }
    }

    /// Runs `f` with a read-only connection on a reader thread.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Reader) -> fadelist_store::Result<T> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |slot: &mut Option<Reader>, path: &PathBuf| {
            let out = (|| {
                let reader = match slot {
                    Some(r) => r,
                    None => slot.insert(Reader::open(path)?),
                };
                f(reader)
            })();
            // A connection that failed may be broken: open a fresh one
            // next time.
            if out.is_err() {
                *slot = None;
            }
            let _ = tx.send(out.map_err(ServiceError::from));
        });
        self.tx.send(job).await.map_err(|_| ServiceError::Gone)?;
        rx.await.map_err(|_| ServiceError::Gone)?
    }
}
