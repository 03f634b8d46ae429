//! The store thread: the single owner of the writing SQLite connection.
//!
//! Jobs arrive on a bounded queue and run in order. Reports that are
//! waiting together are written as one group ([`fadelist_store::Group`]):
//! one transaction, one commit and one fsync for all of them (a group
//! that fails is rolled back and written again report by report, so one
//! bad report fails alone). Commit + fsync was about a third of the CPU of a
//! report when each had its own transaction; under load a group holds
//! many reports, so that cost is shared. A report is still answered only
//! after the commit that holds it, and its DNS effect is still published
//! before the answer (the group handler does both, in that order).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fadelist_store::Store;
use tokio::sync::{mpsc, oneshot};
use tracing::error;

use super::ServiceError;

/// Most reports written in one group: bounds the latency a group adds to
/// its first report.
pub const MAX_GROUP: usize = 128;

/// A write other than a report: runs alone, in queue order.
pub type Op = Box<dyn FnOnce(&mut Store) + Send>;

/// A job for the store thread.
pub enum Job<R> {
    /// A report: batched with the reports queued next to it.
    Report(R),
    /// Anything else.
    Op(Op),
}

/// Counts finished writes down (see [`Writer::pending`]).
#[derive(Debug)]
pub struct Done {
    pending: Arc<AtomicUsize>,
    /// Answers given in the group being written: after a panic, the rest
    /// of the group is counted down too.
    answered: std::cell::Cell<usize>,
}

impl Done {
    /// One write is finished: call it before answering the writer's
    /// caller, so that a status read after the answer no longer counts it.
    pub fn one(&self) {
        self.pending.fetch_sub(1, Ordering::Relaxed);
        self.answered.set(self.answered.get() + 1);
    }
}

/// When the store thread last started or finished a job: milliseconds
/// since `epoch`. A thread that is busy with one long job (a big decay, a
/// group of reports on a slow disk) is told apart from one that is stuck
/// by how long ago that was (`/readyz`).
#[derive(Debug)]
struct Heartbeat {
    epoch: Instant,
    at_ms: AtomicU64,
}

impl Heartbeat {
    fn beat(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.at_ms.store(ms, Ordering::Relaxed);
    }

    fn age(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.at_ms.load(Ordering::Relaxed)))
    }
}

/// The handle of the store thread.
#[derive(Debug)]
pub struct Writer<R> {
    tx: mpsc::Sender<Job<R>>,
    capacity: usize,
    /// Jobs submitted and not yet done (queued or running).
    pending: Arc<AtomicUsize>,
    heartbeat: Arc<Heartbeat>,
}

impl<R> Clone for Writer<R> {
    fn clone(&self) -> Self {
        Writer {
            tx: self.tx.clone(),
            capacity: self.capacity,
            pending: self.pending.clone(),
            heartbeat: self.heartbeat.clone(),
        }
    }
}

