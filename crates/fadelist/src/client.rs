//! Who the client is: its address (through trusted reverse proxies only)
//! and the key its limits are counted under.
//!
//! Behind a reverse proxy every connection comes from the proxy, so the
//! socket's address would put all clients in one bucket; the proxy names
//! the real client in a header. Anyone can send that header, so it is read
//! only when the connection comes from a configured proxy
//! (`[web] trusted_proxies`), and only the header those proxies write
//! (`[web] proxy_header`). Walking the header from the right, each hop that
//! is itself a trusted proxy is skipped; the first that is not is the
//! client (what a client wrote further left is ignored: it could be
//! anything).
//!
//! Limits count an IPv6 client per /64: one host usually has a whole /64
//! to pick addresses from, so counting per /128 would count nothing.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::app::App;
use crate::config::ProxyHeader;

/// The key a client's limits are counted under: its IPv4 address, or
/// the /64 of its IPv6 address (IPv4-mapped IPv6 counts as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// An IPv4 client.
    V4(u32),
    /// The first 64 bits of an IPv6 client.
    V6(u64),
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(u32::from(v4)),
                None => ClientKey::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientKey::V4(a) => write!(f, "{}", std::net::Ipv4Addr::from(*a)),
            ClientKey::V6(p) => write!(f, "{}/64", Ipv6Addr::from(u128::from(*p) << 64)),
        }
    }
}

/// The trusted reverse proxies and the header they write.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    nets: Vec<IpNet>,
    header: ProxyHeader,
}

impl Proxies {
    /// Proxies in `nets` writing `header`.
    pub fn new(nets: Vec<IpNet>, header: ProxyHeader) -> Self {
        Proxies { nets, header }
    }

    /// Whether `ip` is a trusted proxy (IPv4-mapped IPv6 as IPv4).
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client's address for a connection from `peer` carrying
    /// `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops = match self.header {
            ProxyHeader::XForwardedFor => x_forwarded_for(headers),
            ProxyHeader::Forwarded => forwarded(headers),
        };
        // From the right: the nearest proxy wrote the last entry.
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.trusts(*ip) => client = *ip,
                Some(ip) => return *ip,
                // "unknown", an obfuscated name or garbage: nothing to the
                // left of it can be trusted; the proxy that wrote it is
                // the best we know.
                None => return client,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack socket reports
/// for IPv4 peers) as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The values of every `name` header, in order, split at commas outside
/// quoted strings.
fn elements<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for v in headers.get_all(name) {
        let Ok(v) = v.to_str() else {
            // Not text: one element nothing can be read from.
            out.push("");
            continue;
        };
        let mut start = 0;
        let mut quoted = false;
        for (i, c) in v.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    out.push(v[start..i].trim());
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(v[start..].trim());
    }
    out
}

/// `X-Forwarded-For: 192.0.2.1, [2001:db8::1]:443, 198.51.100.2:8080`: each
/// hop's address, `None` where it is not one.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    elements(headers, "x-forwarded-for")
        .into_iter()
        .map(node_ip)
        .collect()
}

/// RFC 7239 `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::17]:4711"`:
/// each element's `for` address; `None` where it is missing, `unknown` or
/// an obfuscated identifier.
fn forwarded(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    elements(headers, "forwarded")
        .into_iter()
        .map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| node_ip(v.trim().trim_matches('"')))
                    .flatten()
            })
        })
        .collect()
}

/// A node as proxies write it: `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:80`.
fn node_ip(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (v6, _port) = rest.split_once(']')?;
        return v6
            .parse::<Ipv6Addr>()
            .ok()
            .map(|a| canonical(IpAddr::V6(a)));
    }
    node.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// The client of a request (see the module header): an extractor for the
/// handlers that record or limit clients. Needs the connection's
/// `ConnectInfo`, which the HTTP front adds to every request.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    /// The client's address (recorded, e.g. with a delisting request).
    pub ip: IpAddr,
    /// What its limits are counted under.
    pub key: ClientKey,
}

impl FromRequestParts<Arc<App>> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let ip = app.proxies.client(peer, &parts.headers);
        Ok(Client {
            ip,
            key: ClientKey::from(ip),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn proxies(nets: &[&str], header: ProxyHeader) -> Proxies {
        Proxies::new(nets.iter().map(|n| n.parse().unwrap()).collect(), header)
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let a = ClientKey::from(ip("2001:db8:1:2:aaaa::1"));
        let b = ClientKey::from(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        let c = ClientKey::from(ip("2001:db8:1:3::1"));
        assert_eq!(a, b, "same /64");
        assert_ne!(a, c, "next /64");
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(
            ClientKey::from(ip("::ffff:192.0.2.7")),
            ClientKey::from(ip("192.0.2.7")),
            "IPv4-mapped is IPv4"
        );
        assert_ne!(
            ClientKey::from(ip("192.0.2.7")),
            ClientKey::from(ip("192.0.2.8")),
            "IPv4 per address"
        );
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(p.client(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        assert_eq!(p.client(ip("10.1.2.3"), &h), ip("198.51.100.7"));
        let none = Proxies::default();
        assert_eq!(none.client(ip("10.1.2.3"), &h), ip("10.1.2.3"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let p = proxies(
            &["10.0.0.0/8", "2001:db8:ff::/48"],
            ProxyHeader::XForwardedFor,
        );
        // The client forged the first entry; our two proxies appended.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        // Several header lines are one list.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "[2001:db8::5]:443, 10.0.0.2:8080"),
        ]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("2001:db8::5"));
        // Only proxies: the farthest one.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.9.9.9"));
        // Garbage where the client should be: the proxy that wrote it.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, nonsense, 10.0.0.2")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.2"));
        // No header: the proxy itself.
        assert_eq!(p.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        // A dual-stack socket's IPv4-mapped peer is the IPv4 proxy.
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(p.client(ip("::ffff:10.0.0.1"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn rfc_7239_forwarded() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::Forwarded);
        let h = headers(&[(
            "forwarded",
            r#"for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https, For=10.0.0.3;by=10.0.0.1"#,
        )]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", r#"for="192.0.2.60:80";proto=http"#)]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("192.0.2.60"));
        let h = headers(&[("forwarded", "for=unknown, for=10.0.0.3")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.3"));
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        // The header not configured is ignored: a client could send it.
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }
}
