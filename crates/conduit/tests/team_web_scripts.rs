//! The served shell scripts, run for real against a gateway on a loopback port: the token
//! helper signs in through a "browser" (curl with a portal session, following the confirm page)
//! and prints only the token, then answers from its cache, and stays quiet after a recent
//! failure; the installer merges Claude Code's settings with jq, with python3, or writes a new
//! file, removes the keys that bypass the gateway, and refuses to clobber a file it cannot merge.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod oidc_support;
mod team_support;
mod team_web_support;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use conduit_store::Role;
use serde_json::{json, Value};
use team_web_support::{Browser, Gw};

/// Serve `gw` on a loopback port; its base URL.
async fn serve(gw: &Gw) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    conduit::routes::local_only::allow_port(port);
    let app = gw.app.clone();
    tokio::spawn(async move {
        let svc = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, svc).await.unwrap();
    });
    // No sync task runs here: keep the cache fresh while the scripts talk to it.
    let (cache, store) = (gw.team.cache.clone(), gw.team.store.clone());
    tokio::spawn(async move {
        loop {
            let _ = cache.sync_now(&store).await;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A "browser" for the token script: opens the sign-in link with a portal session cookie and
/// presses Connect (posts the confirm form with its CSRF token and the binding cookie).
const BROWSER: &str = r#"#!/bin/sh
echo "$1" >>"$OPENED"
headers=$(mktemp)
page=$(curl -fsS -D "$headers" -H "Cookie: conduit_session=$SESSION" "$1")
flow=$(sed -n 's/^[Ss]et-[Cc]ookie: conduit_flow=\([0-9a-f]*\);.*/\1/p' "$headers")
session=$(printf '%s' "$page" | sed -n 's/.*name="session" value="\([^"]*\)".*/\1/p')
csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
curl -fsS -H "Cookie: conduit_session=$SESSION; conduit_flow=$flow" \
    --data-urlencode "session=$session" --data-urlencode "csrf=$csrf" \
    "$GW/auth/cli/complete" >/dev/null
"#;

async fn run(script: &Path, env: &[(&str, String)], path: Option<&str>) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg(script).env_clear();
    cmd.env("PATH", path.unwrap_or("/usr/local/bin:/usr/bin:/bin"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_script_signs_in_once_then_answers_from_its_cache() {
    let gw = Gw::new(false).await;
    gw.user("alice", Role::Member).await;
    let mut b = Browser::new([10, 1, 1, 1]);
    b.sign_in(&gw, "alice").await;
    let base = serve(&gw).await;
    let script = reqwest::get(format!("{base}/auth/setup/token-script"))
        .await
        .unwrap();
    let dir = gw.dir.path().join("home");
    std::fs::create_dir_all(&dir).unwrap();
    let (token_sh, browser_sh) = (dir.join("token.sh"), dir.join("browser.sh"));
    std::fs::write(&token_sh, script.text().await.unwrap()).unwrap();
    std::fs::write(&browser_sh, BROWSER).unwrap();
    std::fs::set_permissions(&browser_sh, std::fs::Permissions::from_mode(0o700)).unwrap();
    let opened = dir.join("opened.log");
    let env = [
        ("HOME", dir.display().to_string()),
        ("XDG_CACHE_HOME", dir.join("cache").display().to_string()),
        ("BROWSER", browser_sh.display().to_string()),
        ("OPENED", opened.display().to_string()),
        ("SESSION", b.cookies["conduit_session"].clone()),
        ("GW", base.clone()),
    ];
    let (code, out, err) = run(&token_sh, &env, None).await;
    assert_eq!(code, 0, "stderr: {err}");
    let token = out.strip_suffix('\n').unwrap();
    assert!(
        token.starts_with("cst_") && !token.contains('\n'),
        "only the token: {out:?}"
    );
    let p = gw.team.cache.authenticate(token).unwrap();
    assert_eq!(p.subject.as_deref(), Some("alice"));
    let cache = std::fs::read_dir(dir.join("cache/conduit"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        cache.metadata().unwrap().permissions().mode() & 0o777,
        0o600
    );

    let (code, again, _) = run(&token_sh, &env, None).await;
    assert_eq!((code, again.as_str()), (0, out.as_str()), "cached");
    let opened_count = std::fs::read_to_string(&opened).unwrap().lines().count();
    assert_eq!(opened_count, 1, "the browser opened once");

    // A failure marker younger than 30 s: no browser, exit 1, nothing on stdout.
    std::fs::remove_file(cache.path()).unwrap();
    let marker = format!("{}.fail", cache.path().display());
    let now = team_support::now();
    std::fs::write(&marker, format!("{now}\n")).unwrap();
    let (code, out, err) = run(&token_sh, &env, None).await;
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert_eq!(std::fs::read_to_string(&opened).unwrap().lines().count(), 1);
}

/// A PATH holding only these tools (plus what every variant needs).
fn tools(dir: &Path, extra: &[&str]) -> String {
    let bin = dir.join(format!("bin-{}", extra.join("-")));
    if bin.exists() {
        return bin.display().to_string();
    }
    std::fs::create_dir_all(&bin).unwrap();
    let base = [
        "sh", "curl", "mkdir", "mv", "chmod", "cp", "date", "rm", "sed", "cat",
    ];
    for tool in base.iter().chain(extra) {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists());
        std::os::unix::fs::symlink(found.unwrap(), bin.join(tool)).unwrap();
    }
    bin.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installer_points_claude_code_at_the_gateway() {
    let gw = Gw::new(false).await;
    let base = serve(&gw).await;
    let setup = reqwest::get(format!("{base}/auth/setup"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let old = json!({"model": "opus", "apiKeyHelper": "old-helper",
        "env": {"ANTHROPIC_API_KEY": "sk-ant-x", "CLAUDE_CODE_USE_BEDROCK": "1",
                "ANTHROPIC_BEDROCK_BASE_URL": "https://b", "KEEP_ME": "yes"}});
    // (tools beyond the basics, an existing settings file?, exit code)
    let cases: [(&[&str], bool, i32); 4] = [
        (&["jq"], true, 0),
        (&["python3"], true, 0),
        (&[], false, 0),
        (&[], true, 1),
    ];
    for (i, (extra, existing, want)) in cases.into_iter().enumerate() {
        let home = gw.dir.path().join(format!("home{i}"));
        std::fs::create_dir_all(home.join(".claude")).unwrap();
        let settings = home.join(".claude/settings.json");
        if existing {
            std::fs::write(&settings, old.to_string()).unwrap();
        }
        let script = home.join("setup.sh");
        std::fs::write(&script, &setup).unwrap();
        let path = tools(gw.dir.path(), extra);
        let (code, out, err) = run(
            &script,
            &[("HOME", home.display().to_string())],
            Some(&path),
        )
        .await;
        assert_eq!(code, want, "case {i} {extra:?}: {err}");
        assert_eq!(out, "", "case {i}: the installer talks on stderr");
        let helper = home.join(".claude/conduit-token.sh");
        assert_eq!(
            std::fs::metadata(&helper).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let now: Value =
            serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
        if want != 0 {
            assert_eq!(now, old, "case {i}: left alone");
            continue;
        }
        assert_eq!(
            now["apiKeyHelper"], "sh ~/.claude/conduit-token.sh",
            "case {i}"
        );
        assert_eq!(now["env"]["ANTHROPIC_BASE_URL"], base.as_str(), "case {i}");
        assert_eq!(
            now["env"]["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"], "86100000",
            "case {i}"
        );
        for gone in [
            "ANTHROPIC_API_KEY",
            "CLAUDE_CODE_USE_BEDROCK",
            "ANTHROPIC_BEDROCK_BASE_URL",
        ] {
            assert!(now["env"].get(gone).is_none(), "case {i}: {gone}");
        }
        if existing {
            assert_eq!(
                (&now["model"], &now["env"]["KEEP_ME"]),
                (&json!("opus"), &json!("yes"))
            );
            let backups = std::fs::read_dir(home.join(".claude")).unwrap();
            let backups = backups.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("settings.json.bak.")
            });
            assert_eq!(backups.count(), 1, "case {i}: backed up");
        }
    }
}
