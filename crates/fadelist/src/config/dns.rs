//! The DNS abuse controls of the configuration: `[rrl]` (response-rate
//! limiting), `[dns_quota]` (daily query quotas), the dataset kinds a zone
//! can hold (the rbldnsd data types and the querier `acl`), and the DNS
//! front's options built from all of it. User documentation:
//! `docs/internet-dns.md`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use fadelist_core::dataset::acl::Acl;
use fadelist_core::rbldnsd::{self, DatasetType};
use fadelist_dns::fast::{Networks, QuotaOptions, RrlOptions};
use serde::{Deserialize, Deserializer};

use super::{Config, TcpModeConfig, UdpModeConfig, duration};

/// What a `[[zone.dataset]]` (or a `--zone name:type:file` spec) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    /// Listed data in one of the rbldnsd data types.
    Data(DatasetType),
    /// rbldnsd's `acl`: which *clients* get what (`:ignore`, `:refuse`,
    /// `:empty`, `:pass` or an A:TXT answer for every name); at most one
    /// per zone.
    Acl,
}

impl DatasetKind {
    /// The name rbldnsd uses (`ip4set`, …, `acl`).
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Data(t) => t.name(),
            DatasetKind::Acl => "acl",
        }
    }
}

/// Parses a dataset type name as rbldnsd spells it (`acl` included).
pub fn parse_dataset_kind(s: &str) -> anyhow::Result<DatasetKind> {
    if s.eq_ignore_ascii_case("acl") {
        return Ok(DatasetKind::Acl);
    }
    DatasetType::from_name(s)
        .map(DatasetKind::Data)
        .with_context(|| {
            let all: Vec<&str> = DatasetType::ALL.iter().map(|t| t.name()).collect();
            format!(
                "unknown dataset type {s:?} (supported: {}, acl)",
                all.join(", ")
            )
        })
}

pub(super) fn dataset_kind<'de, D: Deserializer<'de>>(d: D) -> Result<DatasetKind, D::Error> {
    let s = String::deserialize(d)?;
    parse_dataset_kind(&s).map_err(serde::de::Error::custom)
}

/// A network in a list: `192.0.2.0/24`, `2001:db8::/32`, or a bare
/// address (its /32 or /128). Host bits are refused.
fn parse_network(s: &str) -> anyhow::Result<(IpAddr, u8)> {
    let s = s.trim();
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr
        .parse()
        .with_context(|| format!("{s:?} is not an IP address or CIDR"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|&l| l <= max)
            .with_context(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
    };
    let (bits, host_mask) = match ip {
        IpAddr::V4(a) => (
            u128::from(u32::from(a)),
            u32::MAX.checked_shr(u32::from(len)).map_or(0, u128::from),
        ),
        IpAddr::V6(a) => (
            u128::from(a),
            u128::MAX.checked_shr(u32::from(len)).unwrap_or(0),
        ),
    };
    let host_bits = bits & host_mask;
    if host_bits != 0 {
        bail!("{s:?} has host bits set; write the network address");
    }
    Ok((ip, len))
}

fn networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(IpAddr, u8)>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| parse_network(s).map_err(|e| serde::de::Error::custom(format!("{e:#}"))))
        .collect()
}

/// `[transfer]`: zone transfers (AXFR; IXFR from a bounded history of differences)
/// to stock secondaries over TCP on the DNS port, and the NOTIFY messages
/// that tell them about a new serial. Transfers are refused to every client
/// unless its address is in `allow`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TransferConfig {
    /// Client networks (secondaries) allowed to transfer the zones.
    #[serde(deserialize_with = "networks")]
    pub allow: Vec<(IpAddr, u8)>,
    /// Every transfer must be signed with one of the keys (TSIG).
    pub require_tsig: bool,
    /// `[[transfer.key]]`: TSIG keys.
    pub key: Vec<TsigKeyConfig>,
    /// Secondaries told of every new serial (`host:port`), by NOTIFY.
    pub notify: Vec<String>,
    /// Sign the NOTIFY messages with this key (a `[[transfer.key]]` name).
    pub notify_key: Option<String>,
}

