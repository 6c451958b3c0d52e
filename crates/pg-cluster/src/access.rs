//! Who can reach a local cluster: its socket directory and its authentication files.
//!
//! A cluster made here listens on no TCP address. Its only door is a Unix socket in a
//! directory of mode 0700 owned by the OS user the cluster runs as, so other local users
//! cannot even reach the socket; the socket itself is created with mode 0700 as well.
//! Behind that door, `pg_hba.conf` has `local` entries only and never `trust`: the roles
//! named in [`ClusterOptions::peer_roles`] authenticate by OS identity (`peer`, mapped in
//! `pg_ident.conf` to the cluster's OS user and this process's OS user), every other role
//! needs its password (`scram-sha-256`). Both files are rewritten at every start, so a
//! data directory made by an older, more open version is closed on its next start.
//!
//! The one exception is the clearly named TLS listener ([`TlsListener`]), meant for tests
//! of TLS clients: it adds a loopback TCP address that accepts TLS connections with a
//! password only (`hostssl ... scram-sha-256`), never plain text.
//!
//! [`ClusterOptions::peer_roles`]: crate::ClusterOptions::peer_roles

use std::fmt::Write as _;
use std::fs::{self, DirBuilder, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::error::{ClusterError, io_error};
use crate::run_as::{RunAs, effective_uid, user_name};
use crate::tools::validate_name;

/// Longest socket path used; `sun_path` has 108 bytes on Linux, 104 on macOS.
pub(crate) const MAX_SOCKET_PATH: usize = 100;
/// The name of the `pg_ident.conf` map the peer entries use.
const IDENT_MAP: &str = "owner";

/// A loopback TCP listener that accepts TLS connections with a password, and nothing else
/// (`hostssl all all 127.0.0.1/32 scram-sha-256`). For tests of TLS clients; the
/// registry's own clusters never open one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsListener {
    /// The server certificate (PEM).
    pub certificate: PathBuf,
    /// Its private key (PEM); copied into the cluster with mode 0600, as PostgreSQL demands.
    pub key: PathBuf,
}

/// Whether a socket in `dir` for `port` fits in `sun_path`.
pub(crate) fn socket_path_fits(dir: &Path, port: u16) -> bool {
    dir.join(format!(".s.PGSQL.{port}")).as_os_str().len() <= MAX_SOCKET_PATH
}

/// Makes `dir` the private socket directory of a cluster run by `run_as`: created with mode
/// 0700 when missing; an existing one must be a real directory (not a symlink) owned by
/// `run_as` or by us, and is then set to mode 0700 and given to `run_as`.
pub(crate) fn prepare_socket_dir(dir: &Path, run_as: RunAs) -> Result<(), ClusterError> {
    match fs::symlink_metadata(dir) {
        Ok(meta) => {
            let ours = meta.uid() == run_as.uid || meta.uid() == effective_uid()?;
            if !meta.is_dir() || !ours {
                return Err(ClusterError::UnsafePath {
                    path: dir.to_path_buf(),
                    detail: format!(
                        "the cluster's socket directory must be a directory owned by uid {} (it is {} owned by \
                         uid {}); remove it so that it can be created privately",
                        run_as.uid,
                        if meta.is_dir() { "a directory" } else { "not a directory" },
                        meta.uid()
                    ),
                });
            }
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                fs::create_dir_all(parent).map_err(io_error("create directory", parent))?;
            }
            match DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    return prepare_socket_dir_existing(dir, run_as);
                }
                Err(err) => return Err(io_error("create directory", dir)(err)),
            }
        }
        Err(err) => return Err(io_error("inspect", dir)(err)),
    }
    fs::set_permissions(dir, Permissions::from_mode(0o700)).map_err(io_error("set the mode of", dir))?;
    run_as.chown(dir)
}

/// A socket directory that appeared between our look and our create: check it again.
fn prepare_socket_dir_existing(dir: &Path, run_as: RunAs) -> Result<(), ClusterError> {
    let meta = fs::symlink_metadata(dir).map_err(io_error("inspect", dir))?;
    if meta.is_dir() && meta.uid() == run_as.uid {
        fs::set_permissions(dir, Permissions::from_mode(0o700)).map_err(io_error("set the mode of", dir))?;
        return Ok(());
    }
    Err(ClusterError::UnsafePath {
        path: dir.to_path_buf(),
        detail: "someone else created it while the cluster was starting; remove it".to_owned(),
    })
}

