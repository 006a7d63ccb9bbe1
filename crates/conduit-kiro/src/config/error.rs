//! Why a configuration value was refused. Each message names the variable, the value and what
//! it must look like.

/// A refused configuration value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{key} {value:?} must start with http:// or https://")]
    NotUrl { key: String, value: String },
    #[error("{key} {value:?} must be a positive number of seconds")]
    NotSeconds { key: String, value: String },
    #[error("{key} {value:?} must be a non-negative whole number")]
    NotWholeNumber { key: String, value: String },
    #[error("CONDUIT_KIRO_MODEL_OVERRIDES entry {0:?} must look like client-model=kiro-model-id")]
    BadOverride(String),
    #[error("ACCOUNT_SYSTEM {0:?} must be true, false or auto")]
    BadAccountMode(String),
}

/// For [`crate::config::KiroConfig::from_env`], whose callers take the message as text.
impl From<ConfigError> for String {
    fn from(e: ConfigError) -> String {
        e.to_string()
    }
}
