//! NOTIFY (RFC 1996): tell secondaries that a zone has a new serial, so
//! they transfer it now instead of at their next SOA refresh.
//!
//! The loop looks at the published snapshot once a second, which also
//! coalesces bursts of report-fed changes into at most one NOTIFY per zone
//! and secondary per second. Each NOTIFY is retried until the secondary
//! answers: after 2, 4, 8 and 16 s, then given up (RFC 1996 section 3.6
//! leaves the schedule to the operator and suggests 60 s; a DNSBL wants
//! its changes out in seconds, and the secondary's own SOA refresh stays
//! the fallback). A newer serial replaces a pending NOTIFY. With a key,
//! every NOTIFY is TSIG-signed and only a correctly signed answer counts.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use fadelist_core::zone_records;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::publisher::Publisher;
use crate::tsig::{self, Key, RequestMac};

/// Where and how to send NOTIFY.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyOptions {
    /// The secondaries.
    pub targets: Vec<SocketAddr>,
    /// Sign every NOTIFY with this key.
    pub key: Option<Key>,
}

/// Sends before a NOTIFY is given up.
const TRIES: u32 = 5;

struct Pending {
    zone: String,
    serial: u32,
    id: u16,
    tries: u32,
    next: Instant,
    mac: Option<RequestMac>,
}

/// The NOTIFY message for `zone` at `serial`: opcode NOTIFY, AA, one
/// question (zone, SOA) and the new SOA in the answer section as a hint.
pub fn notify_message(id: u16, zone: &fadelist_core::snapshot::Zone) -> Vec<u8> {
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(&id.to_be_bytes());
    m.push((4 << 3) | 0x04);
    m.push(0);
    m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    m.extend_from_slice(&zone_records::wire_name(zone.name()));
    m.extend_from_slice(&zone_records::TYPE_SOA.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    let rdata = zone_records::soa_rdata(zone);
    m.extend_from_slice(&[0xc0, 12]);
    m.extend_from_slice(&zone_records::TYPE_SOA.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m.extend_from_slice(&zone.soa.ttl.to_be_bytes());
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(&rdata);
    m
}

/// Sends NOTIFY to every target for every new serial of every zone, until
/// `shutdown`. The serials being served at the start are announced too
/// (a restarted primary may have changes its secondaries have not seen).
pub async fn notify_loop(
    publisher: Publisher,
    options: NotifyOptions,
    shutdown: CancellationToken,
) {
    if options.targets.is_empty() {
        return;
    }
    let v4 = UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)).await;
    let v6 = UdpSocket::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)).await;
    let (v4, v6) = (v4.ok(), v6.ok());
    if v4.is_none() && v6.is_none() {
        warn!("NOTIFY: cannot open a UDP socket; secondaries rely on their SOA refresh");
        return;
    }
    info!(targets = ?options.targets, signed = options.key.is_some(), "NOTIFY on every new serial");
    let mut announced: HashMap<(String, SocketAddr), u32> = HashMap::new();
    let mut pending: HashMap<SocketAddr, Vec<Pending>> = HashMap::new();
    let mut ids = IdSource::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf4 = vec![0u8; 4096];
    let mut buf6 = vec![0u8; 4096];
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
            r = recv(v4.as_ref(), &mut buf4) => {
                if let Ok((n, from)) = r { answered(&mut pending, &buf4[..n], from); }
                continue;
            }
            r = recv(v6.as_ref(), &mut buf6) => {
                if let Ok((n, from)) = r { answered(&mut pending, &buf6[..n], from); }
                continue;
            }
        }
        let snapshot = publisher.snapshot();
        let now = Instant::now();
        // A zone without data has no serial worth announcing.
        for zone in snapshot.zones.iter().filter(|z| !z.unavailable) {
            for &target in &options.targets {
                let key = (zone.name().to_string(), target);
                if announced.get(&key) == Some(&zone.soa.serial) {
                    continue;
                }
                announced.insert(key, zone.soa.serial);
                let list = pending.entry(target).or_default();
                list.retain(|p| p.zone != zone.name());
                list.push(Pending {
                    zone: zone.name().to_string(),
                    serial: zone.soa.serial,
                    id: ids.next(),
                    tries: 0,
                    next: now,
                    mac: None,
                });
            }
        }
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for (&target, list) in pending.iter_mut() {
            list.retain_mut(|p| {
                if p.next > now {
                    return true;
                }
                if p.tries == TRIES {
                    warn!(%target, zone = %p.zone, serial = p.serial, "NOTIFY not answered after {TRIES} tries; the secondary's SOA refresh will find the change");
                    return false;
                }
                let Some(zone) = snapshot.zones.iter().find(|z| z.name() == p.zone) else {
                    return false;
                };
                let mut msg = notify_message(p.id, zone);
                if let Some(k) = &options.key {
                    match tsig::sign_request(&mut msg, k, unix) {
                        Ok(mac) => p.mac = Some(mac),
                        Err(e) => {
                            warn!(zone = %p.zone, "NOTIFY cannot be signed: {e}");
                            return false;
                        }
                    }
                }
                let socket = if target.is_ipv4() { v4.as_ref() } else { v6.as_ref() };
                if let Some(s) = socket
                    && let Err(e) = s.try_send_to(&msg, target)
                {
                    debug!(%target, zone = %p.zone, "NOTIFY send failed: {e}");
                }
                p.tries += 1;
                p.next = now + Duration::from_secs(1 << p.tries);
                debug!(%target, zone = %p.zone, serial = p.serial, try_ = p.tries, "NOTIFY sent");
                true
            });
        }
    }
}

