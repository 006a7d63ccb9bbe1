//! `configure-claude --gateway URL [--profile NAME]`: Claude Code's settings for a team gateway,
//! with `conduit token` as its apiKeyHelper. The real binary with HOME in a temporary directory;
//! token profiles are written as `conduit token login` writes them (docs/design-token.md).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::{files_under, CliEnv, Run};
use serde_json::{json, Value};

const GW: &str = "https://gw.example.internal:8765";
const BIN: &str = env!("CARGO_BIN_EXE_conduit");

/// Variables besides cli_support's that would change what configure-claude sees.
const SCRUBBED: &[&str] = &[
    "CONDUIT_TOKEN_PROFILE",
    "CLAUDE_CODE_USE_FOUNDRY",
    "ANTHROPIC_BEDROCK_BASE_URL",
    "ANTHROPIC_VERTEX_BASE_URL",
];

/// A HOME whose PATH finds this conduit as `conduit` (through a symlink), then the system's.
fn env_with_conduit_on_path() -> CliEnv {
    let mut env = CliEnv::new();
    let bin = env.root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(BIN, bin.join("conduit")).unwrap();
    env.set("PATH", &format!("{}:/usr/bin:/bin", bin.display()));
    env
}

fn run(env: &CliEnv, args: &[&str]) -> Run {
    let mut cmd = env.cmd(args);
    for k in SCRUBBED {
        cmd.env_remove(k);
    }
    // Overrides of the scrubbed variables come last.
    for (k, v) in &env.extra {
        cmd.env(k, v);
    }
    Run::from(cmd.output().unwrap())
}

fn ok(env: &CliEnv, args: &[&str]) -> Run {
    let r = run(env, args);
    assert_eq!(r.code, 0, "conduit {args:?} failed:\n{r}");
    r
}

fn write_settings(env: &CliEnv, text: &str) {
    std::fs::create_dir_all(env.home.join(".claude")).unwrap();
    std::fs::write(env.settings_path(), text).unwrap();
}

fn backup(env: &CliEnv) -> PathBuf {
    env.home.join(".claude/settings.json.conduit.bak")
}

/// A signed-in profile as `conduit token login` leaves it (the secret itself is not needed).
fn write_profile(env: &CliEnv, profile: &str, lifetime_secs: u64) {
    let dir = env.conduit_home.join("tokens");
    std::fs::create_dir_all(&dir).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let profile_json = json!({
        "mode": "gateway", "gateway": GW, "issuer": GW, "client_id": "conduit-cli",
        "authorization_endpoint": format!("{GW}/oauth/authorize"),
        "token_endpoint": format!("{GW}/oauth/token"),
        "revocation_endpoint": format!("{GW}/oauth/revoke"),
        "ca_cert": null, "store": "file", "user": "alice@example.com",
        "expires_at": now + lifetime_secs, "lifetime_secs": lifetime_secs,
    });
    std::fs::write(
        dir.join(format!("{profile}.json")),
        profile_json.to_string(),
    )
    .unwrap();
}

