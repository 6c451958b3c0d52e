//! `registry-server serve`: settings, the embedded database, the first admin token, and
//! the HTTP server until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use registry_store::apply::reconcile::Scope;
use registry_store::audit::AuditKey;
use registry_store::embedded::{Embedded, TARGET_NAME};
use registry_store::store::{Store, StoreConfig};
use registry_store::tokens::Role;

use crate::server::{self, AppState, Limits};
use crate::settings::{ConfigFile, ServeArgs, parse_target, read_policy};

/// The file the first admin token is written to, inside the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// The file the audit chain's key is kept in, inside the data directory.
pub const AUDIT_KEY_FILE: &str = "audit.key";

/// Creates the data directory with mode 0700 (it holds the admin token, the audit key and
/// the embedded cluster; when root, the embedded cluster's OS user is then let in to its
/// own subdirectory: 0710). An existing one is left as it is, with a warning when others can
/// read or write it.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    match std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(error) => {
            return Err(
                anyhow::Error::new(error).context(format!("cannot create the data directory {}", dir.display()))
            );
        }
    }
    if let Ok(meta) = std::fs::metadata(dir)
        && meta.mode() & 0o066 != 0
    {
        tracing::warn!(
            "the data directory {} can be read by other users (mode {:o}); it holds the admin token and the audit key",
            dir.display(),
            meta.mode() & 0o777
        );
    }
    Ok(())
}

/// Runs the server; the exit code is 0 after a clean shutdown.
pub fn run(args: ServeArgs) -> ExitCode {
    tracing_subscriber::fmt().with_target(false).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Take over SIGINT/SIGTERM before anything starts, so a signal during start-up also
    // ends in a clean stop (the embedded PostgreSQL is stopped when it is dropped).
    let (stop_sender, mut stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        server::shutdown_signal().await;
        let _ = stop_sender.send(true);
    });
    let prepared = tokio::select! {
        prepared = prepare(args) => prepared?,
        _ = stop.changed() => {
            tracing::info!("stopped during start-up");
            return Ok(());
        }
    };
    let Prepared { listener, store, embedded, limits, apply_timeout } = prepared;
    let address = listener.local_addr()?;
    println!("schema registry listening on http://{address}");
    tracing::info!(%address, targets = ?store.target_names(), "listening");
    let embedded = embedded.map(|embedded| Arc::new(Mutex::new(embedded)));
    let supervisor = embedded.clone().map(|embedded| tokio::spawn(supervise(embedded, stop.clone())));
    let reconciler = tokio::spawn(reconcile_periodically(store.clone(), stop.clone()));
    let shutdown = async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    };
    server::serve(listener, AppState::new(store.clone(), limits), shutdown).await.context("the server failed")?;
    // Applies and rollbacks run detached from their HTTP requests: let them finish (each is
    // bounded) before the database goes away under them.
    if !store.drain(apply_timeout + Duration::from_secs(5)).await {
        tracing::error!("applies or rollbacks were still running at shutdown; the next start settles them");
    }
    let _ = reconciler.await;
    if let Some(supervisor) = supervisor {
        let _ = supervisor.await;
    }
    if let Some(embedded) = embedded {
        tokio::task::spawn_blocking(move || {
            let embedded = Arc::try_unwrap(embedded).map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner));
            if let Ok(embedded) = embedded {
                embedded.stop();
            }
        })
        .await
        .context("stopping the embedded PostgreSQL")?;
    }
    tracing::info!("stopped");
    Ok(())
}

/// How often the embedded PostgreSQL is looked at.
const SUPERVISION_INTERVAL: Duration = Duration::from_millis(500);

/// Watches the embedded PostgreSQL until the server stops: when its postmaster dies (killed,
/// crashed), says so at ERROR and starts it again on the same data; the connection pool
/// replaces its broken connections by itself. `/health` answers 503 meanwhile.
async fn supervise(embedded: Arc<Mutex<Embedded>>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(SUPERVISION_INTERVAL) => {}
        }
        if *stop.borrow() {
            return;
        }
        let embedded = embedded.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let mut embedded = embedded.lock().unwrap_or_else(PoisonError::into_inner);
            if embedded.is_running() {
                return None;
            }
            tracing::error!(
                "the embedded PostgreSQL stopped running (see {}); restarting it",
                embedded.cluster().log_path().display()
            );
            Some(embedded.restart())
        })
        .await;
        match checked {
            Ok(None) => {}
            Ok(Some(Ok(()))) => tracing::info!("the embedded PostgreSQL runs again"),
            Ok(Some(Err(error))) => tracing::error!(%error, "the embedded PostgreSQL could not be restarted; retrying"),
            Err(error) => tracing::error!(%error, "the supervision task failed"),
        }
    }
}

