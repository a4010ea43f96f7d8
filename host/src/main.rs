//! The `plugboard` binary: the CLI, and (on Lambda) the `bootstrap`.

/// mimalloc: every invocation allocates many small, short-lived buffers (event JSON, stores,
/// instances); measured with `scripts/bench-dev.sh`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    plugboard::cli::main()
}
