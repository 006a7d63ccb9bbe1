//! `/portal/connect`: the three ways to point Claude Code at this gateway, filled in with its
//! address, each with a copy button: the settings snippet (`conduit token` as the
//! `apiKeyHelper`), the sign-in command, and the installer that sets up the token script.

use axum::response::Response;
use maud::html;
use serde_json::json;

use super::layout::page;
use super::view::{Failure, Viewer};

/// `GET /portal/connect`.
pub async fn show(v: Viewer) -> Result<Response, Failure> {
    let base = &v.ctx.base;
    let settings = json!({
        "apiKeyHelper": "conduit token",
        "env": { "ANTHROPIC_BASE_URL": base },
    });
    let settings = serde_json::to_string_pretty(&settings).unwrap_or_default();
    let login = format!("conduit token login --gateway {base}");
    let script = format!("curl -fsSL {base}/auth/setup | sh");
    let body = html! {
        p { "Claude Code asks its " code { "apiKeyHelper" } " for a token; " code { "conduit token" }
            " hands it one from your keychain, refreshing it silently, and opens the browser only when you need to sign in again." }
        section aria-labelledby="c-login" {
            h2 #c-login { "1. Sign in once on your machine" }
            div.snippet {
                pre { code #login { (login) } }
                button type="button" data-copy="login" aria-label="Copy the sign-in command" { "Copy" }
            }
        }
        section aria-labelledby="c-settings" {
            h2 #c-settings { "2. Add to ~/.claude/settings.json" }
            div.snippet {
                pre { code #settings { (settings) } }
                button type="button" data-copy="settings" aria-label="Copy the settings" { "Copy" }
            }
        }
        section aria-labelledby="c-script" {
            h2 #c-script { "Or: without conduit installed" }
            p { "This installs a small shell token helper and writes the settings for you (the old file is backed up):" }
            div.snippet {
                pre { code #script { (script) } }
                button type="button" data-copy="script" aria-label="Copy the installer command" { "Copy" }
            }
        }
        p { "The script alone (for " code { "apiKeyHelper" } " without the installer): "
            a href="/auth/setup/token-script" download="conduit-token.sh" { "conduit-token.sh" } "." }
        p { "Prefer a key? " a href="/portal/keys" { "Create one" } " and set it as " code { "ANTHROPIC_API_KEY" } "." }
    };
    Ok(page(
        &v,
        "/portal/connect",
        "Connect Claude Code",
        None,
        body,
    ))
}
