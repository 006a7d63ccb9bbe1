//! `conduit token`, the helper, with the real binary against a real team gateway on a loopback
//! port (docs/design-token.md §2's table): a cached token is printed as is; an expired one is
//! refreshed once and stored; with nothing usable and nobody to sign in (no terminal, or CI), one
//! stderr line and exit 1, without a request; a refused refresh deletes the tokens; a spent one
//! takes the winner's pair; an unreachable gateway still gives a token that has not expired; 20
//! helpers at once make one refresh; a failed browser sign-in is not retried for 30 s; profiles
//! are kept apart. Tokens are in the `file` store here (`token_commands.rs` has the kernel
//! keyring).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod team_support;
mod token_support;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use team_support::now;
use token_support::{Dev, Fault, World};

/// What is stored before the helper runs.
#[derive(Debug, Clone, Copy)]
enum Stored {
    /// A token with an hour left.
    Fresh,
    /// 100 s left of a one-hour token: inside the 300 s margin.
    InMargin,
    /// Expired 10 s ago, with a refresh token.
    Expired,
    /// Expired, and no refresh token.
    ExpiredNoRefresh,
    /// A profile, and no tokens at all.
    ProfileOnly,
    /// Nothing.
    NoProfile,
    /// A profile file that is not JSON.
    DamagedProfile,
    /// A secret that is not JSON.
    DamagedSecret,
}

#[derive(Debug)]
enum Want {
    /// The stored access token, no request.
    Stored,
    /// A new token, from one refresh request, stored.
    Refreshed,
    /// Exit 1, one stderr line containing this, no request.
    Fails(&'static str),
}

fn set_up(dev: &Dev, world: &World, stored: Stored) -> Option<Value> {
    let p = "default";
    let answer = world.sign_in("member");
    let at = |left: i64| now() + left;
    match stored {
        Stored::Fresh => dev.seed(p, world, &answer, at(3600)),
        Stored::InMargin => dev.seed(p, world, &answer, at(100)),
        Stored::Expired => dev.seed(p, world, &answer, at(-10)),
        Stored::ExpiredNoRefresh => {
            dev.seed(p, world, &answer, at(-10));
            let mut s = dev.secret(p).unwrap();
            s["refresh_token"] = Value::Null;
            dev.write(&dev.secret_file(p), &s);
        }
        Stored::ProfileOnly => {
            dev.seed(p, world, &answer, at(3600));
            std::fs::remove_file(dev.secret_file(p)).unwrap();
        }
        Stored::NoProfile => return None,
        Stored::DamagedProfile => {
            dev.seed(p, world, &answer, at(3600));
            std::fs::write(dev.profile_file(p), "{\"mode\": \"gatew").unwrap();
        }
        Stored::DamagedSecret => {
            dev.seed(p, world, &answer, at(3600));
            std::fs::write(dev.secret_file(p), "not json, and not a token").unwrap();
        }
    }
    Some(answer)
}

#[test]
fn the_helpers_table() {
    let world = World::start();
    let no_tty_browser: &[(&str, &str)] = &[("BROWSER", "/bin/true"), ("DISPLAY", ":0")];
    let ci: &[(&str, &str)] = &[("CI", "true"), ("BROWSER", "/bin/true"), ("DISPLAY", ":0")];
    type Env<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Stored, Env, Want)] = &[
        (Stored::Fresh, &[], Want::Stored),
        (Stored::Fresh, ci, Want::Stored),
        (Stored::InMargin, &[], Want::Refreshed),
        (Stored::Expired, &[], Want::Refreshed),
        (Stored::Expired, ci, Want::Refreshed),
        (
            Stored::ProfileOnly,
            &[],
            Want::Fails("not signed in to http://127.0.0.1:"),
        ),
        (
            Stored::ProfileOnly,
            no_tty_browser,
            Want::Fails("no terminal"),
        ),
        (Stored::ProfileOnly, ci, Want::Fails("CI is set")),
        (
            Stored::ExpiredNoRefresh,
            &[],
            Want::Fails("there is no refresh token"),
        ),
        (Stored::ExpiredNoRefresh, ci, Want::Fails("CI is set")),
        (
            Stored::NoProfile,
            &[],
            Want::Fails("conduit token login --gateway URL"),
        ),
        (Stored::NoProfile, ci, Want::Fails("no profile `default`")),
        (
            Stored::DamagedProfile,
            &[],
            Want::Fails("run `conduit token login` again"),
        ),
        (
            Stored::DamagedSecret,
            &[],
            Want::Fails("are damaged: run `conduit token login`"),
        ),
    ];
    for (stored, env, want) in cases {
        let what = format!("{stored:?} with {env:?}");
        let dev = Dev::new();
        let answer = set_up(&dev, &world, *stored);
        let before = world.tap.refreshes();
        let run = dev.helper("default", env);
        let requests = world.tap.refreshes() - before;
        match want {
            Want::Stored => {
                let answer = answer.unwrap();
                assert_eq!(run.token(), answer["access_token"], "{what}");
                assert_eq!(requests, 0, "{what}");
                assert_eq!(run.stderr, "", "{what}");
            }
            Want::Refreshed => {
                let answer = answer.unwrap();
                let token = run.token();
                assert_ne!(token, answer["access_token"], "{what}");
                assert_eq!(requests, 1, "{what}: one refresh request");
                let s = dev.secret("default").unwrap();
                assert_eq!(s["access_token"], token, "{what}: stored");
                assert_ne!(
                    s["refresh_token"], answer["refresh_token"],
                    "{what}: rotated"
                );
                let expires_at = s["expires_at"].as_i64().unwrap();
                assert!((expires_at - (now() + 3600)).abs() <= 5, "{what}: {s}");
                let p = dev.profile("default").unwrap();
                assert_eq!(p["expires_at"], expires_at, "{what}");
                assert_eq!(p["lifetime_secs"], 3600, "{what}");
                assert_eq!(
                    world.get("/auth/me", token).0,
                    200,
                    "{what}: the gateway takes it"
                );
                // Now a cache hit.
                assert_eq!(dev.helper("default", env).token(), token, "{what}");
                assert_eq!(world.tap.refreshes() - before, 1, "{what}");
            }
            Want::Fails(says) => {
                let line = run.one_line_failure();
                assert!(line.starts_with("conduit token: "), "{what}: {line}");
                assert!(line.contains(says), "{what}: {line}");
                assert_eq!(requests, 0, "{what}: no request before failing");
                assert!(run.elapsed < Duration::from_secs(2), "{what}: {run}");
                if let Some(a) = &answer {
                    for secret in ["access_token", "refresh_token"] {
                        let s = a[secret].as_str().unwrap();
                        assert!(!run.stderr.contains(s), "{what}: {secret} on stderr");
                    }
                }
            }
        }
    }
}

