//! Signing artefacts and checking their signatures against trusted keys.
//!
//! Why minisign: it is a small, well-kept and widely used format (Tauri's own
//! updater, many package ecosystems) built on Ed25519, whose keys carry an id
//! and whose signatures carry a signed "trusted comment", so a refusal can
//! name which key signed what. Verification goes through the dependency-free
//! `minisign-verify` crate, inside the provider contract's
//! [`verify_artefact_signature`], so the gate and this target accept exactly
//! the same signatures; the fuller `minisign` crate is used only to sign and
//! to read the signer's key id.
//!
//! What is signed is the provider's [`signed_statement`] ("this service,
//! this version, these bytes' digest"), not the tarball: the digest binds the
//! bytes, and a signature lifted from another version does not verify.

use std::fmt;
use std::io::Cursor;

use release_desk_domain::{Digest, Slug};
use release_desk_provider::{signed_statement, verify_artefact_signature, SignatureProblem};

use crate::error::{io, refused, Result};

/// A minisign key pair held in memory only: no password prompt, never written
/// to disk. The demo and the tests make one per run.
pub struct SigningKey {
    pair: minisign::KeyPair,
}

impl fmt::Debug for SigningKey {
    // The secret half must never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self> {
        let pair = minisign::KeyPair::generate_unencrypted_keypair()
            .map_err(|e| io(format!("could not generate a signing key: {e}")))?;
        Ok(Self { pair })
    }

    /// The public key as minisign's one-line base64 form (`RW…`), the form a
    /// target's trusted keys are given in.
    pub fn public_key(&self) -> String {
        self.pair.pk.to_base64()
    }

    /// The key id as minisign prints it (16 upper-case hex digits).
    pub fn key_id(&self) -> String {
        format_key_id(self.pair.pk.keynum())
    }

    /// Signs an artefact's statement and returns the signature file's text.
    pub fn sign_artefact(&self, service: &Slug, version: &str, digest: &Digest) -> Result<String> {
        let statement = signed_statement(service, version, digest);
        let signature = minisign::sign(
            Some(&self.pair.pk),
            &self.pair.sk,
            Cursor::new(statement.as_bytes()),
            Some(&format!("{service} {version} {digest}")),
            Some("signature from a Release Desk signing key"),
        )
        .map_err(|e| io(format!("could not sign: {e}")))?;
        Ok(signature.into_string())
    }
}

/// Checks an artefact's signature against the trusted keys and returns the
/// id of the key that verified it; a refusal names the signer's key and the
/// keys tried.
pub fn verify(
    service: &Slug,
    version: &str,
    digest: &Digest,
    signature: Option<&str>,
    trusted_keys: &[String],
) -> Result<String> {
    match verify_artefact_signature(service, version, digest, signature, trusted_keys) {
        Ok(by) => Ok(by.key_id),
        Err(problem @ SignatureProblem::NotTrusted { .. }) => {
            let signer = signature
                .and_then(|s| minisign::SignatureBox::from_string(s).ok())
                .map_or_else(|| "unknown".to_owned(), |s| format_key_id(s.keynum()));
            Err(refused(format!(
                "{service} {version}: signed by key {signer}; {problem}"
            )))
        }
        Err(problem) => Err(refused(format!("{service} {version}: {problem}"))),
    }
}

fn format_key_id(keynum: &[u8]) -> String {
    // minisign prints the 8-byte key number as a little-endian integer.
    keynum.iter().rev().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use release_desk_provider::ProviderErrorKind;

    fn subject() -> (Slug, Digest) {
        (
            Slug::parse("demo-web").unwrap(),
            Digest::parse(&"ab".repeat(32)).unwrap(),
        )
    }

    #[test]
    fn a_signature_verifies_with_its_key_and_names_it() {
        let (service, digest) = subject();
        let key = SigningKey::generate().unwrap();
        let sig = key.sign_artefact(&service, "1.0.0", &digest).unwrap();
        let id = verify(&service, "1.0.0", &digest, Some(&sig), &[key.public_key()]).unwrap();
        assert_eq!(id, key.key_id());
        assert_eq!(
            release_desk_provider::key_id(&key.public_key()),
            Some(key.key_id())
        );
    }

    #[test]
    fn an_untrusted_key_is_refused_naming_the_signer_and_the_keys_tried() {
        let (service, digest) = subject();
        let signer = SigningKey::generate().unwrap();
        let trusted = SigningKey::generate().unwrap();
        let sig = signer.sign_artefact(&service, "1.0.0", &digest).unwrap();
        let err = verify(
            &service,
            "1.0.0",
            &digest,
            Some(&sig),
            &[trusted.public_key()],
        )
        .unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Refused);
        assert!(err.message.contains(&signer.key_id()), "{}", err.message);
        assert!(err.message.contains(&trusted.key_id()), "{}", err.message);
    }

    #[test]
    fn a_signature_for_another_version_does_not_verify() {
        let (service, digest) = subject();
        let key = SigningKey::generate().unwrap();
        let sig = key.sign_artefact(&service, "1.0.0", &digest).unwrap();
        let err = verify(&service, "1.0.1", &digest, Some(&sig), &[key.public_key()]).unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Refused);
        let err = verify(&service, "1.0.0", &digest, None, &[key.public_key()]).unwrap_err();
        assert!(err.message.contains("no signature"), "{}", err.message);
    }

    #[test]
    fn debug_output_never_shows_the_secret_key() {
        let key = SigningKey::generate().unwrap();
        let shown = format!("{key:?}");
        assert!(
            shown.contains(&key.key_id()) && !shown.contains("sk"),
            "{shown}"
        );
    }
}
