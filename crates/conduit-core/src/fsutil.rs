//! Writing files that hold secrets or state: atomically, and private (0600) from birth.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Write `data` to `path` atomically: a temp file in the same directory, created with mode
/// 0600, fsynced, then renamed over `path` (and the directory fsynced). A crash at any point
/// leaves either the old file or the new one, never a torn or empty one.
///
/// Temp files are named `.{name}.tmp.{pid}.{nanos}`. A process killed between creating and
/// renaming one leaves it behind; each write first removes the leftovers of `path` whose
/// writer is gone (see [`remove_stale_temps`]), so at most one crash's worth ever lingers.
pub fn write_private_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    remove_stale_temps(dir, &name);
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    ));
    let result = (|| {
        let mut f = open_private(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes `dir/.{name}.tmp.{pid}.*` left by writers that no longer run: on Linux, a pid
/// without `/proc/{pid}`; elsewhere (no cheap liveness check without unsafe code), files older
/// than ten minutes. Our own pid's temp files are in use by this process, so they stay.
fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && writer_gone(pid, &entry) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn writer_gone(pid: u32, entry: &fs::DirEntry) -> bool {
    if cfg!(target_os = "linux") && Path::new("/proc/self").exists() {
        return !Path::new(&format!("/proc/{pid}")).exists();
    }
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > std::time::Duration::from_secs(600))
}

fn open_private(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_private_and_replaces() {
        let dir = std::env::temp_dir().join(format!("conduit-fsutil-{}", std::process::id()));
        let path = dir.join("secret.json");
        write_private_atomic(&path, b"one").unwrap();
        write_private_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_dead_writers_temp_file_is_removed_by_the_next_write() {
        let dir = std::env::temp_dir().join(format!("conduit-fsutil-stale-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token.json");
        // pid_max is at most 2^22 on Linux, so this writer cannot be alive.
        let dead = dir.join(".token.json.tmp.4294967295.123");
        let ours = dir.join(format!(".token.json.tmp.{}.456", std::process::id()));
        let other = dir.join(".other.json.tmp.4294967295.789");
        for f in [&dead, &ours, &other] {
            fs::write(f, b"{").unwrap();
        }
        write_private_atomic(&path, b"{}").unwrap();
        assert!(!dead.exists(), "a dead writer's temp file is cleaned");
        assert!(ours.exists(), "our own in-flight temp files are left alone");
        assert!(other.exists(), "other files' temp files are left alone");
        fs::remove_dir_all(&dir).unwrap();
    }
}