#[test]
fn a_refused_refresh_deletes_the_tokens() {
    let world = World::start();
    let dev = Dev::new();
    let answer = world.sign_in("member");
    dev.seed("default", &world, &answer, now() - 10);
    // The sign-in ends at the gateway (an admin, or another machine's logout).
    let rt = answer["refresh_token"].as_str().unwrap();
    assert_eq!(world.form("/oauth/revoke", &[("token", rt)]).0, 200);

    let run = dev.helper("default", &[]);
    let line = run.one_line_failure();
    assert!(line.contains("the sign-in to http://127.0.0.1:"), "{line}");
    assert!(line.contains("invalid_grant (HTTP 401)"), "{line}");
    assert!(line.contains("run `conduit token login`"), "{line}");
    assert_eq!(world.tap.refreshes(), 1);
    assert!(dev.secret("default").is_none(), "the tokens are deleted");
    assert!(
        dev.profile("default").is_some(),
        "the profile stays (where to sign in)"
    );
    // Nothing left to send: the next call fails at once.
    let again = dev.helper("default", &[]);
    assert!(
        again.one_line_failure().contains("not signed in"),
        "{again}"
    );
    assert_eq!(world.tap.refreshes(), 1);
}

#[test]
fn a_spent_refresh_token_takes_the_winners_pair_or_ends() {
    let world = World::start();

    // Another process won the race and stored its pair: the helper's request is refused as
    // spent (400), it reads the store again and prints the winner's token.
    let dev = Dev::new();
    let answer = world.sign_in("member");
    dev.seed("default", &world, &answer, now() - 10);
    world.tap.set(Fault::Winner(dev.secret_file("default")));
    let run = dev.helper("default", &[]);
    let winner = dev.secret("default").unwrap();
    assert_eq!(run.token(), winner["access_token"], "{run}");
    assert_ne!(winner["refresh_token"], answer["refresh_token"]);
    assert_eq!(world.tap.refreshes(), 1, "no second refresh request");
    assert_eq!(world.get("/auth/me", run.token()).0, 200);

    // Spent by someone who kept the new pair to themselves: nothing to re-read, the tokens
    // are deleted, one line.
    let dev = Dev::new();
    let answer = world.sign_in("member");
    dev.seed("default", &world, &answer, now() - 10);
    let (status, _) = world.refresh(answer["refresh_token"].as_str().unwrap());
    assert_eq!(status, 200);
    let before = world.tap.refreshes();
    let run = dev.helper("default", &[]);
    let line = run.one_line_failure();
    assert!(line.contains("invalid_grant (HTTP 400)"), "{line}");
    assert_eq!(
        world.tap.refreshes() - before,
        1,
        "the spent token is sent once"
    );
    assert!(dev.secret("default").is_none());
}

