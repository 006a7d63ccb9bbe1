//! The per-user key clients present to the gateway: created once, kept 0600, compared in
//! constant time.

use std::path::Path;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Keys published as defaults by other Kiro gateways' docs; anyone could guess them.
const PUBLIC_DEFAULT_KEYS: &[&str] = &[
    "my-super-secret-password-123",
    "my-super-secret-proxy-key",
    "changeme",
    "sk-123456",
];

/// The key clients must present.
#[derive(Clone)]
pub struct ApiKey {
    digest: [u8; 32],
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl ApiKey {
    pub fn new(key: &str) -> Result<Self, String> {
        if PUBLIC_DEFAULT_KEYS.contains(&key) {
            return Err(
                "PROXY_API_KEY is a publicly documented default key that anyone could guess: \
                 choose your own, or unset it to use the generated key in $CONDUIT_HOME/api-key"
                    .into(),
            );
        }
        if key.trim().is_empty() {
            return Err("the gateway key is empty".into());
        }
        Ok(Self {
            digest: Sha256::digest(key.as_bytes()).into(),
        })
    }

    /// Constant-time check; comparing digests hides the key's length too.
    pub fn matches(&self, presented: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digest.ct_eq(&d).into()
    }
}

/// Read the key file, creating it with a fresh random key (mode 0600 from birth) if absent.
pub fn load_or_create(path: &Path) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    }
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let key = format!("sk-conduit-{}", hex::encode(bytes));
    conduit_core::fsutil::write_private_atomic(path, format!("{key}\n").as_bytes())
        .map_err(|e| format!("cannot write the key file {}: {e}", path.display()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_public_defaults_and_matches_exactly() {
        assert!(ApiKey::new("my-super-secret-password-123").is_err());
        let k = ApiKey::new("sk-conduit-abc").unwrap();
        assert!(k.matches("sk-conduit-abc"));
        for wrong in ["", "sk-conduit-ab", "sk-conduit-abcd", "SK-CONDUIT-ABC"] {
            assert!(!k.matches(wrong), "{wrong}");
        }
        assert_eq!(format!("{k:?}"), "ApiKey(<redacted>)");
    }

    #[test]
    fn key_file_is_created_once_and_private() {
        let dir = std::env::temp_dir().join(format!("conduit-apikey-{}", std::process::id()));
        let path = dir.join("api-key");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with("sk-conduit-") && a.len() > 40);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
