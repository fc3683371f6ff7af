//! The `keepsake` command: everything lives in the library; this only runs it.

/// mimalloc instead of the system allocator: on the yardstick page glibc's malloc and free
/// were about a third of the server's instructions (callgrind; docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    keepsake::cli::main()
}
