//! `reporter` and `neverlist`: edits made straight in the database, for a
//! stopped server or beside a running one (SQLite serialises the writes).
//! They have no DNS effect of their own: a running server reads reporters
//! and the never-list from the database for every report.

use anyhow::{Context, bail};
use fadelist::config::{Config, embedded_default};
use fadelist_store::Read as _;

use super::{DbArgs, NeverlistCmd, ReporterCmd};

fn open_db(args: &DbArgs) -> anyhow::Result<fadelist_store::Store> {
    let mut config = match &args.config {
        Some(p) => Config::load(p)?,
        None => embedded_default(),
    };
    if let Some(db) = &args.db {
        config.store.path = db.clone();
    }
    fadelist::open_store(&config)
}

fn now() -> i64 {
    fadelist::clock::unix_now() as i64
}

/// `reporter …`.
pub fn reporter(args: &DbArgs, cmd: ReporterCmd) -> anyhow::Result<()> {
    let mut store = open_db(args)?;
    match cmd {
        ReporterCmd::Add {
            name,
            weight,
            kind,
            trusted,
        } => {
            let sane = weight > 0.0 && weight <= 100.0;
            if !sane {
                bail!("--weight must be above 0 and at most 100");
            }
            for t in &trusted {
                t.parse::<ipnet::IpNet>()
                    .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| format!("--trusted {t:?} is not a CIDR"))?;
            }
            let kind = if kind == "trap" {
                fadelist_store::ReporterKind::Trap
            } else {
                fadelist_store::ReporterKind::User
            };
            let mut raw = [0u8; 24];
            getrandom::fill(&mut raw)
                .map_err(|e| anyhow::anyhow!("no randomness for the token: {e}"))?;
            let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            let r = store.add_reporter(&name, weight, kind, &trusted, &token, now())?;
            println!(
                "reporter {} added (id {}, weight {}, {:?})",
                r.name, r.id, r.weight, r.kind
            );
            println!("token: {token}");
            println!("(shown once; only its hash is stored)");
        }
        ReporterCmd::List => {
            for r in store.reporters()? {
                let status = if r.removed {
                    "removed"
                } else if r.suspended {
                    "suspended"
                } else {
                    "active"
                };
                println!(
                    "{}\t{:?}\tweight {}\t{}\ttrusted [{}]",
                    r.name,
                    r.kind,
                    r.weight,
                    status,
                    r.trusted.join(", ")
                );
            }
        }
        ReporterCmd::Suspend { name } => {
            if !store.set_suspended(&name, true, now())? {
                bail!("no reporter named {name:?}");
            }
            println!("reporter {name} suspended");
        }
        ReporterCmd::Reinstate { name } => {
            if !store.set_suspended(&name, false, now())? {
                bail!("no reporter named {name:?}");
            }
            println!("reporter {name} reinstated");
        }
        ReporterCmd::Remove { name } => {
            if !store.remove_reporter(&name, now())? {
                bail!("no reporter named {name:?}");
            }
            println!("reporter {name} removed");
        }
    }
    Ok(())
}

/// `neverlist …`.
pub fn neverlist(args: &DbArgs, cmd: NeverlistCmd) -> anyhow::Result<()> {
    let mut store = open_db(args)?;
    match cmd {
        NeverlistCmd::Add { entry, reason } => {
            let text = fadelist::input::parse_never(&entry)?.text();
            if store.never_list_add(&text, &reason, now())? {
                println!("never-list: added {text}");
            } else {
                println!("never-list: {text} was already there");
            }
        }
        NeverlistCmd::Remove { entry } => {
            let text = fadelist::input::parse_never(&entry)
                .map(|e| e.text())
                .unwrap_or_else(|_| entry.clone());
            if !store.never_list_remove(&text, now())? {
                bail!("{entry:?} is not on the never-list");
            }
            println!("never-list: removed {text}");
        }
        NeverlistCmd::List => {
            for e in store.never_list()? {
                println!("{}\t{}", e.entry, e.reason);
            }
        }
    }
    Ok(())
}
