//! The embedded default database: a persistent local PostgreSQL in the server's data
//! directory, with the registry's database and a second database as the default
//! migration target, so the whole workflow runs with no database URL given.

use std::path::{Path, PathBuf};

use pg_cluster::{ClusterError, LocalCluster};

/// The registry's own database in the embedded cluster.
pub const REGISTRY_DATABASE: &str = "registry";
/// The default migration target in the embedded cluster.
pub const TARGET_DATABASE: &str = "target";
/// The default target's name in the registry.
pub const TARGET_NAME: &str = "default";

/// A running embedded cluster. Dropping it stops PostgreSQL; the data stays.
#[derive(Debug)]
pub struct Embedded {
    cluster: LocalCluster,
}

impl Embedded {
    /// Starts (creating on first use) the cluster under `<data_dir>/postgres` and makes
    /// sure both databases exist.
    pub fn start(data_dir: &Path) -> Result<Self, ClusterError> {
        let cluster_dir: PathBuf = data_dir.join("postgres");
        let cluster = LocalCluster::start_persistent(&cluster_dir)?;
        cluster.create_database(REGISTRY_DATABASE)?;
        cluster.create_database(TARGET_DATABASE)?;
        Ok(Self { cluster })
    }

    /// URL of the registry database.
    pub fn registry_url(&self) -> String {
        self.cluster.url(REGISTRY_DATABASE)
    }

    /// URL of the default target database.
    pub fn target_url(&self) -> String {
        self.cluster.url(TARGET_DATABASE)
    }

    /// The cluster itself (port, data directory, log).
    pub fn cluster(&self) -> &LocalCluster {
        &self.cluster
    }

    /// Stops PostgreSQL cleanly (also done on drop).
    pub fn stop(self) {
        self.cluster.stop();
    }
}
