//! `login`: sign in to Kiro through AWS SSO OIDC (device flow, RFC 8628). Shows the
//! verification URL and code (and opens the browser when there is one), waits for approval,
//! discovers the profile, saves the account. `login --social google|github` signs in through
//! Kiro's own Google / GitHub sign-in instead (PKCE, loopback redirect). A re-login replaces
//! the account's whole credential set. A running gateway picks it up on the next request.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use anyhow::{anyhow, Context};
use conduit_kiro::auth::device::Poll;
use conduit_kiro::auth::login::{self, LoginSettings};
use conduit_kiro::auth::profiles::{self, Choice, Profile};
use conduit_kiro::auth::social::{self, SocialProvider};
use conduit_kiro::auth::store;
use conduit_kiro::config::{region_of_profile_arn, KiroConfig};
use serde_json::json;

use super::accounts::data_dir;
use super::output::{self, note};
use super::{ok, Outcome, Paths};

pub fn run(paths: &Paths, no_browser: bool, social: Option<&str>, json_out: bool) -> Outcome {
    let config = KiroConfig::from_env(|k| std::env::var(k).ok(), data_dir(paths))
        .map_err(|e| anyhow!("invalid Kiro configuration: {e}"))?;
    let no_browser = no_browser || super::env("CONDUIT_NO_BROWSER").is_some();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match social {
        Some(p) => {
            let provider = SocialProvider::parse(p)
                .ok_or_else(|| anyhow!("--social takes google or github, not {p:?}"))?;
            runtime.block_on(social_sign_in(
                paths, &config, provider, no_browser, json_out,
            ))
        }
        None => runtime.block_on(sign_in(paths, &config, no_browser, json_out)),
    }
}

async fn social_sign_in(
    paths: &Paths,
    config: &KiroConfig,
    provider: SocialProvider,
    no_browser: bool,
    json_out: bool,
) -> Outcome {
    let (backend, backend_note) = store::resolve(config.secret_store);
    if let Some(n) = &backend_note {
        output::warn(n);
    }
    let http = conduit_kiro::client::build_http(config).map_err(|e| anyhow!("{e}"))?;
    let login = social::SocialLogin::start(config, provider)
        .await
        .map_err(|e| anyhow!(e))?;
    note(format!(
        "\nSign in to Kiro with {} in your browser:\n{}\n",
        provider.as_str(),
        login.url
    ));
    if !no_browser && open_browser(&login.url) {
        note("A browser window was opened for you.");
    }
    note("Waiting for the browser to come back…");
    let tokens = login
        .finish(&http, social::SIGNIN_TIMEOUT)
        .await
        .map_err(|e| anyhow!(e))?;
    let entry =
        social::save(&data_dir(paths), backend, provider, &tokens).map_err(|e| anyhow!(e))?;
    let api_region = api_region_of(entry.profile_arn.as_deref());
    if json_out {
        output::json(
            &json!({"signed_in": true, "account": entry, "api_region": api_region,
            "secret_store": backend}),
        );
    } else {
        output::line("Signed in.");
        output::rows(&[
            ("account", format!("{} ({})", entry.id, entry.label)),
            ("kind", "social".to_string()),
            (
                "profile",
                entry.profile_arn.clone().unwrap_or_else(|| "none".into()),
            ),
            ("api region", api_region.to_string()),
            (
                "token file",
                format!("{} (0600)", paths.show(&entry.token_file)),
            ),
            ("secrets", backend.to_string()),
        ]);
        output::line("A running gateway uses it from the next request on.");
    }
    ok()
}

