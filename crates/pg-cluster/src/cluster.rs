//! [`LocalCluster`]: starting, watching, restarting and stopping a local PostgreSQL.
//!
//! `postgres` runs under a tiny `/bin/sh` watchdog that reads commands from a pipe held by
//! this process. Dropping the cluster (or this process dying, even by `SIGKILL`) closes
//! the pipe and the watchdog shuts the server down, so an aborted test run does not leave
//! servers behind. The watchdog exits when postgres does, which is how
//! [`LocalCluster::is_running`] notices a server that died.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

use crate::SUPERUSER;
use crate::access::{TlsListener, prepare_socket_dir, socket_path_fits, tls_settings, write_auth_files};
use crate::binaries::{find_bin_dir, tool};
use crate::error::{ClusterError, io_error};
use crate::run_as::{RunAs, user_name};
use crate::template::{TEMPORARY_PREFIX, populate_data_dir, sweep_stale_dirs_once};
use crate::tools::{
    PSQL_FLAGS, create_private_dir, epoch_seconds, local_command, log_tail, output_tail, percent_encode, run, run_psql,
    spawn_error, validate_name, wait_exit,
};

/// The socket number (`.s.PGSQL.<port>`) when the cluster has no TCP listener: each
/// cluster has a socket directory of its own, so the standard number never clashes.
pub const DEFAULT_PORT: u16 = 5432;
/// How long a starting server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a restart keeps retrying while a killed server's processes still linger.
const RESTART_PATIENCE: Duration = Duration::from_secs(20);
/// How long a fast shutdown may take before it is turned into an immediate one.
const FAST_STOP_TIMEOUT: Duration = Duration::from_mins(1);
/// How long an immediate shutdown may take before harder means are used.
const IMMEDIATE_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Start attempts on fresh ports when a picked TCP port was taken meanwhile.
const PORT_ATTEMPTS: u32 = 5;
/// Name of the server log file (in the temporary root or the persistent data dir).
const LOG_FILE: &str = "postgres.log";

/// The `/bin/sh` script `postgres` runs under (`$@` is the postgres command).
///
/// It starts postgres in the background and a watchdog that reads lines from our pipe:
/// `fast` and `immediate` request those shutdown modes, and end of file (we dropped the
/// pipe or died) requests an immediate shutdown. The script exits with postgres's status
/// once postgres is gone, so waiting for the script means waiting for the server.
const WATCHDOG_SCRIPT: &str = r#"exec 3<&0 </dev/null
"$@" 3<&- &
pg=$!
(
  while read -r cmd; do
    case "$cmd" in
      fast) kill -INT "$pg" 2>/dev/null ;;
      immediate) kill -QUIT "$pg" 2>/dev/null ;;
    esac
  done
  kill -QUIT "$pg" 2>/dev/null
) <&3 3<&- &
wd=$!
exec 3<&-
wait "$pg"
status=$?
kill "$wd" 2>/dev/null
exit "$status"
"#;

/// Options for starting a [`LocalCluster`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterOptions {
    /// The port number: the TCP port of the TLS listener when there is one (`None` picks a
    /// free one), else only the number in the socket's file name ([`DEFAULT_PORT`]).
    pub port: Option<u16>,
    /// Database roles that log in by OS identity (peer authentication) for the cluster's
    /// OS user and this process's; every other role needs a password. Always includes the
    /// superuser `postgres`.
    pub peer_roles: Vec<String>,
    /// Where the Unix socket goes; by default a private directory beside (persistent) or
    /// inside (temporary) the cluster's own directory, or a fresh private directory in the
    /// temp dir when that path would be too long for a socket.
    pub socket_dir: Option<PathBuf>,
    /// A loopback TCP listener for TLS with passwords (tests of TLS clients only).
    pub tls: Option<TlsListener>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self { port: None, peer_roles: vec![SUPERUSER.to_owned()], socket_dir: None, tls: None }
    }
}

