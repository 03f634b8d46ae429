//! The configuration file: one strict TOML document.
//!
//! Every table rejects unknown keys (`deny_unknown_fields`), so a typo is an
//! error that names the key instead of a silently ignored setting. Durations
//! are written like `35m`, `90s`, `1d` (or as a number of seconds). The
//! documented example is `deploy/fadelist.example.toml`; a test parses it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use fadelist_core::names::ZoneName;
use serde::{Deserialize, Deserializer};

mod dns;
pub use dns::{DatasetKind, DnsQuotaConfig, RrlConfig, TransferConfig, parse_dataset_kind};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listeners and timers.
    #[serde(default)]
    pub server: ServerConfig,
    /// Served zones.
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneConfig>,
    /// The SQLite database.
    #[serde(default)]
    pub store: StoreConfig,
    /// Report ingestion.
    #[serde(default)]
    pub ingest: IngestConfig,
    /// Listing policy (zones may override parts of it).
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Lookup pages and delisting.
    #[serde(default)]
    pub web: WebConfig,
    /// The admin API.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Response-rate limiting of UDP answers (off by default).
    #[serde(default)]
    pub rrl: RrlConfig,
    /// Daily UDP query quotas per client network (off by default).
    #[serde(default)]
    pub dns_quota: DnsQuotaConfig,
    /// Zone transfers to secondaries (refused to everyone by default).
    #[serde(default)]
    pub transfer: TransferConfig,
    /// The Prometheus metrics listener (off by default).
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `[export]`: a live rbldnsd mirror directory.
    #[serde(default)]
    pub export: ExportConfig,
}

/// `[export]`: a live rbldnsd mirror directory (rsync it to rbldnsd
/// edges). Off when `dir` is unset.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    /// Where the rbldnsd files and `rbldnsd.zones` are kept current.
    pub dir: Option<PathBuf>,
    /// How often the served data is compared with the files (only changed
    /// files are rewritten).
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// When set, each zone's files carry a `$TIMESTAMP` expiry this far
    /// ahead (refreshed as time passes): an rbldnsd edge that stops
    /// receiving updates stops answering for the zone once it passes.
    #[serde(deserialize_with = "opt_duration")]
    pub expires: Option<Duration>,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            dir: None,
            interval: Duration::from_secs(5),
            expires: None,
        }
    }
}

/// `[metrics]`: Prometheus metrics on their own listener.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address of `GET /metrics` (CoreDNS uses port 9153); off when unset.
    /// Keep it on loopback or a monitoring network: the series name the
    /// zones and datasets.
    pub listen: Option<SocketAddr>,
}

/// `[admin]`.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Address of the admin API (keep it on loopback or a private network).
    pub listen: SocketAddr,
    /// Bearer token of the admin API; without one the API is off. Also
    /// read from the FADELIST_ADMIN_TOKEN environment variable.
    pub token: Option<String>,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("AdminConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8301)),
            token: None,
        }
    }
}

/// `[web]`: lookup pages and self-service delisting.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Self-service removals of one key allowed in `self_service_window`;
    /// more go to the review queue.
    pub self_service_limit: u32,
    /// Window of the self-service limit.
    #[serde(deserialize_with = "duration")]
    pub self_service_window: Duration,
    /// Key for the signed form tokens; random per start when unset.
    pub form_secret: Option<String>,
    /// A form sent sooner than this after it was served is refused (bots).
    #[serde(deserialize_with = "duration")]
    pub form_min_fill: Duration,
    /// A form older than this is refused (reload the page).
    #[serde(deserialize_with = "duration")]
    pub form_max_age: Duration,
    /// Delisting requests per client per minute, form and JSON API
    /// together (more: 429). A client is its address, or its /64 for IPv6.
    pub delist_per_minute: u32,
    /// JSON delisting requests (`POST /api/v1/delistings`) per client per
    /// hour; more get 429 and are pointed to the form.
    pub api_delist_per_client_per_hour: u32,
    /// JSON delisting requests per hour from all clients together: a
    /// script delisting many keys from many addresses meets this; people
    /// can still use the form.
    pub api_delist_per_hour: u32,
    /// Reverse proxies (IPs or CIDRs) whose `proxy_header` names the
    /// client. From any other peer the header is ignored and the socket's
    /// address is the client. Empty (the default): never trusted.
    #[serde(deserialize_with = "networks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Which header the trusted proxies write: `x-forwarded-for` (nginx,
    /// HAProxy, Caddy, Traefik) or `forwarded` (RFC 7239). Only that one
    /// is read: a client could send the other itself.
    pub proxy_header: ProxyHeader,
    /// Most clients remembered per limit table (delisting rates, HTTP
    /// connections per client); beyond it new clients share one bucket
    /// until the periodic sweep forgets idle ones.
    pub max_tracked_clients: usize,
}

/// `[web] proxy_header`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, …`.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// A list of IPs or CIDRs; a bare IP is its /32 or /128, host bits are
/// refused (`10.0.0.1/8` is a typo for a network or for a host).
fn networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let raw = Vec::<String>::deserialize(d)?;
    raw.iter()
        .map(|s| {
            let s = s.trim();
            let net = match s.parse::<std::net::IpAddr>() {
                Ok(ip) => ipnet::IpNet::from(ip),
                Err(_) => s.parse::<ipnet::IpNet>().map_err(|_| {
                    serde::de::Error::custom(format!("{s:?} is not an IP address or CIDR"))
                })?,
            };
            if net.trunc() != net {
                return Err(serde::de::Error::custom(format!(
                    "{s:?} has host bits set; write the network ({})",
                    net.trunc()
                )));
            }
            Ok(net)
        })
        .collect()
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            self_service_limit: 2,
            self_service_window: Duration::from_secs(30 * 86_400),
            form_secret: None,
            form_min_fill: Duration::from_secs(3),
            form_max_age: Duration::from_secs(3600),
            delist_per_minute: 5,
            api_delist_per_client_per_hour: 10,
            api_delist_per_hour: 100,
            trusted_proxies: Vec::new(),
            proxy_header: ProxyHeader::XForwardedFor,
            max_tracked_clients: 100_000,
        }
    }
}

