//! `api-key`: the key clients present to the gateway. `--raw` prints only the key, for
//! scripts; otherwise Claude Code is configured with it and a summary is printed.

use anyhow::anyhow;
use serde_json::json;

use super::output::{self, line};
use super::{claude_settings, confirm, daemon, env, Outcome, Paths};

/// The key the gateway accepts: `PROXY_API_KEY`, else `$CONDUIT_HOME/api-key` (created 0600
/// on first use, exactly as `serve` would).
pub fn current(paths: &Paths) -> anyhow::Result<String> {
    if let Some(k) = env("PROXY_API_KEY") {
        return Ok(k);
    }
    conduit::apikey::load_or_create(&paths.api_key()).map_err(|e| anyhow!(e))
}

pub fn run(paths: &Paths, raw: bool, json: bool, yes: bool) -> Outcome {
    let key = current(paths)?;
    if raw {
        output::raw(format!("{key}\n").as_bytes())?;
        return super::ok();
    }
    let url = daemon::current_url(paths)?;
    let source = if env("PROXY_API_KEY").is_some() {
        "PROXY_API_KEY".to_string()
    } else {
        format!("{} (mode 0600)", paths.show(&paths.api_key()))
    };
    let settings = claude_settings::settings_path(paths)?;
    let apply = yes
        || json
        || confirm(
            &format!(
                "Configure Claude Code ({}) to use conduit?",
                paths.show(&settings)
            ),
            true,
        );
    let applied = if apply {
        Some(claude_settings::apply(paths, &url, &key)?)
    } else {
        None
    };
    if json {
        output::json(&json!({
            "key": key, "source": source, "url": url,
            "claude_settings": applied.as_ref().map(claude_settings::Applied::to_json),
        }));
        return super::ok();
    }
    line(format!("conduit API key: {key}"));
    output::rows(&[("stored in", source), ("gateway", url.clone())]);
    match &applied {
        Some(a) => a.print(paths),
        None => line("Claude Code settings left unchanged."),
    }
    line("For other clients (or a shell that should not read settings.json):");
    line(format!("  export ANTHROPIC_BASE_URL={url}"));
    line("  export ANTHROPIC_AUTH_TOKEN=$(conduit api-key --raw)");
    super::ok()
}
