//! HTTP load on the real server: requests created (`POST /api/schema-requests` with seed
//! 001's caricatures request, each with table and index names of its own; every submission
//! is checked against the target and the catalog and rehearsed on PostgreSQL) and listed
//! (`GET /api/schema-requests?limit=50`) per second,
//! with p50/p99 latency, at 1, 16 and 64 keep-alive connections; and, as the reference in
//! the same run, pgbench on the server's own embedded registry database running the store
//! benchmark's script (request row + audit row in one transaction) at 1, 16 and 64 clients.
//!
//! Run: `cargo bench -p registry-server --bench load`. The load generator runs in this
//! process, the release `registry-server` (embedded PostgreSQL, fresh temporary data
//! directory, no rate limit) in a second one, on loopback only. Each measurement stops
//! after 4 s or 50 000 requests; the server is stopped with SIGTERM and its data directory
//! removed at the end, also when the bench fails. Without `--bench` (as under `cargo test
//! --benches`) it only prints that it was skipped.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use schema_model::request::SchemaRequest;
use serde_json::{Value, json};

/// Length of each measurement.
const SECONDS: u64 = 4;
/// Upper bound on the requests of one measurement, whatever the time.
const MAX_REQUESTS: usize = 50_000;
/// Concurrent connections (load) and clients (pgbench).
const LEVELS: [usize; 3] = [1, 16, 64];
/// Per-request timeout, so a stuck request cannot hold the bench.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const REQUEST: &str = include_str!("../../../fixtures/requests/01_caricatures.json");
const CREATE_PATH: &str = "/api/schema-requests";
const LIST_PATH: &str = "/api/schema-requests?limit=50";

/// The server process and its temporary directory: dropping it sends SIGTERM, waits, and
/// removes the directory (printing the tail of the server's log if the bench is panicking).
struct ServerGuard {
    child: Option<Child>,
    dir: PathBuf,
}

impl ServerGuard {
    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// SIGTERM, then up to 30 s for a clean exit, then SIGKILL.
    fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => break,
            }
        }
        eprintln!("the server did not stop within 30 s of SIGTERM; killing it");
        let _ = child.kill();
        child.wait().ok()
    }

    /// The embedded cluster's TCP port, from the 4th line of `postmaster.pid`.
    /// The embedded PostgreSQL's socket directory and port, from its `postmaster.pid`.
    fn postgres_socket(&self) -> (String, String) {
        let pid_file = self.dir.join("postgres/postmaster.pid");
        let text = std::fs::read_to_string(&pid_file).unwrap_or_else(|e| {
            panic!("cannot read {} (is the embedded PostgreSQL running?): {e}", pid_file.display())
        });
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        match (lines.get(4), lines.get(3)) {
            (Some(socket), Some(port)) if port.parse::<u16>().is_ok() => ((*socket).to_owned(), (*port).to_owned()),
            _ => panic!("no socket directory and port on lines 5 and 4 of {}:\n{text}", pid_file.display()),
        }
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            if !tail.is_empty() {
                eprintln!("last lines of the server's log:");
                for line in tail.iter().rev() {
                    eprintln!("  {line}");
                }
            }
        }
        if let Some(status) = self.stop()
            && !status.success()
        {
            eprintln!("the server exited with {status} after SIGTERM");
        }
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("cannot remove {}: {error}", self.dir.display());
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("no free port: {e}"));
    listener.local_addr().unwrap_or_else(|e| panic!("no local address: {e}")).port()
}