impl ClusterOptions {
    /// Uses `port` (see [`ClusterOptions::port`]).
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Lets `role` log in by OS identity as well (see [`ClusterOptions::peer_roles`]).
    #[must_use]
    pub fn with_peer_role(mut self, role: &str) -> Self {
        if !self.peer_roles.iter().any(|r| r == role) {
            self.peer_roles.push(role.to_owned());
        }
        self
    }

    /// Puts the socket in `dir`.
    #[must_use]
    pub fn with_socket_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.socket_dir = Some(dir.into());
        self
    }

    /// Adds the TLS listener (see [`TlsListener`]).
    #[must_use]
    pub fn with_tls_listener(mut self, listener: TlsListener) -> Self {
        self.tls = Some(listener);
        self
    }
}

/// Whether a cluster is thrown away on drop.
#[derive(Debug)]
enum Lifetime {
    /// Lives in `root`, which is deleted on drop.
    Temporary {
        /// The private directory holding data, socket and log.
        root: PathBuf,
    },
    /// Its data directory stays.
    Persistent,
}

/// How to shut the server down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopMode {
    /// SIGINT: disconnect clients, checkpoint, exit.
    Fast,
    /// SIGQUIT: exit at once; the next start runs crash recovery.
    Immediate,
}

/// A running server: the watchdog shell and our end of its command pipe.
#[derive(Debug)]
struct Server {
    /// The `/bin/sh` watchdog; it exits when postgres has.
    child: Child,
    /// Lines written here are shutdown requests; closing it is one too.
    control: Option<ChildStdin>,
}

/// A PostgreSQL server this process started, reachable only through its private Unix
/// socket (see [`crate::access`]) by the OS users allowed there.
///
/// A temporary cluster ([`LocalCluster::start_temporary`]) lives in a private directory
/// under the system temp dir that is removed on drop; a persistent one
/// ([`LocalCluster::start_persistent`]) keeps its data directory. Either way the server is
/// stopped when the value is dropped (or [`stop`]ped), and also if this process dies.
///
/// [`stop`]: LocalCluster::stop
#[derive(Debug)]
pub struct LocalCluster {
    /// Where the PostgreSQL binaries are.
    bin_dir: PathBuf,
    /// Who runs them.
    run_as: RunAs,
    /// Thrown away or kept.
    lifetime: Lifetime,
    /// The cluster's data directory (absolute).
    data_dir: PathBuf,
    /// The private directory of the Unix socket.
    socket_dir: PathBuf,
    /// Whether `socket_dir` is a temporary directory of ours, removed on drop.
    socket_dir_is_temporary: bool,
    /// The server log.
    log_path: PathBuf,
    /// The socket number, or the TLS listener's TCP port.
    port: u16,
    /// Roles that log in by OS identity.
    peer_roles: Vec<String>,
    /// The TLS listener, if any.
    tls: Option<TlsListener>,
    /// Whether temporary-cluster speed settings (no fsync, ...) are used.
    durable: bool,
    /// The running server, if any.
    server: Option<Server>,
}

impl LocalCluster {
    /// Starts a throw-away cluster: a private directory under [`std::env::temp_dir`] with
    /// `data/`, `socket/` and `postgres.log`, removed again when the cluster is dropped.
    /// Durability is traded for speed (`fsync=off` and friends).
    pub fn start_temporary() -> Result<Self, ClusterError> {
        Self::start_temporary_with(&ClusterOptions::default())
    }

