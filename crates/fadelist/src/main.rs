//! The `fadelist` command line. Thin: the commands are in [`cli`], and
//! they call the library exactly as the tests do.

mod cli;

fn main() -> anyhow::Result<()> {
    cli::main()
}
