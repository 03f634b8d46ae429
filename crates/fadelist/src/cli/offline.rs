//! `reporter` and `neverlist`: edits made straight in the database, for a
//! stopped server or beside a running one (SQLite serialises the writes).
//! They have no DNS effect of their own: a running server reads reporters
//! and the never-list from the database for every report. The exception
//! is `reporter revert`, which delists keys: a running server would keep
//! serving them until restarted, so it is for a stopped server
//! (`fadelist admin revert-reporter` is the running server's form).

use anyhow::bail;
use fadelist_store::Read as _;

use super::{DbArgs, NeverlistCmd, ReporterCmd, UsageError};
use crate::config::{Config, embedded_default};

/// The configuration named by `args` (its [store] path overridden by
/// `--db`).
fn config_of(args: &DbArgs) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(p) => Config::load(p)?,
        None => embedded_default(),
    };
    if let Some(db) = &args.db {
        config.store.path = db.clone();
    }
    Ok(config)
}

/// Opens the database; `create` only for commands that add something
/// (`reporter add`, `neverlist add`). The others refuse a missing file
/// rather than create an empty database in whatever directory they run
/// from and then report "no reporter named …" about it.
fn open_db(args: &DbArgs, create: bool) -> anyhow::Result<(fadelist_store::Store, String)> {
    let config = config_of(args)?;
    let path = config.store.path.display().to_string();
    if !create && !config.store.path.exists() {
        bail!(
            "no database at {path}: name it with --db PATH, FADELIST_DB or --config FILE ([store] path)"
        );
    }
    Ok((crate::open_store(&config)?, path))
}

/// `--trusted` values, checked and normalised before anything is opened:
/// a refused one is a usage error (exit 64) naming it.
fn trusted_arg(trusted: &[String]) -> anyhow::Result<Vec<String>> {
    crate::input::parse_trusted(trusted).map_err(|e| UsageError(format!("--trusted: {e}")).into())
}

fn now() -> i64 {
    crate::clock::unix_now() as i64
}

/// `reporter …`.
pub fn reporter(args: &DbArgs, cmd: ReporterCmd) -> anyhow::Result<()> {
    // Checked before the database is opened: a refused value changes
    // nothing, whatever the state of the database.
    let trusted = match &cmd {
        ReporterCmd::Add { trusted, .. } | ReporterCmd::SetTrusted { trusted, .. } => {
            trusted_arg(trusted)?
        }
        _ => Vec::new(),
    };
    if let ReporterCmd::Revert { name } = &cmd {
        return revert(args, name);
    }
    let create = matches!(cmd, ReporterCmd::Add { .. });
    let (mut store, db) = open_db(args, create)?;
    match cmd {
        ReporterCmd::Add {
            name, weight, kind, ..
        } => {
            let weight = crate::input::parse_weight(weight)
                .map_err(|e| UsageError(format!("--weight: {e}")))?;
            let kind = crate::input::parse_reporter_kind(&kind)
                .map_err(|e| UsageError(format!("--kind: {e}")))?;
            let token = crate::admin::new_token()?;
            let r = store.add_reporter(&name, weight, kind, &trusted, &token, now())?;
            println!(
                "reporter {} added (id {}, weight {}, {:?}, trusted [{}])",
                r.name,
                r.id,
                r.weight,
                r.kind,
                r.trusted.join(", ")
            );
            println!("token: {token}");
            println!("(shown once; only its hash is stored)");
        }
        ReporterCmd::SetTrusted { name, .. } => {
            let Some(r) = store.set_trusted(&name, &trusted, now())? else {
                bail!("no reporter named {name:?} in {db}");
            };
            println!("reporter {} trusts [{}]", r.name, r.trusted.join(", "));
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
                if !r.invalid_trusted.is_empty() {
                    println!(
                        "\tignored (not an IP or CIDR; fix with set-trusted): {}",
                        r.invalid_trusted.join(", ")
                    );
                }
            }
        }
        ReporterCmd::Suspend { name } => {
            if !store.set_suspended(&name, true, now())? {
                bail!("no reporter named {name:?} in {db}");
            }
            println!("reporter {name} suspended");
        }
        ReporterCmd::Reinstate { name } => {
            if !store.set_suspended(&name, false, now())? {
                bail!("no reporter named {name:?} in {db}");
            }
            println!("reporter {name} reinstated");
        }
        ReporterCmd::Remove { name } => {
            if !store.remove_reporter(&name, now())? {
                bail!("no reporter named {name:?} in {db}");
            }
            println!("reporter {name} removed");
        }
        // Handled above, before the store is opened without the policies.
        ReporterCmd::Revert { .. } => {}
    }
    Ok(())
}

/// `reporter revert NAME`: the store's revert with the configuration's
/// zone policies, as the running server's would do it.
fn revert(args: &DbArgs, name: &str) -> anyhow::Result<()> {
    let config = config_of(args)?;
    let rules = crate::listings::Rules::new(&config)?;
    let (mut store, db) = open_db(args, false)?;
    let Some(r) = store.revert_reporter(name, |z| rules.policy(z).clone(), "cli", now())? else {
        bail!("no reporter named {name:?} in {db}");
    };
    println!(
        "reporter {} reverted: suspended, {} reports withdrawn as evidence from {} keys",
        r.reporter, r.evidence_withdrawn, r.keys
    );
    for d in &r.delisted {
        println!("delisted\t{}\t{}", d.zone, d.key);
    }
    for d in &r.still_listed {
        println!("still listed (other reporters)\t{}\t{}", d.zone, d.key);
    }
    if !r.delisted.is_empty() {
        eprintln!(
            "note: a server running on this database keeps serving the delisted keys until it restarts"
        );
    }
    Ok(())
}

/// `neverlist …`.
pub fn neverlist(args: &DbArgs, cmd: NeverlistCmd) -> anyhow::Result<()> {
    let create = matches!(cmd, NeverlistCmd::Add { .. });
    let (mut store, db) = open_db(args, create)?;
    match cmd {
        NeverlistCmd::Add { entry, reason } => {
            let text = crate::input::parse_never(&entry)?.text();
            if store.never_list_add(&text, &reason, now())? {
                println!("never-list: added {text}");
            } else {
                println!("never-list: {text} was already there");
            }
        }
        NeverlistCmd::Remove { entry } => {
            let text = crate::input::parse_never(&entry)
                .map(|e| e.text())
                .unwrap_or_else(|_| entry.clone());
            if !store.never_list_remove(&text, now())? {
                bail!("{entry:?} is not on the never-list in {db}");
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

/// `backup --out FILE`: a checked online copy of the database.
pub fn backup(args: &DbArgs, out: &std::path::Path) -> anyhow::Result<()> {
    let db = config_of(args)?.store.path;
    match fadelist_store::backup(&db, out) {
        Ok(info) => {
            println!(
                "backup of {} written to {}: {} bytes, schema version {}, {} reports, integrity ok",
                db.display(),
                out.display(),
                info.bytes,
                info.schema_version,
                info.reports
            );
            Ok(())
        }
        // A path the user gave that cannot be used: exit 64.
        Err(fadelist_store::StoreError::Invalid(m)) => Err(UsageError(m).into()),
        Err(e) => bail!(
            "backup of {} to {} failed: {e}",
            db.display(),
            out.display()
        ),
    }
}
