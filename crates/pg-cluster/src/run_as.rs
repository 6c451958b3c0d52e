//! Who runs the PostgreSQL tools: ourselves, or the `postgres` system user when this
//! process is root (PostgreSQL refuses to run as root).

use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::SUPERUSER;
use crate::error::{ClusterError, io_error};

/// The OS user the PostgreSQL tools run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunAs {
    /// Their user id (ours when not switching).
    pub(crate) uid: u32,
    /// `(uid, gid)` to switch to when we are root.
    pub(crate) switch_to: Option<(u32, u32)>,
}

impl RunAs {
    /// Ourselves, or the `postgres` user when we are root.
    pub(crate) fn detect() -> Result<Self, ClusterError> {
        let euid = effective_uid()?;
        if euid != 0 {
            return Ok(Self { uid: euid, switch_to: None });
        }
        let (uid, gid) = lookup_user(SUPERUSER).ok_or(ClusterError::NoPostgresUser)?;
        if uid == 0 {
            return Err(ClusterError::NoPostgresUser);
        }
        Ok(Self { uid, switch_to: Some((uid, gid)) })
    }

    /// Makes `command` run as this user.
    pub(crate) fn apply(self, command: &mut Command) {
        if let Some((uid, gid)) = self.switch_to {
            command.uid(uid).gid(gid);
        }
    }

    /// Gives `path` to this user (a no-op when not switching).
    pub(crate) fn chown(self, path: &Path) -> Result<(), ClusterError> {
        match self.switch_to {
            Some((uid, gid)) => {
                std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io_error("change the owner of", path))
            }
            None => Ok(()),
        }
    }

    /// Lets this user enter `dir`, the private directory that holds a cluster's data and
    /// socket directories (a no-op when not switching, or when it can already). Only a
    /// directory of ours that no group or other user can use at all (mode 0700) is changed:
    /// its group becomes this user's and may enter it, but not list it (0710). Directories
    /// above it are left alone; when they bar the user, `initdb` says so with
    /// [`RunAs::hint`].
    pub(crate) fn open_parent(self, dir: &Path) -> Result<(), ClusterError> {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let Some((uid, gid)) = self.switch_to else { return Ok(()) };
        let meta = match fs::metadata(dir) {
            Ok(meta) => meta,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(io_error("inspect", dir)(err)),
        };
        let mode = meta.mode() & 0o7777;
        let can_enter = meta.uid() == uid || mode & 0o001 != 0 || (meta.gid() == gid && mode & 0o010 != 0);
        if can_enter || meta.uid() != effective_uid()? || mode & 0o077 != 0 {
            return Ok(());
        }
        std::os::unix::fs::chown(dir, None, Some(gid)).map_err(io_error("change the group of", dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o010)).map_err(io_error("set the mode of", dir))
    }

    /// A sentence for error messages when the tools run as someone else.
    pub(crate) fn hint(self, path: &Path) -> String {
        match self.switch_to {
            Some((uid, _)) => format!(
                "; it ran as user `{SUPERUSER}` (uid {uid}) because PostgreSQL refuses root, so \
                 that user must be able to write {} and enter every directory above it",
                path.display()
            ),
            None => String::new(),
        }
    }
}

/// This process's effective user id, from `/proc/self/status` or `id -u`.
pub(crate) fn effective_uid() -> Result<u32, ClusterError> {
    static EUID: OnceLock<u32> = OnceLock::new();
    if let Some(euid) = EUID.get() {
        return Ok(*euid);
    }
    let from_proc = fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|euid| euid.parse().ok())
    });
    let euid = if let Some(euid) = from_proc {
        euid
    } else {
        let unknown = |detail: String| ClusterError::UnknownUser { what: "the effective user id".to_owned(), detail };
        let output = Command::new("id").arg("-u").stdin(Stdio::null()).output().map_err(|e| unknown(e.to_string()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim().parse().map_err(|_| unknown(format!("`id -u` printed {:?}", text.trim())))?
    };
    Ok(*EUID.get_or_init(|| euid))
}

/// `(uid, gid)` of the user `name`, from `/etc/passwd` or `id`.
pub(crate) fn lookup_user(name: &str) -> Option<(u32, u32)> {
    if let Ok(passwd) = fs::read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let mut fields = line.split(':');
            if fields.next() == Some(name) {
                let uid = fields.nth(1)?.parse().ok()?;
                let gid = fields.next()?.parse().ok()?;
                return Some((uid, gid));
            }
        }
    }
    // Users from NSS sources other than /etc/passwd (LDAP, ...).
    let id = |flag: &str| -> Option<u32> {
        let output = Command::new("id").args([flag, name]).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
        if !output.status.success() {
            return None;
        }
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// The login name of `uid`, as PostgreSQL's peer authentication sees it (it looks the
/// peer's uid up the same way).
pub(crate) fn user_name(uid: u32) -> Result<String, ClusterError> {
    if let Ok(passwd) = fs::read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let mut fields = line.split(':');
            let (Some(name), Some(_), Some(id)) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            if id.parse::<u32>() == Ok(uid) {
                return Ok(name.to_owned());
            }
        }
    }
    let unknown = |detail: String| ClusterError::UnknownUser { what: format!("the name of user id {uid}"), detail };
    let output = Command::new("id")
        .args(["-nu", &uid.to_string()])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| unknown(e.to_string()))?;
    let name = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && !name.is_empty() {
        Ok(name)
    } else {
        Err(unknown("it is neither in /etc/passwd nor known to `id`; peer authentication needs a name".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_found_both_ways() {
        let me = effective_uid().unwrap_or_else(|e| panic!("{e}"));
        let name = user_name(me).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lookup_user(&name).map(|(uid, _)| uid), Some(me));
        assert!(me == 0 || RunAs::detect().unwrap_or_else(|e| panic!("{e}")).switch_to.is_none());
    }
}
