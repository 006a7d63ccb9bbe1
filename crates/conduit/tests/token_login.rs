//! `conduit token login` with the real binary: authorization code + PKCE through a "browser"
//! (`$BROWSER`, a curl script: the portal's password sign-in, then Connect or Cancel on the
//! gateway's consent page, which sends it to the loopback redirect), against a team gateway on a
//! loopback port. The helper then prints the
//! token; a second login replaces and revokes the first; a cancelled one stores nothing; a bare
//! `conduit token` in a terminal signs in the same way; without a keychain the tokens land in the
//! 0600 file with a warning.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod team_support;
mod token_support;

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::Ordering;

use team_support::now;
use token_support::{Dev, World, PASSWORD};

/// A `$BROWSER`: signs in at the portal with a password, opens the authorize URL (the consent
/// page), presses `$DECISION`, and follows the answer to the loopback redirect.
const BROWSER: &str = r#"#!/bin/sh
exec 2>>"$OPENED.log"
echo "$1" >> "$OPENED"
jar="$OPENED.jar"
field() { sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" | head -n 1; }
csrf=$(curl -fsS -c "$jar" -b "$jar" "$GW/portal" | field csrf)
curl -fsS -c "$jar" -b "$jar" -H "Origin: $GW" --data-urlencode "username=$LOGIN" \
    --data-urlencode "password=$PASSWORD" --data-urlencode "csrf=$csrf" \
    -o /dev/null "$GW/portal/login"
curl -fsS -c "$jar" -b "$jar" -o "$OPENED.page" "$1"
csrf=$(field csrf < "$OPENED.page")
session=$(field session < "$OPENED.page")
to=$(curl -sS -c "$jar" -b "$jar" -H "Origin: $GW" --data-urlencode "session=$session" \
    --data-urlencode "csrf=$csrf" --data-urlencode "decision=$DECISION" \
    -o /dev/null -w '%{redirect_url}' "$GW/oauth/authorize/decide")
echo "redirected to ${to%%\?*}" >&2
curl -fsS -o /dev/null "$to"
"#;

struct Browser {
    opened: std::path::PathBuf,
    env: Vec<(String, String)>,
}

impl Browser {
    fn new(dev: &Dev, script: &str, vars: &[(&str, &str)]) -> Browser {
        let path = dev
            .root
            .join(format!("browser-{}.sh", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let opened = dev.root.join("opened");
        let mut env = vec![
            ("BROWSER".to_string(), path.display().to_string()),
            ("OPENED".to_string(), opened.display().to_string()),
        ];
        env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Browser { opened, env }
    }

    /// The gateway's sign-in as `login`, pressing `decision`.
    fn gateway(dev: &Dev, world: &World, login: &str, decision: &str) -> Browser {
        let vars = [
            ("GW", world.base.as_str()),
            ("LOGIN", login),
            ("PASSWORD", PASSWORD),
            ("DECISION", decision),
        ];
        Browser::new(dev, BROWSER, &vars)
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn urls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.opened)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.opened.with_extension("log")).unwrap_or_default()
    }
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[test]
fn login_through_the_browser_then_the_helper_prints_the_gateways_token() {
    let world = World::start();
    let dev = Dev::new();
    let browser = Browser::gateway(&dev, &world, "member", "connect");
    let login = dev.run(
        &["token", "login", "--gateway", &world.base],
        &browser.env(),
    );
    assert_eq!(login.code, 0, "{login}\nbrowser: {}", browser.log());
    assert_eq!(login.stdout, "", "login reports on stderr");
    assert!(
        login
            .stderr
            .contains(&format!("Signed in to {} as member", world.base)),
        "{login}"
    );

    // The browser was sent to /oauth/authorize: code, PKCE S256, a loopback redirect, a state.
    let urls = browser.urls();
    assert_eq!(urls.len(), 1, "{urls:?}");
    assert!(
        urls[0].starts_with(&format!("{}/oauth/authorize?", world.base)),
        "{urls:?}"
    );
    let q = query(&urls[0]);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "conduit-cli");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"), "{q:?}");
    assert!(q["redirect_uri"].ends_with("/callback"), "{q:?}");
    assert!(q["state"].len() >= 16, "{q:?}");
    assert_eq!(world.tap.codes.load(Ordering::SeqCst), 1);

    let p = dev.profile("default").unwrap();
    let b = &world.base;
    for (k, v) in [
        ("mode", "gateway"),
        ("gateway", b.as_str()),
        ("issuer", b.as_str()),
        ("client_id", "conduit-cli"),
        ("store", "file"),
        ("user", "member"),
    ] {
        assert_eq!(p[k], v, "{k}: {p}");
    }
    assert_eq!(p["token_endpoint"], format!("{b}/oauth/token"));
    assert_eq!(p["revocation_endpoint"], format!("{b}/oauth/revoke"));
    assert_eq!(p["lifetime_secs"], 3600);
    assert!(
        (p["expires_at"].as_i64().unwrap() - (now() + 3600)).abs() <= 5,
        "{p}"
    );
    let mode = std::fs::metadata(dev.secret_file("default"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let token = dev.helper("default", &[]).token().to_string();
    assert_eq!(
        dev.secret("default").unwrap()["access_token"],
        token.as_str()
    );
    let (status, me) = world.get("/auth/me", &token);
    assert_eq!(
        (status, me["subject"].as_str()),
        (200, Some("member")),
        "{me}"
    );
    assert_eq!(world.tap.refreshes(), 0);
    for secret in [
        token.as_str(),
        dev.secret("default").unwrap()["refresh_token"]
            .as_str()
            .unwrap(),
    ] {
        assert!(!login.stderr.contains(secret), "a token in login's output");
    }
}

#[test]
fn a_second_login_replaces_and_revokes_the_first() {
    let world = World::start();
    let dev = Dev::new();
    let member = Browser::gateway(&dev, &world, "member", "connect");
    let first = dev.run(&["token", "login", "--gateway", &world.base], &member.env());
    assert_eq!(first.code, 0, "{first}\n{}", member.log());
    let old = dev.secret("default").unwrap();

    // Without --gateway: the profile's. As someone else this time.
    let other = Browser::gateway(&dev, &world, "other", "connect");
    let second = dev.run(&["token", "login"], &other.env());
    assert_eq!(second.code, 0, "{second}\n{}", other.log());
    assert!(second.stderr.contains("as other"), "{second}");
    let new = dev.secret("default").unwrap();
    assert_ne!(new["refresh_token"], old["refresh_token"]);
    assert_eq!(dev.profile("default").unwrap()["user"], "other");
    // The first sign-in ended at the gateway.
    let (status, _) = world.refresh(old["refresh_token"].as_str().unwrap());
    assert_eq!(status, 401);
    let token = dev.helper("default", &[]).token().to_string();
    assert_eq!(world.get("/auth/me", &token).1["subject"], "other");
}

#[test]
fn a_cancelled_login_fails_and_stores_nothing() {
    let world = World::start();
    let dev = Dev::new();
    let browser = Browser::gateway(&dev, &world, "member", "cancel");
    let run = dev.run(
        &["token", "login", "--gateway", &world.base],
        &browser.env(),
    );
    assert_eq!(run.code, 1, "{run}\n{}", browser.log());
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains("the sign-in was cancelled in the browser"),
        "{run}"
    );
    assert!(dev.profile("default").is_none() && dev.secret("default").is_none());
    assert_eq!(
        world.tap.codes.load(Ordering::SeqCst),
        0,
        "no code to exchange"
    );
    // An explicit login leaves no cool-down behind.
    assert!(!dev.tokens().join("default.fail").exists());
}

#[test]
fn the_bare_helper_signs_in_from_a_terminal_and_prints_only_the_token() {
    let world = World::start();
    let dev = Dev::new();
    let browser = Browser::gateway(&dev, &world, "member", "connect");
    let first = dev.run(
        &["token", "login", "--gateway", &world.base],
        &browser.env(),
    );
    assert_eq!(first.code, 0, "{first}");
    std::fs::remove_file(dev.secret_file("default")).unwrap();

    // In a pty (stdin is a terminal): the helper signs in through the browser.
    let err = dev.root.join("stderr");
    let bin = env!("CARGO_BIN_EXE_conduit");
    let line = format!("exec '{bin}' token 2>'{}'", err.display());
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .envs(dev.vars(&browser.env()))
        .current_dir(&dev.home)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{}", browser.log());
    // The terminal shows stdout only (stderr went to the file): the token and a newline.
    let shown = String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n");
    let token = shown.strip_suffix('\n').unwrap();
    assert!(!token.is_empty() && !token.contains('\n'), "{shown:?}");
    assert_eq!(browser.urls().len(), 2);
    assert!(stderr.contains("Signing in to"), "{stderr}");
    assert_eq!(dev.secret("default").unwrap()["access_token"], token);
    assert_eq!(dev.helper("default", &[]).token(), token);
    assert_eq!(world.get("/auth/me", token).0, 200);
}

#[test]
fn without_a_keychain_login_uses_the_first_store_that_reads_back() {
    let world = World::start();
    let dev = Dev::new();
    let profile = format!("k-{}", uuid::Uuid::new_v4().simple());
    let browser = Browser::gateway(&dev, &world, "member", "connect");
    // No D-Bus session bus: no Secret Service. The kernel keyring works on some machines.
    let mut env = browser.env();
    env.push(("CONDUIT_TOKEN_STORE", ""));
    let args = [
        "token",
        "login",
        "--gateway",
        &world.base,
        "--profile",
        &profile,
    ];
    let login = dev.run(&args, &env);
    assert_eq!(login.code, 0, "{login}\n{}", browser.log());
    let p = dev.profile(&profile).unwrap();
    eprintln!("login chose the store {}:\n{}", p["store"], login.stderr);
    match p["store"].as_str().unwrap() {
        "file" => {
            assert!(
                login
                    .stderr
                    .contains("warning: no keychain took the tokens"),
                "{login}"
            );
            assert!(login.stderr.contains("secret-service: "), "{login}");
            assert!(login.stderr.contains("kernel-keyring: "), "{login}");
            assert!(dev.secret(&profile).is_some());
            let status = dev.run(&["token", "status", "--profile", &profile], &env);
            assert!(status.stderr.contains("plain file"), "{status}");
        }
        "kernel-keyring" => {
            assert!(login.stderr.contains("the kernel keyring"), "{login}");
            assert!(dev.secret(&profile).is_none(), "not in a file");
        }
        other => panic!("store {other}: {login}"),
    }
    let token = dev.helper(&profile, &env).token().to_string();
    assert_eq!(world.get("/auth/me", &token).0, 200);
    assert_eq!(
        dev.run(&["token", "logout", "--profile", &profile], &env)
            .code,
        0
    );
}
