//! `update`: for installs made by install.sh only — pull the source in `$CONDUIT_HOME/src`,
//! rebuild, install the new binary and restart a running daemon. Every step is shown.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

use super::output::line;
use super::{daemon, Outcome, Paths};

fn step(program: &str, args: &[&str], dir: &Path) -> anyhow::Result<()> {
    line(format!("$ {program} {}", args.join(" ")));
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("cannot run {program}: is it installed and on PATH?"))?;
    if !status.success() {
        bail!(
            "`{program} {}` failed ({status}); nothing was installed",
            args.join(" ")
        );
    }
    Ok(())
}

pub fn run(paths: &Paths) -> Outcome {
    let src = paths.src();
    if !src.join(".git").exists() {
        bail!(
            "`conduit update` works for installs made by install.sh (source in {}); this conduit \
             was built elsewhere: update that checkout and rebuild it yourself",
            paths.show(&src)
        );
    }
    line(format!("updating conduit from {}", paths.show(&src)));
    step("git", &["pull", "--ff-only"], &src)?;
    step("cargo", &["build", "--release", "-p", "conduit"], &src)?;
    let target = super::env("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| src.join("target"));
    let built = target.join("release").join("conduit");
    let bin_dir = paths.bin_dir()?;
    std::fs::create_dir_all(&bin_dir)?;
    let dest = bin_dir.join("conduit");
    let tmp = bin_dir.join(".conduit.new");
    std::fs::copy(&built, &tmp)
        .with_context(|| format!("cannot copy {} to {}", built.display(), tmp.display()))?;
    // Renaming over the old file is safe while it runs: the running daemon keeps its inode.
    std::fs::rename(&tmp, &dest).with_context(|| format!("cannot install {}", dest.display()))?;
    line(format!("installed {}", paths.show(&dest)));
    if matches!(daemon::state(paths), daemon::DaemonState::Running { .. }) {
        line("restarting the daemon on the new binary");
        step(
            &dest.display().to_string(),
            &["restart", "--no-configure-claude"],
            &src,
        )?;
    }
    line("conduit is up to date");
    super::ok()
}