/// `[[transfer.key]]`: a TSIG key shared with secondaries.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TsigKeyConfig {
    /// The key's name, as the secondaries know it (`xfr-key`, or
    /// `primary-secondary.example.net`).
    pub name: String,
    /// `hmac-sha256` (the default), `hmac-sha384` or `hmac-sha512`.
    #[serde(default = "default_tsig_algorithm")]
    pub algorithm: String,
    /// The shared secret, base64 (`openssl rand -base64 32`, `tsig-keygen`).
    pub secret: String,
}

impl std::fmt::Debug for TsigKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs and error messages.
        f.debug_struct("TsigKeyConfig")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn default_tsig_algorithm() -> String {
    "hmac-sha256".into()
}

impl TransferConfig {
    /// The TSIG keys, checked.
    pub fn keys(&self) -> anyhow::Result<Vec<fadelist_dns::tsig::Key>> {
        let mut keys: Vec<fadelist_dns::tsig::Key> = Vec::new();
        for k in &self.key {
            let alg = fadelist_dns::tsig::Algorithm::from_name(&k.algorithm).with_context(|| {
                format!(
                    "transfer.key {:?}: unknown algorithm {:?} (hmac-sha256, hmac-sha384, hmac-sha512)",
                    k.name, k.algorithm
                )
            })?;
            let key = fadelist_dns::tsig::Key::from_base64(&k.name, alg, k.secret.trim())
                .with_context(|| format!("transfer.key {:?}", k.name))?;
            if keys.iter().any(|o| o.name() == key.name()) {
                bail!("transfer.key {:?} is defined twice", k.name);
            }
            keys.push(key);
        }
        Ok(keys)
    }

    /// The key named `name`.
    pub fn key_named(&self, name: &str) -> anyhow::Result<fadelist_dns::tsig::Key> {
        let keys = self.keys()?;
        fadelist_dns::tsig::find_key(&keys, name)
            .cloned()
            .with_context(|| format!("no [[transfer.key]] named {name:?}"))
    }

    /// The NOTIFY targets, resolved (`host:port`; a bare host means port
    /// 53).
    pub fn notify_targets(&self) -> anyhow::Result<Vec<std::net::SocketAddr>> {
        use std::net::ToSocketAddrs;
        let mut out = Vec::new();
        for t in &self.notify {
            let with_port = if t.parse::<IpAddr>().is_ok() {
                format!("{t}:53")
            } else if t
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            {
                t.clone()
            } else {
                format!("{t}:53")
            };
            let addr = with_port
                .to_socket_addrs()
                .with_context(|| format!("transfer.notify: cannot resolve {t:?}"))?
                .next()
                .with_context(|| format!("transfer.notify: {t:?} has no address"))?;
            out.push(addr);
        }
        Ok(out)
    }

    /// Checks keys, key references and NOTIFY targets.
    pub(super) fn validate(&self, zone_keys: &[(String, String)]) -> anyhow::Result<()> {
        let keys = self.keys()?;
        if self.require_tsig && keys.is_empty() {
            bail!("transfer.require_tsig needs at least one [[transfer.key]]");
        }
        for (zone, k) in zone_keys {
            if fadelist_dns::tsig::find_key(&keys, k).is_none() {
                bail!("zone {zone}: transfer_key {k:?} is not a [[transfer.key]]");
            }
        }
        if let Some(k) = &self.notify_key
            && fadelist_dns::tsig::find_key(&keys, k).is_none()
        {
            bail!("transfer.notify_key {k:?} is not a [[transfer.key]]");
        }
        self.notify_targets()?;
        Ok(())
    }

