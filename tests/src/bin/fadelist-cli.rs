//! The `fadelist` command line, built in this package so that its
//! end-to-end tests can run it as a process (Cargo tells integration tests
//! where their own package's binaries are, `CARGO_BIN_EXE_<name>`, and no
//! other package's). The same one line as the real binary's `main`.

fn main() -> std::process::ExitCode {
    fadelist::cli::main()
}
