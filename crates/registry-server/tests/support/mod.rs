//! The real binary, started on a fresh data directory with its embedded PostgreSQL, and
//! the calls tests make to it.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub(crate) struct Server {
    pub(crate) child: Option<Child>,
    pub(crate) url: String,
    pub(crate) data_dir: PathBuf,
    pub(crate) admin: String,
}

pub(crate) fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/requests").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One principal per role that acts on requests.
pub(crate) struct Actors {
    pub(crate) requester: String,
    pub(crate) reviewer: String,
    pub(crate) operator: String,
}

/// Tokens for `omega-bot` (requester), `rita` (reviewer) and `olaf` (operator).
pub(crate) fn actors(server: &Server) -> Actors {
    Actors {
        requester: server.token("omega-bot", "requester"),
        reviewer: server.token("rita", "reviewer"),
        operator: server.token("olaf", "operator"),
    }
}

/// Submits `request` as the requester and approves it as the reviewer; its id and the
/// submission's answer.
pub(crate) fn submit_and_approve(server: &Server, who: &Actors, request: &Value) -> (String, Value) {
    let (status, answer) = server.call("POST", "/api/schema-requests", Some(&who.requester), Some(request));
    assert_eq!(status, 201, "{answer}");
    let id = answer["registryId"].as_str().unwrap().to_owned();
    let (status, body) = server.call(
        "PATCH",
        &format!("/api/schema-requests/{id}"),
        Some(&who.reviewer),
        Some(&json!({"status": "approved"})),
    );
    assert_eq!(status, 200, "{body}");
    (id, answer)
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// Starts the binary with a fresh data directory (or the given one) and waits until it listens.
    pub(crate) fn start(data_dir: Option<PathBuf>, config: &str) -> Self {
        Self::start_with_env(data_dir, config, &[])
    }

    /// [`Server::start`] with extra environment variables for the server process.
    pub(crate) fn start_with_env(data_dir: Option<PathBuf>, config: &str, env: &[(&str, &str)]) -> Self {
        let data_dir = data_dir.unwrap_or_else(|| {
            let dir = std::env::temp_dir().join(format!(
                "schema-registry-api-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        });
        let port = free_port();
        let config_path = data_dir.join("test-config.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_registry-server"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&data_dir)
            .arg("--config")
            .arg(&config_path)
            .env_remove("DATABASE_URL")
            .env_remove("SCHEMA_REGISTRY_CRASH_AT")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(data_dir.join("server.log")).map_or_else(|_| Stdio::null(), Stdio::from))
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("schema registry listening") {
                    let _ = sender.send(());
                }
            }
        });
        receiver.recv_timeout(Duration::from_mins(1)).expect("the server listens within 60 s");
        let admin = std::fs::read_to_string(data_dir.join("admin.token")).expect("admin token file").trim().to_owned();
        Server { child: Some(child), url: format!("http://127.0.0.1:{port}"), data_dir, admin }
    }

    pub(crate) fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        self.raw(method, path, token, body.map(ToString::to_string).as_deref())
    }

    pub(crate) fn raw(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
        self.try_raw(method, path, token, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A call that may fail at the transport level (the server died under it).
    pub(crate) fn try_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        self.try_raw(method, path, token, body.map(ToString::to_string).as_deref())
    }

    fn try_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Result<(u16, Value), String> {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build(),
        );
        let url = format!("{}{path}", self.url);
        let auth = token.map(|t| format!("Bearer {t}"));
        macro_rules! send {
            ($builder:expr) => {{
                let mut builder = $builder;
                if let Some(auth) = &auth {
                    builder = builder.header("Authorization", auth);
                }
                builder
            }};
        }
        let response = match method {
            "GET" => send!(agent.get(&url)).call(),
            "DELETE" => send!(agent.delete(&url)).call(),
            "POST" => send!(agent.post(&url)).header("Content-Type", "application/json").send(body.unwrap_or("")),
            "PATCH" => send!(agent.patch(&url)).header("Content-Type", "application/json").send(body.unwrap_or("")),
            other => panic!("{other}"),
        };
        let mut response = response.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let mut value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if let Some(retry_after) = retry_after
            && value.is_object()
        {
            value["retryAfterHeader"] = json!(retry_after);
        }
        Ok((status, value))
    }

    /// Waits for the process to end by itself (a crash the test asked for) and returns
    /// whether it exited cleanly.
    pub(crate) fn wait_for_exit(mut self) -> (bool, PathBuf) {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status.success(), self.data_dir.clone());
            }
            assert!(Instant::now() < deadline, "the server did not end within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn token(&self, name: &str, role: &str) -> String {
        let (status, body) =
            self.call("POST", "/api/tokens", Some(&self.admin), Some(&json!({"name": name, "role": role})));
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap();
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub(crate) fn stop(mut self) -> PathBuf {
        self.signal("TERM");
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "clean exit after SIGTERM, got {status}");
                break;
            }
            assert!(Instant::now() < deadline, "the server did not stop within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.data_dir.clone()
    }

    /// What the server logged so far (its stderr).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    /// psql against the embedded cluster's target database.
    pub(crate) fn target_sql(&self, sql: &str) -> String {
        self.sql("target", sql)
    }

    /// psql as the embedded cluster's superuser on `database`.
    pub(crate) fn sql(&self, database: &str, sql: &str) -> String {
        let pid_file = std::fs::read_to_string(self.data_dir.join("postgres/postmaster.pid")).unwrap();
        let socket = pid_file.lines().nth(4).unwrap().trim().to_owned();
        let port = pid_file.lines().nth(3).unwrap().trim().to_owned();
        let bin = pg_cluster::find_bin_dir().unwrap();
        let output = Command::new(bin.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", &socket, "-p", &port, "-U", "postgres"])
            .args(["-d", database, "-c", sql])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Runs the binary with `args` and this server's URL (a command-line client or
    /// database command).
    pub(crate) fn command(&self, args: &[&str]) -> std::process::Output {
        self.command_with_env(args, &[])
    }

    /// [`Server::command`] with extra environment variables (`REGISTRY_TOKEN`).
    pub(crate) fn command_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_registry-server"))
            .args(args)
            .env("REGISTRY_SERVER", &self.url)
            .env_remove("REGISTRY_TOKEN")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn cleanup(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
