//! The `keepsake` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    keepsake::cli::main()
}