    /// The DNS front's transfer policy; `None` when nobody may transfer.
    pub fn policy(
        &self,
        zone_keys: Vec<(String, String)>,
    ) -> Option<std::sync::Arc<fadelist_dns::xfr::TransferPolicy>> {
        (!self.allow.is_empty()).then(|| {
            std::sync::Arc::new(fadelist_dns::xfr::TransferPolicy {
                allow: Networks::new(self.allow.iter().copied()),
                // Checked with the configuration.
                keys: self.keys().unwrap_or_default(),
                require_tsig: self.require_tsig,
                zone_keys,
            })
        })
    }
}

/// `[rrl]`: response-rate limiting of UDP answers (BIND-style; see
/// `docs/internet-dns.md`). Off unless `responses_per_second` is set.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RrlConfig {
    /// Identical answers per second to one client network; 0 = RRL off
    /// (the default).
    pub responses_per_second: u32,
    /// NXDOMAINs per second to one client network, per zone (a DNSBL sends
    /// many legitimately); default `responses_per_second`, 0 = unlimited.
    pub nxdomains_per_second: Option<u32>,
    /// Empty answers (NODATA) per second to one network, per name; default
    /// `responses_per_second`, 0 = unlimited.
    pub nodata_per_second: Option<u32>,
    /// Error answers (REFUSED, FORMERR, …) per second to one network;
    /// default `responses_per_second`, 0 = unlimited.
    pub errors_per_second: Option<u32>,
    /// Every `slip`-th limited answer goes out empty with TC=1 (the client
    /// retries over TCP) instead of being dropped; 0 = never, 1 = always.
    pub slip: u32,
    /// How long a flood's debt is remembered (1s to 1h).
    #[serde(deserialize_with = "duration")]
    pub window: Duration,
    /// Prefix length of an IPv4 client network.
    pub ipv4_prefix: u8,
    /// Prefix length of an IPv6 client network.
    pub ipv6_prefix: u8,
    /// Client networks never limited (your mail servers' resolvers).
    #[serde(deserialize_with = "networks")]
    pub exempt: Vec<(IpAddr, u8)>,
    /// Count and log what would be limited, answer everything.
    pub log_only: bool,
    /// Accounts per UDP worker (32 bytes each).
    pub table_size: usize,
    /// How often what was limited is logged.
    #[serde(deserialize_with = "duration")]
    pub log_interval: Duration,
}

impl Default for RrlConfig {
    fn default() -> Self {
        let d = RrlOptions::default();
        RrlConfig {
            responses_per_second: 0,
            nxdomains_per_second: None,
            nodata_per_second: None,
            errors_per_second: None,
            slip: d.slip,
            window: Duration::from_secs(u64::from(d.window)),
            ipv4_prefix: d.ipv4_prefix,
            ipv6_prefix: d.ipv6_prefix,
            exempt: Vec::new(),
            log_only: false,
            table_size: d.table_size,
            log_interval: d.log_interval,
        }
    }
}

