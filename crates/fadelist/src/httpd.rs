//! The HTTP front: the accept loop that serves a [`Router`] on a listener,
//! in place of `axum::serve`, with the limits a public server needs.
//!
//! `axum::serve` has no timeouts and no connection cap: a client holding
//! half a request head kept its connection, and its descriptor, forever,
//! and a few hundred of them took the descriptors DNS needed. Here:
//!
//! - **Connections are capped**, globally (a semaphore: at the cap, new
//!   connections wait in the kernel's listen backlog, which costs no
//!   descriptor) and per client address (an IPv6 /64; over it the
//!   connection gets a short 503 and is closed; trusted proxies are
//!   exempt). [`crate::run`] keeps the global cap within half the
//!   descriptors beyond a reserve ([`http_connection_budget`]).
//! - **Timeouts**: hyper's header read timeout (the head must arrive within
//!   `http_header_timeout`, also while a kept-alive connection waits for
//!   its next request), a body deadline (every request body is a
//!   [`DeadlineBody`]: reading it fails with [`BodyTimeout`] after
//!   `http_body_timeout`) and an idle timeout (a kept-alive connection with
//!   no request in progress is closed after `http_idle_timeout`).
//! - **Lingering close**: a handler may answer (401, 413) without reading a
//!   body; closing at once would make the kernel reset the connection and
//!   the client could lose the answer, so the write side is shut first and
//!   what the client still sends is read and dropped, for a bounded time.
//! - **Graceful shutdown** as before: on the token, stop accepting, let
//!   requests in progress finish, close idle connections, wait for all.
//!
//! HTTP/1.1 only: the public side is meant to sit behind a reverse proxy or
//! be reached by mail filters and browsers, all of which speak it.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use http_body::Frame;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::{debug, info, warn};

use crate::client::{ClientKey, Proxies};
use crate::limits::{Held, InFlight};

/// Descriptors never given to HTTP: listeners, SQLite (the writer and each
/// reader: database, WAL, shared memory), data files being reloaded, the
/// runtime's epoll and eventfds, stdio.
pub const FD_RESERVE: u64 = 64;

/// Connections of the admin API (one operator's tools) at most.
pub const ADMIN_CONNECTIONS: usize = 16;

/// How long a closing connection still reads (and drops) what its client
/// sends, and how much, so the client sees the answer instead of a reset.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;

/// What a client over its connection cap reads before the connection is
/// closed.
const TOO_MANY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 111\r\n\r\n\
{\"error\":\"too_many_connections\",\"message\":\"too many open connections from your address; close some and retry\"}\n";

/// How many HTTP connections (public and admin together) the descriptor
/// limit `nofile` allows: half of what is left beyond [`FD_RESERVE`]. The
/// other half stays for DNS over TCP, so that neither side can take the
/// other's descriptors.
pub fn http_connection_budget(nofile: u64) -> usize {
    usize::try_from(nofile.saturating_sub(FD_RESERVE) / 2).unwrap_or(usize::MAX)
}

/// The limits of one HTTP front.
#[derive(Debug, Clone)]
pub struct FrontLimits {
    /// Name in log lines ("HTTP", "admin API").
    pub name: &'static str,
    /// Time allowed for a request head (and for the next one on a kept-alive
    /// connection).
    pub header_timeout: Duration,
    /// Time allowed for a request body after its head.
    pub body_timeout: Duration,
    /// A kept-alive connection with no request in progress is closed after
    /// this.
    pub idle_timeout: Duration,
    /// Connections at once.
    pub max_connections: usize,
    /// Connections at once per client address (IPv6: per /64), and the
    /// proxies exempt from it; `None`: no per-client cap.
    pub per_client: Option<(usize, Proxies)>,
}

/// Serves `router` on `listener` within `limits` until `shutdown`, then
/// drains: requests in progress finish, idle connections close, and this
/// returns once every connection has ended.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: FrontLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (per_client, exempt) = match &limits.per_client {
        Some((n, proxies)) => (Some(InFlight::new(*n as u64)), proxies.clone()),
        None => (None, Proxies::default()),
    };
    let tracker = TaskTracker::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let limits = Arc::new(limits);
    let mut last_warning: Option<Instant> = None;
    loop {
        // At the cap, wait here: further clients queue in the listen
        // backlog, which holds no descriptor of ours.
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(a) => a,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of descriptors or memory: log now and then,
                        // pause, and let connections end.
                        if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                            warn!("{}: accept failed: {e}", limits.name);
                            last_warning = Some(Instant::now());
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
        };
        let held = match &per_client {
            Some(table) if !exempt.trusts(peer.ip()) => {
                match table.try_take(&ClientKey::from(peer.ip()), 1) {
                    Some(h) => Some(h),
                    None => {
                        debug!("{}: {peer} is over its connection cap", limits.name);
                        // Best effort, without waiting: the socket's send
                        // buffer is empty, so the short answer fits.
                        let _ = stream.try_write(TOO_MANY);
                        continue;
                    }
                }
            }
            _ => None,
        };
        tracker.spawn(connection(
            stream,
            peer,
            router.clone(),
            builder.clone(),
            limits.clone(),
            shutdown.clone(),
            (permit, held),
        ));
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
    info!("{}: stopped", limits.name);
    Ok(())
}

