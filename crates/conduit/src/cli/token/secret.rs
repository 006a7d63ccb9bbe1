//! Where a profile's tokens are kept: the OS keychain (Secret Service, macOS Keychain, Windows
//! Credential Manager), the Linux kernel keyring, or a 0600 file when there is neither.

use serde::{Deserialize, Serialize};

/// A secret store, as recorded in the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    /// The OS keychain: Secret Service over D-Bus on Linux (gnome-keyring, KWallet), the
    /// Keychain on macOS, the Credential Manager on Windows.
    SecretService,
    /// The Linux kernel keyring (keyutils): gone after a reboot.
    KernelKeyring,
    /// `tokens/<profile>.secret.json`, 0600.
    File,
}
