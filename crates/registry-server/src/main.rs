//! `registry-server`: the Schema Registry's binary. All logic lives in the library; this
//! only parses the arguments and hands them to the server or to the command line.

use std::process::ExitCode;

use clap::Parser as _;
use registry_server::cli::{Cli, Command};

/// mimalloc instead of the system allocator: parsing and checking SQL allocate many small,
/// short-lived nodes, and glibc's allocator was a quarter of `lint`'s time. Its version 2
/// (the `v2` feature): version 3 touched more fresh memory (page faults, a sixth of a lint
/// run) for 5–10% more time and half again the peak memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => registry_server::serve::run(cli.serve),
        Some(Command::Serve(args)) => registry_server::serve::run(args),
        Some(command) => registry_server::cli::run(command),
    }
}
