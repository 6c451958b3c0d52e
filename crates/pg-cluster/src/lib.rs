//! A local PostgreSQL cluster that only its owner can reach: the registry server's embedded
//! default database and the tests' throw-away servers, started from the PostgreSQL binaries
//! installed on the machine with nothing but `std`.
//!
//! The crate is split by concern:
//! * [`binaries`]: finding `initdb`, `postgres`, `psql`, ... ([`find_bin_dir`]);
//! * `run_as`: running them as the `postgres` OS user when this process is root, since
//!   PostgreSQL refuses root;
//! * [`access`]: the private socket directory and the authentication files: no TCP
//!   listener, a Unix socket in a 0700 directory, `local` entries only, peer identity or
//!   passwords, never `trust`;
//! * `template`: a data directory made by initdb once and copied, so a cluster starts in a
//!   fraction of initdb's second, and the sweeping of killed processes' leftovers;
//! * [`cluster`]: [`LocalCluster`], its lifecycle (start, watch, restart, stop);
//! * `test_support` (feature `test-support`): `TestServer` and `test_server`, what tests use.

pub mod access;
pub mod binaries;
pub mod cluster;
pub mod error;
mod run_as;
mod template;
#[cfg(feature = "test-support")]
pub mod test_support;
mod tools;

pub use access::TlsListener;
pub use binaries::{BIN_DIR_ENV, find_bin_dir, tool};
pub use cluster::{ClusterOptions, DEFAULT_PORT, LocalCluster};
pub use error::ClusterError;
pub use template::NO_TEMPLATE_ENV;
pub use tools::{percent_encode, validate_name};

/// Superuser of clusters made here; it logs in by OS identity (peer authentication) through
/// the cluster's private socket.
pub const SUPERUSER: &str = "postgres";