impl RrlConfig {
    /// The DNS front's settings, or `None` when RRL is off.
    pub fn options(&self) -> Option<RrlOptions> {
        let rps = self.responses_per_second;
        (rps > 0).then(|| RrlOptions {
            responses_per_second: rps,
            nxdomains_per_second: self.nxdomains_per_second.unwrap_or(rps),
            nodata_per_second: self.nodata_per_second.unwrap_or(rps),
            errors_per_second: self.errors_per_second.unwrap_or(rps),
            slip: self.slip,
            window: u32::try_from(self.window.as_secs()).unwrap_or(3600),
            ipv4_prefix: self.ipv4_prefix,
            ipv6_prefix: self.ipv6_prefix,
            exempt: Networks::new(self.exempt.iter().copied()),
            log_only: self.log_only,
            table_size: self.table_size,
            log_interval: self.log_interval,
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.slip > 10 {
            bail!("rrl.slip is {}; it must be 0 to 10 (as in BIND)", self.slip);
        }
        let w = self.window.as_secs();
        if !(1..=3600).contains(&w) || self.window.subsec_nanos() != 0 {
            bail!("rrl.window must be whole seconds from 1s to 1h (default 15s)");
        }
        prefixes("rrl", self.ipv4_prefix, self.ipv6_prefix)?;
        table("rrl", self.table_size)?;
        if self.log_interval < Duration::from_secs(1) {
            bail!("rrl.log_interval must be at least 1s");
        }
        Ok(())
    }
}

fn prefixes(what: &str, v4: u8, v6: u8) -> anyhow::Result<()> {
    if !(8..=32).contains(&v4) {
        bail!("{what}.ipv4_prefix is {v4}; it must be 8 to 32");
    }
    if !(16..=128).contains(&v6) {
        bail!("{what}.ipv6_prefix is {v6}; it must be 16 to 128");
    }
    Ok(())
}

fn table(what: &str, size: usize) -> anyhow::Result<()> {
    if !(1024..=MAX_TABLE).contains(&size) {
        bail!("{what}.table_size is {size}; it must be 1024 to {MAX_TABLE} (per UDP worker)");
    }
    Ok(())
}

/// Largest table per worker: 4 Mi entries (128 MiB of RRL accounts).
const MAX_TABLE: usize = 1 << 22;

/// `[dns_quota]`: how many UDP queries a client network may send per 24
/// hours before it gets `action` instead of answers. Off unless
/// `queries_per_day` is set.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DnsQuotaConfig {
    /// Queries per client network per 24 hours; 0 = no quota (default).
    pub queries_per_day: u64,
    /// Prefix length of an IPv4 client network.
    pub ipv4_prefix: u8,
    /// Prefix length of an IPv6 client network.
    pub ipv6_prefix: u8,
    /// Client networks without a quota.
    #[serde(deserialize_with = "networks")]
    pub exempt: Vec<(IpAddr, u8)>,
    /// What a client over its quota gets for every name of every zone, as
    /// an rbldnsd acl value: `:refuse` (the default), `:ignore`, `:empty`,
    /// or `:A:TXT` (`$` = the client's address).
    pub action: String,
    /// TTL of the `:A:TXT` answer.
    #[serde(deserialize_with = "duration")]
    pub ttl: Duration,
    /// Networks counted per UDP worker (16 bytes each).
    pub table_size: usize,
}

impl Default for DnsQuotaConfig {
    fn default() -> Self {
        DnsQuotaConfig {
            queries_per_day: 0,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            exempt: Vec::new(),
            action: ":refuse".into(),
            ttl: Duration::from_secs(300),
            table_size: 1 << 16,
        }
    }
}

impl DnsQuotaConfig {
    /// The action as an ACL with one entry covering every address.
    fn action_acl(&self) -> anyhow::Result<Acl> {
        let a = self.action.trim();
        let text = format!("0.0.0.0/0 {a}\n::/0 {a}\n");
        let data = rbldnsd::parse_acl(text.as_bytes()).map_err(|e| {
            anyhow::anyhow!(
                "dns_quota.action {:?}: {} (write :refuse, :ignore, :empty or :A:TXT)",
                self.action,
                e.message
            )
        })?;
        if data.ip4.first().map(|e| e.action) == Some(fadelist_core::data::AclAction::Pass) {
            bail!(
                "dns_quota.action :pass would make the quota do nothing; set queries_per_day = 0"
            );
        }
        Ok(Acl::build(&data, crate::zones::secs32(self.ttl)))
    }

    /// The DNS front's settings, or `None` when there is no quota.
    pub fn options(&self) -> anyhow::Result<Option<QuotaOptions>> {
        if self.queries_per_day == 0 {
            return Ok(None);
        }
        Ok(Some(QuotaOptions {
            queries_per_day: self.queries_per_day,
            ipv4_prefix: self.ipv4_prefix,
            ipv6_prefix: self.ipv6_prefix,
            exempt: Networks::new(self.exempt.iter().copied()),
            action: Arc::new(self.action_acl()?),
            table_size: self.table_size,
        }))
    }

