//! Writes the seed queries of [`fadelist_fuzz::harness::seeds`] into
//! `corpus/parse_query/` and `corpus/respond/` (or the directories given
//! as arguments), one file per query, named `seed-<what>`.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --bin write_seeds
//! ```

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let dirs = if args.is_empty() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
        vec![root.join("parse_query"), root.join("respond")]
    } else {
        args
    };
    let seeds = fadelist_fuzz::harness::seeds();
    for dir in &dirs {
        std::fs::create_dir_all(dir)?;
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
        }
        println!("{} seeds in {}", seeds.len(), dir.display());
    }
    Ok(())
}