    /// [`LocalCluster::start_temporary`] with options.
    pub fn start_temporary_with(options: &ClusterOptions) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir()?;
        let run_as = RunAs::detect()?;
        let temp = std::env::temp_dir();
        sweep_stale_dirs_once(&temp, run_as);
        let root = create_private_dir(&temp, TEMPORARY_PREFIX, run_as)?;
        // From here on, dropping `cluster` removes `root` again.
        let mut cluster = Self::new(bin_dir, run_as, root.join("data"), root.join(LOG_FILE), options, false);
        cluster.lifetime = Lifetime::Temporary { root: root.clone() };
        cluster.choose_socket_dir(options.socket_dir.clone().unwrap_or_else(|| root.join("socket")))?;
        populate_data_dir(&cluster.bin_dir, run_as, &cluster.data_dir)?;
        cluster.start_server(options.port)?;
        Ok(cluster)
    }

    /// Starts a cluster whose data lives on in `data_dir`: runs initdb there if
    /// `data_dir/PG_VERSION` is missing (creating the directory if needed), reuses the
    /// cluster otherwise. Dropping it stops the server (fast shutdown) but keeps the data.
    /// The server uses PostgreSQL's default durability settings and logs to
    /// `data_dir/postgres.log`; its socket directory is `<data_dir>.socket` unless the
    /// options say otherwise.
    pub fn start_persistent(data_dir: &Path) -> Result<Self, ClusterError> {
        Self::start_persistent_with(data_dir, &ClusterOptions::default())
    }

    /// [`LocalCluster::start_persistent`] with options.
    pub fn start_persistent_with(data_dir: &Path, options: &ClusterOptions) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir()?;
        let run_as = RunAs::detect()?;
        let data_dir = std::path::absolute(data_dir).map_err(io_error("resolve", data_dir))?;
        if let Some(parent) = data_dir.parent() {
            fs::create_dir_all(parent).map_err(io_error("create directory", parent))?;
            // The data and socket directories sit side by side in it.
            run_as.open_parent(parent)?;
        }
        if !data_dir.join("PG_VERSION").is_file() {
            match DirBuilder::new().mode(0o700).create(&data_dir) {
                Ok(()) => run_as.chown(&data_dir)?,
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    // An empty directory prepared for us: hand it over.
                    let empty =
                        fs::read_dir(&data_dir).map_err(io_error("read directory", &data_dir))?.next().is_none();
                    if empty {
                        run_as.chown(&data_dir)?;
                    }
                }
                Err(err) => return Err(io_error("create directory", &data_dir)(err)),
            }
            crate::tools::run_initdb(&bin_dir, run_as, &data_dir, true)?;
        }
        let log_path = data_dir.join(LOG_FILE);
        let mut socket_dir = data_dir.clone().into_os_string();
        socket_dir.push(".socket");
        let mut cluster = Self::new(bin_dir, run_as, data_dir, log_path, options, true);
        cluster.choose_socket_dir(options.socket_dir.clone().unwrap_or_else(|| PathBuf::from(socket_dir)))?;
        cluster.start_server(options.port)?;
        Ok(cluster)
    }

    fn new(
        bin_dir: PathBuf,
        run_as: RunAs,
        data_dir: PathBuf,
        log_path: PathBuf,
        options: &ClusterOptions,
        durable: bool,
    ) -> Self {
        let mut peer_roles = options.peer_roles.clone();
        if !peer_roles.iter().any(|r| r == SUPERUSER) {
            peer_roles.insert(0, SUPERUSER.to_owned());
        }
        Self {
            bin_dir,
            run_as,
            lifetime: Lifetime::Persistent,
            data_dir,
            socket_dir: PathBuf::new(),
            socket_dir_is_temporary: false,
            log_path,
            port: options.port.unwrap_or(DEFAULT_PORT),
            peer_roles,
            tls: options.tls.clone(),
            durable,
            server: None,
        }
    }

    /// Uses `preferred` as the socket directory when a socket path there fits, else a fresh
    /// private directory in the temp dir.
    fn choose_socket_dir(&mut self, preferred: PathBuf) -> Result<(), ClusterError> {
        // Five digits is the longest a port number gets.
        if socket_path_fits(&preferred, 65_535) {
            prepare_socket_dir(&preferred, self.run_as)?;
            self.socket_dir = preferred;
        } else {
            self.socket_dir =
                create_private_dir(Path::new("/tmp"), &format!("{TEMPORARY_PREFIX}-socket"), self.run_as)?;
            self.socket_dir_is_temporary = true;
        }
        Ok(())
    }

    /// The socket's port number, or the TLS listener's TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TCP port of the TLS listener, if the cluster has one.
    pub fn tcp_port(&self) -> Option<u16> {
        self.tls.as_ref().map(|_| self.port)
    }

    /// The directory of the PostgreSQL binaries used, for running further tools
    /// (`pgbench`, `createdb`, ...) against this cluster.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The private directory holding the server's Unix socket (a libpq `host`).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The name of the OS user the server runs as.
    pub fn os_user(&self) -> Result<String, ClusterError> {
        user_name(self.run_as.uid)
    }

    /// The server's log file (stdout and stderr of `postgres`), the first place to look
    /// when a test sees odd server behaviour.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The connection URL for `database` as the superuser, through the socket:
    /// `postgresql://postgres@%2Fsocket%2Fdir:5432/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        self.url_as(SUPERUSER, database)
    }

    /// The connection URL for `database` as `role`, through the socket (the role must be
    /// one of the peer roles, or the URL needs a password added).
    pub fn url_as(&self, role: &str, database: &str) -> String {
        format!(
            "postgresql://{}@{}:{}/{}",
            percent_encode(role),
            percent_encode(&self.socket_dir.to_string_lossy()),
            self.port,
            percent_encode(database)
        )
    }

    /// Creates the database `name` (see [`validate_name`] for the accepted names); one that
    /// already exists is fine.
    pub fn create_database(&self, name: &str) -> Result<(), ClusterError> {
        create_database_via(name, |sql| self.psql("postgres", sql)).map(|_| ())
    }

    /// Runs `sql` with `psql` as the superuser (no psqlrc, unaligned, tuples only, quiet,
    /// stop at the first error) on `database` and returns its stdout: one line per row,
    /// columns separated by `|`, each ending with a newline. An error carries psql's stderr.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, ClusterError> {
        self.psql_as(SUPERUSER, database, sql)
    }

    /// [`LocalCluster::psql`] as `role` (a peer role).
    pub fn psql_as(&self, role: &str, database: &str, sql: &str) -> Result<String, ClusterError> {
        let mut command = self.psql_command(role, database)?;
        command.arg("-c").arg(sql);
        run_psql(command, database, sql)
    }

    /// Runs the script file at `path` (psql meta-commands such as `\connect` included) as
    /// the superuser, starting on `database`, stopping at the first error. The file must be
    /// readable by the cluster's OS user.
    pub fn psql_file(&self, database: &str, path: &Path) -> Result<String, ClusterError> {
        let mut command = self.psql_command(SUPERUSER, database)?;
        command.arg("-f").arg(path);
        run_psql(command, database, &format!("\\i {}", path.display()))
    }

    /// psql on `database` as `role` through the socket, ready for `-c` or `-f`.
    fn psql_command(&self, role: &str, database: &str) -> Result<std::process::Command, ClusterError> {
        validate_name("database", database)?;
        validate_name("role", role)?;
        if self.server.is_none() {
            return Err(ClusterError::NotRunning { data_dir: self.data_dir.clone() });
        }
        let mut command = local_command(&tool(&self.bin_dir, "psql"), self.run_as);
        command.args(PSQL_FLAGS).arg("-h").arg(&self.socket_dir).args([
            "-p",
            &self.port.to_string(),
            "-U",
            role,
            "-d",
            database,
        ]);
        Ok(command)
    }

    /// Lets `role` log in by OS identity from now on: rewrites the authentication files and
    /// has the running server reload them.
    pub fn allow_peer_role(&mut self, role: &str) -> Result<(), ClusterError> {
        validate_name("role", role)?;
        if !self.peer_roles.iter().any(|r| r == role) {
            self.peer_roles.push(role.to_owned());
        }
        write_auth_files(&self.data_dir, self.run_as, &self.peer_roles, self.tls.is_some())?;
        if self.server.is_some() {
            self.psql("postgres", "SELECT pg_reload_conf()")?;
        }
        Ok(())
    }

    /// Whether the server is still running. A server that died (killed, crashed) is
    /// noticed here: its watchdog has exited. Cheap; meant to be polled.
    pub fn is_running(&mut self) -> bool {
        match self.server.as_mut().map(|server| server.child.try_wait()) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) | None => false,
        }
    }

    /// Stops the server (immediately for a temporary cluster, with a fast shutdown for a
    /// persistent one) and, for a temporary cluster, removes its directory. The same as
    /// dropping it; problems are reported on stderr.
    pub fn stop(self) {
        drop(self);
    }

    /// Stops the server (fast shutdown) if it runs, and starts it again on the same data
    /// directory and socket, e.g. to recover from a server that died or to test that
    /// clients recover from a restart. A server that was killed may leave processes that
    /// hold its shared memory for a moment; the start is retried for a while then. If
    /// starting fails, the cluster stays stopped and [`psql`] reports that.
    ///
    /// [`psql`]: LocalCluster::psql
    pub fn restart(&mut self) -> Result<(), ClusterError> {
        if let Some(server) = self.server.take() {
            self.shutdown(server, StopMode::Fast)
                .map_err(|detail| ClusterError::Stop { data_dir: self.data_dir.clone(), detail })?;
        }
        let deadline = Instant::now() + RESTART_PATIENCE;
        let mut pause = Duration::from_millis(100);
        loop {
            match self.start_server(Some(self.port)) {
                Err(err) if err.is_transient_start_failure() && Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                other => return other,
            }
        }
    }

    /// Writes the authentication files and starts `postgres`, retrying on a new port if a
    /// picked TCP port was taken meanwhile.
    fn start_server(&mut self, port: Option<u16>) -> Result<(), ClusterError> {
        write_auth_files(&self.data_dir, self.run_as, &self.peer_roles, self.tls.is_some())?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = match (port, &self.tls) {
                (Some(port), _) => port,
                (None, Some(_)) => free_port()?,
                (None, None) => DEFAULT_PORT,
            };
            match self.spawn_server(port) {
                Ok(server) => {
                    self.port = port;
                    self.server = Some(server);
                    return Ok(());
                }
                Err(err) if err.is_transient_start_failure() && attempt < PORT_ATTEMPTS && self.tls.is_some() => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Spawns `postgres` under the watchdog and waits until it accepts connections.
    fn spawn_server(&self, port: u16) -> Result<Server, ClusterError> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(io_error("open the server log", &self.log_path))?;
        let log_offset = log.metadata().map_err(io_error("inspect", &self.log_path))?.len();
        let log_for_stderr = log.try_clone().map_err(io_error("open the server log", &self.log_path))?;

        let mut settings = vec![
            "unix_socket_permissions=0700".to_owned(),
            "max_connections=200".to_owned(),
            "password_encryption=scram-sha-256".to_owned(),
        ];
        match &self.tls {
            Some(listener) => {
                settings.push("listen_addresses=127.0.0.1".to_owned());
                let dir = self.data_dir.parent().unwrap_or(&self.data_dir);
                settings.extend(tls_settings(listener, dir, self.run_as)?);
            }
            None => settings.push("listen_addresses=".to_owned()),
        }
        if !self.durable {
            settings.extend(["fsync=off", "synchronous_commit=off", "full_page_writes=off"].map(str::to_owned));
        }
        let mut command = local_command(Path::new("/bin/sh"), self.run_as);
        command
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("pg-cluster-postgres")
            .arg(tool(&self.bin_dir, "postgres"))
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(&self.socket_dir);
        for setting in &settings {
            command.arg("-c").arg(setting);
        }
        command.stdin(Stdio::piped()).stdout(Stdio::from(log)).stderr(Stdio::from(log_for_stderr));

        let not_before = epoch_seconds().saturating_sub(1);
        // A server killed moments ago leaves its postmaster.pid behind, possibly with a
        // start time that passes `not_before`: its pid must not count as ours.
        let stale_pid = postmaster_pid(&self.data_dir);
        let mut child = command.spawn().map_err(|source| spawn_error(&command, source))?;
        let control = child.stdin.take();
        let mut server = Server { child, control };

        let deadline = Instant::now() + START_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        loop {
            match server.child.try_wait() {
                Ok(Some(status)) => {
                    return Err(ClusterError::ServerExited {
                        data_dir: self.data_dir.clone(),
                        status: status.to_string(),
                        log_path: self.log_path.clone(),
                        log_tail: log_tail(&self.log_path, log_offset),
                    });
                }
                Ok(None) => {}
                Err(source) => {
                    let _ = self.shutdown(server, StopMode::Immediate);
                    return Err(ClusterError::Io {
                        action: "wait for the server process of",
                        path: self.data_dir.clone(),
                        source,
                    });
                }
            }
            if self.ready(port, not_before, stale_pid.as_deref()) {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                let _ = self.shutdown(server, StopMode::Immediate);
                return Err(ClusterError::StartTimeout {
                    data_dir: self.data_dir.clone(),
                    waited: START_TIMEOUT,
                    log_path: self.log_path.clone(),
                    log_tail: log_tail(&self.log_path, log_offset),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Whether `postmaster.pid` says a postmaster started at or after `not_before` (epoch
    /// seconds) on `port` is ready, and its socket (and TLS listener) can be reached. The
    /// start time keeps a stale file left by a crashed server from counting.
    fn ready(&self, port: u16, not_before: u64, stale_pid: Option<&str>) -> bool {
        let Ok(text) = fs::read_to_string(self.data_dir.join("postmaster.pid")) else {
            return false;
        };
        let lines: Vec<&str> = text.lines().collect();
        let (Some(pid), Some(start), Some(file_port), Some(status)) =
            (lines.first(), lines.get(2), lines.get(3), lines.get(7))
        else {
            return false;
        };
        let ready = Some(pid.trim()) != stale_pid
            && start.trim().parse::<u64>().is_ok_and(|start| start >= not_before)
            && file_port.trim().parse::<u16>() == Ok(port)
            && status.trim() == "ready"
            && self.socket_dir.join(format!(".s.PGSQL.{port}")).exists();
        ready && (self.tls.is_none() || tcp_accepts(port))
    }

    /// Shuts `server` down in `mode`, escalating to an immediate shutdown, then to
    /// `pg_ctl stop -m immediate` and killing the watchdog. Always reaps the watchdog.
    fn shutdown(&self, server: Server, mode: StopMode) -> Result<(), String> {
        let Server { mut child, mut control } = server;
        if matches!(child.try_wait(), Ok(Some(_))) {
            return Ok(()); // it died already
        }
        let (request, timeout) = match mode {
            StopMode::Fast => (&b"fast\n"[..], FAST_STOP_TIMEOUT),
            StopMode::Immediate => (&b"immediate\n"[..], IMMEDIATE_STOP_TIMEOUT),
        };
        let sent = control.as_mut().is_some_and(|pipe| pipe.write_all(request).and_then(|()| pipe.flush()).is_ok());
        if sent && wait_exit(&mut child, timeout) {
            return Ok(());
        }
        // Closing the pipe asks the watchdog for an immediate shutdown.
        drop(control.take());
        if wait_exit(&mut child, IMMEDIATE_STOP_TIMEOUT) {
            return Ok(());
        }
        // The watchdog is unresponsive: signal the postmaster via its pid file.
        let mut pg_ctl = local_command(&tool(&self.bin_dir, "pg_ctl"), self.run_as);
        pg_ctl.arg("-D").arg(&self.data_dir).args(["stop", "-m", "immediate", "-w", "-t", "10"]);
        let pg_ctl_result = run(pg_ctl);
        let _ = child.kill();
        let _ = child.wait();
        match pg_ctl_result {
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(format!(
                "the server did not stop when asked, and pg_ctl stop failed ({}): {}; see {}",
                output.status,
                output_tail(&output),
                self.log_path.display()
            )),
            Err(err) => Err(format!("the server did not stop when asked, and pg_ctl could not run: {err}")),
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let mode = match self.lifetime {
                Lifetime::Temporary { .. } => StopMode::Immediate,
                Lifetime::Persistent => StopMode::Fast,
            };
            if let Err(detail) = self.shutdown(server, mode) {
                eprintln!("pg-cluster: could not stop the PostgreSQL server for {}: {detail}", self.data_dir.display());
            }
        }
        if self.socket_dir_is_temporary {
            let _ = fs::remove_dir_all(&self.socket_dir);
        }
        if let Lifetime::Temporary { root } = &self.lifetime
            && let Err(err) = fs::remove_dir_all(root)
            && err.kind() != io::ErrorKind::NotFound
        {
            eprintln!("pg-cluster: could not remove the temporary cluster {}: {err}", root.display());
        }
    }
}

/// The pid line of `data_dir/postmaster.pid`, if there is one.
fn postmaster_pid(data_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next().map(|line| line.trim().to_owned())
}

/// Picks a TCP port on 127.0.0.1 that is free right now.
fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|source| ClusterError::NoFreePort { source })?;
    let addr = listener.local_addr().map_err(|source| ClusterError::NoFreePort { source })?;
    Ok(addr.port())
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub(crate) fn tcp_accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Whether `CREATE DATABASE` made a new database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Created {
    /// It did.
    New,
    /// One of that name was already there.
    Existed,
}

/// Runs `CREATE DATABASE "name"` through `psql_on_postgres`.
pub(crate) fn create_database_via(
    name: &str,
    psql_on_postgres: impl FnOnce(&str) -> Result<String, ClusterError>,
) -> Result<Created, ClusterError> {
    validate_name("database", name)?;
    match psql_on_postgres(&format!("CREATE DATABASE \"{name}\"")) {
        Ok(_) => Ok(Created::New),
        // 42P04 duplicate_database; a concurrent CREATE of the same name can also hit the
        // unique index instead.
        Err(ClusterError::Psql { stderr, .. })
            if stderr.contains("42P04") || stderr.contains("pg_database_datname_index") =>
        {
            Ok(Created::Existed)
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use std::process::Command;

    use super::*;
    use crate::tools::unique_suffix;

    fn ok<T>(result: Result<T, ClusterError>) -> T {
        result.unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn temporary_cluster_lifecycle() {
        let started = Instant::now();
        let mut cluster = ok(LocalCluster::start_temporary());
        println!("temporary cluster started in {:?}", started.elapsed());

        let root = cluster.data_dir().parent().map(Path::to_path_buf).unwrap_or_default();
        assert!(root.is_dir());
        assert!(cluster.log_path().is_file());
        assert_eq!(cluster.tcp_port(), None);
        assert!(cluster.url("app_db").starts_with("postgresql://postgres@%2F"), "{}", cluster.url("app_db"));
        assert_eq!(fs::metadata(&root).map(|m| m.mode() & 0o777).unwrap_or_default(), 0o700);
        assert_eq!(fs::metadata(cluster.socket_dir()).map(|m| m.mode() & 0o777).unwrap_or_default(), 0o700);

        ok(cluster.create_database("app_db"));
        ok(cluster.create_database("app_db")); // exists: still fine
        assert_eq!(ok(cluster.psql("app_db", "select 1")).trim(), "1");
        assert_eq!(ok(cluster.psql("app_db", "show listen_addresses")).trim(), "");
        ok(cluster.psql("app_db", "create table t (x int); insert into t values (7), (8)"));
        assert_eq!(ok(cluster.psql("app_db", "select x from t order by x")), "7\n8\n");

        let err = cluster.psql("app_db", "select nope").err();
        assert!(matches!(err, Some(ClusterError::Psql { ref stderr, .. }) if stderr.contains("nope")), "{err:?}");
        assert!(matches!(cluster.create_database("Bad-Name"), Err(ClusterError::InvalidName { .. })));

        // A role outside the peer list needs a password; one inside logs in by identity.
        ok(cluster.psql("postgres", "CREATE ROLE helper LOGIN"));
        assert!(cluster.psql_as("helper", "app_db", "select 1").is_err(), "helper is not a peer role yet");
        ok(cluster.allow_peer_role("helper"));
        assert_eq!(ok(cluster.psql_as("helper", "app_db", "select current_user")).trim(), "helper");

        assert!(cluster.is_running());
        ok(cluster.restart());
        assert_eq!(ok(cluster.psql("app_db", "select count(*) from t")).trim(), "2");

        drop(cluster);
        assert!(!root.exists(), "{} still exists", root.display());
    }

    #[test]
    fn persistent_cluster_keeps_its_data_and_survives_a_killed_postmaster() {
        let base = std::env::temp_dir().join(format!("pgreg-persistent-test-{}", unique_suffix()));
        let data = base.join("nested").join("data");

        let cluster = ok(LocalCluster::start_persistent(&data));
        let socket = cluster.socket_dir().to_path_buf();
        assert_eq!(socket, base.join("nested").join("data.socket"));
        ok(cluster.psql("postgres", "create table kept (x int); insert into kept values (42)"));
        cluster.stop();
        assert!(data.join("PG_VERSION").is_file());
        assert!(!data.join("postmaster.pid").exists(), "server still running");

        let mut cluster = ok(LocalCluster::start_persistent(&data));
        assert_eq!(ok(cluster.psql("postgres", "select x from kept")).trim(), "42");
        let pid = fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
        let pid = pid.lines().next().unwrap_or_default().trim().to_owned();
        let killed = Command::new("kill").args(["-9", &pid]).status().map(|s| s.success());
        assert_eq!(killed.ok(), Some(true));
        let deadline = Instant::now() + Duration::from_secs(5);
        while cluster.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!cluster.is_running(), "a killed postmaster is noticed");
        ok(cluster.restart());
        assert_eq!(ok(cluster.psql("postgres", "select x from kept")).trim(), "42");
        drop(cluster);
        assert!(data.join("PG_VERSION").is_file(), "data dir was removed");

        fs::remove_dir_all(&base).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn a_persistent_cluster_starts_inside_a_private_directory() {
        use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
        // A server's data directory: mode 0700, holding secrets beside the cluster.
        let private = std::env::temp_dir().join(format!("pgreg-private-test-{}", unique_suffix()));
        ok(DirBuilder::new().mode(0o700).create(&private).map_err(io_error("create", &private)));
        fs::write(private.join("secret"), "x").unwrap_or_else(|e| panic!("{e}"));
        let data = private.join("postgres");
        let cluster = ok(LocalCluster::start_persistent(&data));
        assert_eq!(ok(cluster.psql("postgres", "select 1")).trim(), "1");
        let meta = fs::metadata(&private).unwrap_or_else(|e| panic!("{e}"));
        let run_as = ok(RunAs::detect());
        match run_as.switch_to {
            // As root: the cluster's user may enter, but not list; others get nothing.
            Some((_, gid)) => assert_eq!((meta.mode() & 0o777, meta.gid()), (0o710, gid)),
            None => assert_eq!(meta.mode() & 0o777, 0o700, "left as it was"),
        }
        drop(cluster);
        fs::remove_dir_all(&private).unwrap_or_else(|e| panic!("{e}"));
    }
}
