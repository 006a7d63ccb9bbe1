//! The per-profile lock (`tokens/<profile>.lock`, `flock`): one refresh or sign-in at a time,
//! however many Claude Code sessions ask at once. And the failure marker
//! (`tokens/<profile>.fail`): after a failed or abandoned browser sign-in, no browser opens
//! again for [`COOL_DOWN`], so a client retrying the helper cannot flood the screen with tabs.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use super::profile::{self, Files};

/// How long after a failed interactive sign-in no browser is opened.
pub const COOL_DOWN: Duration = Duration::from_secs(30);

/// Holds the profile's lock until dropped (closing the file releases it).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// `tokens/` with mode 0700 (made when missing).
pub fn tokens_dir(files: &Files) -> anyhow::Result<()> {
    make_private_dir(&files.dir)
}

fn make_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Wait for the profile's exclusive lock.
pub fn exclusive(files: &Files) -> anyhow::Result<Lock> {
    tokens_dir(files)?;
    let path = files.lock();
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(Lock { _file: file })
}

/// Whether a failed sign-in's marker is younger than the cool-down (at `now`); a marker from
/// the future (a clock set back) counts while within the cool-down of it.
pub fn failed_recently(files: &Files, now: SystemTime) -> bool {
    let Ok(modified) = std::fs::metadata(files.fail()).and_then(|m| m.modified()) else {
        return false;
    };
    let age = now
        .duration_since(modified)
        .unwrap_or_else(|e| e.duration());
    age < COOL_DOWN
}

/// Record a failed sign-in (what went wrong, never a secret); its mtime starts the cool-down.
pub fn mark_failed(files: &Files, why: &str) {
    let _ = tokens_dir(files);
    let _ = conduit_core::fsutil::write_private_atomic(&files.fail(), why.as_bytes());
}

pub fn clear_failed(files: &Files) {
    let _ = profile::remove(&files.fail());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_counts_for_thirty_seconds_either_way() {
        let dir = std::env::temp_dir().join(format!("conduit-token-lock-{}", std::process::id()));
        let paths = crate::cli::Paths {
            home: dir.clone(),
            user_home: None,
        };
        let files = Files::new(&paths, "unit");
        let now = SystemTime::now();
        assert!(!failed_recently(&files, now), "no marker yet");
        mark_failed(&files, "access_denied");
        let written = std::fs::metadata(files.fail()).unwrap().modified().unwrap();
        let s = Duration::from_secs;
        for (at, recent) in [
            (written, true),
            (written + s(29), true),
            (written + s(31), false),
            (written - s(29), true),
            (written - s(31), false),
        ] {
            assert_eq!(failed_recently(&files, at), recent, "{at:?}");
        }
        clear_failed(&files);
        assert!(!failed_recently(&files, written));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_second_exclusive_lock_waits_for_the_first() {
        let dir = std::env::temp_dir().join(format!("conduit-token-lk2-{}", std::process::id()));
        let paths = crate::cli::Paths {
            home: dir.clone(),
            user_home: None,
        };
        let files = Files::new(&paths, "unit");
        let held = exclusive(&files).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let f2 = files.clone();
        let t = std::thread::spawn(move || {
            let _second = exclusive(&f2).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(held);
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
        t.join().unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }
}
