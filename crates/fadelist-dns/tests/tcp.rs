//! The fast TCP front's connection handling, over real sockets: answers
//! to messages split across reads, the idle timeout (also against a client
//! that trickles bytes), the connection limit and the per-client cap. What
//! the answers say is covered by `differential.rs`.

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
    start_capped(
        idle,
        max_connections,
        server::DnsOptions::default().tcp_max_per_client,
    )
}

fn start_capped(idle: Duration, max_connections: usize, per_client: usize) -> Front {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = DnsOptions {
        workers: 1,
        tcp_mode: TcpMode::Fast,
        tcp_max_connections: max_connections,
        tcp_max_per_client: per_client,
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

/// A connection to `to` from the loopback address `from` (127.0.0.0/8 is
/// all ours on Linux, so tests can be several clients).
fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::from((from, 0)).into()).unwrap();
    s.connect(&to.into()).unwrap();
    s.into()
}

/// Sends query `id` and waits for its reply.
fn served(s: &mut TcpStream, id: u16) -> bool {
    s.write_all(&framed_query(id)).is_ok()
        && read_reply(s, Duration::from_secs(2))
            .is_some_and(|r| u16::from_be_bytes([r[0], r[1]]) == id)
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

#[test]
fn a_client_at_its_cap_loses_its_least_active_connection() {
    let front = start_capped(Duration::from_secs(30), 8, 3);
    let mut c: Vec<TcpStream> = (0..3)
        .map(|_| connect_from([127, 0, 0, 3], front.addr))
        .collect();
    for (i, s) in c.iter_mut().enumerate() {
        assert!(served(s, i as u16));
    }
    // The first becomes the most recently active; the second is now the
    // least.
    std::thread::sleep(Duration::from_millis(20));
    assert!(served(&mut c[0], 10));
    let mut fourth = connect_from([127, 0, 0, 3], front.addr);
    assert!(served(&mut fourth, 4), "the new connection is served");
    assert!(
        closed_within(&mut c[1], Duration::from_secs(5)),
        "the least active one is closed"
    );
    assert!(served(&mut c[0], 11));
    assert!(served(&mut c[2], 12));
    front.stop();
}

#[test]
fn an_idle_connection_flood_from_one_address_leaves_room_for_others() {
    // Global cap 8, 3 per client: 100 idle connections from 127.0.0.3
    // would take every slot without the per-client cap.
    let front = start_capped(Duration::from_secs(30), 8, 3);
    let mut flood: Vec<TcpStream> = (0..100)
        .map(|_| connect_from([127, 0, 0, 3], front.addr))
        .collect();
    let mut other = connect_from([127, 0, 0, 4], front.addr);
    assert!(
        served(&mut other, 1),
        "another address is served during the flood"
    );
    // The flood keeps 3 connections at most: all but the last few are
    // closed (the server takes them in order from its backlog).
    let open: Vec<usize> = flood
        .iter_mut()
        .enumerate()
        .filter_map(|(i, s)| (!closed_within(s, Duration::from_millis(300))).then_some(i))
        .collect();
    assert!(open.len() <= 3, "{open:?}");
    for &i in &open {
        assert!(served(&mut flood[i], i as u16));
    }
    // Several more clients at once, each from its own address.
    let mut others: Vec<TcpStream> = (5..9)
        .map(|n| connect_from([127, 0, 0, n], front.addr))
        .collect();
    for (i, s) in others.iter_mut().enumerate() {
        assert!(served(s, 100 + i as u16));
    }
    front.stop();
}
