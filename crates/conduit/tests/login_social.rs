//! Story of `conduit login --social github` (the real binary, no TTY, CONDUIT_NO_BROWSER)
//! against the simulator: it prints the sign-in URL, the test plays the browser by following it
//! (the simulator redirects to conduit's loopback listener), and the account is saved as a
//! social account with its profile ARN in a 0600 token file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use conduit_sim::{Sim, SimConfig};
use serde_json::Value;

#[tokio::test]
async fn login_social_prints_the_url_and_saves_the_account_once_the_browser_comes_back() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("conduit-social-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = sim.base_url();
    let mut child = Command::new(env!("CARGO_BIN_EXE_conduit"))
        .args(["login", "--social", "github", "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &dir)
        .env("CONDUIT_HOME", dir.join("conduit"))
        .env("CONDUIT_KIRO_SIGNIN_URL", &url)
        .env("CONDUIT_KIRO_AUTH_URL", &url)
        .env("CONDUIT_KIRO_API_URL", &url)
        .env("CONDUIT_SECRET_STORE", "file")
        .env("CONDUIT_NO_BROWSER", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let signin = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the sign-in URL is printed");
        if let Some(start) = line.find(&format!("{url}/signin?")) {
            break line[start..].trim().to_string();
        }
    };
    // The browser: the sign-in page redirects to conduit's listener, which says it is done.
    let page = reqwest::get(&signin).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("Signed in"));

    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["signed_in"], true, "{out}");
    assert_eq!(out["account"]["source"], "social");
    assert_eq!(out["account"]["kind"], "social");
    let token_file = out["account"]["token_file"].as_str().unwrap();
    let saved: Value = serde_json::from_slice(&std::fs::read(token_file).unwrap()).unwrap();
    assert_eq!(saved["accountKind"], "social");
    assert_eq!(saved["provider"], "Github");
    assert!(saved["profileArn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:codewhisperer:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let refresh = saved["refreshToken"].as_str().unwrap();
    assert!(!stdout.contains(refresh), "no secret in the CLI output");
    let _ = std::fs::remove_dir_all(&dir);
}
