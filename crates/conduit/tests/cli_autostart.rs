//! Autostart files: the systemd user unit passes `systemd-analyze verify` (where that exists),
//! the launchd plist is valid XML with the keys launchd needs, and both are removed again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::process::Command;

use cli_support::CliEnv;

fn systemd_analyze() -> bool {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn systemd_unit_is_valid_and_removable() {
    let mut env = CliEnv::new();
    env.set("KIRO_CREDS_FILE", "/opt/my creds/kiro 100%.json");
    env.set("PROXY_API_KEY", "sk-secret-never-in-a-unit");
    let r = env.ok(&["enable-autostart", "--kind", "systemd", "--no-activate"]);
    assert!(
        r.stderr.contains("PROXY_API_KEY is set but not written"),
        "{r}"
    );
    let unit = env.home.join(".config/systemd/user/conduit.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    let exe = env!("CARGO_BIN_EXE_conduit");
    assert!(
        text.contains(&format!("ExecStart=\"{exe}\" serve")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Environment=\"CONDUIT_HOME={}\"",
            env.conduit_home.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("Environment=\"KIRO_CREDS_FILE=/opt/my creds/kiro 100%%.json\""),
        "{text}"
    );
    assert!(!text.contains("sk-secret"), "{text}");
    assert!(text.contains("WantedBy=default.target"));

    if systemd_analyze() {
        let verify = |path: &std::path::Path| {
            Command::new("systemd-analyze")
                .arg("verify")
                .arg(path)
                .env("HOME", &env.home)
                .output()
                .unwrap()
        };
        let out = verify(&unit);
        assert!(
            out.status.success(),
            "systemd-analyze verify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The check can fail: a unit with a relative ExecStart is refused.
        let broken = env.root.join("broken.service");
        std::fs::write(
            &broken,
            text.replace(&format!("\"{exe}\""), "conduit-relative"),
        )
        .unwrap();
        assert!(
            !verify(&broken).status.success(),
            "systemd-analyze accepted a broken unit"
        );
    } else {
        eprintln!("systemd-analyze not available: checked the unit's text only");
    }

    let r = env.ok(&["disable-autostart", "--no-activate"]);
    assert!(r.stdout.contains("removed"), "{r}");
    assert!(!unit.exists());
    assert!(env
        .ok(&["disable-autostart", "--no-activate"])
        .stdout
        .contains("nothing to remove"));
}

#[test]
fn launchd_plist_is_valid_xml_with_the_expected_keys() {
    let mut env = CliEnv::new();
    env.set("KIRO_CREDS_FILE", "/Users/me/a&b <c>.json");
    let plist = env
        .ok(&["enable-autostart", "--kind", "launchd", "--print"])
        .stdout;
    assert!(plist.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert_well_formed(&plist);
    for key in [
        "Label",
        "ProgramArguments",
        "EnvironmentVariables",
        "RunAtLoad",
        "KeepAlive",
    ] {
        assert!(
            plist.contains(&format!("<key>{key}</key>")),
            "{key} missing:\n{plist}"
        );
    }
    assert!(plist.contains("<string>dev.conduit.gateway</string>"));
    assert!(plist.contains(&format!(
        "<string>{}</string>\n\t\t<string>serve</string>",
        env!("CARGO_BIN_EXE_conduit")
    )));
    assert!(
        plist.contains("/Users/me/a&amp;b &lt;c&gt;.json"),
        "{plist}"
    );

    // Where Python is around, its plist parser must agree.
    let py = Command::new("python3")
        .args([
            "-c",
            "import plistlib,sys,json; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    if let Ok(mut child) = py {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(plist.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "plistlib refused the plist");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["Label"], "dev.conduit.gateway");
        assert_eq!(v["ProgramArguments"][1], "serve");
        assert_eq!(v["RunAtLoad"], true);
        assert_eq!(
            v["EnvironmentVariables"]["KIRO_CREDS_FILE"],
            "/Users/me/a&b <c>.json"
        );
        assert_eq!(v["KeepAlive"]["SuccessfulExit"], false);
    }

    env.ok(&["enable-autostart", "--kind", "launchd", "--no-activate"]);
    let path = env
        .home
        .join("Library/LaunchAgents/dev.conduit.gateway.plist");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), plist);
    env.ok(&["disable-autostart", "--no-activate"]);
    assert!(!path.exists());
}

/// Tags open and close in order, and text holds no raw `<` or `&` outside entities.
fn assert_well_formed(xml: &str) {
    let body = xml.split_once("?>").unwrap().1;
    let body = body
        .split_once("<plist")
        .map(|(_, b)| format!("<plist{b}"))
        .unwrap();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body.as_str();
    while let Some(i) = rest.find('<') {
        let text = &rest[..i];
        for (j, _) in text.match_indices('&') {
            let entity = &text[j..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bad & in {text:?}"
            );
        }
        let end = rest[i..].find('>').unwrap() + i;
        let tag = &rest[i + 1..end];
        let name = tag
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        if tag.starts_with('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.as_str()),
                "unbalanced </{name}>"
            );
        } else if !tag.ends_with('/') {
            stack.push(name);
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
}
