//! `conduit team cert --host NAME`: a self-signed certificate (ECDSA P-256, one year) for NAME,
//! localhost, 127.0.0.1 and ::1, written as cert.pem and key.pem (0600), with the SHA-256
//! fingerprint clients are shown.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use serde_json::json;

use crate::cli::output::{self, line};
use crate::cli::{Outcome, Paths};

const VALID_DAYS: i64 = 365;

/// A certificate and its key, PEM.
pub struct SelfSigned {
    pub cert_pem: String,
    pub key_pem: String,
    pub not_after: time::OffsetDateTime,
}

pub fn generate(host: &str) -> anyhow::Result<SelfSigned> {
    let host = host.trim();
    if host.is_empty() {
        return Err(anyhow!(
            "--host needs the name clients use to reach the gateway"
        ));
    }
    let mut names = vec![host.to_string()];
    for n in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|h| h.eq_ignore_ascii_case(n)) {
            names.push(n.to_string());
        }
    }
    let mut params = CertificateParams::new(names)
        .map_err(|e| anyhow!("{host:?} cannot be a certificate's host name: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, host);
    dn.push(DnType::OrganizationName, "conduit team gateway");
    params.distinguished_name = dn;
    // Whole seconds: what the certificate holds.
    let now = time::OffsetDateTime::from_unix_timestamp(
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )?;
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(VALID_DAYS);
    params.serial_number = Some(SerialNumber::from_slice(&rand::random::<[u8; 16]>()));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().context("cannot generate a key pair")?;
    let cert = params
        .self_signed(&key)
        .context("cannot sign the certificate")?;
    Ok(SelfSigned {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after: params.not_after,
    })
}

pub fn run(paths: &Paths, host: &str, out: Option<PathBuf>, json: bool) -> Outcome {
    let dir = out.unwrap_or_else(|| paths.home.join("tls"));
    let made = generate(host)?;
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    write(&key_file, &made.key_pem, true)?;
    write(&cert_file, &made.cert_pem, false)?;
    let (colon, short) = conduit::tls::fingerprint_sha256(&made.cert_pem)?;
    let expires = made
        .not_after
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if json {
        output::json(&json!({
            "cert": cert_file.display().to_string(), "key": key_file.display().to_string(),
            "host": host, "expires_at": expires,
            "sha256_fingerprint": colon, "fingerprint_short": short,
        }));
        return crate::cli::ok();
    }
    line(format!(
        "Self-signed certificate for {host} (and localhost, 127.0.0.1, ::1):"
    ));
    output::rows(&[
        ("certificate", paths.show(&cert_file)),
        ("key", format!("{} (mode 0600)", paths.show(&key_file))),
        ("valid until", expires),
        ("SHA-256", colon),
        ("Claude Code shows", short),
    ]);
    line("Serve with it:");
    line(format!(
        "  conduit serve --team --host 0.0.0.0 --tls-cert {} --tls-key {}",
        cert_file.display(),
        key_file.display()
    ));
    line(format!(
        "Clients trust it with NODE_EXTRA_CA_CERTS={} (Claude Code), or check the fingerprint \
         above when asked; the admin CLI with `conduit team login URL --ca-cert {}`.",
        cert_file.display(),
        cert_file.display()
    ));
    crate::cli::ok()
}

fn write(path: &Path, text: &str, private: bool) -> anyhow::Result<()> {
    let result = if private {
        conduit_core::fsutil::write_private_atomic(path, text.as_bytes())
    } else {
        write_public_atomic(path, text.as_bytes())
    };
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// The certificate is public: written atomically, then readable by all (0644).
fn write_public_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    conduit_core::fsutil::write_private_atomic(path, data)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}
