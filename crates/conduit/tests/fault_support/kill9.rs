//! kill -9 during token writes. The test binary re-invokes itself (`kill9_writer_child`) as a
//! writer that loops rewriting one token file — either straight through
//! `fsutil::write_private_atomic`, or through the real refresh path (`Auth::force_refresh`
//! against an in-process simulator, which writes the rotated token back) — and the parent
//! SIGKILLs it at random moments and inspects what is left on disk.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const CHILD_ENV: &str = "FAULT_KILL9_CHILD";
const FILE_ENV: &str = "FAULT_KILL9_FILE";
pub const TOKEN_FILE: &str = "kiro-auth-token.json";
const ARN: &str = "arn:aws:codewhisperer:us-east-1:123456789012:profile/KILLNINE";

/// How the writer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `write_private_atomic` with a numbered token, as fast as it can.
    Direct,
    /// Refresh after refresh through `Auth`, each one written back to the token file.
    Refresh,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Refresh => "refresh",
        }
    }
}

/// A token file in the Kiro IDE shape; `n` numbers both tokens so a mix-up shows.
pub fn numbered_token(n: u64) -> Vec<u8> {
    let body = json!({"accessToken": format!("access-{n}"),
        "refreshToken": format!("refresh-{n}-{}", "r".repeat(100)),
        "expiresAt": "2099-01-01T00:00:00.000Z", "profileArn": ARN,
        "authMethod": "social", "region": "us-east-1", "provider": "Github", "n": n});
    serde_json::to_vec_pretty(&body).unwrap()
}

/// Start a writer child on `file`.
pub fn spawn(mode: Mode, file: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill9_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode.name())
        .env(FILE_ENV, file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Wait until the child has written at least once since `before` was on disk.
pub fn wait_for_a_write(file: &Path, before: &[u8], child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read(file).is_ok_and(|now| now == before) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the writer child exited early: {status}");
        }
        assert!(Instant::now() < deadline, "the writer child never wrote");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Temp files the writes of `file` left in its directory.
pub fn temp_files(file: &Path) -> Vec<PathBuf> {
    let prefix = format!(".{}.tmp.", file.file_name().unwrap().to_string_lossy());
    std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// The file after a kill: complete JSON, a token pair that belongs together, mode 0600.
pub fn assert_intact(mode: Mode, file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("token file torn after kill -9 ({e}): {text:?}"));
    let access = v["accessToken"].as_str().unwrap_or_default();
    let refresh = v["refreshToken"].as_str().unwrap_or_default();
    assert!(
        !access.is_empty() && refresh.len() >= 100,
        "tokens missing: {v}"
    );
    assert_eq!(v["profileArn"], ARN, "other keys are kept: {v}");
    assert_eq!(v["provider"], "Github", "other keys are kept: {v}");
    if mode == Mode::Direct {
        let n = v["n"].as_u64().unwrap();
        assert_eq!(access, format!("access-{n}"));
        assert!(refresh.starts_with(&format!("refresh-{n}-")));
    } else {
        assert!(conduit_kiro::auth::parse_time(v["expiresAt"].as_str().unwrap()).is_some());
    }
    use std::os::unix::fs::PermissionsExt;
    let mode_bits = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode_bits, 0o600, "token file mode");
}

/// The child side: loops forever (until killed) if `FAULT_KILL9_CHILD` is set, else returns.
pub fn child_main() {
    let (Ok(mode), Ok(file)) = (std::env::var(CHILD_ENV), std::env::var(FILE_ENV)) else {
        return;
    };
    let file = PathBuf::from(file);
    if mode == "direct" {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        for n in start.. {
            conduit_core::fsutil::write_private_atomic(&file, &numbered_token(n)).unwrap();
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(refresh_forever(file));
}

/// Serve the file's current tokens from a fresh simulator and refresh until killed.
async fn refresh_forever(file: PathBuf) {
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let sim = conduit_sim::Sim::start(conduit_sim::SimConfig::default())
        .await
        .unwrap();
    sim.add_account(
        conduit_sim::Account::new(
            v["accessToken"].as_str().unwrap(),
            v["refreshToken"].as_str().unwrap(),
        )
        .with_profile_arn(ARN),
    );
    let data = file.parent().unwrap().join("data");
    let mut config = conduit_kiro::config::KiroConfig::for_base_url(&sim.base_url(), data);
    config.creds_file = Some(file);
    let auth = conduit_kiro::auth::Auth::new(Arc::new(config), reqwest::Client::new());
    loop {
        let token = auth.access_token().await.unwrap();
        auth.force_refresh(&token).await.unwrap();
    }
}
