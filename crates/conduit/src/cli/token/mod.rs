//! `conduit token`: Claude Code's `apiKeyHelper` (and Codex's token command) for a team
//! gateway, with the tokens in the OS keychain (docs/design-token.md §2).

pub mod profile;
pub mod secret;

use crate::cli::Paths;

/// The profile used without `--profile` and `$CONDUIT_TOKEN_PROFILE`.
pub const DEFAULT_PROFILE: &str = "default";

/// Refuse a profile name that is not `[A-Za-z0-9_.-]{1,64}`.
pub fn validate_profile_name(name: &str) -> anyhow::Result<()> {
    profile::validate_name(name)
}

/// The stored profile's token lifetime (`expires_in` of its last token answer); `None` when the
/// profile is not signed in.
pub fn profile_lifetime(paths: &Paths, profile: &str) -> anyhow::Result<Option<u64>> {
    validate_profile_name(profile)?;
    let files = profile::Files::new(paths, profile);
    Ok(profile::Profile::load(&files)?
        .map(|p| p.lifetime_secs)
        .filter(|l| *l > 0))
}