struct Case {
    name: &'static str,
    /// settings.json before; `None`: no file.
    before: Option<&'static str>,
    /// A signed-in profile: (name, token lifetime in seconds).
    signed_in: Option<(&'static str, u64)>,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// settings.json after, exactly.
    after: Value,
    /// On stdout (or stderr, for notes).
    says: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    let every_bypass = r#"{"theme":"dark","hooks":{"Stop":[{"matcher":"*"}]},"model":"sonnet",
        "env":{"FOO":"1","ANTHROPIC_BASE_URL":"https://old.example","ANTHROPIC_AUTH_TOKEN":"sk-x",
        "ANTHROPIC_API_KEY":"sk-ant-mine","CLAUDE_CODE_USE_BEDROCK":"1","CLAUDE_CODE_USE_VERTEX":"1",
        "CLAUDE_CODE_USE_FOUNDRY":"1","ANTHROPIC_BEDROCK_BASE_URL":"https://b",
        "ANTHROPIC_VERTEX_BASE_URL":"https://v","CLAUDE_CODE_SKIP_BEDROCK_AUTH":"1",
        "CLAUDE_CODE_SKIP_VERTEX_AUTH":"1","CLAUDE_CODE_SKIP_FOUNDRY_AUTH":"1",
        "ANTHROPIC_MODEL":"claude-sonnet-5-5"},"x-unknown":[1,{"a":null}]}"#;
    vec![
        Case {
            name: "no settings yet, not signed in",
            before: None,
            signed_in: None,
            args: &[],
            env: &[],
            after: json!({"apiKeyHelper": "conduit token --profile default", "env": {
                "ANTHROPIC_BASE_URL": GW, "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "3300000"}}),
            says: &[
                "not signed in yet: run `conduit token login --gateway https://gw.example.internal:8765`",
            ],
        },
        Case {
            name: "every bypassing key removed, everything else kept, 1 h tokens",
            before: Some(every_bypass),
            signed_in: Some(("default", 3600)),
            args: &[],
            env: &[],
            after: json!({"theme": "dark", "hooks": {"Stop": [{"matcher": "*"}]}, "model": "sonnet",
                "x-unknown": [1, {"a": null}], "apiKeyHelper": "conduit token --profile default",
                "env": {"FOO": "1", "ANTHROPIC_MODEL": "claude-sonnet-5-5",
                    "ANTHROPIC_BASE_URL": GW, "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "3300000"}}),
            says: &[
                "removed ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, ANTHROPIC_BEDROCK_BASE_URL, ANTHROPIC_VERTEX_BASE_URL, CLAUDE_CODE_SKIP_BEDROCK_AUTH, CLAUDE_CODE_SKIP_FOUNDRY_AUTH, CLAUDE_CODE_SKIP_VERTEX_AUTH, CLAUDE_CODE_USE_BEDROCK, CLAUDE_CODE_USE_FOUNDRY, CLAUDE_CODE_USE_VERTEX: ",
            ],
        },
        Case {
            name: "a named profile with short-lived tokens",
            before: Some(r#"{"env":{"FOO":"1"}}"#),
            signed_in: Some(("team-b", 320)),
            args: &["--profile", "team-b"],
            env: &[],
            after: json!({"apiKeyHelper": "conduit token --profile team-b", "env": {
                "FOO": "1", "ANTHROPIC_BASE_URL": GW,
                "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "294000"}}),
            says: &["CLAUDE_CODE_API_KEY_HELPER_TTL_MS=294000"],
        },
        Case {
            name: "the profile from CONDUIT_TOKEN_PROFILE, 2 h tokens",
            before: Some("{}"),
            signed_in: Some(("ci.runner_1", 7200)),
            args: &[],
            env: &[("CONDUIT_TOKEN_PROFILE", "ci.runner_1")],
            after: json!({"apiKeyHelper": "conduit token --profile ci.runner_1", "env": {
                "ANTHROPIC_BASE_URL": GW, "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "6900000"}}),
            says: &[],
        },
        Case {
            name: "another profile signed in: this one still is not",
            before: None,
            signed_in: Some(("other", 600)),
            args: &["--profile", "mine"],
            env: &[],
            after: json!({"apiKeyHelper": "conduit token --profile mine", "env": {
                "ANTHROPIC_BASE_URL": GW, "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "3300000"}}),
            says: &["--gateway https://gw.example.internal:8765 --profile mine`"],
        },
        Case {
            name: "the personal gateway's settings are replaced (its window kept)",
            before: Some(
                r#"{"env":{"ANTHROPIC_BASE_URL":"http://127.0.0.1:8765","ANTHROPIC_AUTH_TOKEN":"sk-conduit-abc","CLAUDE_CODE_AUTO_COMPACT_WINDOW":"200000"}}"#,
            ),
            signed_in: Some(("default", 3600)),
            args: &[],
            env: &[],
            after: json!({"apiKeyHelper": "conduit token --profile default", "env": {
                "ANTHROPIC_BASE_URL": GW, "CLAUDE_CODE_AUTO_COMPACT_WINDOW": "200000",
                "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "3300000"}}),
            says: &["removed ANTHROPIC_AUTH_TOKEN:"],
        },
        Case {
            name: "the user's own helper is replaced and named",
            before: Some(r#"{"apiKeyHelper":"~/bin/get-key.sh"}"#),
            signed_in: Some(("default", 3600)),
            args: &[],
            env: &[],
            after: json!({"apiKeyHelper": "conduit token --profile default", "env": {
                "ANTHROPIC_BASE_URL": GW, "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "3300000"}}),
            says: &["replaced your apiKeyHelper `~/bin/get-key.sh`"],
        },
        Case {
            name: "the URL as Claude Code wants it (lower-case host, no trailing slash)",
            before: None,
            signed_in: Some(("default", 3600)),
            args: &["--gateway", "https://GW.Example.Internal:8765/team/"],
            env: &[],
            after: json!({"apiKeyHelper": "conduit token --profile default", "env": {
                "ANTHROPIC_BASE_URL": "https://gw.example.internal:8765/team",
                "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "3300000"}}),
            says: &[],
        },
        Case {
            name: "plain http to this machine",
            before: None,
            signed_in: Some(("default", 3600)),
            args: &["--gateway", "http://127.0.0.1:18765"],
            env: &[],
            after: json!({"apiKeyHelper": "conduit token --profile default", "env": {
                "ANTHROPIC_BASE_URL": "http://127.0.0.1:18765",
                "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "3300000"}}),
            says: &[],
        },
    ]
}

#[test]
fn gateway_settings_from_each_starting_point() {
    for case in cases() {
        let name = case.name;
        let mut env = env_with_conduit_on_path();
        for (k, v) in case.env {
            env.set(k, v);
        }
        if let Some(text) = case.before {
            write_settings(&env, text);
        }
        if let Some((profile, lifetime)) = case.signed_in {
            write_profile(&env, profile, lifetime);
        }
        let mut args = vec!["configure-claude"];
        if !case.args.contains(&"--gateway") {
            args.extend(["--gateway", GW]);
        }
        args.extend(case.args);

        let first = ok(&env, &args);
        assert_eq!(env.settings(), case.after, "{name}\n{first}");
        let said = format!("{}{}", first.stdout, first.stderr);
        assert!(
            first.stdout.contains("Claude Code: wrote"),
            "{name}\n{first}"
        );
        for s in case.says {
            assert!(said.contains(s), "{name}: expected {s:?}\n{first}");
        }
        assert!(!first.stderr.contains("warning"), "{name}\n{first}");
        match case.before {
            Some(original) => assert_eq!(
                std::fs::read_to_string(backup(&env)).unwrap(),
                original,
                "{name}"
            ),
            None => assert!(!backup(&env).exists(), "{name}: nothing to back up"),
        }

        // Again: nothing changes, nothing is written, the backup stays the original.
        let bytes = std::fs::read(env.settings_path()).unwrap();
        args.push("--json");
        let second = ok(&env, &args);
        let v: Value = serde_json::from_str(&second.stdout).unwrap();
        assert_eq!(v["changed"], false, "{name}\n{second}");
        assert_eq!(v["backup"], Value::Null, "{name}\n{second}");
        assert_eq!(v["api_key_helper"], case.after["apiKeyHelper"], "{name}");
        assert_eq!(
            v["signed_in"],
            case.signed_in
                .is_some_and(|(p, _)| case.after["apiKeyHelper"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!(" {p}"))),
            "{name}\n{second}"
        );
        assert_eq!(std::fs::read(env.settings_path()).unwrap(), bytes, "{name}");
        if let Some(original) = case.before {
            assert_eq!(
                std::fs::read_to_string(backup(&env)).unwrap(),
                original,
                "{name}"
            );
        }
    }
}

#[test]
fn the_lifetime_is_read_again_on_each_run() {
    let env = env_with_conduit_on_path();
    let args = ["configure-claude", "--gateway", GW, "--json"];
    let v: Value = serde_json::from_str(&ok(&env, &args).stdout).unwrap();
    assert_eq!(v["helper_ttl_ms"], 3_300_000);
    assert_eq!(v["lifetime_secs"], Value::Null);
    write_profile(&env, "default", 900);
    let v: Value = serde_json::from_str(&ok(&env, &args).stdout).unwrap();
    assert_eq!(
        (v["changed"].clone(), v["helper_ttl_ms"].clone()),
        (json!(true), json!(825_000))
    );
    assert_eq!(v["lifetime_secs"], 900);
    assert_eq!(
        env.settings()["env"]["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"],
        "825000"
    );
}

#[test]
fn keys_in_the_shell_that_win_over_the_helper_are_warned_about() {
    let mut env = env_with_conduit_on_path();
    env.set("ANTHROPIC_API_KEY", "sk-ant-shell");
    env.set("ANTHROPIC_AUTH_TOKEN", "sk-shell");
    env.set("CLAUDE_CODE_USE_BEDROCK", "1");
    env.set("CLAUDE_CODE_USE_VERTEX", "0");
    for json in [false, true] {
        let mut args = vec!["configure-claude", "--gateway", GW];
        if json {
            args.push("--json");
            let r = ok(&env, &args);
            let v: Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(v["conflicts"].as_array().unwrap().len(), 3, "{r}");
        }
        let r = ok(&env, &args);
        for var in ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"] {
            assert!(
                r.stderr.contains(&format!(
                    "warning: {var} is set in your shell environment: unset {var}"
                )) && r.stderr.contains("instead of asking `conduit token`"),
                "{var}\n{r}"
            );
        }
        assert!(
            r.stderr
                .contains("warning: CLAUDE_CODE_USE_BEDROCK is set in your shell environment"),
            "{r}"
        );
        assert!(
            !r.stderr.contains("CLAUDE_CODE_USE_VERTEX"),
            "0 is off\n{r}"
        );
        assert!(!r.stdout.contains("warning"), "stdout stays clean\n{r}");
    }
}

#[test]
fn bad_gateway_urls_and_profile_names_are_refused_and_nothing_is_written() {
    for (args, says) in [
        (
            &["--gateway", "http://gw.example.internal:8765"][..],
            "plain http is only for a gateway on this machine",
        ),
        (
            &["--gateway", "http://10.0.0.7"],
            "plain http is only for a gateway on this machine",
        ),
        (
            &["--gateway", "gw.example.internal:8765"],
            "the scheme must be https",
        ),
        (&["--gateway", "gw.example.internal"], "not a URL"),
        (
            &["--gateway", "ftp://gw.example.internal"],
            "the scheme must be https",
        ),
        (&["--gateway", "https://"], "not a URL"),
        (
            &["--gateway", "https://alice:pw@gw.example.internal"],
            "credentials do not belong in the URL",
        ),
        (
            &["--gateway", "https://gw.example.internal/?key=1"],
            "no query or fragment",
        ),
        (&["--gateway", GW, "--profile", "../x"], "profile"),
        (&["--gateway", GW, "--profile", "a b"], "profile"),
    ] {
        let env = env_with_conduit_on_path();
        write_settings(&env, r#"{"theme":"dark"}"#);
        let mut all = vec!["configure-claude"];
        all.extend(args);
        let r = run(&env, &all);
        assert_eq!(r.code, 1, "{args:?}\n{r}");
        assert!(r.stderr.contains(says), "{args:?}: expected {says:?}\n{r}");
        assert!(r.stdout.is_empty(), "{args:?}\n{r}");
        assert_eq!(
            std::fs::read_to_string(env.settings_path()).unwrap(),
            r#"{"theme":"dark"}"#
        );
        assert!(!backup(&env).exists());
    }
    for url in [
        "http://localhost:8765",
        "http://[::1]:8765",
        "http://127.0.0.2",
    ] {
        ok(
            &env_with_conduit_on_path(),
            &["configure-claude", "--gateway", url],
        );
    }
    let r = run(&CliEnv::new(), &["configure-claude", "--profile", "x"]);
    assert_eq!(r.code, 2, "--profile needs --gateway\n{r}");
}

/// The helper command when `conduit` on PATH is this binary, another one, or missing.
#[test]
fn the_helper_names_this_binary() {
    let helper = |env: &CliEnv| {
        ok(env, &["configure-claude", "--gateway", GW]);
        env.settings()["apiKeyHelper"].as_str().unwrap().to_string()
    };
    assert_eq!(
        helper(&env_with_conduit_on_path()),
        "conduit token --profile default"
    );

    let mut none = CliEnv::new();
    none.set("PATH", "/usr/bin:/bin");
    assert_eq!(helper(&none), format!("{BIN} token --profile default"));

    let mut other = CliEnv::new();
    let bin = other.root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_script(&bin.join("conduit"), "#!/bin/sh\necho old conduit\n");
    other.set("PATH", &format!("{}:/usr/bin:/bin", bin.display()));
    assert_eq!(helper(&other), format!("{BIN} token --profile default"));

    // Installed where /bin/sh needs quotes: the helper still runs this binary.
    let mut odd = CliEnv::new();
    odd.set("PATH", "/usr/bin:/bin");
    let dir = odd.root.join("it's my bin");
    std::fs::create_dir_all(&dir).unwrap();
    let linked = dir.join("conduit");
    std::fs::hard_link(BIN, &linked)
        .or_else(|_| std::fs::copy(BIN, &linked).map(drop))
        .unwrap();
    let r = Run::from(
        in_env(&odd, &linked)
            .args(["configure-claude", "--gateway", GW])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{r}");
    let helper = odd.settings()["apiKeyHelper"].as_str().unwrap().to_string();
    assert_eq!(
        helper,
        format!(
            "'{}' token --profile default",
            linked.display().to_string().replace('\'', r"'\''")
        )
    );

    // Run as Claude Code runs it (`/bin/sh -c`), it prints the profile's token.
    write_profile(&odd, "default", 3600);
    let token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";
    write_secret(&odd, "default", token);
    let sh = Run::from(
        in_env(&odd, Path::new("/bin/sh"))
            .arg("-c")
            .arg(&helper)
            .env("CONDUIT_TOKEN_STORE", "file")
            .env("CI", "true")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap(),
    );
    assert_eq!(
        (sh.code, sh.stdout.as_str()),
        (0, format!("{token}\n").as_str()),
        "{sh}"
    );
}

/// `program` with the environment `env.cmd` gives conduit.
fn in_env(env: &CliEnv, program: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    for (k, v) in env.cmd(&[]).get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}

/// The secret of a profile with `store: "file"` (docs/design-token.md §2).
fn write_secret(env: &CliEnv, profile: &str, access_token: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = env
        .conduit_home
        .join("tokens")
        .join(format!("{profile}.secret.json"));
    let expires_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    std::fs::write(
        &path,
        json!({"access_token": access_token, "refresh_token": "r-1", "expires_at": expires_at})
            .to_string(),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn uninstall_removes_what_gateway_mode_wrote() {
    // With the user's settings: the helper, its TTL and the gateway URL go; the rest stays.
    let env = env_with_conduit_on_path();
    write_settings(
        &env,
        r#"{"theme":"dark","env":{"FOO":"1","ANTHROPIC_API_KEY":"sk-ant"}}"#,
    );
    ok(&env, &["configure-claude", "--gateway", GW]);
    let r = ok(&env, &["uninstall", "--keep-settings", "--no-activate"]);
    assert!(r.stdout.contains("removed conduit's entries"), "{r}");
    assert_eq!(
        env.settings(),
        json!({"theme": "dark", "env": {"FOO": "1"}})
    );

    // A settings file conduit created goes with --purge.
    let fresh = env_with_conduit_on_path();
    ok(&fresh, &["configure-claude", "--gateway", GW]);
    let r = ok(&fresh, &["uninstall", "--purge", "--no-activate"]);
    assert!(
        files_under(&fresh.home).is_empty(),
        "{r}\n{:?}",
        files_under(&fresh.home)
    );

    // Someone else's helper is not conduit's to remove.
    let theirs = env_with_conduit_on_path();
    let text = r#"{"apiKeyHelper":"vault read -field=key secret/claude","env":{"ANTHROPIC_BASE_URL":"https://gw.example"}}"#;
    write_settings(&theirs, text);
    let r = ok(&theirs, &["uninstall", "--keep-settings", "--no-activate"]);
    assert!(!r.stdout.contains("removed conduit's entries"), "{r}");
    assert_eq!(
        std::fs::read_to_string(theirs.settings_path()).unwrap(),
        text
    );
}

#[test]
fn switching_back_to_the_personal_gateway_drops_the_helper() {
    let mut env = env_with_conduit_on_path();
    env.set("CONDUIT_PORT", "18765");
    write_settings(&env, r#"{"theme":"dark"}"#);
    ok(&env, &["configure-claude", "--gateway", GW]);
    let r = ok(&env, &["configure-claude"]);
    assert!(
        r.stdout
            .contains("removed apiKeyHelper and CLAUDE_CODE_API_KEY_HELPER_TTL_MS"),
        "{r}"
    );
    let s = env.settings();
    assert!(s.get("apiKeyHelper").is_none(), "{s}");
    assert!(
        s["env"].get("CLAUDE_CODE_API_KEY_HELPER_TTL_MS").is_none(),
        "{s}"
    );
    assert_eq!(s["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:18765");
    assert_eq!(s["theme"], "dark");
    assert_eq!(
        std::fs::read_to_string(backup(&env)).unwrap(),
        r#"{"theme":"dark"}"#
    );
}