/// Writes `pg_hba.conf` and `pg_ident.conf` into `data_dir`: peer identity for
/// `peer_roles` (as the cluster's OS user or this process's), a password for every other
/// role, over the Unix socket only; plus the TLS listener's line when `tls` is set.
pub(crate) fn write_auth_files(
    data_dir: &Path,
    run_as: RunAs,
    peer_roles: &[String],
    tls: bool,
) -> Result<(), ClusterError> {
    for role in peer_roles {
        validate_name("role", role)?;
    }
    let mut os_users = vec![user_name(run_as.uid)?];
    let me = user_name(effective_uid()?)?;
    if !os_users.contains(&me) {
        os_users.push(me);
    }
    let mut hba = String::from(
        "# Written by pg-cluster at every start; edits are lost.\n\
         # Local (Unix socket) connections only, never trust: the roles on the first line\n\
         # log in by OS identity (peer, mapped in pg_ident.conf), every other role needs its\n\
         # password.\n",
    );
    if !peer_roles.is_empty() {
        let _ = writeln!(hba, "local all {} peer map={IDENT_MAP}", peer_roles.join(","));
    }
    hba.push_str("local all all scram-sha-256\n");
    if tls {
        hba.push_str(
            "# The TLS listener: TLS with a password, nothing else.\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
        );
    }
    let mut ident = String::from("# Written by pg-cluster at every start; edits are lost.\n");
    for os_user in &os_users {
        for role in peer_roles {
            let _ = writeln!(ident, "{IDENT_MAP} {os_user} {role}");
        }
    }
    write_private(&data_dir.join("pg_hba.conf"), &hba, run_as)?;
    write_private(&data_dir.join("pg_ident.conf"), &ident, run_as)
}

/// Copies the TLS listener's key into `dir` (mode 0600, owned by `run_as`, as PostgreSQL
/// requires of `ssl_key_file`) and returns the settings that turn TLS on.
pub(crate) fn tls_settings(listener: &TlsListener, dir: &Path, run_as: RunAs) -> Result<Vec<String>, ClusterError> {
    let key = fs::read_to_string(&listener.key).map_err(io_error("read the TLS key", &listener.key))?;
    let certificate = fs::read_to_string(&listener.certificate)
        .map_err(io_error("read the TLS certificate", &listener.certificate))?;
    let key_path = dir.join("server.key");
    let certificate_path = dir.join("server.crt");
    write_private(&key_path, &key, run_as)?;
    write_private(&certificate_path, &certificate, run_as)?;
    Ok(vec![
        "ssl=on".to_owned(),
        format!("ssl_cert_file={}", certificate_path.display()),
        format!("ssl_key_file={}", key_path.display()),
    ])
}

/// Replaces `path` with `content`: written to a temporary file of mode 0600 owned by
/// `run_as`, then renamed over it, so the server never reads half a file.
fn write_private(path: &Path, content: &str, run_as: RunAs) -> Result<(), ClusterError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".writing");
    let temporary = PathBuf::from(temporary);
    let _ = fs::remove_file(&temporary);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(io_error("create", &temporary))?;
    file.write_all(content.as_bytes()).and_then(|()| file.sync_all()).map_err(io_error("write", &temporary))?;
    run_as.chown(&temporary)?;
    fs::rename(&temporary, path).map_err(io_error("replace", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::unique_suffix;

    #[test]
    fn auth_files_never_trust_and_map_both_users() {
        let dir = std::env::temp_dir().join(format!("pgreg-access-test-{}", unique_suffix()));
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        let run_as = RunAs { uid: effective_uid().unwrap_or_else(|e| panic!("{e}")), switch_to: None };
        let roles = vec!["postgres".to_owned(), "registry_app".to_owned()];
        write_auth_files(&dir, run_as, &roles, false).unwrap_or_else(|e| panic!("{e}"));
        let hba = fs::read_to_string(dir.join("pg_hba.conf")).unwrap_or_default();
        assert!(hba.contains("local all postgres,registry_app peer map=owner"), "{hba}");
        assert!(hba.contains("local all all scram-sha-256"), "{hba}");
        let lines: Vec<&str> = hba.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(lines.iter().all(|l| l.starts_with("local ") && !l.contains("trust")), "{hba}");
        let ident = fs::read_to_string(dir.join("pg_ident.conf")).unwrap_or_default();
        assert!(ident.contains(" registry_app\n"), "{ident}");
        let mode = fs::metadata(dir.join("pg_hba.conf")).map(|m| m.mode() & 0o777).unwrap_or_default();
        assert_eq!(mode, 0o600);
        assert!(write_auth_files(&dir, run_as, &["Bad Role".to_owned()], false).is_err());

        let socket = dir.join("socket");
        prepare_socket_dir(&socket, run_as).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fs::metadata(&socket).map(|m| m.mode() & 0o777).unwrap_or_default(), 0o700);
        let link = dir.join("link");
        std::os::unix::fs::symlink(&socket, &link).unwrap_or_else(|e| panic!("{e}"));
        assert!(prepare_socket_dir(&link, run_as).is_err(), "a symlink is never a socket directory");
        fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    }
}
