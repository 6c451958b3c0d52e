//! Running the PostgreSQL tools (`initdb`, `psql`, `pg_ctl`) and small helpers around
//! them: private directories, log tails, names that need no quoting.

use std::fs::{self, DirBuilder, File, Permissions};
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::SUPERUSER;
use crate::binaries::{BIN_DIR_ENV, tool};
use crate::error::{ClusterError, io_error};
use crate::run_as::RunAs;

/// Lines of a log or of a tool's stderr quoted in errors.
const TAIL_LINES: usize = 40;
/// At most this many bytes of a log are read for the quoted tail.
const TAIL_BYTES: u64 = 16 * 1024;
/// PostgreSQL's identifier length limit (NAMEDATALEN - 1).
pub(crate) const MAX_IDENTIFIER_BYTES: usize = 63;
/// Options of every psql call: no psqlrc, unaligned tuples only, quiet, stop at the first
/// error, and verbose errors (they carry the SQLSTATE).
pub(crate) const PSQL_FLAGS: [&str; 8] = ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"];

/// A string unique among this machine's processes and calls: `<pid>-<microseconds>-<counter>`.
pub(crate) fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_micros() % 1_000_000_000);
    format!("{}-{micros}-{count}", std::process::id())
}

/// Seconds since the epoch.
pub(crate) fn epoch_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// Creates a new directory `parent/<prefix>-<unique>` with mode 0700, owned by `run_as`.
pub(crate) fn create_private_dir(parent: &Path, prefix: &str, run_as: RunAs) -> Result<PathBuf, ClusterError> {
    loop {
        let dir = parent.join(format!("{prefix}-{}", unique_suffix()));
        match DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, Permissions::from_mode(0o700)).map_err(io_error("set the mode of", &dir))?;
                run_as.chown(&dir)?;
                return Ok(dir);
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(io_error("create directory", &dir)(err)),
        }
    }
}

/// The last `count` lines of `text`.
pub(crate) fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// The end of what was written to the log at `path` after byte `from`.
pub(crate) fn log_tail(path: &Path, from: u64) -> String {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let start = from.max(len.saturating_sub(TAIL_BYTES)).min(len);
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) if text.trim().is_empty() => "(nothing was logged)".to_owned(),
        Ok(text) => last_lines(&text, TAIL_LINES),
        Err(err) => format!("(the log could not be read: {err})"),
    }
}

/// The end of a finished tool's stderr, then stdout.
pub(crate) fn output_tail(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !stdout.trim().is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&stdout);
    }
    if text.trim().is_empty() { "(no output)".to_owned() } else { last_lines(text.trim_end(), TAIL_LINES) }
}

/// `text` cut to about `max` characters for an error message.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A command for one of the cluster's tools: run as `run_as`, in `/` (which every user can
/// enter), without the caller's `PG*` variables (which could redirect or reconfigure the
/// connection), in the C locale.
pub(crate) fn local_command(program: &Path, run_as: RunAs) -> Command {
    let mut command = Command::new(program);
    run_as.apply(&mut command);
    command.current_dir("/");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            command.env_remove(key);
        }
    }
    command.env("LC_ALL", "C").env("PGCLIENTENCODING", "UTF8").env("PGCONNECT_TIMEOUT", "10").stdin(Stdio::null());
    command
}

/// Runs `command` to completion, capturing its output.
pub(crate) fn run(mut command: Command) -> Result<Output, ClusterError> {
    command.output().map_err(|source| spawn_error(&command, source))
}

/// A [`ClusterError::Spawn`] for `command`.
pub(crate) fn spawn_error(command: &Command, source: io::Error) -> ClusterError {
    let hint = if source.kind() == io::ErrorKind::NotFound {
        format!(
            " (is the PostgreSQL installation complete? set {BIN_DIR_ENV} to a directory with \
             initdb, postgres, pg_ctl and psql)"
        )
    } else {
        String::new()
    };
    ClusterError::Spawn { program: PathBuf::from(command.get_program()), hint, source }
}

/// Runs initdb for `data_dir`; `sync` makes it flush the files to disk.
///
/// The authentication it writes is never `trust`: local connections use peer identity
/// and TCP is refused. The cluster rewrites `pg_hba.conf` at every start anyway
/// ([`crate::access`]); this only makes sure no moment exists where it is open.
pub(crate) fn run_initdb(bin_dir: &Path, run_as: RunAs, data_dir: &Path, sync: bool) -> Result<(), ClusterError> {
    let mut command = local_command(&tool(bin_dir, "initdb"), run_as);
    command.arg("-D").arg(data_dir).args([
        "-U",
        SUPERUSER,
        "--auth-local=peer",
        "--auth-host=reject",
        "-E",
        "UTF8",
        "--no-locale",
    ]);
    if !sync {
        command.arg("--no-sync");
    }
    let output = run(command)?;
    if output.status.success() {
        return Ok(());
    }
    Err(ClusterError::Initdb {
        data_dir: data_dir.to_path_buf(),
        status: output.status.to_string(),
        hint: run_as.hint(data_dir),
        output: output_tail(&output),
    })
}

/// Runs a prepared psql command and turns a failure into [`ClusterError::Psql`].
pub(crate) fn run_psql(command: Command, database: &str, sql: &str) -> Result<String, ClusterError> {
    let output = run(command)?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(ClusterError::Psql {
        database: database.to_owned(),
        sql: shorten(sql, 200),
        status: output.status.to_string(),
        stderr: if stderr.trim().is_empty() {
            "(no error output)".to_owned()
        } else {
            last_lines(stderr.trim_end(), TAIL_LINES)
        },
    })
}

/// Waits up to `timeout` for `child` to exit; whether it did.
pub(crate) fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) => {}
            Err(_) => return false,
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

/// Checks that `name` is `[a-z_][a-z0-9_]*` and at most 63 bytes: a database or role name
/// that needs no quoting or escaping in SQL, URLs, configuration files or psql arguments.
pub fn validate_name(kind: &'static str, name: &str) -> Result<(), ClusterError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_IDENTIFIER_BYTES {
        Some("it is longer than 63 bytes")
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        Some("it starts with a digit")
    } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        Some("it contains a character outside [a-z0-9_]")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ClusterError::InvalidName { kind, name: name.to_owned(), reason }),
        None => Ok(()),
    }
}

/// Percent-encodes everything but unreserved URL characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for good in ["a", "_x", "app_db_1", &"a".repeat(63)] {
            assert!(validate_name("database", good).is_ok(), "{good}");
        }
        for bad in ["", "1abc", "Upper", "has-dash", "sp ace", "quo\"te", &"a".repeat(64)] {
            assert!(validate_name("database", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
        assert_eq!(shorten("abcdef", 3), "abc…");
    }
}
