//! Binding and running the DNS listeners.
//!
//! UDP and TCP listen on the same address and port, as resolvers expect
//! (they retry truncated UDP answers over TCP to the same server). Binding
//! is separate from serving so that callers (and tests) can bind port 0,
//! learn the real ports, print them, and only then start serving.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::handler::DnsblHandler;
use crate::publisher::Publisher;

/// Bound but not yet serving DNS sockets.
#[derive(Debug)]
pub struct DnsListeners {
    udp: Vec<std::net::UdpSocket>,
    tcp: Vec<std::net::TcpListener>,
}

impl DnsListeners {
    /// The addresses actually bound (one per requested address; UDP and
    /// TCP share it).
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.udp.iter().map(|s| s.local_addr()).collect()
    }
}

fn udp_socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    // A bigger receive buffer absorbs bursts from busy resolvers; the
    // kernel caps it at net.core.rmem_max, which is fine.
    let _ = s.set_recv_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

fn tcp_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Binds UDP and TCP on each address. Port 0 picks a free port that is
/// free for both protocols.
pub fn bind(addrs: &[SocketAddr]) -> io::Result<DnsListeners> {
    let mut out = DnsListeners {
        udp: Vec::new(),
        tcp: Vec::new(),
    };
    for &addr in addrs {
        let mut attempts = 0;
        loop {
            let udp = udp_socket(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("DNS UDP {addr}: {e}")))?;
            let bound = udp.local_addr()?;
            match tcp_listener(bound) {
                Ok(tcp) => {
                    out.udp.push(udp);
                    out.tcp.push(tcp);
                    break;
                }
                // The ephemeral UDP port is taken on TCP: try another one.
                Err(e) if addr.port() == 0 && attempts < 20 => {
                    attempts += 1;
                    tracing::debug!(%bound, error = %e, "TCP port busy, retrying");
                }
                Err(e) => {
                    return Err(io::Error::new(e.kind(), format!("DNS TCP {bound}: {e}")));
                }
            }
        }
    }
    Ok(out)
}

/// Serves DNS on `listeners` from `publisher` until `shutdown` is
/// cancelled, then waits for in-flight requests to finish.
pub async fn serve(
    listeners: DnsListeners,
    publisher: Publisher,
    tcp_idle_timeout: Duration,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let mut server = hickory_server::Server::new(DnsblHandler::new(publisher));
    for udp in listeners.udp {
        let addr = udp.local_addr()?;
        server.register_socket(tokio::net::UdpSocket::from_std(udp)?);
        info!(%addr, "DNS listening on UDP");
    }
    for tcp in listeners.tcp {
        let addr = tcp.local_addr()?;
        // 64 KiB: room for the largest DNS message per connection.
        server.register_listener(
            tokio::net::TcpListener::from_std(tcp)?,
            tcp_idle_timeout,
            65_535,
        );
        info!(%addr, "DNS listening on TCP");
    }
    shutdown.cancelled().await;
    server
        .shutdown_gracefully()
        .await
        .map_err(|e| io::Error::other(format!("DNS server: {e}")))
}