/// How often leases left by stopped applies are looked for.
const RECONCILIATION_INTERVAL: Duration = Duration::from_secs(5);

/// Settles the leases of applies and rollbacks whose holder stopped renewing them (another
/// server process that died) until the server stops.
async fn reconcile_periodically(store: Store, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(RECONCILIATION_INTERVAL) => {}
        }
        if *stop.borrow() {
            return;
        }
        reconcile(&store, Scope::Abandoned).await;
    }
}

/// Settles leases in `scope` and logs what it found.
async fn reconcile(store: &Store, scope: Scope) {
    match store.reconcile_abandoned(scope).await {
        Ok(results) => {
            for result in results {
                match result {
                    Ok(settled) => tracing::warn!(
                        request = %settled.request_id,
                        target = %settled.target,
                        action = settled.action,
                        ran_on_target = settled.ran_on_target,
                        "settled an interrupted {} from the target's history",
                        settled.action
                    ),
                    Err(error) => tracing::error!(%error, "an interrupted apply or rollback could not be settled yet"),
                }
            }
        }
        Err(error) => tracing::warn!(%error, "could not look for interrupted applies"),
    }
}

/// Everything the server needs, ready to serve.
struct Prepared {
    listener: tokio::net::TcpListener,
    store: Store,
    embedded: Option<Embedded>,
    limits: Limits,
    apply_timeout: Duration,
}

async fn prepare(args: ServeArgs) -> anyhow::Result<Prepared> {
    let file = match &args.config {
        Some(path) => ConfigFile::read(path).map_err(anyhow::Error::msg)?,
        None => ConfigFile::default(),
    };
    let listen: SocketAddr = args.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let data_dir: PathBuf =
        args.data_dir.clone().or(file.data_dir.clone()).unwrap_or_else(|| PathBuf::from(".registry"));
    let policy = match args.policy.as_ref().or(file.policy.as_ref()) {
        Some(path) => read_policy(path).map_err(anyhow::Error::msg)?,
        None => policy::config::Policy::standard(),
    };
    let mut targets = file.targets.clone();
    for target in &args.targets {
        let (name, url) = parse_target(target).map_err(anyhow::Error::msg)?;
        targets.insert(name, url);
    }
    create_private_dir(&data_dir)?;
    let key_path =
        args.audit_key_file.clone().or(file.audit_key_file.clone()).unwrap_or_else(|| data_dir.join(AUDIT_KEY_FILE));
    let audit_key = AuditKey::load_or_create(&key_path, true).map_err(anyhow::Error::msg)?;

    // Bind first: a taken port should fail before a database is started.
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;

    let database_url = args.database_url.clone().or(file.database_url.clone());
    let mut migration_url = args.migration_database_url.clone().or(file.migration_database_url.clone());
    let mut rehearsal_url = args.rehearsal_database_url.clone().or(file.rehearsal_database_url.clone());
    let no_rehearsal = args.no_rehearsal || file.no_rehearsal.unwrap_or(false);
    let (embedded, url) = if let Some(url) = database_url {
        (None, url)
    } else {
        let dir = data_dir.clone();
        let embedded = tokio::task::spawn_blocking(move || Embedded::start(&dir))
            .await
            .context("the embedded PostgreSQL task failed")?
            .context("cannot start the embedded PostgreSQL (give --database-url to use a running server)")?;
        targets.entry(TARGET_NAME.to_owned()).or_insert_with(|| embedded.target_url());
        tracing::info!(port = embedded.cluster().port(), data = %embedded.cluster().data_dir().display(), "embedded PostgreSQL running");
        let url = embedded.registry_url();
        migration_url = Some(embedded.migration_url());
        if rehearsal_url.is_none() && !no_rehearsal {
            rehearsal_url = Some(embedded.rehearsal_url());
        }
        (Some(embedded), url)
    };
    if rehearsal_url.is_none() && !no_rehearsal {
        anyhow::bail!(
            "no rehearsal database: give --rehearsal-database-url (a scratch database where submitted migrations are \
             tried and rolled back; `registry-server setup-roles` creates one), or --no-rehearsal to store them untried"
        );
    }
    let mut config = StoreConfig::new(url).with_audit_key(audit_key);
    config.rehearsal_url = rehearsal_url;
    config.default_target = args.default_target.clone().or(file.default_target.clone());
    config.migration_url = migration_url;
    config.allow_privileged_runtime = args.allow_superuser || file.allow_superuser.unwrap_or(false);
    config.tls.root_cert = args.tls_root_cert.clone().or(file.tls_root_cert.clone());
    config.policy = policy;
    config.targets = targets;
    if let Some(size) = file.pool_size {
        config.pool_size = size;
    }
    if let Some(seconds) = file.statement_timeout_seconds {
        config.statement_timeout = Duration::from_secs(seconds);
    }
    if let Some(seconds) = file.apply_timeout_seconds {
        config.apply.timeout = Duration::from_secs(seconds.max(1));
    }
    if let Some(seconds) = file.apply_lock_wait_seconds {
        config.apply.lock_wait = Duration::from_secs(seconds);
    }
    if let Some(count) = file.max_concurrent_applies {
        config.apply.max_concurrent = count.max(1);
    }
    if let Some(count) = file.max_applies_per_target {
        config.apply.max_per_target = count.max(1);
    }
    if let Some(millis) = file.table_lock_timeout_ms {
        config.apply.table_lock_timeout = Duration::from_millis(millis.max(1));
    }
    if let Some(tries) = file.step_tries {
        config.apply.step_tries = tries.max(1);
    }
    config.faults = crash_hook();
    let apply_timeout = config.apply.timeout;
    let store = Store::open(config).await.context("cannot open the registry database")?;
    for warning in store.warnings() {
        tracing::warn!("{warning}");
    }
    // With the embedded database nobody else can hold a lease: every one left is from this
    // server's previous run.
    reconcile(&store, if embedded.is_some() { Scope::All } else { Scope::Abandoned }).await;
    bootstrap_admin(&store, &data_dir).await?;

    let mut limits = Limits::default();
    if let Some(rate) = file.rate_limit_per_second {
        limits.rate_per_second = rate;
    }
    if let Some(seconds) = file.request_timeout_seconds {
        limits.request_timeout = Duration::from_secs(seconds);
    }
    if let Some(bytes) = file.body_limit_bytes {
        limits.body_bytes = bytes;
    }
    if let Some(size) = file.max_page_size {
        limits.max_page_size = size.max(1);
    }
    if let Some(count) = file.max_connections {
        limits.connections.max_connections = count.max(1);
    }
    if let Some(seconds) = file.header_timeout_seconds {
        limits.connections.header_timeout = Duration::from_secs(seconds.max(1));
    }
    limits.connections.drain_timeout = limits.request_timeout + Duration::from_secs(5);
    Ok(Prepared { listener, store, embedded, limits, apply_timeout })
}