/// Starts the server binary on a free loopback port with a fresh data directory and no
/// rate limit, and waits (at most 60 s) for its `schema registry listening` line.
fn start_server() -> (ServerGuard, String) {
    let binary = Path::new(env!("CARGO_BIN_EXE_registry-server"));
    assert!(binary.is_file(), "the server binary {} is missing", binary.display());
    let dir = std::env::temp_dir().join(format!("schema-registry-load-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let mut guard = ServerGuard { child: None, dir };
    let config = guard.dir.join("load-config.toml");
    std::fs::write(&config, "rate_limit_per_second = 0\n")
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", config.display()));
    let log = std::fs::File::create(guard.log_path())
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", guard.log_path().display()));
    let port = free_port();
    let mut child = Command::new(binary)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&guard.dir)
        .arg("--config")
        .arg(&config)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let stdout = child.stdout.take();
    guard.child = Some(child);
    let stdout = stdout.unwrap_or_else(|| panic!("no stdout pipe to the server"));
    let (sender, receiver) = std::sync::mpsc::channel();
    // Keeps draining stdout for the server's lifetime.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("schema registry listening") {
                let _ = sender.send(());
            }
        }
    });
    assert!(
        receiver.recv_timeout(Duration::from_mins(1)).is_ok(),
        "the server did not print `schema registry listening` within 60 s (log: {})",
        guard.log_path().display()
    );
    (guard, format!("http://127.0.0.1:{port}"))
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(REQUEST_TIMEOUT)).build(),
    )
}

/// One call; the status and the whole body (read to the end so the connection is reused).
fn call(agent: &ureq::Agent, url: &str, auth: &str, body: Option<&str>) -> Result<(u16, String), ureq::Error> {
    let mut response = match body {
        Some(body) => {
            agent.post(url).header("Authorization", auth).header("Content-Type", "application/json").send(body)?
        }
        None => agent.get(url).header("Authorization", auth).call()?,
    };
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    Ok((status, text))
}

fn create_token(base: &str, admin: &str) -> String {
    let body = json!({"name": "load-bench", "role": "requester"}).to_string();
    let (status, text) = call(&agent(), &format!("{base}/api/tokens"), &format!("Bearer {admin}"), Some(&body))
        .unwrap_or_else(|e| panic!("POST /api/tokens: {e}"));
    assert_eq!(status, 201, "POST /api/tokens answered {status}: {text}");
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST /api/tokens: {e}: {text}"));
    value["token"].as_str().unwrap_or_else(|| panic!("no token in {text}")).to_owned()
}

/// The outcome of one measurement.
struct Run {
    /// Successful requests per second.
    per_second: f64,
    /// Latencies of the successful requests in microseconds, sorted.
    micros: Vec<u32>,
    failures: usize,
    first_failure: Option<String>,
}

impl Run {
    /// Nearest-rank percentile, in milliseconds.
    fn percentile_ms(&self, percent: usize) -> f64 {
        if self.micros.is_empty() {
            return f64::NAN;
        }
        let rank = (self.micros.len() * percent).div_ceil(100).max(1);
        f64::from(self.micros[rank - 1]) / 1000.0
    }
}