impl<R: Send + 'static> Writer<R> {
    /// Starts the store thread at priority `nice` with a queue of
    /// `capacity` jobs. `reports` writes a group of reports (in queue
    /// order) and answers each, calling [`Done::one`] just before each
    /// answer.
    pub fn spawn(
        mut store: Store,
        nice: u8,
        capacity: usize,
        mut reports: impl FnMut(&mut Store, Vec<R>, &Done) + Send + 'static,
    ) -> Writer<R> {
        let capacity = capacity.max(1);
        let (tx, mut rx) = mpsc::channel::<Job<R>>(capacity);
        let pending = Arc::new(AtomicUsize::new(0));
        let done = Done {
            pending: pending.clone(),
            answered: std::cell::Cell::new(0),
        };
        let heartbeat = Arc::new(Heartbeat {
            epoch: crate::clock::monotonic(),
            at_ms: AtomicU64::new(0),
        });
        let beat = heartbeat.clone();
        let heartbeat_op = heartbeat.clone();
        let spawned = crate::sched::spawn_background("fadelist-store", nice, move || {
            let mut group: Vec<R> = Vec::new();
            // A panic in one job must not take the store thread with it
            // (reports, delistings and decay would stop for good): the
            // job's callers get 503 (their answer channels are dropped
            // during the unwind), its transaction rolls back with it, and
            // the thread carries on with the next job.
            let mut flush = |store: &mut Store, group: &mut Vec<R>| {
                if group.is_empty() {
                    return;
                }
                beat.beat();
                let n = group.len();
                done.answered.set(0);
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    reports(store, std::mem::take(group), &done)
                }));
                if run.is_err() {
                    let unanswered = n.saturating_sub(done.answered.get());
                    done.pending.fetch_sub(unanswered, Ordering::Relaxed);
                    error!(
                        unanswered,
                        "a group of reports panicked on the store thread: those not yet answered \
                         failed with 503; the store thread carries on"
                    );
                }
                beat.beat();
            };
            while let Some(first) = rx.blocking_recv() {
                let mut next = Some(first);
                while let Some(job) = next.take() {
                    match job {
                        Job::Report(r) => {
                            group.push(r);
                            if group.len() >= MAX_GROUP {
                                flush(&mut store, &mut group);
                            }
                        }
                        Job::Op(op) => {
                            // Earlier reports commit first: queue order is
                            // commit order.
                            flush(&mut store, &mut group);
                            heartbeat_op.beat();
                            // `run` catches panics of its own jobs; this
                            // is the net for anything else.
                            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                op(&mut store)
                            }))
                            .is_err()
                            {
                                error!("a store job panicked; the store thread carries on");
                            }
                            heartbeat_op.beat();
                        }
                    }
                    next = rx.try_recv().ok();
                }
                flush(&mut store, &mut group);
            }
        });
        if let Err(e) = spawned {
            // The receiver is dropped with the closure: every call then
            // fails with Gone (503) instead of hanging.
            error!("cannot start the store thread: {e}");
        }
        Writer {
            tx,
            capacity,
            pending,
            heartbeat,
        }
    }

    /// How long ago the store thread last started or finished a job (or
    /// started, when it never ran one).
    pub fn since_progress(&self) -> Duration {
        self.heartbeat.age()
    }

    /// Runs `f` on the store thread (waiting for room in the queue) and
    /// returns its result.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        self.run(f, true).await
    }

    /// Like [`Writer::call`], for the service's own upkeep (pruning): not
    /// counted in [`Writer::pending`], which says how many writes clients
    /// and operators are waiting for.
    pub async fn call_upkeep<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        self.run(f, false).await
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
        counted: bool,
    ) -> Result<T, ServiceError> {
        let (tx, rx) = oneshot::channel();
        let pending = counted.then(|| {
            self.pending.fetch_add(1, Ordering::Relaxed);
            self.pending.clone()
        });
        let sent = self
            .tx
            .send(Job::Op(Box::new(move |s: &mut Store| {
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(s)));
                // Done before the caller hears back: a status read after
                // the answer does not count this write any more.
                if let Some(p) = pending {
                    p.fetch_sub(1, Ordering::Relaxed);
                }
                match out {
                    Ok(out) => {
                        let _ = tx.send(out);
                    }
                    // Dropping `tx` answers Gone (503); the transaction
                    // the job had open was rolled back by the unwind.
                    Err(_) => error!(
                        "a store job panicked: its caller gets 503; the store thread carries on"
                    ),
                }
            })))
            .await;
        if sent.is_err() {
            if counted {
                self.pending.fetch_sub(1, Ordering::Relaxed);
            }
            return Err(ServiceError::Gone);
        }
        rx.await.map_err(|_| ServiceError::Gone)
    }

    /// Queues a report; [`ServiceError::Busy`] when the queue is full
    /// (the caller answers 503 rather than holding the report in memory).
    pub fn report(&self, job: R) -> Result<(), ServiceError> {
        self.pending.fetch_add(1, Ordering::Relaxed);
        self.tx.try_send(Job::Report(job)).map_err(|e| {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            match e {
                mpsc::error::TrySendError::Full(_) => ServiceError::Busy {
                    pending: self.capacity,
                },
                mpsc::error::TrySendError::Closed(_) => ServiceError::Gone,
            }
        })
    }

    /// Writes submitted and not finished yet: queued, or running on the
    /// store thread.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Jobs waiting in the queue.
    pub fn queued(&self) -> usize {
        self.capacity - self.tx.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Occupies the store thread until the returned sender is used or
    /// dropped; returns once the thread is inside the op.
    async fn hold(w: &Writer<u32>) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let (in_tx, in_rx) = oneshot::channel::<()>();
        let w = w.clone();
        let task = tokio::spawn(async move {
            w.call(move |_| {
                let _ = in_tx.send(());
                let _ = gate_rx.recv();
            })
            .await
            .unwrap();
        });
        in_rx.await.unwrap();
        (gate_tx, task)
    }

    #[tokio::test]
    async fn reports_queued_together_form_one_group_in_order() {
        let groups: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
        let g = groups.clone();
        let w = Writer::spawn(
            Store::open_in_memory().unwrap(),
            0,
            64,
            move |_s: &mut Store, batch: Vec<u32>, done: &Done| {
                for _ in &batch {
                    done.one();
                }
                g.lock().unwrap().push(batch)
            },
        );
        let (gate, held) = hold(&w).await;
        for i in 0..5 {
            w.report(i).unwrap();
        }
        // An op queued between reports: it must run between two groups.
        let w2 = w.clone();
        let seen = groups.clone();
        let between =
            tokio::spawn(async move { w2.call(move |_| seen.lock().unwrap().len()).await });
        while w.queued() < 6 {
            tokio::task::yield_now().await;
        }
        for i in 5..7 {
            w.report(i).unwrap();
        }
        gate.send(()).unwrap();
        held.await.unwrap();
        assert_eq!(
            between.await.unwrap().unwrap(),
            1,
            "the op ran after the first group"
        );
        w.call(|_| ()).await.unwrap();
        assert_eq!(
            *groups.lock().unwrap(),
            vec![vec![0, 1, 2, 3, 4], vec![5, 6]],
            "an op between reports splits the group; order kept"
        );
    }

    #[tokio::test]
    async fn a_full_queue_is_busy_not_unbounded() {
        let w = Writer::spawn(
            Store::open_in_memory().unwrap(),
            0,
            2,
            |_s, batch: Vec<u32>, done: &Done| batch.iter().for_each(|_| done.one()),
        );
        let (gate, held) = hold(&w).await;
        w.report(1).unwrap();
        w.report(2).unwrap();
        assert!(matches!(
            w.report(3),
            Err(ServiceError::Busy { pending: 2 })
        ));
        assert_eq!(w.pending(), 3, "the op and two reports");
        gate.send(()).unwrap();
        held.await.unwrap();
        // The op is done; the two reports leave the queue once the store
        // thread has written them (until then a third is still too many).
        while w.pending() > 0 {
            tokio::task::yield_now().await;
        }
        w.report(3).unwrap();
        w.call(|_| ()).await.unwrap();
        assert_eq!(w.pending(), 0, "the third was counted down too");
    }

    #[tokio::test]
    async fn upkeep_runs_in_queue_order_without_counting_as_pending() {
        let w = Writer::spawn(
            Store::open_in_memory().unwrap(),
            0,
            4,
            |_s, batch: Vec<u32>, done: &Done| batch.iter().for_each(|_| done.one()),
        );
        let (gate, held) = hold(&w).await;
        let w2 = w.clone();
        let upkeep = tokio::spawn(async move { w2.call_upkeep(|_| 7).await });
        while w.queued() < 1 {
            tokio::task::yield_now().await;
        }
        assert_eq!(w.pending(), 1, "the held op only");
        gate.send(()).unwrap();
        held.await.unwrap();
        assert_eq!(upkeep.await.unwrap().unwrap(), 7);
        assert_eq!(w.pending(), 0);
    }
    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_thread_carries_on() {
        // Reports 13 panic half way through their group, after the first
        // report of the group was answered.
        let answered: Arc<Mutex<Vec<u32>>> = Arc::default();
        let a = answered.clone();
        let w = Writer::spawn(
            Store::open_in_memory().unwrap(),
            0,
            64,
            move |_s: &mut Store, batch: Vec<u32>, done: &Done| {
                for r in batch {
                    assert_ne!(r, 13, "an injected bug");
                    done.one();
                    a.lock().unwrap().push(r);
                }
            },
        );
        // An op that panics: its caller gets Gone (503), nothing is left
        // pending.
        let r = w.call(|_| -> u32 { panic!("an injected bug") }).await;
        assert!(matches!(r, Err(ServiceError::Gone)), "{r:?}");
        assert_eq!(w.pending(), 0);
        // A report group that panics after its first report was answered.
        let (gate, held) = hold(&w).await;
        for r in [1, 13, 2] {
            w.report(r).unwrap();
        }
        gate.send(()).unwrap();
        held.await.unwrap();
        // The thread is alive: ops and reports still run.
        assert_eq!(w.call(|_| 7).await.unwrap(), 7);
        w.report(3).unwrap();
        w.call(|_| ()).await.unwrap();
        assert_eq!(*answered.lock().unwrap(), [1, 3]);
        assert_eq!(
            w.pending(),
            0,
            "the unanswered reports are not counted as pending forever"
        );
    }
}