async fn recv(socket: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// A reply from `from`: the matching NOTIFY is done (when its TSIG, if
/// any, verifies).
fn answered(pending: &mut HashMap<SocketAddr, Vec<Pending>>, msg: &[u8], from: SocketAddr) {
    if msg.len() < 12 || msg[2] & 0x80 == 0 || (msg[2] >> 3) & 0xf != 4 {
        return;
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let Some(list) = pending.get_mut(&from) else {
        return;
    };
    let Some(i) = list.iter().position(|p| p.id == id) else {
        return;
    };
    let p = &list[i];
    if let Some(mac) = &p.mac {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Err(e) = mac.verifier().verify(msg, unix) {
            warn!(%from, zone = %p.zone, "NOTIFY answer with a bad TSIG, ignored: {e}");
            return;
        }
    }
    let rcode = msg[3] & 0xf;
    if rcode == 0 {
        debug!(%from, zone = %p.zone, serial = p.serial, "NOTIFY acknowledged");
    } else {
        warn!(%from, zone = %p.zone, rcode, "NOTIFY refused by the secondary (is the primary in its allow-notify / acl?)");
    }
    list.remove(i);
}

/// Message IDs that a third party cannot guess from the previous ones
/// (a forged answer would only cancel the retries).
pub(crate) struct IdSource(u64);

impl IdSource {
    pub(crate) fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        IdSource(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u16 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fadelist_core::snapshot::{Soa, Zone};

    #[test]
    fn the_message_is_a_notify_with_the_soa() {
        let zone = Zone::new(
            "bl.example",
            Soa::default_for("bl.example", 42),
            vec![],
            60,
            vec![],
        )
        .unwrap();
        let m = notify_message(0xbeef, &zone);
        let parsed = hickory_proto::op::Message::from_vec(&m).unwrap();
        assert_eq!(parsed.metadata.id, 0xbeef);
        assert_eq!(parsed.metadata.op_code, hickory_proto::op::OpCode::Notify);
        assert!(parsed.metadata.authoritative);
        assert_eq!(parsed.queries[0].name().to_ascii(), "bl.example.");
        assert_eq!(parsed.answers.len(), 1);
        let text = parsed.answers[0].to_string();
        assert!(text.contains(" 42 "), "{text}");
    }
}