/// `[store]`: the database, how long what it holds is kept, and the free
/// disk space below which writes stop (`docs/internet-storage.md`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Database file (created if missing).
    pub path: PathBuf,
    /// Raw samples older than this are dropped (their extraction stays).
    #[serde(deserialize_with = "duration")]
    pub raw_retention: Duration,
    /// Reports older than this are deleted with their evidence, except
    /// what the lookup page of a key listed now shows.
    #[serde(deserialize_with = "duration")]
    pub report_retention: Duration,
    /// Listing history (lookup pages) older than this is deleted, except
    /// a listed key's and what the repeat window covers.
    #[serde(deserialize_with = "duration")]
    pub history_retention: Duration,
    /// Audit log entries older than this are deleted.
    #[serde(deserialize_with = "duration")]
    pub audit_retention: Duration,
    /// A delisting request's e-mail, requester address and explanation
    /// are erased this long after it was decided (personal data); the
    /// anonymous rest goes with the audit log.
    #[serde(deserialize_with = "duration")]
    pub request_retention: Duration,
    /// How often the pruning job runs.
    #[serde(deserialize_with = "duration")]
    pub prune_interval: Duration,
    /// Rows per pruning transaction, about: reports wait for one batch at
    /// most.
    pub prune_batch: usize,
    /// Below this much free space on the database's filesystem, writes
    /// (reports, delisting requests, admin changes) get 503 `disk_full`;
    /// DNS and lookups go on. Bytes (`"1GiB"`, `"500MB"`) or a share of
    /// the filesystem (`"5%"`); `"0"` = never.
    pub min_free_disk: DiskThreshold,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("fadelist.sqlite"),
            raw_retention: Duration::from_secs(30 * 86_400),
            report_retention: Duration::from_secs(90 * 86_400),
            history_retention: Duration::from_secs(365 * 86_400),
            audit_retention: Duration::from_secs(365 * 86_400),
            request_retention: Duration::from_secs(30 * 86_400),
            prune_interval: Duration::from_secs(3600),
            prune_batch: 1000,
            min_free_disk: DiskThreshold::Bytes(1 << 30),
        }
    }
}

impl StoreConfig {
    fn validate(&self) -> anyhow::Result<()> {
        for (what, d) in [
            ("raw_retention", self.raw_retention),
            ("report_retention", self.report_retention),
            ("history_retention", self.history_retention),
            ("audit_retention", self.audit_retention),
            ("request_retention", self.request_retention),
            ("prune_interval", self.prune_interval),
        ] {
            if d.is_zero() {
                bail!("store.{what} must be more than 0s");
            }
        }
        if self.prune_batch == 0 {
            bail!("store.prune_batch must be at least 1");
        }
        // The raw sample is a column of its report row, and the lookup
        // page decides which remaining reports count from the listing
        // history: each must outlive the one before.
        if self.raw_retention > self.report_retention {
            bail!(
                "store.raw_retention ({}) is longer than store.report_retention ({}): a raw \
                 sample is deleted with its report",
                humantime::format_duration(self.raw_retention),
                humantime::format_duration(self.report_retention)
            );
        }
        if self.report_retention > self.history_retention {
            bail!(
                "store.report_retention ({}) is longer than store.history_retention ({}): the \
                 lookup page needs the removals that came after the reports it shows",
                humantime::format_duration(self.report_retention),
                humantime::format_duration(self.history_retention)
            );
        }
        Ok(())
    }
}

/// `[store] min_free_disk`: free space to keep on the database's
/// filesystem, in bytes or as a share of its size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DiskThreshold {
    /// At least this many bytes free.
    Bytes(u64),
    /// At least this percentage (0-100) of the filesystem free.
    Percent(f64),
}

impl DiskThreshold {
    /// The bytes to keep free on a filesystem of `total` bytes.
    pub fn bytes_of(self, total: u64) -> u64 {
        match self {
            DiskThreshold::Bytes(b) => b,
            DiskThreshold::Percent(p) => (total as f64 * p / 100.0) as u64,
        }
    }
}

impl FromStr for DiskThreshold {
    type Err = anyhow::Error;

    /// `1073741824`, `1GiB`, `500MB`, `2.5 TiB`, `5%`. Units: B, KB, MB,
    /// GB, TB (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024),
    /// in any case.
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let t = s.trim();
        let bad = || {
            anyhow::anyhow!("invalid disk size {s:?} (write e.g. \"1GiB\", \"500MB\" or \"5%\")")
        };
        if let Some(p) = t.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&p) {
                bail!("disk share {s:?} is not between 0% and 100%");
            }
            return Ok(DiskThreshold::Percent(p));
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            "tib" => 1 << 40,
            _ => return Err(bad()),
        };
        if let Ok(n) = number.parse::<u64>() {
            return n
                .checked_mul(scale)
                .map(DiskThreshold::Bytes)
                .ok_or_else(|| anyhow::anyhow!("disk size {s:?} is too large"));
        }
        let n: f64 = number.parse().map_err(|_| bad())?;
        let bytes = n * scale as f64;
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            bail!("disk size {s:?} is too large");
        }
        Ok(DiskThreshold::Bytes(bytes as u64))
    }
}

impl<'de> Deserialize<'de> for DiskThreshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(b) => Ok(DiskThreshold::Bytes(b)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// `[ingest]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest accepted report body, bytes (larger: 413).
    pub max_message_bytes: usize,
    /// Most domains taken from one message.
    pub max_domains: usize,
    /// Never listed, on top of the built-in lists: IPs, CIDRs or domains.
    pub never_list: Vec<String>,
    /// Reports accepted per reporter per minute (more: 429).
    pub rate_per_minute: u32,
    /// Public base URL of the lookup pages, used in TXT answers
    /// (`<base>/lookup?q=$`). Default: `http://` + the HTTP address.
    pub public_base_url: Option<String>,
    /// How often listed keys are re-evaluated for decay.
    #[serde(deserialize_with = "duration")]
    pub decay_interval: Duration,
    /// Nice value (0-19) of the store writer and feed compactor threads:
    /// above 0 they yield the CPU to the DNS workers (see `sched.rs`);
    /// default 19.
    pub writer_nice: u8,
    /// Reports handled at once; more get 503 `busy` with `Retry-After`.
    pub max_pending_reports: usize,
    /// Reports one reporter may send per day (a rolling day: the allowance
    /// refills continuously); more get 429 with `Retry-After`.
    pub reporter_daily_reports: u32,
    /// Bytes of reported mail one reporter may send per (rolling) day;
    /// more get 429 with `Retry-After`.
    pub reporter_daily_bytes: u64,
    /// Report bodies being received or handled at once, bytes, all
    /// reporters together (reserved from `Content-Length` before the body
    /// is read); beyond it 503 `busy`.
    pub body_bytes_in_flight: usize,
    /// The same for one reporter; beyond it 429.
    pub reporter_body_bytes_in_flight: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_message_bytes: 10 * 1024 * 1024,
            max_domains: 50,
            never_list: Vec::new(),
            rate_per_minute: 600,
            public_base_url: None,
            decay_interval: Duration::from_secs(10),
            writer_nice: 19,
            max_pending_reports: 256,
            reporter_daily_reports: 10_000,
            reporter_daily_bytes: 1 << 30,
            body_bytes_in_flight: 64 << 20,
            reporter_body_bytes_in_flight: 16 << 20,
        }
    }
}

