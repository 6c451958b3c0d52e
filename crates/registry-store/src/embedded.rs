//! The embedded default database: a persistent local PostgreSQL in the server's data
//! directory, with the registry's database, a second database as the default migration
//! target and a third for rehearsals, so the whole workflow runs with no database URL given.
//!
//! The cluster is reachable only through its private socket (see `pg-cluster`), and each
//! use has its own role, none of them a superuser:
//! * [`OWNER_ROLE`] owns the `registry` schema and is used only to migrate it;
//! * [`RUNTIME_ROLE`] is what the server runs as: it may read and insert the audit log and
//!   nothing more there, and owns nothing;
//! * [`TARGET_ROLE`] owns the default target database, where approved migrations run;
//! * [`REHEARSAL_ROLE`] owns the rehearsal database, where submitted migrations are tried
//!   in transactions that are rolled back.
//!
//! The roles log in by OS identity (peer authentication), so there are no passwords to
//! keep. A data directory made by an older version, where everything belonged to the
//! superuser, is handed over to these roles on start.

use std::path::Path;

use pg_cluster::{ClusterError, ClusterOptions, LocalCluster};

/// The registry's own database in the embedded cluster.
pub const REGISTRY_DATABASE: &str = "registry";
/// The default migration target in the embedded cluster.
pub const TARGET_DATABASE: &str = "target";
/// The database rehearsals run in.
pub const REHEARSAL_DATABASE: &str = "rehearsal";
/// The default target's name in the registry.
pub const TARGET_NAME: &str = "default";
/// Owner of the registry schema; migrations only.
pub const OWNER_ROLE: &str = "registry_owner";
/// The server's runtime role in the registry database.
pub const RUNTIME_ROLE: &str = "registry_app";
/// The role applying migrations to the default target.
pub const TARGET_ROLE: &str = "registry_target";
/// The role rehearsals run as.
pub const REHEARSAL_ROLE: &str = "registry_rehearsal";

/// Creates the roles and databases (idempotent), run as the superuser.
const BOOTSTRAP_ROLES: &str = "DO $$
DECLARE role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['registry_owner', 'registry_app', 'registry_target', 'registry_rehearsal'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', role_name);
        END IF;
    END LOOP;
END $$";

/// Hands every object of the database's own schemas that the superuser owns to `{owner}`
/// (a data directory from before the roles existed). Run in the database concerned.
const ADOPT_OBJECTS: &str = "DO $$
DECLARE object record;
BEGIN
    FOR object IN SELECT n.nspname FROM pg_namespace n
                  WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN ('information_schema', 'public')
                    AND pg_get_userbyid(n.nspowner) = 'postgres' AND n.nspname = ANY ({schemas}) LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO {owner}', object.nspname);
    END LOOP;
    FOR object IN SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND pg_get_userbyid(c.relowner) = 'postgres'
                    AND n.nspname = ANY ({schemas}) LOOP
        IF object.relkind = 'S' THEN
            BEGIN
                EXECUTE format('ALTER SEQUENCE %I.%I OWNER TO {owner}', object.nspname, object.relname);
            EXCEPTION WHEN feature_not_supported THEN NULL; -- owned by a column: follows its table
            END;
        ELSE
            EXECUTE format('ALTER TABLE %I.%I OWNER TO {owner}', object.nspname, object.relname);
        END IF;
    END LOOP;
    FOR object IN SELECT n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                  WHERE t.typtype IN ('e', 'd') AND pg_get_userbyid(t.typowner) = 'postgres'
                    AND n.nspname = ANY ({schemas}) LOOP
        EXECUTE format('ALTER TYPE %I.%I OWNER TO {owner}', object.nspname, object.typname);
    END LOOP;
    FOR object IN SELECT p.oid::regprocedure AS signature FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE pg_get_userbyid(p.proowner) = 'postgres' AND n.nspname = ANY ({schemas}) LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO {owner}', object.signature);
    END LOOP;
END $$";

/// The schemas of the target database that are the target's own (everything but the
/// system's), as an SQL array expression.
const TARGET_SCHEMAS: &str = "ARRAY(SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
                              AND nspname <> 'information_schema')::text[]";

/// The URL for `role` on `database` of the embedded cluster a server runs in `data_dir`
/// right now, if one does (its `postmaster.pid` names a live process, its socket directory
/// and its port); `None` when no server runs there.
pub fn running_url(data_dir: &Path, role: &str, database: &str) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join("postgres").join("postmaster.pid")).ok()?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let pid: u32 = lines.first()?.parse().ok()?;
    let port: u16 = lines.get(3)?.parse().ok()?;
    let socket = lines.get(4).filter(|s| !s.is_empty())?;
    if !Path::new("/proc").join(pid.to_string()).exists() {
        return None;
    }
    Some(format!(
        "postgresql://{}@{}:{port}/{}",
        pg_cluster::percent_encode(role),
        pg_cluster::percent_encode(socket),
        pg_cluster::percent_encode(database)
    ))
}

