//! install.sh against this checkout, in a temporary HOME: it clones into ~/.conduit/src,
//! builds, installs ~/.local/bin/conduit and prints the PATH line that makes it work.
//!
//! Cost: the install does a `cargo build --release`. To keep CI time reasonable it builds into
//! the workspace's own target directory (CARGO_TARGET_DIR, else the one this test was built in),
//! so after the first run only the workspace crates are recompiled and an unchanged tree costs
//! seconds. The test is never skipped: a broken install.sh must fail the suite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::path::PathBuf;
use std::process::Command;

use cli_support::{CliEnv, Run};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The workspace target directory (…/target), shared with the release build of install.sh.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .to_path_buf(),
    }
}

/// The real toolchain's homes, so a temporary HOME still finds cargo and its registry cache.
fn toolchain_env(cmd: &mut Command) {
    let real_home = std::env::var("HOME").unwrap();
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{real_home}/.cargo"));
    let rustup_home =
        std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{real_home}/.rustup"));
    cmd.env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home);
}

#[test]
fn install_sh_from_the_checkout_gives_a_working_conduit_on_path() {
    let env = CliEnv::new();
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("install.sh"))
        .args(["--from", &repo().display().to_string()])
        .env("HOME", &env.home)
        .env_remove("CONDUIT_HOME")
        .env("CARGO_TARGET_DIR", target_dir())
        .env("SHELL", "/bin/bash");
    toolchain_env(&mut cmd);
    let r = Run::from(cmd.output().unwrap());
    assert_eq!(r.code, 0, "{r}");
    assert!(env.home.join(".conduit/src/.git").exists(), "{r}");
    let bin = env.home.join(".local/bin/conduit");
    let version = Run::from(Command::new(&bin).arg("--version").output().unwrap());
    assert_eq!(
        version.stdout.trim(),
        format!("conduit {}", env!("CARGO_PKG_VERSION"))
    );

    // ~/.local/bin is not on this PATH, so install.sh printed the line that puts it there.
    let export = r
        .stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("export PATH="))
        .unwrap_or_else(|| panic!("no PATH line:\n{r}"));
    assert!(
        export.contains(&env.home.join(".local/bin").display().to_string()),
        "{export}"
    );
    let on_path = Run::from(
        Command::new("bash")
            .args([
                "-c",
                &format!("{export}; command -v conduit && conduit --version"),
            ])
            .env("HOME", &env.home)
            .output()
            .unwrap(),
    );
    assert_eq!(on_path.code, 0, "{on_path}");
    assert!(
        on_path.stdout.starts_with(&bin.display().to_string()),
        "{on_path}"
    );
}

#[test]
fn install_sh_without_a_toolchain_says_how_to_get_one() {
    let env = CliEnv::new();
    // A PATH with git but without cargo.
    let fake_bin = env.root.join("bin");
    std::fs::create_dir_all(&fake_bin).unwrap();
    for tool in ["git", "dirname", "sed", "bash"] {
        let found = Command::new("bash")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
        if !path.is_empty() {
            std::os::unix::fs::symlink(path, fake_bin.join(tool)).unwrap();
        }
    }
    let r = Run::from(
        Command::new(fake_bin.join("bash"))
            .arg(repo().join("install.sh"))
            .env("HOME", &env.home)
            .env("PATH", &fake_bin)
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains("cargo") && r.stderr.contains("https://rustup.rs"),
        "{r}"
    );
    assert!(
        !env.home.join(".conduit").exists(),
        "nothing is done before the toolchain check"
    );
}
