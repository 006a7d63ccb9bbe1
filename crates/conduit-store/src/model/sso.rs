//! The single sign-on rows (issue 12): identity providers, browser flows, device codes,
//! command-line sign-ins, refresh outcomes, signing keys and managed settings.

use super::Role;

/// An OpenID Connect identity provider configured through `/admin/idps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idp {
    pub id: String,
    pub name: String,
    /// Compared exactly (a trailing `/` matters) with the discovery document and every `iss`.
    pub issuer_url: String,
    /// The `aud` a bearer token from this IdP must carry.
    pub audience: String,
    /// The gateway's client at the IdP (browser sign-in); `None`: the audience.
    pub client_id: Option<String>,
    /// Write-only through the API: never listed.
    pub client_secret: Option<String>,
    pub auto_provision: bool,
    pub default_role: Role,
    /// E-mail domains (the part after the last `@`), lower case; empty: any.
    pub allowed_domains: Vec<String>,
    /// Space-separated scopes asked for at sign-in; `None`: `openid email profile`.
    pub scopes: Option<String>,
    pub enabled: bool,
    pub created_at: i64,
    /// Deleted rows still come through [`Changes`] so instances drop them.
    pub deleted: bool,
    pub version: i64,
}

impl Idp {
    /// The provider `new` becomes, live, with its id, creation time and change version.
    pub fn from_new(new: NewIdp, id: String, created_at: i64, version: i64) -> Idp {
        Idp {
            id,
            name: new.name,
            issuer_url: new.issuer_url,
            audience: new.audience,
            client_id: new.client_id,
            client_secret: new.client_secret,
            auto_provision: new.auto_provision,
            default_role: new.default_role,
            allowed_domains: new.allowed_domains,
            scopes: new.scopes,
            enabled: new.enabled,
            created_at,
            deleted: false,
            version,
        }
    }
}

/// An identity provider to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdp {
    pub name: String,
    pub issuer_url: String,
    pub audience: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub auto_provision: bool,
    pub default_role: Role,
    pub allowed_domains: Vec<String>,
    pub scopes: Option<String>,
    pub enabled: bool,
}

/// The fields of an identity provider to change (`None`: leave as is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdpPatch {
    pub name: Option<String>,
    pub issuer_url: Option<String>,
    pub audience: Option<String>,
    pub client_id: Option<Option<String>>,
    pub client_secret: Option<Option<String>>,
    pub auto_provision: Option<bool>,
    pub default_role: Option<Role>,
    pub allowed_domains: Option<Vec<String>>,
    pub scopes: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// A person first seen through an identity provider (auto-provisioning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOidcUser {
    pub issuer: String,
    pub external_subject: String,
    pub email: Option<String>,
    pub role: Role,
    pub idp_id: String,
}

text_enum! {
    /// What a browser sign-in at an identity provider is for.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum FlowPurpose {
        /// The portal's session cookie.
        Portal => "portal",
        /// Approving a device code (`/device`, Claude Code's gateway sign-in).
        Device => "device",
        /// Completing a command-line sign-in (`/auth/cli/*`).
        Cli => "cli",
    }
}

/// A pending authorization-code flow at an identity provider, found by its `state`'s digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlow {
    pub state_digest: String,
    pub purpose: FlowPurpose,
    pub idp_id: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    /// SHA-256 hex of the browser's `conduit_flow` cookie.
    pub binding_digest: String,
    /// The device code id or CLI session id the flow serves.
    pub target: Option<String>,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub state_digest: String,
    pub purpose: FlowPurpose,
    pub idp_id: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    pub binding_digest: String,
    pub target: Option<String>,
    pub expires_at: i64,
    pub created_at: i64,
}

text_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum DeviceStatus {
        Pending => "pending",
        Approved => "approved",
        Denied => "denied",
        Consumed => "consumed",
    }
}

/// An RFC 8628 device authorization (only digests of its codes are stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    pub id: String,
    pub status: DeviceStatus,
    pub user_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub interval: i64,
    pub last_poll_at: Option<i64>,
}

/// What a token-endpoint poll with a device code gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    Pending,
    SlowDown,
    Denied,
    /// Also unknown, already used, or a wrong code.
    Expired,
    /// Approved: consumed now, with the first refresh token of a new family stored.
    Issued {
        user_id: String,
        family_id: String,
    },
}

text_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum CliStatus {
        Pending => "pending",
        Verified => "verified",
        Complete => "complete",
        Consumed => "consumed",
    }
}

/// A command-line sign-in (`/auth/cli/*`, or `/oauth/authorize` when `authorize` is set), made
/// by the server and bound to one browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliSession {
    pub id: String,
    /// SHA-256 hex of the command line's verifier (for `/oauth/authorize`, the S256
    /// `code_challenge`'s 32 bytes in hex).
    pub challenge: String,
    pub binding_digest: String,
    pub user_id: Option<String>,
    pub status: CliStatus,
    pub created_at: i64,
    /// The sign-in's end; once an authorization code is issued, the code's.
    pub expires_at: i64,
    /// What an `/oauth/authorize` request asked for; `None` for `/auth/cli/*`.
    pub authorize: Option<AuthorizeRequest>,
}

/// The parts of an `/oauth/authorize` request its answer needs (RFC 6749 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The loopback URI the code (or the error) is sent to, exactly as the client gave it.
    pub redirect_uri: String,
    /// The client's `state`, echoed in the answer.
    pub state: Option<String>,
}

/// An authorization code presented at the token endpoint.
#[derive(Debug, Clone, Copy)]
pub struct CodeExchange<'a> {
    /// SHA-256 hex of the code.
    pub code_digest: &'a str,
    /// SHA-256 hex of the presented `code_verifier` (compared with the stored challenge).
    pub verifier_digest: &'a str,
    /// The presented `redirect_uri` (compared with the authorize request's).
    pub redirect_uri: &'a str,
}

/// What presenting an authorization code does. Every answer but `Invalid` spends the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// Consumed now, with the first refresh token of a new family stored.
    Issued { user_id: String, family_id: String },
    /// The verifier does not hash to the challenge: the code is spent, no tokens.
    WrongVerifier,
    /// Another `redirect_uri` than the authorize request's: the code is spent, no tokens.
    WrongRedirectUri,
    /// Unknown, expired, used already, or its user deactivated since.
    Invalid,
}

/// What `/auth/cli/poll` finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliPoll {
    Pending,
    /// Read once: consumed now.
    Complete {
        user_id: String,
    },
    Expired,
    NotFound,
}

/// What presenting a refresh token does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    Rotated {
        user_id: String,
        family_id: String,
    },
    /// An already-rotated token (a second terminal): refused alone, the family lives on.
    Replayed,
    Invalid,
}

/// A key the gateway signs its access tokens with (shared by every instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub private_pkcs8: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The managed-settings policy served to Claude Code at `/managed/settings`.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedSettings {
    pub settings: serde_json::Value,
    pub updated_at: i64,
}