    fn validate(&self) -> anyhow::Result<()> {
        prefixes("dns_quota", self.ipv4_prefix, self.ipv6_prefix)?;
        table("dns_quota", self.table_size)?;
        self.action_acl()?;
        Ok(())
    }
}

impl Config {
    /// `(zone, key name)` of every zone with a `transfer_key`.
    pub fn zone_transfer_keys(&self) -> Vec<(String, String)> {
        self.zones
            .iter()
            .filter_map(|z| Some((z.name.to_string(), z.transfer_key.clone()?)))
            .collect()
    }

    /// The DNS front's options: `[server]` listeners and limits, `[rrl]`
    /// and `[dns_quota]`.
    pub fn dns_options(&self) -> fadelist_dns::server::DnsOptions {
        use fadelist_dns::server::{TcpMode, UdpMode};
        let s = &self.server;
        fadelist_dns::server::DnsOptions {
            udp_mode: match s.udp_mode {
                UdpModeConfig::Fast => UdpMode::Fast,
                UdpModeConfig::Hickory => UdpMode::Hickory,
                UdpModeConfig::Null => UdpMode::Null,
            },
            workers: s.udp_workers,
            tcp_mode: match s.tcp_mode {
                TcpModeConfig::Fast => TcpMode::Fast,
                TcpModeConfig::Hickory => TcpMode::Hickory,
            },
            tcp_max_connections: s.tcp_max_connections,
            udp_batch_wait: s.udp_batch_wait,
            tcp_max_per_client: s.tcp_max_per_client,
            rrl: self.rrl.options(),
            // Validated with the configuration; an error here cannot
            // happen for a validated one, and means "no quota" otherwise.
            quota: self.dns_quota.options().ok().flatten(),
            // Set by `crate::bind` when `[metrics] listen` is.
            metrics: None,
            transfer: self.transfer.policy(self.zone_transfer_keys()),
            notify_inbox: self.notify_inbox(),
            // Checked with the configuration.
            tsig_keys: self.transfer.keys().unwrap_or_default(),
        }
    }

    /// The NOTIFY inbox of the followed zones (NOTIFY accepted from each
    /// zone's primary, signed with its `primary_key` when set); `None`
    /// when no zone is followed.
    pub fn notify_inbox(&self) -> Option<Arc<fadelist_dns::follow::NotifyInbox>> {
        let mut inbox = fadelist_dns::follow::NotifyInbox::new();
        for z in &self.zones {
            // Both checked with the configuration.
            let Ok(Some(addr)) = z.primary_addr() else {
                continue;
            };
            let key = z
                .primary_key
                .as_deref()
                .and_then(|k| self.transfer.key_named(k).ok());
            inbox.add(z.name.as_ref(), vec![addr.ip()], key);
        }
        (!inbox.is_empty()).then(|| Arc::new(inbox))
    }