#[test]
fn an_unreachable_gateway_still_gives_a_token_that_has_not_expired() {
    let world = World::start();
    world.tap.set(Fault::Unavailable);
    // (seconds left, what happens)
    let cases = [(100, true), (-10, false)];
    for (left, prints) in cases {
        let dev = Dev::new();
        let answer = world.sign_in("member");
        dev.seed("default", &world, &answer, now() + left);
        let run = dev.helper("default", &[]);
        if prints {
            assert_eq!(run.token(), answer["access_token"], "{left}: {run}");
            assert!(run.stderr.contains("cannot refresh the token"), "{run}");
            assert!(run.stderr.contains("HTTP 503"), "{run}");
        } else {
            let line = run.one_line_failure();
            assert!(
                line.contains("expired and cannot be refreshed now"),
                "{line}"
            );
        }
        // The tokens stay for the next try.
        assert_eq!(
            dev.secret("default").unwrap()["refresh_token"],
            answer["refresh_token"]
        );
    }
    world.tap.set(Fault::None);

    // No gateway at all on the profile's port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dev = Dev::new();
    let answer = world.sign_in("member");
    dev.seed("default", &world, &answer, now() + 100);
    let mut p = dev.profile("default").unwrap();
    p["token_endpoint"] = json!(format!("http://127.0.0.1:{port}/oauth/token"));
    p["gateway"] = json!(format!("http://127.0.0.1:{port}"));
    dev.write(&dev.profile_file("default"), &p);
    let run = dev.helper("default", &[]);
    assert_eq!(run.token(), answer["access_token"], "{run}");
    assert!(run.stderr.contains("cannot reach"), "{run}");
}

#[test]
fn twenty_helpers_on_an_expired_token_make_one_refresh() {
    let world = World::start();
    let dev = Dev::new();
    let answer = world.sign_in("member");
    dev.seed("default", &world, &answer, now() - 10);
    let children: Vec<_> = (0..20)
        .map(|_| {
            dev.command(&["token"], &[])
                .spawn()
                .expect("spawn conduit token")
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut tokens: Vec<String> = outs
        .iter()
        .map(|o| {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout.clone()).unwrap()
        })
        .collect();
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(
        world.tap.refreshes(),
        1,
        "exactly one refresh request at the gateway"
    );
    let token = tokens[0].trim_end();
    assert_eq!(dev.secret("default").unwrap()["access_token"], token);
    assert_eq!(world.get("/auth/me", token).0, 200);
}

/// A `$BROWSER` that records the URL and, like a person pressing Cancel, sends the browser back
/// to the loopback redirect with `error=access_denied` and the request's state.
const CANCELLING_BROWSER: &str = r#"#!/bin/sh
echo "$1" >> "$OPENED"
redirect=$(printf '%s' "$1" | sed -n 's/.*[?&]redirect_uri=\([^&]*\).*/\1/p' | sed 's/%3A/:/g; s/%2F/\//g')
state=$(printf '%s' "$1" | sed -n 's/.*[?&]state=\([^&]*\).*/\1/p')
curl -fsS "$redirect?error=access_denied&state=$state" >/dev/null 2>&1 &
exit 0
"#;

/// `conduit token` in a terminal (`script` gives it a pty on stdin), stderr to a file.
fn helper_in_a_terminal(dev: &Dev, env: &[(&str, &str)]) -> (i32, String) {
    let err = dev.root.join("stderr");
    let bin = env!("CARGO_BIN_EXE_conduit");
    let line = format!("exec '{bin}' token 2>'{}'", err.display());
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .envs(dev.vars(env))
        .current_dir(&dev.home)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        std::fs::read_to_string(err).unwrap_or_default(),
    )
}