/// `connections` threads, each with its own keep-alive agent, sending the same request
/// until the time is up or `MAX_REQUESTS` have been started.
fn load(base: &str, token: &str, connections: usize, path: &str, body: Option<&str>, expect: u16) -> Run {
    let url = format!("{base}{path}");
    let auth = format!("Bearer {token}");
    let started = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(SECONDS);
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let (url, auth, started) = (url.clone(), auth.clone(), started.clone());
            let body = body.map(str::to_owned);
            std::thread::spawn(move || {
                let agent = agent();
                let mut micros = Vec::new();
                let mut failures = 0;
                let mut first_failure = None;
                let mut sent_count = 0usize;
                while Instant::now() < deadline && started.fetch_add(1, Ordering::Relaxed) < MAX_REQUESTS {
                    // Every submission names a table (and indexes) of its own, as real ones
                    // do: rehearsals creating one name run one after the other.
                    sent_count += 1;
                    let body = body.as_deref().map(|b| {
                        b.replace("\"caricatures\"", &format!("\"caricatures_{worker}_{sent_count}\""))
                            .replace("\"idx_caricatures_", &format!("\"idx_caricatures_{worker}_{sent_count}_"))
                    });
                    let sent = Instant::now();
                    let outcome = call(&agent, &url, &auth, body.as_deref());
                    let elapsed = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                    match outcome {
                        Ok((status, _)) if status == expect => micros.push(elapsed),
                        Ok((status, text)) => {
                            failures += 1;
                            first_failure.get_or_insert_with(|| format!("status {status}: {text}"));
                        }
                        Err(error) => {
                            failures += 1;
                            first_failure.get_or_insert_with(|| error.to_string());
                        }
                    }
                }
                (micros, failures, first_failure)
            })
        })
        .collect();
    let mut run = Run { per_second: 0.0, micros: Vec::new(), failures: 0, first_failure: None };
    for worker in workers {
        let (micros, failures, first_failure) =
            worker.join().unwrap_or_else(|_| panic!("a load thread for {path} panicked"));
        run.micros.extend(micros);
        run.failures += failures;
        if run.first_failure.is_none() {
            run.first_failure = first_failure;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let successes = u32::try_from(run.micros.len()).unwrap_or(u32::MAX);
    run.per_second = f64::from(successes) / seconds;
    run.micros.sort_unstable();
    run
}

/// The `total` of the request list, i.e. the rows the list endpoint counts.
fn total_requests(base: &str, token: &str) -> String {
    let (status, text) = call(&agent(), &format!("{base}{LIST_PATH}"), &format!("Bearer {token}"), None)
        .unwrap_or_else(|e| panic!("GET {LIST_PATH}: {e}"));
    assert_eq!(status, 200, "GET {LIST_PATH} answered {status}: {text}");
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {LIST_PATH}: {e}: {text}"));
    value["total"].to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("load: skipped (run it with `cargo bench -p registry-server --bench load`)");
        return;
    }
    let (server, base) = start_server();
    let admin_file = server.dir.join("admin.token");
    let admin = std::fs::read_to_string(&admin_file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", admin_file.display()))
        .trim()
        .to_owned();
    let token = create_token(&base, &admin);
    let (socket, port) = server.postgres_socket();
    let script = server.dir.join("pgbench-create.sql");
    let request = SchemaRequest::from_json(REQUEST).unwrap_or_else(|e| panic!("the fixture does not parse: {e}"));
    let request_json =
        serde_json::to_string(&request).unwrap_or_else(|e| panic!("the fixture does not serialize: {e}"));
    std::fs::write(&script, registry_store::reference::pgbench_script(&request_json))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", script.display()));

    println!("server {base} (embedded PostgreSQL at {socket}), {SECONDS} s or {MAX_REQUESTS} requests per measurement");
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for connections in LEVELS {
        let create = load(&base, &token, connections, CREATE_PATH, Some(REQUEST), 201);
        let total = total_requests(&base, &token);
        let list = load(&base, &token, connections, LIST_PATH, None, 200);
        let pgbench = registry_store::reference::pgbench_tps(
            &socket,
            port.parse().unwrap_or_else(|e| panic!("port {port}: {e}")),
            registry_store::embedded::REGISTRY_DATABASE,
            connections,
            SECONDS,
            &script,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        eprintln!("  {connections} connections measured");
        notes.push(format!(
            "{connections:>5}: create {} ok / {} failed, list {} ok / {} failed over {total} requests in the table",
            create.micros.len(),
            create.failures,
            list.micros.len(),
            list.failures
        ));
        for (what, run) in [("create", &create), ("list", &list)] {
            if let Some(failure) = &run.first_failure {
                notes.push(format!("       first {what} failure: {failure}"));
            }
        }
        rows.push(format!(
            "{connections:>5}  {:>8.0}  {:>6.2}  {:>6.2}  {:>6.0}  {:>6.2}  {:>6.2}  {pgbench:>11.0}  {:>14.2}",
            create.per_second,
            create.percentile_ms(50),
            create.percentile_ms(99),
            list.per_second,
            list.percentile_ms(50),
            list.percentile_ms(99),
            create.per_second / pgbench,
        ));
    }
    println!("conns  create/s  p50 ms  p99 ms  list/s  p50 ms  p99 ms  pgbench tps  create/pgbench");
    for row in &rows {
        println!("{row}");
    }
    println!("requests (ok / failed):");
    for note in &notes {
        println!("{note}");
    }
    drop(server);
}
