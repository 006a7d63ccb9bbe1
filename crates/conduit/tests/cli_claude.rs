//! Claude Code's settings and the key: `configure-claude` merges and is idempotent, backs up
//! once, refuses broken JSON, reports conflicts; `api-key --raw`; `uninstall --purge` undoes it
//! all. No daemon is needed: the URL comes from CONDUIT_PORT.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use cli_support::{files_under, CliEnv};
use serde_json::{json, Value};

fn env_on_port(port: &str) -> CliEnv {
    let mut env = CliEnv::new();
    env.set("CONDUIT_PORT", port);
    env
}

fn write_settings(env: &CliEnv, text: &str) {
    std::fs::create_dir_all(env.home.join(".claude")).unwrap();
    std::fs::write(env.settings_path(), text).unwrap();
}

fn backup(env: &CliEnv) -> std::path::PathBuf {
    env.home.join(".claude/settings.json.conduit.bak")
}

#[test]
fn configure_claude_merges_keeps_everything_else_and_is_idempotent() {
    let env = env_on_port("18765");
    let original = r#"{"theme":"dark","hooks":{"PreToolUse":[{"matcher":"Bash"}]},"env":{"FOO":"1","ANTHROPIC_BASE_URL":"https://old"},"x-unknown":[1,{"a":null}]}"#;
    write_settings(&env, original);

    let first = env.ok(&["configure-claude"]);
    assert!(first.stdout.contains("wrote ANTHROPIC_BASE_URL"), "{first}");
    let s = env.settings();
    assert_eq!(s["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:18765");
    // The key as a bearer token: an ANTHROPIC_API_KEY would make a first interactive `claude`
    // ask whether to use it, defaulting to No.
    assert_eq!(s["env"]["ANTHROPIC_AUTH_TOKEN"], env.key());
    assert!(s["env"].get("ANTHROPIC_API_KEY").is_none(), "{s}");
    // No daemon: the default model's window comes from the built-in table.
    let window: u32 = s["env"]["CLAUDE_CODE_AUTO_COMPACT_WINDOW"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((100_000..=1_000_000).contains(&window), "{window}");
    assert_eq!(s["env"]["FOO"], "1");
    assert_eq!(s["theme"], "dark");
    assert_eq!(s["hooks"], json!({"PreToolUse": [{"matcher": "Bash"}]}));
    assert_eq!(s["x-unknown"], json!([1, {"a": null}]));
    assert_eq!(std::fs::read_to_string(backup(&env)).unwrap(), original);

    let bytes = std::fs::read(env.settings_path()).unwrap();
    let second = env.ok(&["configure-claude", "--json"]);
    let v: Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(v["changed"], false, "{second}");
    assert_eq!(
        std::fs::read(env.settings_path()).unwrap(),
        bytes,
        "an idempotent run writes nothing"
    );

    // A later change (another port) rewrites the settings but never the backup.
    let moved = env_on_port("18766");
    std::fs::remove_dir_all(&moved.home).unwrap();
    std::fs::rename(&env.home, &moved.home).unwrap();
    moved.ok(&["configure-claude"]);
    assert_eq!(
        moved.settings()["env"]["ANTHROPIC_BASE_URL"],
        "http://127.0.0.1:18766"
    );
    assert_eq!(std::fs::read_to_string(backup(&moved)).unwrap(), original);
}

#[test]
fn settings_that_are_not_json_are_never_clobbered() {
    let env = env_on_port("18765");
    write_settings(&env, "{ \"theme\": \"dark\", oops }");
    let r = env.run(&["configure-claude"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains("is not valid JSON") && r.stderr.contains("will not overwrite"),
        "{r}"
    );
    assert_eq!(
        std::fs::read_to_string(env.settings_path()).unwrap(),
        "{ \"theme\": \"dark\", oops }"
    );
    assert!(!backup(&env).exists());
}

#[test]
fn conflicts_in_the_shell_and_in_settings_are_reported() {
    let mut env = env_on_port("18765");
    env.set("ANTHROPIC_AUTH_TOKEN", "sk-other");
    env.set("CLAUDE_CODE_USE_BEDROCK", "1");
    env.set("CLAUDE_CODE_USE_VERTEX", "0");
    write_settings(&env, r#"{"env":{"CLAUDE_CODE_USE_VERTEX":"1"}}"#);
    let r = env.ok(&["configure-claude"]);
    assert!(
        r.stderr
            .contains("warning: ANTHROPIC_AUTH_TOKEN is set in your shell environment"),
        "{r}"
    );
    assert!(
        r.stderr
            .contains("warning: CLAUDE_CODE_USE_BEDROCK is set in your shell environment"),
        "{r}"
    );
    assert!(
        r.stderr
            .contains("CLAUDE_CODE_USE_VERTEX is set in ~/.claude/settings.json"),
        "{r}"
    );
    let shell_vertex = r
        .stderr
        .lines()
        .any(|l| l.contains("CLAUDE_CODE_USE_VERTEX is set in your shell"));
    assert!(!shell_vertex, "a variable set to 0 is not a conflict: {r}");

    let clean = env_on_port("18765");
    let r = clean.ok(&["configure-claude"]);
    assert!(!r.stderr.contains("warning"), "{r}");
}

#[test]
fn api_key_raw_prints_exactly_the_key_and_changes_nothing() {
    let env = env_on_port("18765");
    let r = env.ok(&["api-key", "--raw"]);
    assert_eq!(r.stdout, format!("{}\n", env.key()));
    assert!(r.stdout.starts_with("sk-conduit-"));
    assert!(r.stderr.is_empty(), "{r}");
    assert!(!env.settings_path().exists());

    let mut fixed = env_on_port("18765");
    fixed.set("PROXY_API_KEY", "sk-my-own-key-0123456789");
    assert_eq!(
        fixed.ok(&["api-key", "--raw"]).stdout,
        "sk-my-own-key-0123456789\n"
    );

    // Without --raw (and without a terminal) it configures Claude Code and summarises.
    let r = env.ok(&["api-key"]);
    assert!(
        r.stdout.contains(&env.key()) && r.stdout.contains("Claude Code: wrote"),
        "{r}"
    );
    assert_eq!(env.settings()["env"]["ANTHROPIC_AUTH_TOKEN"], env.key());
}

#[test]
fn an_api_key_conduit_wrote_earlier_is_replaced_by_the_token_and_a_foreign_one_is_reported() {
    // Written by an earlier conduit: moved to ANTHROPIC_AUTH_TOKEN.
    let env = env_on_port("18765");
    env.ok(&["api-key", "--raw"]);
    write_settings(
        &env,
        &format!(
            r#"{{"env":{{"ANTHROPIC_BASE_URL":"http://127.0.0.1:18765","ANTHROPIC_API_KEY":"{}","KEEP":"1"}}}}"#,
            env.key()
        ),
    );
    let r = env.ok(&["configure-claude"]);
    assert!(
        r.stdout
            .contains("removed conduit's earlier ANTHROPIC_API_KEY"),
        "{r}"
    );
    assert!(!r.stderr.contains("warning"), "{r}");
    let s = env.settings();
    assert_eq!(s["env"]["ANTHROPIC_AUTH_TOKEN"], env.key());
    assert!(s["env"].get("ANTHROPIC_API_KEY").is_none(), "{s}");
    assert_eq!(s["env"]["KEEP"], "1");

    // The user's own key is kept, and named as the reason for Claude Code's question.
    let mine = env_on_port("18765");
    write_settings(&mine, r#"{"env":{"ANTHROPIC_API_KEY":"sk-ant-mine"}}"#);
    let r = mine.ok(&["configure-claude"]);
    assert!(
        r.stderr
            .contains("warning: ANTHROPIC_API_KEY is set in ~/.claude/settings.json")
            && r.stderr.contains("default No"),
        "{r}"
    );
    assert_eq!(mine.settings()["env"]["ANTHROPIC_API_KEY"], "sk-ant-mine");

    // Uninstalling removes the token and the window conduit wrote, keeping the rest.
    env.ok(&["uninstall", "--no-activate"]);
    assert_eq!(env.settings()["env"], json!({"KEEP": "1"}));
}

#[test]
fn the_compaction_window_follows_the_chosen_model() {
    // The `model` setting, env.ANTHROPIC_MODEL, or Claude Code's default; the window is a plain
    // integer in the range Claude Code accepts.
    for (settings, check) in [
        (r#"{"model":"sonnet"}"#, "sonnet"),
        (r#"{"env":{"ANTHROPIC_MODEL":"claude-haiku-4-5"}}"#, "haiku"),
        ("{}", "opus"),
    ] {
        let env = env_on_port("18765");
        write_settings(&env, settings);
        let r = env.ok(&["configure-claude", "--json"]);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert!(
            v["default_model"].as_str().unwrap().contains(check),
            "{settings}: {v}"
        );
        assert_eq!(v["window_source"], "built-in", "{v}");
        let w = v["auto_compact_window"].as_u64().unwrap();
        assert!((100_000..=1_000_000).contains(&w), "{v}");
        assert_eq!(
            env.settings()["env"]["CLAUDE_CODE_AUTO_COMPACT_WINDOW"],
            w.to_string()
        );
    }
}

#[test]
fn uninstall_purge_leaves_nothing_and_restores_the_backup() {
    let env = env_on_port("18765");
    let original = r#"{"theme":"dark"}"#;
    write_settings(&env, original);
    env.ok(&["configure-claude"]);
    env.ok(&["enable-autostart", "--kind", "systemd", "--no-activate"]);
    let bin = env.home.join(".local/bin/conduit");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::write(&bin, "#!/bin/sh\n").unwrap();

    let r = env.ok(&[
        "uninstall",
        "--purge",
        "--restore-settings",
        "--no-activate",
    ]);
    assert!(r.stdout.contains("conduit is uninstalled"), "{r}");
    assert!(!env.conduit_home.exists());
    assert_eq!(
        std::fs::read_to_string(env.settings_path()).unwrap(),
        original
    );
    assert_eq!(files_under(&env.home), vec![env.settings_path()], "{r}");
}

#[test]
fn uninstall_purge_without_earlier_settings_removes_what_conduit_wrote() {
    let env = env_on_port("18765");
    env.ok(&["configure-claude"]);
    assert!(!backup(&env).exists(), "there was nothing to back up");
    let r = env.ok(&["uninstall", "--purge", "--no-activate"]);
    assert!(
        files_under(&env.home).is_empty(),
        "{r}\n{:?}",
        files_under(&env.home)
    );
}

#[test]
fn purge_refuses_a_home_that_is_not_conduits() {
    let mut env = CliEnv::new();
    let elsewhere = env.home.join("projects");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("notes.txt"), "mine").unwrap();
    env.set("CONDUIT_HOME", &elsewhere.display().to_string());
    let r = env.run(&["uninstall", "--purge", "--no-activate"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("refusing to delete"), "{r}");
    assert!(elsewhere.join("notes.txt").exists());
}

#[test]
fn completions_and_help() {
    let env = CliEnv::new();
    for shell in ["bash", "zsh", "fish"] {
        let r = env.ok(&["completions", shell]);
        assert!(r.stdout.contains("configure-claude"), "{shell}: {r}");
    }
    let help = env.ok(&["--help"]);
    assert!(help.stdout.contains("Exit codes"), "{help}");
    for cmd in [
        "start",
        "stop",
        "status",
        "logs",
        "api-key",
        "doctor",
        "uninstall",
        "update",
    ] {
        env.ok(&[cmd, "--help"]);
    }
}

#[test]
fn update_outside_an_install_says_so() {
    let env = CliEnv::new();
    let r = env.run(&["update"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("install.sh"), "{r}");
}

#[test]
fn logs_show_the_last_lines() {
    let env = CliEnv::new();
    std::fs::create_dir_all(env.conduit_home.join("logs")).unwrap();
    let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    std::fs::write(env.conduit_home.join("logs/gateway.log"), text).unwrap();
    assert_eq!(
        env.ok(&["logs", "-n", "3"]).stdout,
        "line 8\nline 9\nline 10\n"
    );
}

#[test]
fn doctor_warns_when_the_compaction_window_is_missing() {
    let env = env_on_port("18765");
    env.ok(&["configure-claude"]);
    let r = env.run(&["doctor"]);
    assert!(!r.stdout.contains("claude compaction"), "{r}");
    let mut s = env.settings();
    s["env"]
        .as_object_mut()
        .unwrap()
        .remove("CLAUDE_CODE_AUTO_COMPACT_WINDOW");
    write_settings(&env, &s.to_string());
    let r = env.run(&["doctor"]);
    assert!(
        r.stdout
            .contains("[warn] claude compaction: ~/.claude/settings.json has no CLAUDE_CODE_AUTO_COMPACT_WINDOW"),
        "{r}"
    );
}