    /// Checks `[rrl]`, `[dns_quota]`, the TCP per-client cap and the acl
    /// datasets (one per zone).
    pub(super) fn validate_dns(&self) -> anyhow::Result<()> {
        self.transfer.validate(&self.zone_transfer_keys())?;
        self.rrl.validate()?;
        self.dns_quota.validate()?;
        if self.server.tcp_max_per_client == 0 {
            bail!("server.tcp_max_per_client must be at least 1");
        }
        for z in &self.zones {
            let acls = z
                .datasets
                .iter()
                .filter(|d| d.kind == DatasetKind::Acl)
                .count();
            if acls > 1 {
                bail!(
                    "zone {} has {acls} acl datasets; rbldnsd allows one per zone: put all \
                     the files in one [[zone.dataset]] with type = \"acl\"",
                    z.name
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Config> {
        Config::parse(text, "t.toml")
    }

    #[test]
    fn transfer_keys_and_references_are_checked() {
        let zone = "[[zone]]\nname = \"bl.example\"\n";
        let key = "[[transfer.key]]\nname = \"xfr-key\"\nsecret = \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0\"\n";
        // A good one: the policy carries the key and the zone's key.
        let c = parse(&format!(
            "[transfer]\nallow = [\"192.0.2.0/24\"]\nnotify = [\"192.0.2.7:5353\", \"192.0.2.8\"]\n\
             notify_key = \"xfr-key\"\n{key}{zone}transfer_key = \"xfr-key\"\n"
        ))
        .unwrap();
        let p = c.dns_options().transfer.expect("a policy");
        assert_eq!(p.keys.len(), 1);
        assert_eq!(p.keys[0].algorithm().name(), "hmac-sha256");
        assert_eq!(p.zone_keys, vec![("bl.example".into(), "xfr-key".into())]);
        assert_eq!(
            c.transfer.notify_targets().unwrap(),
            vec![
                "192.0.2.7:5353".parse().unwrap(),
                "192.0.2.8:53".parse().unwrap()
            ]
        );
        // No allow list: no transfers at all.
        assert!(parse(zone).unwrap().dns_options().transfer.is_none());
        for (bad, want) in [
            (
                format!("{zone}transfer_key = \"nope\"\n"),
                "not a [[transfer.key]]",
            ),
            (
                "[transfer]\nrequire_tsig = true\n".to_string(),
                "needs at least one",
            ),
            (
                "[transfer]\nnotify_key = \"nope\"\n".to_string(),
                "notify_key",
            ),
            (
                "[[transfer.key]]\nname = \"k\"\nsecret = \"not base64!\"\n".to_string(),
                "transfer.key \"k\"",
            ),
            (
                "[[transfer.key]]\nname = \"k\"\nalgorithm = \"hmac-md5\"\nsecret = \"c2VjcmV0\"\n"
                    .to_string(),
                "unknown algorithm",
            ),
            (format!("{key}{key}"), "defined twice"),
            (
                "[transfer]\nnotify = [\"no-such-host.invalid:53\"]\n".to_string(),
                "cannot resolve",
            ),
        ] {
            let text = if bad.contains("[[zone]]") {
                bad.clone()
            } else {
                format!("{bad}{zone}")
            };
            let e = format!("{:#}", parse(&text).unwrap_err());
            assert!(e.contains(want), "{bad}: {e}");
            assert!(
                !e.contains("c2VjcmV0"),
                "the secret stays out of errors: {e}"
            );
        }
    }

    #[test]
    fn rrl_defaults_and_mapping() {
        let c = parse("").unwrap();
        assert!(c.rrl.options().is_none(), "off by default");
        assert!(c.dns_options().rrl.is_none());
        assert!(c.dns_options().quota.is_none());
        assert_eq!(c.dns_options().tcp_max_per_client, 32);
        let c = parse(
            "[rrl]\nresponses_per_second = 5\nnxdomains_per_second = 0\nwindow = \"30s\"\n\
             exempt = [\"192.0.2.0/24\", \"2001:db8::1\"]\nlog_only = true\n",
        )
        .unwrap();
        let o = c.dns_options().rrl.unwrap();
        assert_eq!(o.responses_per_second, 5);
        assert_eq!(o.nxdomains_per_second, 0);
        assert_eq!((o.nodata_per_second, o.errors_per_second), (5, 5));
        assert_eq!(
            (o.slip, o.window, o.ipv4_prefix, o.ipv6_prefix),
            (2, 30, 24, 56)
        );
        assert!(o.log_only);
        assert!(o.exempt.contains("192.0.2.77".parse().unwrap()));
        assert!(o.exempt.contains("2001:db8::1".parse().unwrap()));
        assert!(!o.exempt.contains("2001:db8::2".parse().unwrap()));
    }

    #[test]
    fn bad_values_are_explained() {
        let e = |t: &str| format!("{:#}", parse(t).unwrap_err());
        assert!(e("[rrl]\nslip = 11\n").contains("0 to 10"));
        assert!(e("[rrl]\nwindow = \"0s\"\n").contains("1s to 1h"));
        assert!(e("[rrl]\nipv4_prefix = 33\n").contains("8 to 32"));
        assert!(e("[rrl]\nexempt = [\"10.0.0.1/8\"]\n").contains("host bits"));
        assert!(e("[rrl]\nexempt = [\"nope\"]\n").contains("not an IP"));
        assert!(e("[rrl]\ntable_size = 10\n").contains("table_size"));
        assert!(e("[rrl]\nresponse_per_second = 1\n").contains("response_per_second"));
        assert!(e("[dns_quota]\naction = \":nope\"\n").contains("dns_quota.action"));
        assert!(e("[dns_quota]\naction = \":pass\"\n").contains("do nothing"));
        assert!(e("[server]\ntcp_max_per_client = 0\n").contains("at least 1"));
        let two_acls = "[[zone]]\nname = \"a.test\"\n[[zone.dataset]]\ntype = \"acl\"\n\
                        files = [\"a\"]\n[[zone.dataset]]\ntype = \"ACL\"\nfiles = [\"b\"]\n";
        assert!(e(two_acls).contains("one per zone"));
        assert!(
            e("[[zone]]\nname = \"a.test\"\n[[zone.dataset]]\ntype = \"acls\"\nfiles = [\"a\"]\n")
                .contains("acl)")
        );
    }

    #[test]
    fn quota_action() {
        let c = parse(
            "[dns_quota]\nqueries_per_day = 1000\n\
             action = \":127.255.255.255:Over quota: $\"\nexempt = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let q = c.dns_options().quota.unwrap();
        assert_eq!(q.queries_per_day, 1000);
        let v = q.action.verdict("192.0.2.1".parse().unwrap());
        let fadelist_core::dataset::acl::Verdict::Listed { answer, ttl } = v else {
            panic!("{v:?}")
        };
        assert_eq!(answer.a[0].to_string(), "127.255.255.255");
        assert_eq!(&*answer.txt[0], "Over quota: $");
        assert_eq!(ttl, 300);
        assert!(q.exempt.contains("10.9.9.9".parse().unwrap()));
        let c = parse("[dns_quota]\nqueries_per_day = 5\n").unwrap();
        let q = c.dns_options().quota.unwrap();
        let v = q.action.verdict("::1".parse().unwrap());
        assert_eq!(
            v,
            fadelist_core::dataset::acl::Verdict::Refuse,
            "default action"
        );
    }

    #[test]
    fn shipped_example_writes_the_defaults() {
        let text = include_str!("../../../../deploy/fadelist.example.toml");
        let c = Config::parse(text, "fadelist.example.toml").unwrap();
        assert_eq!(c.rrl, RrlConfig::default(), "[rrl] as documented");
        assert_eq!(c.dns_quota, DnsQuotaConfig::default(), "[dns_quota]");
        assert_eq!(
            c.server.tcp_max_per_client,
            fadelist_dns::fast::DEFAULT_TCP_MAX_PER_CLIENT
        );
        assert!(c.dns_options().rrl.is_none() && c.dns_options().quota.is_none());
    }

    #[test]
    fn networks_parse() {
        assert_eq!(
            parse_network("192.0.2.0/24").unwrap(),
            ("192.0.2.0".parse().unwrap(), 24)
        );
        assert_eq!(parse_network("0.0.0.0/0").unwrap().1, 0);
        assert_eq!(parse_network("::/0").unwrap().1, 0);
        assert_eq!(parse_network("192.0.2.1").unwrap().1, 32);
        assert_eq!(parse_network("2001:db8::/32").unwrap().1, 32);
        assert!(parse_network("192.0.2.1/24").is_err());
        assert!(parse_network("2001:db8::1/64").is_err());
        assert!(parse_network("10.0.0.0/33").is_err());
    }
}
