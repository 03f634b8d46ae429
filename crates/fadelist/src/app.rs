//! What the HTTP handlers and timers share: the configuration, the write
//! side ([`Listings`]), the read side ([`ReadPool`]) and the limits that
//! protect both.

use std::time::{Duration, Instant};

use anyhow::Context;
use fadelist_store::Store;

use crate::client::{ClientKey, Proxies};
use crate::config::Config;
use crate::limits::{InFlight, KeyedLimiter, UsedTokens};
use crate::listings::Listings;
use crate::read::ReadPool;
use crate::sched::Pool;
use crate::zones::ZoneSet;

/// Threads parsing reported mail. Two: the machine this is tuned on has
/// two cores, and a report's parse is its biggest cost.
pub const PARSERS: usize = 2;

/// Everything the server shares between HTTP, timers and DNS publication.
#[derive(Debug)]
pub struct App {
    /// Configuration.
    pub config: Config,
    /// The write side: every change goes through it.
    pub listings: Listings,
    /// The read side: lookups and listings, off the writer's queue.
    pub reads: ReadPool,
    /// Threads that parse reported mail, below the DNS workers' priority.
    pub parsers: Pool<()>,
    /// Rate limits and admission.
    pub limits: Limits,
    /// Key of the signed delisting-form tokens.
    pub form_secret: Vec<u8>,
    /// Trusted reverse proxies: who the client of a request is.
    pub proxies: Proxies,
    /// What happened to the reports posted (the metrics).
    pub reports: crate::metrics::ReportStats,
    /// When the server started, Unix seconds.
    pub started_at: u64,
    /// Asks the store thread for `/readyz` and the status, once a second
    /// at most.
    pub pinger: crate::health::Pinger,
    /// What the followed zones' tasks last did.
    pub follow: crate::follower::Board,
}

/// Limits on what clients may ask, each in a bounded concurrent table
/// (see [`crate::limits`]).
#[derive(Debug)]
pub struct Limits {
    /// Reports per reporter per minute.
    pub reports: KeyedLimiter<i64>,
    /// One permit per report being handled (`ingest.max_pending_reports`):
    /// when the store falls behind, new reports get 503 instead of piling
    /// up in memory.
    pub report_slots: tokio::sync::Semaphore,
    /// Reports per reporter per (rolling) day.
    pub daily_reports: KeyedLimiter<i64>,
    /// Bytes of mail per reporter per (rolling) day.
    pub daily_bytes: KeyedLimiter<i64>,
    /// Report body bytes held at once, all reporters: one permit per byte.
    pub body_bytes: tokio::sync::Semaphore,
    /// Report body bytes held at once per reporter.
    pub reporter_bytes: InFlight<i64>,
    /// Delisting requests per client per minute, form and API together.
    pub delist: KeyedLimiter<ClientKey>,
    /// JSON delisting requests per client per hour.
    pub api_delist_client: KeyedLimiter<ClientKey>,
    /// JSON delisting requests per hour, all clients.
    pub api_delist_all: KeyedLimiter<()>,
    /// Delisting-form tokens already used.
    pub used_form_tokens: UsedTokens,
}

impl Limits {
    /// The limits `config` describes, starting at `now`.
    pub fn new(config: &Config, now: Instant) -> Limits {
        const MINUTE: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(3600);
        const DAY: Duration = Duration::from_secs(86_400);
        let (i, w) = (&config.ingest, &config.web);
        let cap = w.max_tracked_clients;
        Limits {
            reports: KeyedLimiter::new(i.rate_per_minute.into(), MINUTE, cap, now),
            report_slots: tokio::sync::Semaphore::new(i.max_pending_reports),
            daily_reports: KeyedLimiter::new(i.reporter_daily_reports.into(), DAY, cap, now),
            daily_bytes: KeyedLimiter::new(i.reporter_daily_bytes, DAY, cap, now),
            body_bytes: tokio::sync::Semaphore::new(
                i.body_bytes_in_flight
                    .min(tokio::sync::Semaphore::MAX_PERMITS),
            ),
            reporter_bytes: InFlight::new(i.reporter_body_bytes_in_flight as u64),
            delist: KeyedLimiter::new(w.delist_per_minute.into(), MINUTE, cap, now),
            api_delist_client: KeyedLimiter::new(
                w.api_delist_per_client_per_hour.into(),
                HOUR,
                cap,
                now,
            ),
            api_delist_all: KeyedLimiter::new(w.api_delist_per_hour.into(), HOUR, 1, now),
            used_form_tokens: UsedTokens::new(cap),
        }
    }

    /// Forgets what no longer limits anyone: full buckets, expired tokens.
    /// Run now and then ([`crate::run`] does every minute), never per
    /// request.
    pub fn sweep(&self, now: Instant, unix_now: i64) {
        self.reports.sweep(now);
        self.daily_reports.sweep(now);
        self.daily_bytes.sweep(now);
        self.delist.sweep(now);
        self.api_delist_client.sweep(now);
        self.api_delist_all.sweep(now);
        self.used_form_tokens.sweep(unix_now);
    }
}

impl App {
    /// Builds the app: loads the listed keys from `store` into the serving
    /// copy, publishes the first snapshot, starts the store thread.
    pub fn new(config: Config, zones: ZoneSet, store: Store) -> anyhow::Result<App> {
        let listings = Listings::start(&config, zones, store)?;
        let form_secret = match &config.web.form_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                // Tokens then last until a restart, which their one-hour
                // expiry makes harmless.
                let mut b = vec![0u8; 32];
                getrandom::fill(&mut b)
                    .map_err(|e| anyhow::anyhow!("no randomness for the form secret: {e}"))
                    .context("cannot start")?;
                b
            }
        };
        Ok(App {
            reads: ReadPool::start(config.store.path.clone(), config.ingest.writer_nice),
            parsers: Pool::start(
                "fadelist-parse",
                PARSERS,
                config.ingest.writer_nice,
                config.ingest.max_pending_reports,
                || (),
            ),
            limits: Limits::new(&config, crate::clock::monotonic()),
            proxies: Proxies::new(config.web.trusted_proxies.clone(), config.web.proxy_header),
            listings,
            form_secret,
            config,
            reports: crate::metrics::ReportStats::default(),
            started_at: crate::clock::unix_now(),
            pinger: crate::health::Pinger::default(),
            follow: crate::follower::Board::default(),
        })
    }
}
