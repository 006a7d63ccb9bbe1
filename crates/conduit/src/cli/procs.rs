//! Processes and ports: is a PID alive (and is it conduit), signals, and who holds a port.
//! Linux answers from /proc; elsewhere `lsof` is asked when present.

use std::path::Path;

use rustix::process::{kill_process, test_kill_process, Pid, Signal};

/// What we know about a process.
#[derive(Debug, Clone)]
pub struct ProcInfo {
    pub pid: i32,
    /// The command line, or the short command name when that is all we know.
    pub command: String,
}

impl std::fmt::Display for ProcInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} ({})", self.pid, self.command)
    }
}

fn pid(raw: i32) -> Option<Pid> {
    // `Pid::from_raw` asserts on negatives; a PID file may hold anything.
    if raw > 0 {
        Pid::from_raw(raw)
    } else {
        None
    }
}

/// The process exists and is not a zombie waiting to be reaped.
pub fn alive(raw: i32) -> bool {
    let Some(p) = pid(raw) else { return false };
    if test_kill_process(p).is_err() {
        // EPERM means it exists but belongs to someone else: alive, but not ours to manage.
        return matches!(test_kill_process(p), Err(e) if e == rustix::io::Errno::PERM);
    }
    // A killed daemon whose parent never reaps it lingers as a zombie: that is dead.
    match std::fs::read_to_string(format!("/proc/{raw}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => true,
    }
}

/// The command line of `pid`, if it can be read.
pub fn command_line(raw: i32) -> Option<String> {
    let bytes = std::fs::read(format!("/proc/{raw}/cmdline")).ok()?;
    let args: Vec<String> = bytes
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if args.is_empty() {
        return std::fs::read_to_string(format!("/proc/{raw}/comm"))
            .ok()
            .map(|c| c.trim().to_string());
    }
    Some(args.join(" "))
}

/// Is `pid` plausibly a `conduit serve` (guards against a recycled PID in a stale file)?
/// Where the command line cannot be read, a live process is given the benefit of the doubt.
pub fn is_conduit_daemon(raw: i32) -> bool {
    if !alive(raw) {
        return false;
    }
    match command_line(raw) {
        Some(cmd) => cmd.contains("conduit") && cmd.split(' ').any(|a| a == "serve"),
        None => true,
    }
}

pub fn terminate(raw: i32) -> std::io::Result<()> {
    signal(raw, Signal::TERM)
}

pub fn kill(raw: i32) -> std::io::Result<()> {
    signal(raw, Signal::KILL)
}

fn signal(raw: i32, sig: Signal) -> std::io::Result<()> {
    let p = pid(raw).ok_or_else(|| std::io::Error::other(format!("invalid pid {raw}")))?;
    kill_process(p, sig).map_err(std::io::Error::from)
}

/// The process listening on TCP `port`, when that can be known.
pub fn port_holder(port: u16) -> Option<ProcInfo> {
    proc_port_holder(port).or_else(|| lsof_port_holder(port))
}

fn proc_port_holder(port: u16) -> Option<ProcInfo> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            inodes.extend(listening_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let targets: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(raw) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if targets.iter().any(|t| Path::new(t) == link) {
                let command = command_line(raw).unwrap_or_else(|| "?".into());
                return Some(ProcInfo { pid: raw, command });
            }
        }
    }
    None
}

/// Socket inodes in LISTEN state (st 0A) on `port`, from a /proc/net/tcp table.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    let want = format!("{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local_port = cols.get(1)?.rsplit(':').next()?;
            (local_port == want && *cols.get(3)? == "0A")
                .then(|| cols.get(9).map(|s| s.to_string()))?
        })
        .filter(|inode| inode != "0")
        .collect()
}

fn lsof_port_holder(port: u16) -> Option<ProcInfo> {
    let out = std::process::Command::new("lsof")
        .args(["-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN", "-Fpc"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let pid = text
        .lines()
        .find_map(|l| l.strip_prefix('p')?.parse().ok())?;
    let command = text
        .lines()
        .find_map(|l| l.strip_prefix('c').map(str::to_string))
        .unwrap_or_else(|| "?".into());
    Some(ProcInfo { pid, command })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_listening_sockets_on_the_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:223D 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:223D 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 8765), vec!["4242".to_string()]);
        assert!(listening_inodes(table, 8766).is_empty());
    }

    #[test]
    fn this_process_is_alive_and_not_a_daemon() {
        let me = std::process::id() as i32;
        assert!(alive(me));
        assert!(!is_conduit_daemon(me));
        assert!(!alive(0) && !alive(-1));
    }
}
