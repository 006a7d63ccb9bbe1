//! Which kind of account a credential is (spec §1.1, §9.2, §9.3), and what follows from it: the
//! profile ARN a chat call must carry, whether the ARN has to be discovered, and the
//! `tokentype` header of Entra ID accounts.

use serde::{Deserialize, Serialize};

/// The shared profile ARN every Builder ID account sends (spec §9.2).
pub const BUILDER_ID_PLACEHOLDER_ARN: &str =
    "arn:aws:codewhisperer:us-east-1:638616132270:profile/AAAACCCCXXXX";
/// The profile ARN the Kiro auth service hands Google / GitHub sign-ins (spec §2.5); used when a
/// social token file names none.
pub const SOCIAL_DEFAULT_ARN: &str =
    "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK";
/// The header Entra ID accounts send on every service call (spec §9.3).
pub const TOKEN_TYPE_HEADER: &str = "tokentype";
pub const EXTERNAL_IDP_TOKEN_TYPE: &str = "EXTERNAL_IDP";

/// The kind of account, as recorded in the token file (`accountKind`) or derived from the Kiro
/// IDE's `authMethod` / `provider` / `startUrl` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// AWS Builder ID (free): sends the shared placeholder ARN.
    BuilderId,
    /// IAM Identity Center / Enterprise: sends its own ARN from ListAvailableProfiles.
    Idc,
    /// Kiro social sign-in (Google, GitHub): sends the ARN the auth service returned.
    Social,
    /// Microsoft Entra ID ("external IdP"): own ARN, `tokentype: EXTERNAL_IDP`, IdP refresh.
    ExternalIdp,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::BuilderId => "builder_id",
            AccountKind::Idc => "idc",
            AccountKind::Social => "social",
            AccountKind::ExternalIdp => "external_idp",
        }
    }

    /// For messages people read.
    pub fn describe(self) -> &'static str {
        match self {
            AccountKind::BuilderId => "an AWS Builder ID account",
            AccountKind::Idc => "an IAM Identity Center (Enterprise) account",
            AccountKind::Social => "a Kiro social (Google/GitHub) account",
            AccountKind::ExternalIdp => "a Microsoft Entra ID (external IdP) account",
        }
    }

    /// Parses a recorded kind; `enterprise` is IdC.
    pub fn parse(s: &str) -> Option<AccountKind> {
        Some(
            match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "builder_id" | "builderid" => AccountKind::BuilderId,
                "idc" | "enterprise" | "iam_identity_center" => AccountKind::Idc,
                "social" | "google" | "github" => AccountKind::Social,
                "external_idp" | "externalidp" | "entra" | "entra_id" => AccountKind::ExternalIdp,
                _ => return None,
            },
        )
    }

    /// Derives the kind from the Kiro IDE's keys when no `accountKind` is recorded. An OIDC
    /// login is Builder ID when its provider or start URL says so; without either, a real
    /// (non-placeholder) profile ARN means IdC.
    pub fn derive(
        auth_method: Option<&str>,
        provider: Option<&str>,
        start_url: Option<&str>,
        has_client: bool,
        profile_arn: Option<&str>,
    ) -> AccountKind {
        let method = auth_method.map(str::to_ascii_lowercase);
        if let Some(k) = method.as_deref().and_then(AccountKind::parse) {
            if k != AccountKind::Idc {
                return k;
            }
        }
        let oidc = method.as_deref() == Some("idc") || has_client;
        if !oidc {
            return AccountKind::Social;
        }
        match provider.map(str::to_ascii_lowercase).as_deref() {
            Some("builderid") => return AccountKind::BuilderId,
            Some("enterprise") => return AccountKind::Idc,
            _ => {}
        }
        if let Some(u) = start_url {
            return if u.trim_end_matches('/') == crate::config::BUILDER_ID_START_URL {
                AccountKind::BuilderId
            } else {
                AccountKind::Idc
            };
        }
        match profile_arn {
            Some(a) if a != BUILDER_ID_PLACEHOLDER_ARN => AccountKind::Idc,
            _ => AccountKind::BuilderId,
        }
    }

    /// The ARN a chat call carries, given the one held for the account (spec §9.2). `None`
    /// for IdC / Entra ID accounts whose profile is not known yet (discover it first).
    pub fn chat_arn(self, held: Option<&str>) -> Option<String> {
        match self {
            AccountKind::BuilderId => Some(
                held.filter(|a| !a.is_empty())
                    .unwrap_or(BUILDER_ID_PLACEHOLDER_ARN)
                    .to_string(),
            ),
            AccountKind::Social => Some(held.unwrap_or(SOCIAL_DEFAULT_ARN).to_string()),
            AccountKind::Idc | AccountKind::ExternalIdp => held
                .filter(|a| *a != BUILDER_ID_PLACEHOLDER_ARN)
                .map(str::to_string),
        }
    }

    /// Whether the account's own ARN comes from ListAvailableProfiles.
    pub fn discovers_profile(self) -> bool {
        matches!(self, AccountKind::Idc | AccountKind::ExternalIdp)
    }

    /// Whether service calls carry `tokentype: EXTERNAL_IDP`.
    pub fn external_idp(self) -> bool {
        self == AccountKind::ExternalIdp
    }
}

impl std::fmt::Display for AccountKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_derived_from_the_ide_keys() {
        use AccountKind::*;
        let real = "arn:aws:codewhisperer:eu-central-1:1:profile/X";
        type Row<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            bool,
            Option<&'a str>,
            AccountKind,
        );
        let cases: &[Row] = &[
            (Some("social"), Some("Google"), None, false, None, Social),
            (None, None, None, false, None, Social),
            (Some("IdC"), Some("BuilderId"), None, true, None, BuilderId),
            (Some("IdC"), Some("Enterprise"), None, true, None, Idc),
            (
                Some("IdC"),
                None,
                Some("https://view.awsapps.com/start"),
                true,
                Some(real),
                BuilderId,
            ),
            (
                Some("IdC"),
                None,
                Some("https://d-1.awsapps.com/start"),
                true,
                None,
                Idc,
            ),
            (Some("IdC"), None, None, true, Some(real), Idc),
            (Some("IdC"), None, None, true, None, BuilderId),
            (Some("external_idp"), None, None, false, None, ExternalIdp),
        ];
        for (m, p, u, c, a, want) in cases {
            assert_eq!(
                AccountKind::derive(*m, *p, *u, *c, *a),
                *want,
                "{m:?} {p:?} {u:?}"
            );
        }
    }

    #[test]
    fn each_kind_sends_its_arn() {
        let real = "arn:aws:codewhisperer:eu-central-1:1:profile/X";
        assert_eq!(
            AccountKind::BuilderId.chat_arn(None).as_deref(),
            Some(BUILDER_ID_PLACEHOLDER_ARN)
        );
        assert_eq!(
            AccountKind::Social.chat_arn(None).as_deref(),
            Some(SOCIAL_DEFAULT_ARN)
        );
        assert_eq!(AccountKind::Idc.chat_arn(Some(real)).as_deref(), Some(real));
        assert_eq!(AccountKind::Idc.chat_arn(None), None);
        assert_eq!(
            AccountKind::ExternalIdp.chat_arn(Some(BUILDER_ID_PLACEHOLDER_ARN)),
            None,
            "the placeholder is refused for IdC-like accounts"
        );
    }
}