/// `[policy]`: see the README for the arithmetic of the defaults.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Half-life of a report's weight.
    #[serde(deserialize_with = "duration")]
    pub half_life: Duration,
    /// Score at which a key is listed.
    pub list_threshold: f64,
    /// Score below which a listed key is delisted.
    pub delist_threshold: f64,
    /// Distinct reporters needed to list.
    pub min_reporters: u32,
    /// Largest contribution of one reporter to one key.
    pub reporter_cap: f64,
    /// Smallest decayed contribution that still counts as a reporter.
    pub min_contribution: f64,
    /// Reports about mail older than this are ignored.
    #[serde(deserialize_with = "duration")]
    pub max_report_age: Duration,
    /// Minimum duration of a first listing.
    #[serde(deserialize_with = "duration")]
    pub min_listing: Duration,
    /// Cap of the doubling minimum duration of repeat listings.
    #[serde(deserialize_with = "duration")]
    pub max_listing: Duration,
    /// Window in which earlier listings count for repeat offenders.
    #[serde(deserialize_with = "duration")]
    pub repeat_window: Duration,
    /// Distinct source networks (IPv4 /24, IPv6 /48) that the reports of
    /// a content key (advertised domain or URL IP, the `domain` feed's
    /// zone) must come from, within `max_report_age`, before it is
    /// listed: the joe-job defence. Source zones need one.
    pub content_min_source_networks: u32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        let p = fadelist_core::policy::Policy::default();
        let secs = |s: i64| Duration::from_secs(s.max(0) as u64);
        PolicyConfig {
            half_life: Duration::from_secs_f64(p.half_life),
            list_threshold: p.list_threshold,
            delist_threshold: p.delist_threshold,
            min_reporters: p.min_reporters,
            reporter_cap: p.reporter_cap,
            min_contribution: p.min_contribution,
            max_report_age: secs(p.max_report_age),
            min_listing: secs(p.min_listing),
            max_listing: secs(p.max_listing),
            repeat_window: secs(p.repeat_window),
            content_min_source_networks: 3,
        }
    }
}

impl PolicyConfig {
    /// The policy these settings describe.
    pub fn to_policy(&self) -> fadelist_core::policy::Policy {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        fadelist_core::policy::Policy {
            half_life: self.half_life.as_secs_f64(),
            list_threshold: self.list_threshold,
            delist_threshold: self.delist_threshold,
            min_reporters: self.min_reporters,
            reporter_cap: self.reporter_cap,
            min_contribution: self.min_contribution,
            max_report_age: secs(self.max_report_age),
            min_listing: secs(self.min_listing),
            max_listing: secs(self.max_listing),
            repeat_window: secs(self.repeat_window),
            min_source_networks: 1,
        }
    }

    /// This policy with the fields `o` sets replaced.
    pub fn merged(&self, o: &PolicyOverride) -> PolicyConfig {
        PolicyConfig {
            half_life: o.half_life.unwrap_or(self.half_life),
            list_threshold: o.list_threshold.unwrap_or(self.list_threshold),
            delist_threshold: o.delist_threshold.unwrap_or(self.delist_threshold),
            min_reporters: o.min_reporters.unwrap_or(self.min_reporters),
            reporter_cap: o.reporter_cap.unwrap_or(self.reporter_cap),
            min_contribution: o.min_contribution.unwrap_or(self.min_contribution),
            max_report_age: o.max_report_age.unwrap_or(self.max_report_age),
            min_listing: o.min_listing.unwrap_or(self.min_listing),
            max_listing: o.max_listing.unwrap_or(self.max_listing),
            repeat_window: o.repeat_window.unwrap_or(self.repeat_window),
            content_min_source_networks: self.content_min_source_networks,
        }
    }

    fn validate(&self, what: &str) -> anyhow::Result<()> {
        if self.half_life.is_zero() {
            bail!("{what}.half_life must be more than 0s");
        }
        let ordered = self.delist_threshold > 0.0 && self.delist_threshold < self.list_threshold;
        if !ordered {
            bail!("{what}: delist_threshold must be above 0 and below list_threshold (hysteresis)");
        }
        if self.min_reporters == 0 {
            bail!("{what}.min_reporters must be at least 1");
        }
        if self.content_min_source_networks == 0 {
            bail!("{what}.content_min_source_networks must be at least 1");
        }
        if self.reporter_cap.is_nan() || self.reporter_cap <= 0.0 {
            bail!("{what}.reporter_cap must be above 0");
        }
        Ok(())
    }
}

