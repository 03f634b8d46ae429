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

use fadelist_store::Reader;

use crate::listings::ServiceError;
use crate::sched::Pool;

/// Reader threads (each with its own connection).
pub const READERS: usize = 2;

/// Reads waiting for a reader thread, at most.
pub const QUEUE: usize = 256;

/// A reader thread's connection, opened on first use.
struct Slot {
    path: PathBuf,
    reader: Option<Reader>,
}

/// The reader threads and their queue.
#[derive(Clone)]
pub struct ReadPool {
    pool: Pool<Slot>,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool").finish_non_exhaustive()
    }
}

impl ReadPool {
    /// Starts [`READERS`] threads at priority `nice` over the database at
    /// `path` (created by the writer first). Connections open on first
    /// use, and again after a failed read.
    pub fn start(path: PathBuf, nice: u8) -> ReadPool {
        ReadPool {
            pool: Pool::start("fadelist-read", READERS, nice, QUEUE, move || Slot {
                path: path.clone(),
                reader: None,
            }),
        }
    }

    /// Runs `f` with a read-only connection on a reader thread.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Reader) -> fadelist_store::Result<T> + Send + 'static,
    ) -> Result<T, ServiceError> {
        self.pool
            .run(move |slot: &mut Slot| {
                let out = match &mut slot.reader {
                    Some(r) => f(r),
                    None => Reader::open(&slot.path).and_then(|r| f(slot.reader.insert(r))),
                };
                // A connection that failed may be broken: open a fresh one
                // next time.
                if out.is_err() {
                    slot.reader = None;
                }
                out
            })
            .await
            .ok_or(ServiceError::Gone)?
            .map_err(ServiceError::from)
    }
}
