//! The read side: read-only SQLite connections for lookups and listings.
//!
//! Reads never go through the store thread's queue, so a burst of lookups
//! cannot delay a report, and a burst of reports cannot delay a lookup
//! (WAL readers see the last commit without waiting for the writer). A
//! few connections are kept open; at most [`MAX_READERS`] reads run at
//! once on the blocking pool, the rest wait their turn.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use fadelist_store::Reader;
use tokio::sync::Semaphore;

use crate::listings::ServiceError;

/// Reads running at once (each holds one connection and one blocking
/// thread).
pub const MAX_READERS: usize = 4;

/// A pool of read-only connections to the database.
#[derive(Debug, Clone)]
pub struct ReadPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
    permits: Semaphore,
}

impl ReadPool {
    /// A pool over the database at `path` (created by the writer first).
    pub fn new(path: PathBuf) -> ReadPool {
        ReadPool {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(MAX_READERS),
            }),
        }
    }

    /// Runs `f` with a read-only connection, on the blocking pool.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Reader) -> fadelist_store::Result<T> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| ServiceError::Gone)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let reader = inner.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let mut reader = match reader {
                Some(r) => r,
                None => Reader::open(&inner.path)?,
            };
            let out = f(&mut reader);
            // A connection that failed may be broken: open a fresh one
            // next time.
            if out.is_ok() {
                inner
                    .idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(reader);
            }
            out.map_err(ServiceError::from)
        })
        .await
        .map_err(|e| ServiceError::Panicked(e.to_string()))?
    }
}