/// A zone's partial override of `[policy]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    /// See [`PolicyConfig::half_life`].
    #[serde(default, deserialize_with = "opt_duration")]
    pub half_life: Option<Duration>,
    /// See [`PolicyConfig::list_threshold`].
    pub list_threshold: Option<f64>,
    /// See [`PolicyConfig::delist_threshold`].
    pub delist_threshold: Option<f64>,
    /// See [`PolicyConfig::min_reporters`].
    pub min_reporters: Option<u32>,
    /// See [`PolicyConfig::reporter_cap`].
    pub reporter_cap: Option<f64>,
    /// See [`PolicyConfig::min_contribution`].
    pub min_contribution: Option<f64>,
    /// See [`PolicyConfig::max_report_age`].
    #[serde(default, deserialize_with = "opt_duration")]
    pub max_report_age: Option<Duration>,
    /// See [`PolicyConfig::min_listing`].
    #[serde(default, deserialize_with = "opt_duration")]
    pub min_listing: Option<Duration>,
    /// See [`PolicyConfig::max_listing`].
    #[serde(default, deserialize_with = "opt_duration")]
    pub max_listing: Option<Duration>,
    /// See [`PolicyConfig::repeat_window`].
    #[serde(default, deserialize_with = "opt_duration")]
    pub repeat_window: Option<Duration>,
    /// Distinct source networks needed to list in this zone; the default
    /// is 1 for source zones and
    /// [`PolicyConfig::content_min_source_networks`] for the `domain`
    /// feed's zone.
    pub min_source_networks: Option<u32>,
}

/// What a report-fed zone lists.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Feed {
    /// Source IPs of spam, phishing and malware (iprbl).
    Ip,
    /// Source IPs of bulk mail and newsletters (niprbl).
    BulkIp,
    /// Registered domains advertised in reported mail (urirbl).
    Domain,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// DNS addresses, UDP and TCP each (port 0 = pick a free port).
    pub dns_listen: Vec<SocketAddr>,
    /// HTTP address (status API).
    pub http_listen: SocketAddr,
    /// A client must send a request's whole head (request line and
    /// headers) within this time after the connection opens, or after the
    /// previous answer on a kept-alive connection; otherwise the
    /// connection is closed (slowloris).
    #[serde(deserialize_with = "duration")]
    pub http_header_timeout: Duration,
    /// A request's body must arrive within this time after its head;
    /// otherwise 408.
    #[serde(deserialize_with = "duration")]
    pub http_body_timeout: Duration,
    /// A kept-alive connection with no request in progress is closed after
    /// this time (the header timeout bounds it too: hyper starts that
    /// timer when it begins waiting for the next request).
    #[serde(deserialize_with = "duration")]
    pub http_idle_timeout: Duration,
    /// HTTP connections served at once (public side); more wait in the
    /// listen backlog. Lowered at start to half the descriptors the
    /// process may open beyond a reserve, so HTTP never takes those DNS
    /// and the database need.
    pub http_max_connections: usize,
    /// HTTP connections one client address (an IPv6 /64) may hold at once;
    /// more are answered 503 and closed. Trusted proxies are exempt.
    pub http_max_connections_per_client: usize,
    /// Idle time after which a TCP DNS connection is closed.
    #[serde(deserialize_with = "duration")]
    pub tcp_idle_timeout: Duration,
    /// How often data files are checked for changes.
    #[serde(deserialize_with = "duration")]
    pub reload_interval: Duration,
    /// TTL of answers from datasets that set no `$TTL`.
    #[serde(deserialize_with = "duration")]
    pub default_ttl: Duration,
    /// Directory that relative data-file paths are resolved against
    /// (default: the working directory).
    pub data_dir: Option<PathBuf>,
    /// Which code answers UDP queries.
    pub udp_mode: UdpModeConfig,
    /// UDP worker threads (one `SO_REUSEPORT` socket each) per DNS
    /// address for the fast path; 0 = one per CPU.
    pub udp_workers: usize,
    /// How long a fast-path worker waits after receiving a small batch
    /// (fewer than 8 datagrams) before it receives again; 0 = never.
    #[serde(deserialize_with = "duration")]
    pub udp_batch_wait: Duration,
    /// Which code answers TCP queries.
    pub tcp_mode: TcpModeConfig,
    /// TCP connections served at once (fast TCP path); more wait in the
    /// listen backlog.
    pub tcp_max_connections: usize,
    /// TCP connections per client address (IPv6: per /64); a new one from
    /// a client at the cap closes its least recently active one.
    pub tcp_max_per_client: usize,
}

/// `[server] tcp_mode`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TcpModeConfig {
    /// The fast path's parser and encoder, pipelined queries answered in
    /// batches (hickory-proto for anything unusual).
    #[default]
    Fast,
    /// hickory-server's TCP listener (slower; for comparison).
    Hickory,
}

/// `[server] udp_mode`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum UdpModeConfig {
    /// The hand-rolled UDP fast path (batched system calls, strict parser,
    /// hickory-proto for anything unusual).
    #[default]
    Fast,
    /// hickory-server, as for TCP (slower; for comparison).
    Hickory,
    /// Benchmarking only: the fast path's socket loop answering every
    /// query with a fixed reply, without parsing or lookup.
    Null,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            dns_listen: vec![SocketAddr::from(([127, 0, 0, 1], 5300))],
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8300)),
            http_header_timeout: Duration::from_secs(10),
            http_body_timeout: Duration::from_secs(60),
            http_idle_timeout: Duration::from_secs(5),
            http_max_connections: 1024,
            http_max_connections_per_client: 32,
            tcp_idle_timeout: Duration::from_secs(10),
            reload_interval: Duration::from_secs(1),
            // rbldnsd's default answer TTL.
            default_ttl: Duration::from_secs(35 * 60),
            data_dir: None,
            udp_mode: UdpModeConfig::Fast,
            udp_workers: 0,
            udp_batch_wait: fadelist_dns::fast::DEFAULT_BATCH_WAIT,
            tcp_mode: TcpModeConfig::Fast,
            tcp_max_connections: fadelist_dns::server::DEFAULT_TCP_MAX_CONNECTIONS,
            tcp_max_per_client: fadelist_dns::fast::DEFAULT_TCP_MAX_PER_CLIENT,
        }
    }
}