/// Errors of one incoming connection (the client gave up before we
/// accepted it), not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Whether a request is in progress on a connection, and since when it
/// has been idle.
#[derive(Debug)]
struct Activity {
    busy: AtomicUsize,
    idle_since: Mutex<Instant>,
    changed: Notify,
}

/// A request in progress; the connection is idle again when it drops.
struct Busy(Arc<Activity>);

impl Activity {
    fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_one();
        Busy(self.clone())
    }

    /// When the idle timeout ends, or `None` while a request is in progress.
    fn idle_deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(*self.idle_since.lock().unwrap_or_else(|p| p.into_inner()) + timeout)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_one();
    }
}

/// Serves one connection; `_held` (the global permit and the per-client
/// count) is given back when it ends.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: http1::Builder,
    limits: Arc<FrontLimits>,
    shutdown: CancellationToken,
    _held: (OwnedSemaphorePermit, Option<Held<ClientKey>>),
) {
    let activity = Arc::new(Activity {
        busy: AtomicUsize::new(0),
        idle_since: Mutex::new(Instant::now()),
        changed: Notify::new(),
    });
    let body_timeout = limits.body_timeout;
    let svc = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let busy = activity.begin();
            let mut req = req.map(|b| Body::new(DeadlineBody::new(b, body_timeout)));
            req.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            let fut: Pin<
                Box<dyn Future<Output = Result<axum::response::Response, Infallible>> + Send>,
            > = Box::pin(async move {
                let r = router.oneshot(req).await;
                drop(busy);
                r
            });
            fut
        })
    };
    let mut conn = builder.serve_connection(TokioIo::new(stream), svc);
    let mut closing = false;
    let result = loop {
        let idle_at = if closing {
            None
        } else {
            activity.idle_deadline(limits.idle_timeout)
        };
        tokio::select! {
            r = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => break r,
            _ = shutdown.cancelled(), if !closing => {
                // Idle: closes now; mid-request: after the answer.
                Pin::new(&mut conn).graceful_shutdown();
                closing = true;
            }
            _ = tokio::time::sleep_until(idle_at.unwrap_or_else(Instant::now)), if idle_at.is_some() => {
                Pin::new(&mut conn).graceful_shutdown();
                closing = true;
            }
            _ = activity.changed.notified() => {}
        }
    };
    match result {
        Ok(()) => linger(conn.into_parts().io.into_inner()).await,
        // Header timeout, a malformed request, a reset: nothing to save.
        Err(e) => debug!("{}: connection from {peer}: {e}", limits.name),
    }
}

/// Shuts the write side (the client sees the end of our answers) and reads
/// what the client still sends, up to [`LINGER_BYTES`] for
/// [`LINGER_TIME`], before closing: closing with unread input would reset
/// the connection, and the reset can destroy the answer in the client's
/// buffers.
async fn linger(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut buf = [0u8; 8192];
    let mut left = LINGER_BYTES;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while left > 0 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// Reading a request body took longer than `http_body_timeout`.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} s",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for BodyTimeout {}

impl BodyTimeout {
    /// Whether `e` (as the body of a request reports it) is a
    /// [`BodyTimeout`].
    pub fn is(e: &axum::Error) -> bool {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = source {
            if s.is::<BodyTimeout>() {
                return true;
            }
            source = s.source();
        }
        false
    }
}

/// A request body that fails with [`BodyTimeout`] once its deadline has
/// passed. The timer is only set when a read has to wait, so bodies that
/// are already there (and requests without one) cost nothing.
pub struct DeadlineBody<B> {
    inner: B,
    timeout: Duration,
    deadline: Instant,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> DeadlineBody<B> {
    /// `inner`, to be read within `timeout` from now.
    pub fn new(inner: B, timeout: Duration) -> Self {
        DeadlineBody {
            inner,
            timeout,
            deadline: Instant::now() + timeout,
            sleep: None,
        }
    }
}

impl<B> http_body::Body for DeadlineBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(f) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(f.map(|r| r.map_err(Into::into)));
        }
        let deadline = self.deadline;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(self.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn half_the_descriptors_beyond_the_reserve() {
        assert_eq!(http_connection_budget(256), 96);
        assert_eq!(http_connection_budget(1024), 480);
        assert_eq!(http_connection_budget(10), 0);
    }

    #[test]
    fn the_refusal_is_well_formed() {
        let text = std::str::from_utf8(TOO_MANY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), len);
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"], "too_many_connections");
    }

    /// One frame, then nothing, ever.
    struct Stalling(bool);

    impl http_body::Body for Stalling {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            if std::mem::replace(&mut self.0, true) {
                Poll::Pending
            } else {
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"abc")))))
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_times_out() {
        let mut b = DeadlineBody::new(Stalling(false), Duration::from_secs(5));
        let f = b.frame().await.unwrap().unwrap();
        assert_eq!(f.into_data().unwrap(), "abc");
        // Nothing more comes: the paused clock runs to the deadline.
        let e = b.frame().await.unwrap().unwrap_err();
        assert!(e.is::<BodyTimeout>(), "{e}");
        let e = axum::Error::new(e);
        assert!(BodyTimeout::is(&e));
    }

    #[tokio::test(start_paused = true)]
    async fn a_complete_body_does_not_time_out() {
        let mut b = DeadlineBody::new(Body::from("all of it"), Duration::from_secs(5));
        tokio::time::advance(Duration::from_secs(60)).await;
        let all = b.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(all, "all of it");
        assert!(b.frame().await.is_none());
    }
}
