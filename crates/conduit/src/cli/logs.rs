//! `logs`: the last lines of `gateway.log`, and `-f` to follow it across rotations.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::output;
use super::{Outcome, Paths};

/// The last `n` lines of `path` (reads at most the last 4 MiB).
pub fn tail(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(4 << 20);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n);
    Ok(lines[skip..].iter().map(|l| l.to_string()).collect())
}

/// The last `n` of the lines written to `path` after byte `offset` (for start failures).
pub fn lines_since(path: &Path, offset: u64, n: usize) -> Vec<String> {
    let Ok(mut file) = File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let from = if len < offset { 0 } else { offset };
    if file.seek(SeekFrom::Start(from)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    let _ = file.take(4 << 20).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n);
    lines[skip..].iter().map(|l| l.to_string()).collect()
}

pub fn run(paths: &Paths, n: usize, follow: bool) -> Outcome {
    let path = paths.log_file();
    match tail(&path, n) {
        Ok(lines) => lines.iter().for_each(output::line),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && follow => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            output::note(format!(
                "no log yet at {}: conduit has not run with this CONDUIT_HOME (`conduit start`)",
                paths.show(&path)
            ));
            return super::ok();
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    if follow {
        follow_file(&path)?;
    }
    super::ok()
}

/// Print what is appended to `path` until interrupted; reopen when it is rotated or truncated.
fn follow_file(path: &Path) -> anyhow::Result<()> {
    let mut pos = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut ino = inode(path);
    let mut pending = String::new();
    loop {
        let now_ino = inode(path);
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if now_ino != ino || len < pos {
            ino = now_ino;
            pos = 0;
        }
        if len > pos {
            if let Ok(mut f) = File::open(path) {
                f.seek(SeekFrom::Start(pos))?;
                let mut bytes = Vec::new();
                f.take(len - pos).read_to_end(&mut bytes)?;
                pos += bytes.len() as u64;
                pending.push_str(&String::from_utf8_lossy(&bytes));
                while let Some(i) = pending.find('\n') {
                    output::line(&pending[..i]);
                    pending.drain(..=i);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}
