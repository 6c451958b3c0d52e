//! `registry-server`: the Schema Registry's binary. All logic lives in the library; this
//! only parses the arguments and hands them to the server or to the command line.

use std::process::ExitCode;

use clap::Parser as _;
use registry_server::cli::{Cli, Command};

/// mimalloc instead of the system allocator: parsing and checking SQL allocate many small,
/// short-lived nodes, and glibc's allocator was a quarter of `lint`'s time.
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
