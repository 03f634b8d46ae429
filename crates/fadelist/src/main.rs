//! The `fadelist` command line. Thin: the commands are in
//! [`fadelist::cli`], and they call the library exactly as the tests do.

fn main() -> std::process::ExitCode {
    fadelist::cli::main()
}
