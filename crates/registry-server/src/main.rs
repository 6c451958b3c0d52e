//! `registry-server`: the Schema Registry's binary. All logic lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    registry_server::cli::main()
}