/// `[[zone]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// Zone name, e.g. `iprbl.example.net`: lower-case without a trailing
    /// dot once read (whatever was written), so the rest of the server
    /// compares names as they are.
    #[serde(deserialize_with = "zone_name")]
    pub name: ZoneName,
    /// SOA; when absent, the first `$SOA` of the zone's data files, else
    /// defaults derived from the zone name.
    pub soa: Option<SoaConfig>,
    /// Name servers; when empty, `$NS` of the data files, else the SOA mname.
    #[serde(default)]
    pub ns: Vec<String>,
    /// TTL of the NS records.
    #[serde(default = "default_ns_ttl", deserialize_with = "duration")]
    pub ns_ttl: Duration,
    /// Datasets whose union the zone serves.
    #[serde(default, rename = "dataset")]
    pub datasets: Vec<DatasetConfig>,
    /// Listings fed by reports: `ip`, `bulk-ip` or `domain`.
    pub feed: Option<Feed>,
    /// Overrides of `[policy]` for this zone's report-fed listings.
    pub policy: Option<PolicyOverride>,
    /// Only transfers signed with this TSIG key (a `[[transfer.key]]`
    /// name) may transfer the zone.
    pub transfer_key: Option<String>,
    /// Follow this zone from a primary (`host:port`, port 53 when
    /// absent): pulled by AXFR, kept current by NOTIFY + IXFR and SOA
    /// refresh, served from memory. A followed zone has no datasets and
    /// no feed.
    pub primary: Option<String>,
    /// Sign the requests to the primary with this `[[transfer.key]]` and
    /// accept only responses and NOTIFY signed with it.
    pub primary_key: Option<String>,
}

impl ZoneConfig {
    /// The primary's address, resolved (`host:port`; port 53 when
    /// absent); `None` for a zone that is not followed.
    pub fn primary_addr(&self) -> anyhow::Result<Option<std::net::SocketAddr>> {
        use std::net::ToSocketAddrs;
        let Some(p) = &self.primary else {
            return Ok(None);
        };
        let with_port = if p.parse::<std::net::IpAddr>().is_ok() {
            format!("{p}:53")
        } else if p
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
        {
            p.clone()
        } else {
            format!("{p}:53")
        };
        let addr = with_port
            .to_socket_addrs()
            .with_context(|| format!("zone {}: cannot resolve primary {p:?}", self.name))?
            .next()
            .with_context(|| format!("zone {}: primary {p:?} has no address", self.name))?;
        Ok(Some(addr))
    }
}

fn default_ns_ttl() -> Duration {
    Duration::from_secs(86_400)
}

/// `soa = { … }` of a zone.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SoaConfig {
    /// Primary name server.
    pub mname: String,
    /// Responsible mailbox, DNS form (`hostmaster.example.net`).
    pub rname: String,
    /// Fixed serial; when absent the serial follows data changes.
    pub serial: Option<u32>,
    /// SOA refresh.
    #[serde(default = "d_1h", deserialize_with = "duration")]
    pub refresh: Duration,
    /// SOA retry.
    #[serde(default = "d_10m", deserialize_with = "duration")]
    pub retry: Duration,
    /// SOA expire.
    #[serde(default = "d_1w", deserialize_with = "duration")]
    pub expire: Duration,
    /// Negative-caching TTL (how long resolvers remember "not listed").
    #[serde(default = "d_60s", deserialize_with = "duration")]
    pub minimum: Duration,
    /// TTL of the SOA record.
    #[serde(default = "d_1h", deserialize_with = "duration")]
    pub ttl: Duration,
}

fn d_1h() -> Duration {
    Duration::from_secs(3600)
}
fn d_10m() -> Duration {
    Duration::from_secs(600)
}
fn d_1w() -> Duration {
    Duration::from_secs(7 * 86_400)
}
fn d_60s() -> Duration {
    Duration::from_secs(60)
}

/// `[[zone.dataset]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// rbldnsd dataset type: ip4set, ip4tset, ip4trie, ip6tset, ip6trie,
    /// dnset, or acl (the zone's querier ACL, at most one per zone).
    #[serde(rename = "type", deserialize_with = "dns::dataset_kind")]
    pub kind: DatasetKind,
    /// Data files, read in order; they form one dataset.
    pub files: Vec<PathBuf>,
}

/// Zone names are compared case-insensitively and without the root dot:
/// one spelling from here on.
fn zone_name<'de, D: Deserializer<'de>>(d: D) -> Result<ZoneName, D::Error> {
    let s = String::deserialize(d)?;
    ZoneName::parse(&s).ok_or_else(|| {
        serde::de::Error::custom(format!("zone name {s:?} is not a valid domain name"))
    })
}

/// Parses `35m`, `1h30m`, `90s`, `2d` or a plain number of seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .with_context(|| format!("invalid duration {s:?} (write e.g. 90s, 35m, 12h, 2d)"))
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Secs(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom),
    }
}

/// A `--zone name:type:file1,file2` specification (rbldnsd syntax).
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneSpec {
    /// Zone name.
    pub zone: ZoneName,
    /// Dataset type (`acl` included).
    pub kind: DatasetKind,
    /// Files.
    pub files: Vec<PathBuf>,
}

impl FromStr for ZoneSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let mut parts = s.splitn(3, ':');
        let (Some(zone), Some(kind), Some(files)) = (parts.next(), parts.next(), parts.next())
        else {
            bail!("zone spec {s:?} is not of the form zone:type:file[,file...]");
        };
        if zone.is_empty() {
            bail!("zone spec {s:?} has an empty zone name");
        }
        let Some(zone) = ZoneName::parse(zone) else {
            bail!("zone spec {s:?}: {zone:?} is not a valid domain name");
        };
        let files: Vec<PathBuf> = files
            .split(',')
            .filter(|f| !f.is_empty())
            .map(PathBuf::from)
            .collect();
        if files.is_empty() {
            bail!("zone spec {s:?} names no data file");
        }
        Ok(ZoneSpec {
            zone,
            kind: parse_dataset_kind(kind).with_context(|| format!("in zone spec {s:?}"))?,
            files,
        })
    }
}

/// The embedded default: the three fadelist zones on loopback, holding
/// only the RFC 5782 test entries.
pub fn embedded_default() -> Config {
    let zone = |name: &str, feed| ZoneConfig {
        name: ZoneName::parse(name).expect("a valid built-in zone name"),
        soa: None,
        ns: Vec::new(),
        ns_ttl: default_ns_ttl(),
        datasets: Vec::new(),
        feed: Some(feed),
        policy: None,
        transfer_key: None,
        primary: None,
        primary_key: None,
    };
    Config {
        server: ServerConfig::default(),
        zones: vec![
            zone("iprbl.test", Feed::Ip),
            zone("niprbl.test", Feed::BulkIp),
            zone("urirbl.test", Feed::Domain),
        ],
        store: StoreConfig::default(),
        ingest: IngestConfig::default(),
        policy: PolicyConfig::default(),
        web: WebConfig::default(),
        admin: AdminConfig::default(),
        rrl: RrlConfig::default(),
        transfer: TransferConfig::default(),
        dns_quota: DnsQuotaConfig::default(),
        metrics: MetricsConfig::default(),
        export: ExportConfig::default(),
    }
}

