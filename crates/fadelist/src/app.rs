//! What the HTTP handlers and timers share: the configuration, the write
//! side ([`Listings`]), the read side ([`ReadPool`]) and the limits that
//! protect both.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;
use fadelist_store::Store;

use crate::config::Config;
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
}

/// Limits on what clients may ask.
#[derive(Debug)]
pub struct Limits {
    /// Reports per reporter.
    pub reports: RateLimiter<i64>,
    /// One permit per report being handled (`ingest.max_pending_reports`):
    /// when the store falls behind, new reports get 503 instead of piling
    /// up in memory.
    pub report_slots: tokio::sync::Semaphore,
    /// Delisting requests per client IP.
    pub delist: RateLimiter<IpAddr>,
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
            limits: Limits {
                reports: RateLimiter::new(config.ingest.rate_per_minute),
                report_slots: tokio::sync::Semaphore::new(config.ingest.max_pending_reports),
                delist: RateLimiter::new(config.web.delist_per_minute),
            },
            listings,
            form_secret,
            config,
        })
    }
}

/// Token buckets per key (reporter id, client IP).
#[derive(Debug)]
pub struct RateLimiter<K = i64> {
    per_minute: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: std::hash::Hash + Eq> RateLimiter<K> {
    /// Allows `per_minute` requests per key, with a burst of the same.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`; `Err(seconds)` until one is free.
    pub fn check(&self, key: K, now: Instant) -> Result<(), u64> {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        // Forget idle buckets now and then so the map stays small.
        if b.len() > 100_000 {
            let per_minute = self.per_minute;
            b.retain(|_, (t, last)| {
                *t + now.saturating_duration_since(*last).as_secs_f64() * per_minute / 60.0
                    < per_minute
            });
        }
        let (tokens, last) = b.entry(key).or_insert((self.per_minute, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.per_minute / 60.0;
        *tokens = (*tokens + refill).min(self.per_minute);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) * 60.0 / self.per_minute).ceil() as u64)
        }
    }
}
