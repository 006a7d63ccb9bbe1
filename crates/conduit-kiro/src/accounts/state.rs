//! `state.json` in the data dir: the scheduler's cooldowns and sticky sessions, loaded at start
//! and written (atomically, 0600) by a background task shortly after something changed, so the
//! request path never waits on the disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::scheduler::{Health, Scheduler, Sticky};

/// The file name inside the data dir.
pub const STATE_FILE: &str = "state.json";
/// How long after a change the file is written (changes in between are written together).
const DEBOUNCE: Duration = Duration::from_millis(200);

/// The file's shape.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StateFile {
    pub version: u32,
    #[serde(default)]
    pub accounts: HashMap<String, Health>,
    #[serde(default)]
    pub sessions: HashMap<String, Sticky>,
}

/// Reads `state.json`; a missing or unreadable file is an empty state (logged, not fatal: the
/// state only saves work, it holds nothing that cannot be relearned).
pub fn load(path: &Path) -> StateFile {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), "ignoring unreadable scheduler state: {e}");
            StateFile::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFile::default(),
        Err(e) => {
            tracing::warn!(path = %path.display(), "cannot read scheduler state: {e}");
            StateFile::default()
        }
    }
}

type Shared = Arc<Mutex<Scheduler>>;

/// Writes the scheduler's state when it changed. Owns its background task: dropping the
/// persister stops the task and writes whatever is still unsaved.
pub struct Persister {
    path: PathBuf,
    scheduler: Shared,
    /// Serialises writes so an older snapshot never lands after a newer one.
    write_lock: Arc<Mutex<()>>,
    notify: Arc<Notify>,
    background: bool,
    _stop: DropGuard,
}

impl Persister {
    /// Starts the writer task on the current tokio runtime; without one, [`Persister::changed`]
    /// writes synchronously.
    pub fn start(path: PathBuf, scheduler: Shared) -> Self {
        let notify = Arc::new(Notify::new());
        let write_lock = Arc::new(Mutex::new(()));
        let stop = CancellationToken::new();
        let background = match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let (path, scheduler, notify, write_lock, stop) = (
                    path.clone(),
                    Arc::clone(&scheduler),
                    Arc::clone(&notify),
                    Arc::clone(&write_lock),
                    stop.clone(),
                );
                // Owned through `stop`: the task ends when the persister is dropped.
                handle.spawn(async move {
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = notify.notified() => {}
                        }
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep(DEBOUNCE) => {}
                        }
                        let (path, scheduler, write_lock) = (
                            path.clone(),
                            Arc::clone(&scheduler),
                            Arc::clone(&write_lock),
                        );
                        let _ = tokio::task::spawn_blocking(move || {
                            write_if_dirty(&path, &scheduler, &write_lock)
                        })
                        .await;
                    }
                });
                true
            }
            Err(_) => false,
        };
        Self {
            path,
            scheduler,
            write_lock,
            notify,
            background,
            _stop: stop.drop_guard(),
        }
    }

    /// Something changed: write soon.
    pub fn changed(&self) {
        if self.background {
            self.notify.notify_one();
        } else {
            self.flush();
        }
    }

    /// A handle that asks for a write soon (for code that holds no persister).
    pub fn notifier(&self) -> Arc<Notify> {
        Arc::clone(&self.notify)
    }

    /// Writes now if anything is unsaved.
    pub fn flush(&self) {
        write_if_dirty(&self.path, &self.scheduler, &self.write_lock);
    }
}

impl Drop for Persister {
    fn drop(&mut self) {
        self.flush();
    }
}

fn write_if_dirty(path: &Path, scheduler: &Mutex<Scheduler>, write_lock: &Mutex<()>) {
    let _guard = write_lock.lock().unwrap_or_else(|p| p.into_inner());
    let snapshot = {
        let mut s = scheduler.lock().unwrap_or_else(|p| p.into_inner());
        if !s.take_dirty() {
            return;
        }
        s.snapshot()
    };
    let (accounts, sessions) = snapshot;
    let file = StateFile {
        version: 1,
        accounts,
        sessions,
    };
    let result = serde_json::to_vec_pretty(&file)
        .map_err(std::io::Error::other)
        .and_then(|bytes| conduit_core::fsutil::write_private_atomic(path, &bytes));
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), "cannot write scheduler state: {e}");
        // Try again with the next change.
        scheduler
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .mark_dirty();
    }
}