impl Config {
    /// Parses and checks a configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Config> {
        let config: Config =
            toml::from_str(text).with_context(|| format!("{origin}: invalid configuration"))?;
        config
            .validate()
            .with_context(|| format!("{origin}: invalid configuration"))?;
        Ok(config)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Adds `--zone` specifications: a spec naming an existing zone adds a
    /// dataset to it (rbldnsd: repeated zone names form one zone).
    pub fn add_zone_specs(&mut self, specs: &[ZoneSpec]) {
        for spec in specs {
            let dataset = DatasetConfig {
                kind: spec.kind,
                files: spec.files.clone(),
            };
            let name = spec.zone.clone();
            match self.zones.iter_mut().find(|z| z.name == name) {
                Some(z) => z.datasets.push(dataset),
                None => self.zones.push(ZoneConfig {
                    name,
                    soa: None,
                    ns: Vec::new(),
                    ns_ttl: default_ns_ttl(),
                    datasets: vec![dataset],
                    feed: None,
                    policy: None,
                    transfer_key: None,
                    primary: None,
                    primary_key: None,
                }),
            }
        }
    }

    /// Checks what serde cannot: names, duplicates, ranges.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.server.dns_listen.is_empty() {
            bail!("server.dns_listen is empty: fadelist needs at least one DNS address");
        }
        if self.server.reload_interval.is_zero() {
            bail!("server.reload_interval must be more than 0s");
        }
        if self.export.interval.is_zero() {
            bail!("export.interval must be more than 0s");
        }
        if let Some(e) = self.export.expires {
            // The stamp is moved on after a quarter of it; the loop must
            // get a chance to do so well before it runs out.
            if e < Duration::from_secs(60) || e < self.export.interval * 8 {
                bail!("export.expires must be at least 1m and at least 8 times export.interval");
            }
        }
        self.policy.validate("policy")?;
        self.store.validate()?;
        if self.ingest.decay_interval.is_zero() {
            bail!("ingest.decay_interval must be more than 0s");
        }
        if self.server.udp_batch_wait > Duration::from_millis(10) {
            bail!(
                "server.udp_batch_wait is {:?}; it delays answers by up to that much, keep it at \
                 10ms or less (the default is 20us)",
                self.server.udp_batch_wait
            );
        }
        if self.server.tcp_max_connections == 0 {
            bail!("server.tcp_max_connections must be at least 1");
        }
        self.validate_dns()?;
        if self.ingest.max_pending_reports == 0 {
            bail!("ingest.max_pending_reports must be at least 1");
        }
        self.validate_http()?;
        if self.ingest.writer_nice > 19 {
            bail!(
                "ingest.writer_nice is {}; nice values go from 0 (normal) to 19 (lowest priority)",
                self.ingest.writer_nice
            );
        }
        let mut feeds = std::collections::HashSet::new();
        let mut seen = std::collections::HashSet::new();
        for z in &self.zones {
            if let Some(f) = z.feed
                && !feeds.insert(f)
            {
                bail!("two zones have feed = {f:?}; each feed goes to one zone");
            }
            if let Some(o) = &z.policy {
                self.policy
                    .merged(o)
                    .validate(&format!("zone {} policy", z.name))?;
                if o.min_source_networks == Some(0) {
                    bail!(
                        "zone {} policy.min_source_networks must be at least 1",
                        z.name
                    );
                }
            }
            let name = &z.name;
            if z.primary.is_some() {
                if !z.datasets.is_empty() || z.feed.is_some() {
                    bail!(
                        "zone {name} follows a primary: it takes its data from there, so it can have \
                         no [[zone.dataset]] and no feed"
                    );
                }
                z.primary_addr()?;
                if let Some(k) = &z.primary_key {
                    self.transfer
                        .key_named(k)
                        .with_context(|| format!("zone {name}: primary_key"))?;
                }
            } else if z.primary_key.is_some() {
                bail!("zone {name}: primary_key without primary");
            }
            if !seen.insert(name.clone()) {
                bail!("zone {name} is defined twice; put all its datasets in one [[zone]]");
            }
            for d in &z.datasets {
                if d.files.is_empty() {
                    bail!(
                        "zone {name}: a dataset of type {} names no file",
                        d.kind.name()
                    );
                }
            }
            if let Some(soa) = &z.soa {
                for (what, n) in [("mname", &soa.mname), ("rname", &soa.rname)] {
                    if fadelist_core::snapshot::normalize_name(n).is_none() {
                        bail!("zone {name}: soa.{what} {n:?} is not a valid domain name");
                    }
                }
            }
            for n in &z.ns {
                if fadelist_core::snapshot::normalize_name(n).is_none() {
                    bail!("zone {name}: ns {n:?} is not a valid domain name");
                }
            }
        }
        Ok(())
    }
}

