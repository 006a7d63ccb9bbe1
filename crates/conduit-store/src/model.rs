//! The rows the store hands out. Times are Unix seconds; ids are UUID strings.

use serde::Serialize;

/// An enum the store keeps as text: `as_str` and `parse` come from one table, so the two
/// cannot drift apart.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

mod spend;
mod sso;
pub use spend::*;
pub use sso::*;

text_enum! {
    /// A person's role: what they may do through the gateway.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Role {
        /// Uses the gateway and manages their own keys.
        Member => "member",
        /// Everything.
        Admin => "admin",
        /// Reads everything, changes nothing.
        Auditor => "auditor",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    /// The name a person signs in with (`admin` for the bootstrap admin; an IdP `sub` later).
    pub subject: String,
    pub email: Option<String>,
    pub role: Role,
    pub team_id: Option<String>,
    pub active: bool,
    /// argon2id PHC string; `None` for users who cannot sign in with a password.
    pub password_hash: Option<String>,
    pub created_at: i64,
    /// The change version of this row's last write.
    pub version: i64,
    /// The identity provider's `iss` for a person from single sign-on (with `external_subject`
    /// the key they are found by); `None` for local users.
    pub issuer: Option<String>,
    /// The identity provider's `sub`.
    pub external_subject: Option<String>,
    /// The identity provider that provisioned the person (`env` for the one from the environment).
    pub idp_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

text_enum! {
    /// What a credential is: a virtual key (`sk-proxy-…`) or a session token from `/auth/login`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum CredentialKind {
        Key => "key",
        Session => "session",
    }
}

/// A virtual key or a session. The secret itself is never stored: only its SHA-256 `digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: String,
    pub kind: CredentialKind,
    /// Lower-case hex SHA-256 of the whole secret.
    pub digest: String,
    /// The first 16 characters of the secret and `...`, to recognise it in a list.
    pub prefix: String,
    pub name: String,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub rate_limit_rpm: Option<i64>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub version: i64,
}

/// A credential to insert; the store mints `id`, `created_at` and `version`.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub kind: CredentialKind,
    pub digest: String,
    pub prefix: String,
    pub name: String,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub rate_limit_rpm: Option<i64>,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub subject: String,
    pub email: Option<String>,
    pub role: Role,
    pub team_id: Option<String>,
    pub password_hash: Option<String>,
}

/// Who did an admin write, from where: written in the same transaction as the write.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `user:<subject>` for a signed-in person, `cli@<hostname>` for the server-host commands.
    pub name: String,
    pub user_id: Option<String>,
    /// The client address, when the write came over HTTP.
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    /// Unix milliseconds.
    pub at_ms: i64,
    pub actor: String,
    pub actor_user_id: Option<String>,
    pub ip: Option<String>,
    /// `key.create`, `key.revoke`, `user.create`, `user.update`, `user.team`, `team.create`,
    /// `auth.login`, `auth.logout`, `admin.password`, …
    pub action: String,
    /// The id of the row acted on.
    pub target: Option<String>,
    /// A JSON object with the change (never a secret).
    pub detail: serde_json::Value,
}

/// Every user and credential row written after a version, and the version now.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub version: i64,
    pub users: Vec<User>,
    pub credentials: Vec<Credential>,
    /// Identity providers written after the version (deleted ones too).
    pub idps: Vec<Idp>,
    /// Sign-in families (Claude Code's gateway sign-in) revoked after the version and not yet
    /// ended: their access tokens are refused from now on.
    pub revoked_families: Vec<RevokedFamily>,
}

/// A revoked sign-in family: its id, and when it would have ended anyway (Unix seconds), after
/// which nobody needs to remember it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedFamily {
    pub id: String,
    pub ends_at: i64,
}