#[test]
fn a_failed_browser_sign_in_is_not_retried_within_thirty_seconds() {
    let world = World::start();
    let dev = Dev::new();
    let answer = world.sign_in("member");
    dev.seed("default", &world, &answer, now() + 3600);
    std::fs::remove_file(dev.secret_file("default")).unwrap();
    let browser = dev.root.join("browser.sh");
    std::fs::write(&browser, CANCELLING_BROWSER).unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let opened = dev.root.join("opened");
    let env = [
        ("BROWSER", browser.to_str().unwrap()),
        ("OPENED", opened.to_str().unwrap()),
    ];
    let count = || {
        std::fs::read_to_string(&opened)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };

    // In a terminal with a browser: the sign-in starts, the person cancels.
    let (code, stderr) = helper_in_a_terminal(&dev, &env);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(count(), 1, "one browser opened");
    assert!(stderr.contains("cancelled"), "{stderr}");
    let url = std::fs::read_to_string(&opened).unwrap();
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", world.base)),
        "{url}"
    );
    let fail = dev.tokens().join("default.fail");
    assert!(fail.exists(), "the failure marker");

    // Within the cool-down: no browser, one line, however often asked.
    for _ in 0..3 {
        let (code, stderr) = helper_in_a_terminal(&dev, &env);
        assert_eq!(code, 1, "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("failed less than 30 s ago"), "{stderr}");
    }
    assert_eq!(count(), 1, "no browser during the cool-down");

    // 31 s later: a browser again.
    let past = SystemTime::now() - Duration::from_secs(31);
    std::fs::File::options()
        .write(true)
        .open(&fail)
        .unwrap()
        .set_modified(past)
        .unwrap();
    let (code, stderr) = helper_in_a_terminal(&dev, &env);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(count(), 2, "a browser after the cool-down");
}

#[test]
fn profiles_are_kept_apart() {
    let world = World::start();
    let dev = Dev::new();
    let a = world.sign_in("member");
    let b = world.sign_in("other");
    dev.seed("team-a", &world, &a, now() + 3600);
    dev.seed("team-b", &world, &b, now() - 10);

    assert_eq!(dev.helper("team-a", &[]).token(), a["access_token"]);
    let via_env = dev.run(&["token"], &[("CONDUIT_TOKEN_PROFILE", "team-b")]);
    let tb = via_env.token().to_string();
    assert_ne!(
        tb, b["access_token"],
        "team-b's expired token was refreshed"
    );
    assert_eq!(world.tap.refreshes(), 1);
    // The flag wins over the environment.
    let flag = dev.run(
        &["token", "--profile", "team-a"],
        &[("CONDUIT_TOKEN_PROFILE", "team-b")],
    );
    assert_eq!(flag.token(), a["access_token"]);
    assert_eq!(
        dev.secret("team-a").unwrap()["access_token"],
        a["access_token"]
    );
    assert_eq!(dev.secret("team-b").unwrap()["access_token"], tb.as_str());
    let (_, me) = world.get("/auth/me", &tb);
    assert_eq!(me["subject"], "other");
    // `default` is neither.
    let none = dev.run(&["token"], &[]);
    assert!(
        none.one_line_failure().contains("no profile `default`"),
        "{none}"
    );
    for bad in ["../team-a", "a/b", ""] {
        let r = dev.helper(bad, &[]);
        assert!(
            r.one_line_failure().contains("is not a profile name"),
            "{bad}: {r}"
        );
    }
}

#[test]
fn stored_files_are_private() {
    let world = World::start();
    let dev = Dev::new();
    let answer = world.sign_in("member");
    dev.seed("default", &world, &answer, now() - 10);
    assert_eq!(dev.helper("default", &[]).code, 0);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // Rewritten by the refresh: 0600, atomically (no temp files left).
    assert_eq!(mode(&dev.secret_file("default")), 0o600);
    assert_eq!(mode(&dev.profile_file("default")), 0o600);
    let names: Vec<String> = std::fs::read_dir(dev.tokens())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp.")), "{names:?}");
    let profile = std::fs::read_to_string(dev.profile_file("default")).unwrap();
    let secret = dev.secret("default").unwrap();
    for s in ["access_token", "refresh_token"] {
        assert!(
            !profile.contains(secret[s].as_str().unwrap()),
            "{s} in the profile"
        );
    }
}
