//! The fast TCP front's connection handling, over real sockets: answers
//! to messages split across reads, the idle timeout (also against a client
//! that trickles bytes), and the connection limit. What the answers say is
//! covered by `differential.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use fadelist_core::snapshot::Snapshot;
use fadelist_dns::Publisher;
use fadelist_dns::server::{self, DnsOptions, TcpMode};
use tokio_util::sync::CancellationToken;

struct Front {
    addr: SocketAddr,
    shutdown: CancellationToken,
    runtime: tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn start(idle: Duration, max_connections: usize) -> Front {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = DnsOptions {
        workers: 1,
        tcp_mode: TcpMode::Fast,
        tcp_max_connections: max_connections,
        ..DnsOptions::default()
    };
    let listeners = server::bind_with(&[SocketAddr::from(([127, 0, 0, 1], 0))], options).unwrap();
    let addr = listeners.local_addrs().unwrap()[0];
    let shutdown = CancellationToken::new();
    // No zones: every query is REFUSED, which is all these tests need.
    let task = runtime.spawn(server::serve(
        listeners,
        Publisher::new(Snapshot::default()),
        idle,
        shutdown.clone(),
    ));
    Front {
        addr,
        shutdown,
        runtime,
        task,
    }
}

impl Front {
    fn stop(self) {
        self.shutdown.cancel();
        self.runtime.block_on(self.task).unwrap().unwrap();
    }
}

/// A query for `example.` type A with id `id`, length-prefixed.
fn framed_query(id: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(b"\x07example\x00\x00\x01\x00\x01");
    let mut f = (m.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(&m);
    f
}

/// Reads one length-prefixed reply; `None` when the server closed the
/// connection (or nothing came within `wait`).
fn read_reply(s: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut msg).ok()?;
    Some(msg)
}

/// True when the server has closed `s` (EOF or reset) within `wait`.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
        ),
    }
}

#[test]
fn answers_messages_split_across_reads_in_order() {
    let front = start(Duration::from_secs(5), 16);
    let mut s = TcpStream::connect(front.addr).unwrap();
    s.set_nodelay(true).unwrap();
    let wire: Vec<u8> = (0..50).flat_map(framed_query).collect();
    // Byte by byte for the first message, then uneven pieces.
    for b in &wire[..framed_query(0).len()] {
        s.write_all(std::slice::from_ref(b)).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    for piece in wire[framed_query(0).len()..].chunks(37) {
        s.write_all(piece).unwrap();
    }
    for id in 0..50u16 {
        let r = read_reply(&mut s, Duration::from_secs(5)).expect("a reply");
        assert_eq!(u16::from_be_bytes([r[0], r[1]]), id, "replies in order");
        assert_eq!(r[2] & 0x80, 0x80, "QR");
        assert_eq!(r[3] & 0x0f, 5, "REFUSED: no such zone");
        assert_eq!(r[2] & 0x02, 0, "TC is never set on TCP");
    }
    front.stop();
}

#[test]
fn idle_and_trickling_connections_are_closed() {
    let idle = Duration::from_millis(400);
    let front = start(idle, 16);
    // Silent client.
    let mut quiet = TcpStream::connect(front.addr).unwrap();
    let t0 = Instant::now();
    assert!(closed_within(&mut quiet, Duration::from_secs(5)));
    assert!(t0.elapsed() >= idle - Duration::from_millis(50));
    // A client that keeps sending single bytes of a message that never
    // completes is closed as well: only whole messages count as activity.
    let mut slow = TcpStream::connect(front.addr).unwrap();
    let frame = framed_query(7);
    let t0 = Instant::now();
    let mut closed = false;
    // Writes keep succeeding until the server has closed and reset the
    // connection; give it five idle periods of trickling.
    for b in frame.iter().take(frame.len() - 1).cycle() {
        if slow.write_all(std::slice::from_ref(b)).is_err() {
            closed = true;
            break;
        }
        if t0.elapsed() > idle * 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(closed, "a trickling client kept its connection");
    // A client that sends whole messages stays connected past the timeout.
    let mut busy = TcpStream::connect(front.addr).unwrap();
    for id in 0..8 {
        busy.write_all(&framed_query(id)).unwrap();
        assert!(read_reply(&mut busy, Duration::from_secs(2)).is_some());
        std::thread::sleep(idle / 4);
    }
    front.stop();
}

#[test]
fn connections_over_the_limit_wait_for_a_free_slot() {
    let front = start(Duration::from_secs(5), 2);
    let mut a = TcpStream::connect(front.addr).unwrap();
    let mut b = TcpStream::connect(front.addr).unwrap();
    for s in [&mut a, &mut b] {
        s.write_all(&framed_query(1)).unwrap();
        assert!(read_reply(s, Duration::from_secs(2)).is_some());
    }
    // The third connects (the kernel's backlog) but is not served...
    let mut c = TcpStream::connect(front.addr).unwrap();
    c.write_all(&framed_query(3)).unwrap();
    assert!(read_reply(&mut c, Duration::from_millis(500)).is_none());
    // ...until another connection closes.
    drop(a);
    let r = read_reply(&mut c, Duration::from_secs(5)).expect("served after a slot freed");
    assert_eq!(u16::from_be_bytes([r[0], r[1]]), 3);
    b.write_all(&framed_query(2)).unwrap();
    assert!(read_reply(&mut b, Duration::from_secs(2)).is_some());
    front.stop();
}