async fn sign_in(paths: &Paths, config: &KiroConfig, no_browser: bool, json_out: bool) -> Outcome {
    let settings = LoginSettings::from_config(config);
    if let Some(n) = &settings.backend_note {
        output::warn(n);
    }
    let http = conduit_kiro::client::build_http(config).map_err(|e| anyhow!("{e}"))?;
    note(format!(
        "Signing in to {} (SSO region {})",
        settings.start_url, settings.sso_region
    ));
    let mut flow = settings.begin(&http).await?;
    let p = flow.prompt.clone();
    let open_url = p
        .verification_uri_complete
        .clone()
        .unwrap_or_else(|| p.verification_uri.clone());
    note(format!(
        "\nOpen {}\nand enter the code: {}\n(the code expires in {} minutes)\n",
        p.verification_uri,
        p.user_code,
        p.expires_in.div_ceil(60)
    ));
    if !no_browser && open_browser(&open_url) {
        note("A browser window was opened for you.");
    }
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    if !tty {
        note("Waiting for approval…");
    }
    let tokens = flow
        .wait(|poll| match poll {
            Poll::SlowDown => {
                note("AWS asked conduit to poll more slowly; waiting longer between checks.")
            }
            Poll::Pending if tty => spinner(started),
            _ => {}
        })
        .await;
    if tty {
        eprintln!();
    }
    let tokens = tokens?;
    note("Approved. Looking up your CodeWhisperer profile…");
    let profile = match login::discover_profile(&http, config, &settings, &tokens)
        .await
        .map_err(|e| anyhow!(e))?
    {
        Choice::Use(p) => Some(p),
        Choice::None => {
            output::warn("this account has no CodeWhisperer profile of its own (normal for Builder ID); requests carry the shared Builder ID profile");
            None
        }
        Choice::Ask(list) => Some(ask_profile(&list)?),
    };
    let entry = login::save(&settings, &flow.registration, &tokens, profile.as_ref())
        .map_err(|e| anyhow!(e))?;
    let api_region = api_region_of(entry.profile_arn.as_deref());
    if json_out {
        output::json(
            &json!({"signed_in": true, "account": entry, "api_region": api_region,
            "sso_region": settings.sso_region, "secret_store": settings.backend}),
        );
    } else {
        output::line("Signed in.");
        output::rows(&[
            ("account", format!("{} ({})", entry.id, entry.label)),
            (
                "kind",
                entry
                    .kind
                    .map_or_else(|| "unknown".into(), |k| k.as_str().to_string()),
            ),
            (
                "profile",
                entry.profile_arn.clone().unwrap_or_else(|| {
                    if entry.kind == Some(conduit_kiro::auth::kind::AccountKind::BuilderId) {
                        "the shared Builder ID profile (none of its own)".into()
                    } else {
                        "none found: set PROFILE_ARN and run `conduit login` again".into()
                    }
                }),
            ),
            ("api region", api_region.to_string()),
            ("sso region", settings.sso_region.clone()),
            (
                "token file",
                format!("{} (0600)", paths.show(&entry.token_file)),
            ),
            ("secrets", settings.backend.to_string()),
        ]);
        output::line("A running gateway uses it from the next request on.");
    }
    ok()
}

fn spinner(started: Instant) {
    const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
    let secs = started.elapsed().as_secs();
    let frame = FRAMES[(secs % 4) as usize];
    eprint!("\r{frame} waiting for approval in the browser ({secs}s)");
    let _ = std::io::stderr().flush();
}

/// Several profiles: ask on a terminal, else say how to choose.
fn ask_profile(list: &[Profile]) -> anyhow::Result<Profile> {
    use std::io::BufRead;
    if !std::io::stdin().is_terminal() {
        return Err(anyhow!(
            "this account has several CodeWhisperer profiles: {}. Set PROFILE_ARN to one of them and run `conduit login` again",
            profiles::describe(list)
        ));
    }
    note("This account has several CodeWhisperer profiles:");
    for (i, p) in list.iter().enumerate() {
        note(format!("  {}) {} ({})", i + 1, p.name, p.arn));
    }
    loop {
        eprint!("Which one? [1-{}] ", list.len());
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("cannot read the answer")?;
        if let Some(p) = answer
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| list.get(i))
        {
            return Ok(p.clone());
        }
    }
}

/// Opens `url` in the desktop browser when there is a desktop; false otherwise.
fn open_browser(url: &str) -> bool {
    if !std::io::stderr().is_terminal() {
        return false;
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else if super::env("DISPLAY").is_some() || super::env("WAYLAND_DISPLAY").is_some() {
        "xdg-open"
    } else {
        return false;
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// The API region a signed-in account's requests go to: its profile ARN's region.
fn api_region_of(profile_arn: Option<&str>) -> &str {
    profile_arn
        .and_then(region_of_profile_arn)
        .unwrap_or(conduit_kiro::config::DEFAULT_REGION)
}