/// A running embedded cluster. Dropping it stops PostgreSQL; the data stays.
#[derive(Debug)]
pub struct Embedded {
    cluster: LocalCluster,
}

impl Embedded {
    /// Starts (creating on first use) the cluster under `<data_dir>/postgres`, with its
    /// socket in `<data_dir>/postgres.socket`, and makes sure the roles, the databases and
    /// their ownership are as described in the module docs.
    pub fn start(data_dir: &Path) -> Result<Self, ClusterError> {
        let mut options = ClusterOptions::default();
        for role in [OWNER_ROLE, RUNTIME_ROLE, TARGET_ROLE, REHEARSAL_ROLE] {
            options = options.with_peer_role(role);
        }
        let cluster = LocalCluster::start_persistent_with(&data_dir.join("postgres"), &options)?;
        let embedded = Self { cluster };
        embedded.bootstrap()?;
        Ok(embedded)
    }

    /// Roles, databases, ownership and connect rights; cheap when all is in place.
    fn bootstrap(&self) -> Result<(), ClusterError> {
        let cluster = &self.cluster;
        cluster.psql("postgres", BOOTSTRAP_ROLES)?;
        for (database, owner) in
            [(REGISTRY_DATABASE, "postgres"), (TARGET_DATABASE, TARGET_ROLE), (REHEARSAL_DATABASE, REHEARSAL_ROLE)]
        {
            cluster.create_database(database)?;
            cluster.psql("postgres", &format!("ALTER DATABASE {database} OWNER TO {owner}"))?;
            cluster.psql("postgres", &format!("REVOKE CONNECT, TEMPORARY ON DATABASE {database} FROM PUBLIC"))?;
        }
        cluster.psql(
            "postgres",
            &format!(
                "GRANT CONNECT ON DATABASE {REGISTRY_DATABASE} TO {OWNER_ROLE}, {RUNTIME_ROLE};
                 GRANT CONNECT, TEMPORARY ON DATABASE {REHEARSAL_DATABASE} TO {REHEARSAL_ROLE};
                 GRANT CONNECT ON DATABASE {TARGET_DATABASE} TO {TARGET_ROLE}"
            ),
        )?;
        cluster.psql(
            REGISTRY_DATABASE,
            &format!(
                "CREATE SCHEMA IF NOT EXISTS registry AUTHORIZATION {OWNER_ROLE};
                 ALTER SCHEMA registry OWNER TO {OWNER_ROLE}"
            ),
        )?;
        let adopt = |database: &str, owner: &str, schemas: &str| {
            cluster.psql(database, &ADOPT_OBJECTS.replace("{owner}", owner).replace("{schemas}", schemas))
        };
        adopt(REGISTRY_DATABASE, OWNER_ROLE, "ARRAY['registry']")?;
        adopt(TARGET_DATABASE, TARGET_ROLE, TARGET_SCHEMAS)?;
        Ok(())
    }

    /// URL of the registry database as the runtime role.
    pub fn registry_url(&self) -> String {
        self.cluster.url_as(RUNTIME_ROLE, REGISTRY_DATABASE)
    }

    /// URL of the registry database as the schema owner (migrations only).
    pub fn migration_url(&self) -> String {
        self.cluster.url_as(OWNER_ROLE, REGISTRY_DATABASE)
    }

    /// URL of the default target database as the target role.
    pub fn target_url(&self) -> String {
        self.cluster.url_as(TARGET_ROLE, TARGET_DATABASE)
    }

    /// URL of the rehearsal database as the rehearsal role.
    pub fn rehearsal_url(&self) -> String {
        self.cluster.url_as(REHEARSAL_ROLE, REHEARSAL_DATABASE)
    }

    /// The cluster itself (socket, data directory, log).
    pub fn cluster(&self) -> &LocalCluster {
        &self.cluster
    }

    /// Whether PostgreSQL still runs (see [`LocalCluster::is_running`]).
    pub fn is_running(&mut self) -> bool {
        self.cluster.is_running()
    }

    /// Starts PostgreSQL again after it died (see [`LocalCluster::restart`]); the data is
    /// kept, crash recovery runs as PostgreSQL needs it.
    pub fn restart(&mut self) -> Result<(), ClusterError> {
        self.cluster.restart()
    }

    /// Stops PostgreSQL cleanly (also done on drop).
    pub fn stop(self) {
        self.cluster.stop();
    }
}
