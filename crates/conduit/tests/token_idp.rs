//! `conduit token login --issuer URL --client-id ID`: direct-IdP mode with the real binary
//! against a small OpenID provider (a public client, PKCE, an ID token with the sign-in's
//! nonce): the helper prints the IdP's ID token, refreshes it at the IdP (never at the gateway),
//! and `status` and `logout` name the IdP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod oidc_support;
mod team_support;
#[path = "token_support/idp.rs"]
mod token_idp;
mod token_support;

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::Ordering;

use serde_json::Value;
use team_support::now;
use token_support::{Dev, World};

/// A `$BROWSER` for an IdP that approves at once: follow every redirect.
const FOLLOWING_BROWSER: &str = r#"#!/bin/sh
echo "$1" >> "$OPENED"
curl -fsSL -o /dev/null "$1" 2>>"$OPENED.log"
"#;

/// The `$BROWSER` script, with `$OPENED` (the URLs it was given, and its log) in the dev's dir.
fn browser(dev: &Dev) -> (Vec<(String, String)>, std::path::PathBuf) {
    let path = dev.root.join("browser.sh");
    std::fs::write(&path, FOLLOWING_BROWSER).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let opened = dev.root.join("opened");
    let env = vec![
        ("BROWSER".to_string(), path.display().to_string()),
        ("OPENED".to_string(), opened.display().to_string()),
    ];
    (env, opened)
}

#[test]
fn direct_idp_mode_prints_the_id_token_and_refreshes_at_the_idp() {
    let world = World::start();
    let idp = world.rt.block_on(token_idp::Idp::start());
    let dev = Dev::new();
    let (env, opened) = browser(&dev);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args = [
        "token",
        "login",
        "--issuer",
        idp.issuer(),
        "--client-id",
        token_idp::CLIENT,
        "--profile",
        "idp",
    ];
    let login = dev.run(&args, &env);
    let log = std::fs::read_to_string(opened.with_extension("log")).unwrap_or_default();
    assert_eq!(login.code, 0, "{login}\n{log}");
    let urls = std::fs::read_to_string(&opened).unwrap();
    assert!(
        urls.starts_with(&format!("{}/auth?", idp.issuer())),
        "{urls}"
    );
    assert!(login.stderr.contains("as alice@idp.example"), "{login}");
    let asked = idp.asked();
    assert_eq!(asked.len(), 1);
    let q = &asked[0];
    assert_eq!(q["client_id"], token_idp::CLIENT);
    assert_eq!(q["scope"], "openid email profile offline_access");
    assert_eq!(
        (q["prompt"].as_str(), q["code_challenge_method"].as_str()),
        ("consent", "S256")
    );
    assert!(!q["nonce"].is_empty());

    let p = dev.profile("idp").unwrap();
    assert_eq!(
        (p["mode"].as_str(), p["issuer"].as_str()),
        (Some("idp"), Some(idp.issuer()))
    );
    assert_eq!(p["gateway"], Value::Null);
    assert_eq!(p["lifetime_secs"], 600, "the ID token's lifetime");
    let token = dev.helper("idp", &[]).token().to_string();
    let claims = jwt_claims(&token);
    assert_eq!(
        (claims["aud"].as_str(), claims["sub"].as_str()),
        (Some(token_idp::CLIENT), Some("alice"))
    );
    assert_eq!(claims["nonce"], q["nonce"].as_str());

    // Expired: refreshed at the IdP, a new ID token.
    let mut s = dev.secret("idp").unwrap();
    s["expires_at"] = now().into();
    dev.write(&dev.secret_file("idp"), &s);
    let fresh = dev.helper("idp", &[]).token().to_string();
    assert_ne!(fresh, token);
    assert_eq!(idp.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(jwt_claims(&fresh)["sub"], "alice");
    assert_eq!(world.tap.refreshes(), 0, "the gateway is not asked");

    // status names the IdP; logout has nothing to revoke at (no revocation endpoint).
    let status = dev.run(&["token", "status", "--profile", "idp"], &[]);
    assert_eq!(status.code, 0, "{status}");
    assert!(
        status
            .stdout
            .contains(&format!("identity provider {}", idp.issuer())),
        "{status}"
    );
    assert!(status.stdout.contains("alice@idp.example"), "{status}");
    let out = dev.run(&["token", "logout", "--profile", "idp"], &[]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("names no revocation endpoint"), "{out}");
    assert!(dev.profile("idp").is_none());
}

fn jwt_claims(token: &str) -> Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
