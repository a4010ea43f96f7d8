//! The `plugboard` binary: the CLI, and (on Lambda) the `bootstrap`.

fn main() -> std::process::ExitCode {
    plugboard::cli::main()
}