/// Test hook of debug builds: `SCHEMA_REGISTRY_CRASH_AT=apply:target-committed` (or
/// `apply:claimed`, `apply:recorded`, `rollback:...`) makes the process `kill -9` itself at
/// that point of an apply or rollback, so tests can prove what a restart settles. Release
/// builds ignore it.
fn crash_hook() -> Option<registry_store::apply::FaultHook> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let point = std::env::var("SCHEMA_REGISTRY_CRASH_AT").ok()?;
    tracing::warn!(%point, "test hook: the process aborts when an apply or rollback reaches this point");
    Some(registry_store::apply::FaultHook(Arc::new(move |at: &str| {
        if at == point {
            eprintln!("crash injected at {at}");
            let _ = std::process::Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status();
            // SIGKILL to oneself arrives at once; nothing after this point may run.
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        false
    })))
}

/// On the first start with an empty store, creates the `admin` token, prints it once and
/// writes it to `<data-dir>/admin.token` with mode 0600.
async fn bootstrap_admin(store: &Store, data_dir: &Path) -> anyhow::Result<()> {
    if store.has_tokens().await? {
        return Ok(());
    }
    let token = match store.create_token("admin", Role::Admin).await {
        Ok(token) => token,
        // Another replica made it first.
        Err(registry_store::error::StoreError::Conflict(_)) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    if let Err(error) = write_secret(&path, &format!("{}\n", token.token)) {
        // Without the file nobody could ever use this token: undo it, so the next start
        // tries again instead of finding a token nobody has.
        store.delete_principal("admin").await?;
        return Err(anyhow::Error::new(error).context(format!("cannot write {}", path.display())));
    }
    println!("created the admin token (shown once; also in {}):\n{}", path.display(), token.token);
    Ok(())
}

fn write_secret(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // `mode` applies only when the file is created; an existing file keeps its bits.
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(content.as_bytes())
}