impl Config {
    /// The HTTP side's limits: `[server] http_*`, `[web]` rates, `[ingest]`
    /// quotas and body budgets.
    fn validate_http(&self) -> anyhow::Result<()> {
        let s = &self.server;
        if s.http_header_timeout.is_zero() || s.http_header_timeout > Duration::from_secs(60) {
            bail!(
                "server.http_header_timeout is {:?}; it must be above 0s and at most 60s (the \
                 default is 10s: a request head takes milliseconds)",
                s.http_header_timeout
            );
        }
        for (what, d) in [
            ("http_body_timeout", s.http_body_timeout),
            ("http_idle_timeout", s.http_idle_timeout),
        ] {
            if d.is_zero() {
                bail!("server.{what} must be more than 0s");
            }
        }
        for (what, n) in [
            ("server.http_max_connections", s.http_max_connections),
            (
                "server.http_max_connections_per_client",
                s.http_max_connections_per_client,
            ),
            ("web.max_tracked_clients", self.web.max_tracked_clients),
        ] {
            if n == 0 {
                bail!("{what} must be at least 1");
            }
        }
        for (what, n) in [
            ("web.delist_per_minute", self.web.delist_per_minute),
            (
                "web.api_delist_per_client_per_hour",
                self.web.api_delist_per_client_per_hour,
            ),
            ("web.api_delist_per_hour", self.web.api_delist_per_hour),
            ("ingest.rate_per_minute", self.ingest.rate_per_minute),
            (
                "ingest.reporter_daily_reports",
                self.ingest.reporter_daily_reports,
            ),
        ] {
            if n == 0 {
                bail!("{what} must be at least 1");
            }
        }
        let i = &self.ingest;
        if u32::try_from(i.max_message_bytes).is_err() {
            bail!("ingest.max_message_bytes must be below 4 GiB");
        }
        // A message as large as allowed must fit in every budget, or it
        // could never be accepted.
        for (what, budget) in [
            (
                "ingest.reporter_body_bytes_in_flight",
                i.reporter_body_bytes_in_flight as u64,
            ),
            ("ingest.body_bytes_in_flight", i.body_bytes_in_flight as u64),
            ("ingest.reporter_daily_bytes", i.reporter_daily_bytes),
        ] {
            if budget < i.max_message_bytes as u64 {
                bail!(
                    "{what} ({budget}) is below ingest.max_message_bytes ({}): a message of the \
                     largest accepted size could never be taken",
                    i.max_message_bytes
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fadelist_core::rbldnsd::DatasetType;

    #[test]
    fn shipped_example_parses() {
        let text = include_str!("../../../deploy/fadelist.example.toml");
        let c = Config::parse(text, "fadelist.example.toml").unwrap();
        assert_eq!(c.zones.len(), 3);
        assert_eq!(c.zones[0].name, "iprbl.example.net");
        assert_eq!(
            c.zones[0].datasets[0].kind,
            DatasetKind::Data(DatasetType::Ip4Set)
        );
        assert_eq!(c.server.default_ttl, Duration::from_secs(2100));
        assert_eq!(
            c.zones[0].soa.as_ref().unwrap().minimum,
            Duration::from_secs(60)
        );
        assert_eq!(c.zones[0].feed, Some(Feed::Ip));
        assert_eq!(c.zones[1].feed, Some(Feed::BulkIp));
        let niprbl = c.policy.merged(c.zones[1].policy.as_ref().unwrap());
        assert_eq!(niprbl.min_reporters, 3);
        assert_eq!(niprbl.half_life, Duration::from_secs(12 * 3600));
        assert_eq!(niprbl.list_threshold, c.policy.list_threshold);
        assert_eq!(c.ingest.never_list.len(), 2);
        assert_eq!(c.store.raw_retention, Duration::from_secs(30 * 86_400));
        assert_eq!(c.store, StoreConfig::default(), "documented defaults");
        assert_eq!(c.metrics, MetricsConfig::default(), "metrics off");
    }

    #[test]
    fn metrics_listener() {
        let c = Config::parse("[metrics]\nlisten = \"127.0.0.1:9153\"\n", "t.toml").unwrap();
        assert_eq!(c.metrics.listen, Some("127.0.0.1:9153".parse().unwrap()));
        assert_eq!(embedded_default().metrics.listen, None);
        let e = |t: &str| format!("{:#}", Config::parse(t, "t.toml").unwrap_err());
        assert!(e("[metrics]\nport = 9153\n").contains("port"));
        assert!(e("[metrics]\nlisten = \"localhost\"\n").contains("invalid"));
    }

    #[test]
    fn followed_zones() {
        let key = "[[transfer.key]]\nname = \"k\"\nsecret = \"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=\"\n";
        let ok = format!(
            "{key}[[zone]]\nname = \"bl.test\"\nprimary = \"127.0.0.1:5300\"\nprimary_key = \"k\"\n"
        );
        let c = Config::parse(&ok, "t.toml").unwrap();
        assert_eq!(
            c.zones[0].primary_addr().unwrap(),
            Some("127.0.0.1:5300".parse().unwrap())
        );
        let inbox = c
            .notify_inbox()
            .expect("NOTIFY accepted for the followed zone");
        assert!(inbox.signal("bl.test").is_some() && inbox.signal("other.test").is_none());
        // A bare address means port 53.
        let c = Config::parse(
            "[[zone]]\nname = \"bl.test\"\nprimary = \"192.0.2.1\"\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(
            c.zones[0].primary_addr().unwrap(),
            Some("192.0.2.1:53".parse().unwrap())
        );
        let e = |t: &str| format!("{:#}", Config::parse(t, "t.toml").unwrap_err());
        assert!(
            e("[[zone]]\nname = \"bl.test\"\nprimary = \"127.0.0.1:5300\"\nfeed = \"ip\"\n")
                .contains("no [[zone.dataset]] and no feed")
        );
        assert!(
            e("[[zone]]\nname = \"bl.test\"\nprimary = \"127.0.0.1:5300\"\nprimary_key = \"nope\"\n")
                .contains("primary_key")
        );
        assert!(
            e("[[zone]]\nname = \"bl.test\"\nprimary_key = \"k\"\n").contains("without primary")
        );
        assert!(
            e("[[zone]]\nname = \"bl.test\"\nprimary = \"no-such-host.invalid:53\"\n")
                .contains("cannot resolve")
        );
        // The deploy example is valid once its secret is filled in.
        let example = include_str!("../../../deploy/fadelist-follower.toml").replace(
            "REPLACE-WITH-THE-SHARED-SECRET",
            "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=",
        );
        let c = Config::parse(&example, "fadelist-follower.toml").unwrap();
        assert!(
            c.zones
                .iter()
                .all(|z| z.primary.is_some() && z.primary_key.is_some())
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[server]\ndns_lisen = []\n", "t.toml").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("dns_lisen"), "{msg}");
        let err = Config::parse("[[zone]]\nname = \"a.test\"\ncolour = 1\n", "t.toml").unwrap_err();
        assert!(format!("{err:#}").contains("colour"));
    }

    #[test]
    fn bad_values_are_explained() {
        let e = |t: &str| format!("{:#}", Config::parse(t, "t.toml").unwrap_err());
        assert!(e("[server]\nreload_interval = \"soon\"\n").contains("invalid duration"));
        assert!(e("[[zone]]\nname = \"bad name\"\n").contains("not a valid domain name"));
        assert!(
            e("[[zone]]\nname = \"a.test\"\n[[zone]]\nname = \"A.test.\"\n")
                .contains("defined twice")
        );
        assert!(e("[[zone]]\nname = \"a.test\"\n[[zone.dataset]]\ntype = \"ip5set\"\nfiles = [\"x\"]\n").contains("unknown dataset type"));
        assert!(e("[server]\ndns_listen = []\n").contains("dns_listen is empty"));
        assert!(e("[server]\ntcp_max_connections = 0\n").contains("at least 1"));
        assert!(e("[server]\nudp_batch_wait = \"1s\"\n").contains("10ms or less"));
        assert!(e("[server]\ntcp_mode = \"quick\"\n").contains("tcp_mode"));
        assert!(e("[ingest]\nwriter_nice = 20\n").contains("0 (normal) to 19"));
        assert!(e("[ingest]\nmax_pending_reports = 0\n").contains("at least 1"));
    }

    #[test]
    fn store_retention_and_disk_threshold() {
        let c = embedded_default();
        assert_eq!(c.store.report_retention, Duration::from_secs(90 * 86_400));
        assert_eq!(c.store.min_free_disk, DiskThreshold::Bytes(1 << 30));
        let t = |s: &str| s.parse::<DiskThreshold>();
        assert_eq!(t("1GiB").unwrap(), DiskThreshold::Bytes(1 << 30));
        assert_eq!(t(" 500 MB").unwrap(), DiskThreshold::Bytes(500_000_000));
        assert_eq!(t("1.5kib").unwrap(), DiskThreshold::Bytes(1536));
        assert_eq!(t("4096").unwrap(), DiskThreshold::Bytes(4096));
        assert_eq!(t("5%").unwrap(), DiskThreshold::Percent(5.0));
        assert_eq!(
            t("1000000TiB").unwrap(),
            DiskThreshold::Bytes(1_000_000 << 40)
        );
        assert_eq!(DiskThreshold::Percent(5.0).bytes_of(1000), 50);
        for bad in ["", "GiB", "1 parsec", "101%", "-1%", "20000000TiB", "1e3"] {
            assert!(t(bad).is_err(), "{bad:?}");
        }
        let c = Config::parse("[store]\nmin_free_disk = \"5%\"\n", "t.toml").unwrap();
        assert_eq!(c.store.min_free_disk, DiskThreshold::Percent(5.0));
        let c = Config::parse("[store]\nmin_free_disk = 0\n", "t.toml").unwrap();
        assert_eq!(c.store.min_free_disk, DiskThreshold::Bytes(0));
        let e = |t: &str| format!("{:#}", Config::parse(t, "t.toml").unwrap_err());
        assert!(e("[store]\nmin_free_disk = \"lots\"\n").contains("invalid disk size"));
        assert!(e("[store]\nprune_interval = 0\n").contains("more than 0s"));
        assert!(e("[store]\nprune_batch = 0\n").contains("at least 1"));
        assert!(e("[store]\nraw_retention = \"100d\"\n").contains("deleted with its report"));
        assert!(e("[store]\nreport_retention = \"2y\"\n").contains("removals that came after"));
    }

    #[test]
    fn zone_specs() {
        let s: ZoneSpec = "bl.example:ip4set:a.txt,b.txt".parse().unwrap();
        assert_eq!(s.zone, "bl.example");
        assert_eq!(
            s.files,
            vec![PathBuf::from("a.txt"), PathBuf::from("b.txt")]
        );
        assert!("bl.example:ip4set".parse::<ZoneSpec>().is_err());
        assert!("bl.example:nope:a".parse::<ZoneSpec>().is_err());
        assert!(":ip4set:a".parse::<ZoneSpec>().is_err());
        let mut c = Config {
            zones: vec![],
            ..embedded_default()
        };
        c.add_zone_specs(&[
            "bl.example:ip4set:a".parse().unwrap(),
            "BL.example.:dnset:b".parse().unwrap(),
            "other.example:ip6trie:c".parse().unwrap(),
        ]);
        assert_eq!(c.zones.len(), 2);
        assert_eq!(c.zones[0].datasets.len(), 2);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("35m").unwrap(), Duration::from_secs(2100));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn http_limits_are_read_and_checked() {
        let text = include_str!("../../../deploy/fadelist.example.toml");
        let c = Config::parse(text, "fadelist.example.toml").unwrap();
        assert_eq!(c.server.http_header_timeout, Duration::from_secs(10));
        assert_eq!(c.server.http_max_connections_per_client, 32);
        assert_eq!(c.web.api_delist_per_hour, 100);
        assert_eq!(c.web.proxy_header, ProxyHeader::XForwardedFor);
        assert_eq!(c.ingest.reporter_daily_bytes, 1 << 30);
        let c = Config::parse(
            "[web]\ntrusted_proxies = [\"10.0.0.1\", \"2001:db8::/32\"]\nproxy_header = \"forwarded\"\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(
            c.web.trusted_proxies,
            [
                "10.0.0.1/32".parse().unwrap(),
                "2001:db8::/32".parse().unwrap()
            ] as [ipnet::IpNet; 2]
        );
        assert_eq!(c.web.proxy_header, ProxyHeader::Forwarded);
        let e = |t: &str| format!("{:#}", Config::parse(t, "t.toml").unwrap_err());
        assert!(e("[web]\ntrusted_proxies = [\"10.0.0.1/8\"]\n").contains("host bits"));
        assert!(e("[web]\ntrusted_proxies = [\"proxy.example\"]\n").contains("not an IP"));
        assert!(e("[server]\nhttp_header_timeout = \"2m\"\n").contains("at most 60s"));
        assert!(e("[server]\nhttp_max_connections_per_client = 0\n").contains("at least 1"));
        assert!(e("[web]\napi_delist_per_hour = 0\n").contains("at least 1"));
        assert!(
            e("[ingest]\nreporter_body_bytes_in_flight = 1000\n")
                .contains("below ingest.max_message_bytes")
        );
        assert!(e("[ingest]\nreporter_daily_bytes = 1000\n").contains("could never be taken"));
    }
}
